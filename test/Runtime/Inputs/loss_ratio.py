"""Checks that the mean loss of the last N steps of a metrics file is below
RATIO times the first step's loss.

usage: loss_ratio.py METRICS.jsonl N RATIO"""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
n, ratio = int(sys.argv[2]), float(sys.argv[3])
first = rows[0]["loss"]
last = sum(r["loss"] for r in rows[-n:]) / n
print(f"first {first:.4f}, mean of the last {n} steps {last:.4f} "
      f"({last / first:.2f} of the first)")
if last >= ratio * first:
    print(f"NOT below {ratio} of the first step's loss")
    sys.exit(1)
print(f"below {ratio} of the first step's loss")
