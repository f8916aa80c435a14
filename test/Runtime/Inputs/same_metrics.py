"""Checks that two metrics files hold the same values of the named metrics
for every step, compared as the exact doubles JSON round-trips, and prints
the first file's sequence of each."""
import json
import sys


def rows(path):
    return {row["step"]: row for row in map(json.loads, open(path))}


full, resumed = rows(sys.argv[1]), rows(sys.argv[2])
names = sys.argv[3:]
bad = False
for step in sorted(set(full) | set(resumed)):
    for name in names:
        a = full.get(step, {}).get(name)
        b = resumed.get(step, {}).get(name)
        if a != b:
            print(f"step {step} {name}: {a!r} vs {b!r}")
            bad = True
if bad:
    sys.exit(1)
for name in names:
    print(name + ":", " ".join(f"{full[s][name]:g}" for s in sorted(full)))
print(f"{len(full)} steps, {', '.join(names)} bit-identical")
