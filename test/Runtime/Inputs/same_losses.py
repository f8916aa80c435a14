"""Checks that two metrics files hold the same loss for every step, compared
as the exact doubles JSON round-trips."""
import json
import sys


def losses(path):
    return {row["step"]: row["loss"] for row in map(json.loads, open(path))}


full, resumed = losses(sys.argv[1]), losses(sys.argv[2])
if full != resumed:
    for step in sorted(set(full) | set(resumed)):
        print(f"step {step}: {full.get(step)!r} vs {resumed.get(step)!r}")
    sys.exit(1)
print(f"{len(full)} steps, losses bit-identical")
