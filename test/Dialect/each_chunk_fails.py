#!/usr/bin/env python3
"""Runs dsv3-opt on every `// -----` chunk of a file on its own and checks
that each one is rejected cleanly: exit status 1 and an `error:` line, never
a crash (a signal or an LLVM stack dump)."""

import subprocess
import sys


def main(tool, path):
    chunks = open(path, encoding="utf-8").read().split("// -----")
    bad = []
    for i, chunk in enumerate(chunks):
        run = subprocess.run([tool, "-", "-o", "/dev/null"], input=chunk,
                             capture_output=True, text=True)
        crashed = run.returncode < 0 or "Stack dump" in run.stderr
        if crashed or run.returncode != 1 or "error:" not in run.stderr:
            bad.append(f"chunk {i}: exit {run.returncode}\n{run.stderr}")
    if bad:
        sys.exit("\n".join(bad))
    print(f"{len(chunks)} chunks rejected with a diagnostic")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
