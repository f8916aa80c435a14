"""Checks remat=budget's recompute against every per-layer plan's.

Usage: budget_optimal.py MAX_RATIO REPORT...

Each REPORT is dsv3-compile --remat=budget --remat-exhaustive --report.
Reads budget's recompute and the least recompute of every plan whose arena
fits (both in FLOPs), and sqrt's recompute beside the least in sqrt's own
arena; fails when budget's ratio is above MAX_RATIO.
"""

import os
import re
import sys

BUDGET = re.compile(r"^  budget: recomputes (\d+) FLOPs", re.M)
LEAST = re.compile(
    r"^  exhaustive: (\d+) per-layer plans; the least recompute in the "
    r"budget is (\d+) FLOPs", re.M)
SQRT = re.compile(
    r"^  exhaustive: sqrt recomputes (\d+) FLOPs in an arena of .*; the "
    r"least per-layer recompute there is (\d+) FLOPs", re.M)


def ratio(a, b):
    return 1.0 if a == b else (a / b if b else float("inf"))


def main():
    limit = float(sys.argv[1])
    failed = False
    for path in sys.argv[2:]:
        with open(path) as f:
            text = f.read()
        budget, least, sqrt = BUDGET.search(text), LEAST.search(text), SQRT.search(text)
        if not (budget and least and sqrt):
            sys.exit(f"{path}: no budget and exhaustive lines")
        plans, best = int(least.group(1)), int(least.group(2))
        r = ratio(int(budget.group(1)), best)
        s = ratio(int(sqrt.group(1)), int(sqrt.group(2)))
        print(f"{os.path.basename(path)}: budget {r:.3f}x the least of "
              f"{plans} plans; sqrt {s:.3f}x in its arena")
        if r > limit:
            print(f"{path}: budget recomputes {r:.3f}x the least, above {limit}x")
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
