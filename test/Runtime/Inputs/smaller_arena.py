#!/usr/bin/env python3
"""Checks that each executable after the first plans a smaller arena (the
Executable message's field 4, arena_bytes) than the first.

usage: smaller_arena.py BASE.dsv3 OTHER.dsv3..."""

import os
import sys

from dsv3_executable import fields, payload_of


def arena(path):
    for number, _, value, _ in fields(payload_of(path)):
        if number == 4:
            return value
    sys.exit(f"{path}: no arena_bytes field")


base = arena(sys.argv[1])
failed = False
for path in sys.argv[2:]:
    other = arena(path)
    name, base_name = os.path.basename(path), os.path.basename(sys.argv[1])
    if other < base:
        print(f"{name} arena smaller than {base_name}'s: {other} < {base} bytes")
    else:
        print(f"{name} arena not smaller than {base_name}'s: {other} >= {base} bytes")
        failed = True
sys.exit(1 if failed else 0)
