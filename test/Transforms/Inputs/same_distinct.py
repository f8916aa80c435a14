"""Compares the deduplication lines of two --report outputs (a shallow and a
deep model of one layer shape): prints each count pair and fails when the
distinct counts differ or the deeper model did not outline more."""
import re
import sys


def counts(path):
    rows = {}
    for line in open(path):
        m = re.match(r"(kernels|GPU functions): (\d+) \w+, (\d+) distinct", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return rows


shallow, deep = counts(sys.argv[1]), counts(sys.argv[2])
if not shallow or shallow.keys() != deep.keys():
    sys.exit(f"different report lines: {shallow} vs {deep}")
ok = True
for what, (n, m) in shallow.items():
    dn, dm = deep[what]
    print(f"{what}: {n} -> {dn} outlined, {m} -> {dm} distinct")
    ok &= dm == m and dn > n
sys.exit(0 if ok else 1)
