"""Compares two `dsv3-interpret` printouts: the same results, types and
shown values, each sum and value within 1e-5 relative (1e-5 absolute near
zero). Used where a rewrite changes the order of f64 sums, so the digests
may differ in the last bits.

usage: close_results.py BEFORE AFTER"""
import re
import sys

line = re.compile(r"result (\d+)(?: \((.*)\))?: (\S+) sum (\S+) \[(.*)\]")


def parse(path):
    out = []
    for text in open(path):
        m = line.match(text.strip())
        if m:
            values = [v for v in m.group(5).split(", ") if v != "..."]
            out.append((m.group(1), m.group(3), float(m.group(4)),
                        [float(v) for v in values]))
    return out


def close(a, b):
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1.0)


before, after = parse(sys.argv[1]), parse(sys.argv[2])
if not before or len(before) != len(after):
    print(f"{len(before)} results before, {len(after)} after")
    sys.exit(1)
for (i, t, s, v), (j, u, r, w) in zip(before, after):
    if (i, t) != (j, u) or not close(s, r) or len(v) != len(w) or \
            not all(close(x, y) for x, y in zip(v, w)):
        print(f"result {i}: {t} sum {s} {v} vs {u} sum {r} {w}")
        sys.exit(1)
print(f"{len(before)} results agree")
