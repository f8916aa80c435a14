"""Compares the first step's loss of two metrics files: relative difference
at most TOL (exact doubles as JSON round-trips them).

  first_loss.py A.jsonl B.jsonl TOL"""
import json
import sys

a, b = (json.loads(open(p).readline())["loss"] for p in sys.argv[1:3])
rel = abs(a - b) / abs(a)
print(f"first losses {a!r} and {b!r}: relative difference {rel:.1e}")
sys.exit(0 if rel <= float(sys.argv[3]) else 1)
