#!/usr/bin/env python3
"""Counts bf16 values that are widened to f32 and the result rounded to
bf16 again (a cast chain the mixed-precision pass must not leave), in the
MLIR read from stdin."""

import re
import sys

text = sys.stdin.read()
# %b = dsv3.cast %a : tensor<...xbf16> to tensor<...xf32>
widened = set(re.findall(
    r"(%[\w#]+) = dsv3\.cast %[\w#]+ : tensor<[^>]*xbf16> to tensor<[^>]*xf32>",
    text))
chains = sum(1 for src in re.findall(
    r"= dsv3\.cast (%[\w#]+) : tensor<[^>]*xf32> to tensor<[^>]*xbf16>", text)
    if src in widened)
print(f"{chains} bf16 -> f32 -> bf16 chains")
