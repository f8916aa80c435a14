"""Compares the loss and the gradient norm of every step of two metrics
files: relative difference at most TOL at each (exact doubles as JSON
round-trips them). The norm is what shows a gradient scaled wrongly:
AdamW's update, and so the next loss, hardly changes with the scale.

  close_losses.py A.jsonl B.jsonl TOL"""
import json
import sys


def rows(path):
    return {row["step"]: row for row in map(json.loads, open(path))}


a, b, tol = rows(sys.argv[1]), rows(sys.argv[2]), float(sys.argv[3])
if sorted(a) != sorted(b):
    sys.exit(f"steps differ: {sorted(a)} vs {sorted(b)}")
worst = 0.0
for s in sorted(a):
    for key in ("loss", "grad_norm"):
        x, y = a[s][key], b[s][key]
        worst = max(worst, abs(x - y) / abs(x))
        print(f"step {s} {key}: {x!r} vs {y!r}")
print(f"{len(a)} steps, largest relative difference {worst:.1e}")
sys.exit(0 if worst <= tol else 1)
