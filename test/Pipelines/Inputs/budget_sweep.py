"""Checks a sweep of remat=budget reports against the report without remat.

Usage: budget_sweep.py NONE_REPORT FRACTION=REPORT...

Each REPORT is dsv3-compile --remat=budget --remat-budget=FRACTION
--emit=lowered --report of the same model; NONE_REPORT is --remat=none's.
The budget is FRACTION of the arena without remat. Checks that every
executable's arena (the memory plan's line) is within its budget and that
the recomputed FLOPs never increase as the budget grows; prints one line
per budget and fails with the first violation.
"""

import re
import sys

ARENA = re.compile(r"memory plan of @train_step: .* an arena of (\d+) bytes")
RECOMPUTED = re.compile(
    r"^  budget: recomputes (\d+) FLOPs; lower bound (\d+) FLOPs", re.M)


def read(path):
    with open(path) as f:
        text = f.read()
    arena = ARENA.search(text)
    if not arena:
        sys.exit(f"{path}: no memory plan line")
    recomputed = RECOMPUTED.search(text)
    if not recomputed:
        sys.exit(f"{path}: no budget report line")
    flops, bound = int(recomputed.group(1)), int(recomputed.group(2))
    if bound > flops:
        sys.exit(f"{path}: the lower bound {bound} exceeds the recompute {flops}")
    return int(arena.group(1)), flops


def main():
    with open(sys.argv[1]) as f:
        none = ARENA.search(f.read())
    if not none:
        sys.exit(f"{sys.argv[1]}: no memory plan line")
    none_arena = int(none.group(1))
    rows = []
    for arg in sys.argv[2:]:
        fraction, path = arg.split("=", 1)
        budget = round(float(fraction) * none_arena)
        arena, flops = read(path)
        rows.append((budget, arena, flops, path))
    if len(rows) < 8:
        sys.exit(f"a sweep of {len(rows)} budgets; at least 8 are checked")
    rows.sort()
    failed = False
    previous = None
    for budget, arena, flops, path in rows:
        print(f"budget {budget} bytes: arena {arena} bytes, recomputes {flops} FLOPs")
        if arena > budget:
            print(f"{path}: arena {arena} bytes is over the budget {budget}")
            failed = True
        if previous is not None and flops > previous[1]:
            print(f"{path}: recomputes {flops} FLOPs at budget {budget}, more "
                  f"than {previous[1]} at the smaller budget {previous[0]}")
            failed = True
        previous = (budget, flops)
    if failed:
        sys.exit(1)
    print(f"{len(rows)} budgets: every arena within its budget, recompute "
          f"non-increasing as the budget grows")


if __name__ == "__main__":
    main()
