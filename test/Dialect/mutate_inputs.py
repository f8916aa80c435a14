#!/usr/bin/env python3
"""Mutates valid dsv3 functions (numbers in shapes and attributes, dropped
lines, swapped element types) with a fixed seed and runs dsv3-opt on each
through parsing, verification, the cost report, the interpreter and
autodiff. Fails on any crash: every bad input must end in a diagnostic."""

import random
import re
import subprocess
import sys


def functions(paths):
    for path in paths:
        for chunk in open(path, encoding="utf-8").read().split("// -----"):
            for fn in re.split(r"\n(?=func\.func)", chunk):
                if "func.func" in fn:
                    yield fn[fn.index("func.func"):]


def mutate(rng, text):
    choice = rng.random()
    if choice < 0.6:
        numbers = list(re.finditer(r"(?<![%#\w.])\d+", text))
        if numbers:
            m = rng.choice(numbers)
            value = rng.choice(["0", "1", "2", "3", "7", "64", "-1", "100000000"])
            text = text[:m.start()] + value + text[m.end():]
    elif choice < 0.8:
        lines = text.split("\n")
        if len(lines) > 3:
            del lines[rng.randrange(1, len(lines) - 1)]
        text = "\n".join(lines)
    else:
        text = text.replace("f32", rng.choice(["bf16", "f16", "i32", "f8E4M3FN", "i1", "f64"]), 1)
    return text


def main(tool, count, paths):
    rng = random.Random(20261129)
    sources = list(functions(paths))
    crashes = []
    for _ in range(count):
        text = mutate(rng, rng.choice(sources))
        name = re.search(r"func\.func @(\w+)", text).group(1)
        for passes in ([], ["--dsv3-print-cost"],
                       ["--dsv3-interpret=function=" + name],
                       ["--dsv3-autodiff=function=" + name, "--dsv3-fuse"]):
            run = subprocess.run([tool, "-", "-o", "/dev/null"] + passes,
                                 input=text, capture_output=True, text=True,
                                 timeout=60)
            if run.returncode < 0 or "Stack dump" in run.stderr or \
                    "LLVM ERROR" in run.stderr:
                crashes.append((passes, text, run.stderr[-2000:]))
                break
    for passes, text, err in crashes:
        print("CRASH with", passes, "on:\n" + text + "\n" + err)
    print(f"{count} mutated inputs, {len(crashes)} crashes")
    sys.exit(1 if crashes else 0)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
