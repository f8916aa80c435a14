#!/usr/bin/env python3
"""Checks that a step accumulating gradients over k micro-batches plans an
arena within 10% of the one-micro-batch step's plus its gradients (the
running sums, one f32 buffer per parameter): the micro-batches' forwards
and backwards run in turn, so their activations are never live together.

usage: accum_peak.py ONE.dump ACCUMULATING.dump (dsv3-run --dump output)"""

import re
import sys


def read(path):
    text = open(path).read()
    arena = int(re.search(r"arena [0-9.]+ [KMG]iB \(([0-9]+) bytes", text).group(1))
    params = sum(int(m.group(1)) for m in
                 re.finditer(r"^\s+\d+ param\s+f32\s+\S+\s+\d+\s+(\d+) ", text, re.M))
    return arena, params


one, params = read(sys.argv[1])
accumulating, _ = read(sys.argv[2])
bound = 1.10 * (one + params)
ratio = accumulating / (one + params)
print(f"arena {accumulating} bytes accumulating, {one} + {params} of gradients "
      f"with one micro-batch: {ratio:.3f}x")
if accumulating > bound:
    print("FAIL: more than 10% above")
    sys.exit(1)
print("within 10%")
