#!/usr/bin/env python3
"""Writes a copy of a .dsv3 executable whose planned arena is BYTES: the
top-level field 4 (arena_bytes) of the Executable message rewritten, and
the frame's length and FNV-1a checksum recomputed, so that the file loads
and passes every check but the one of the memory available.

usage: set_arena.py IN.dsv3 BYTES OUT.dsv3"""

import struct
import sys


def varint(data, i):
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def encode(value):
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


src, arena, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
raw = open(src, "rb").read()
assert raw[:8] == b"DSV3EXE1", "not a dsv3 executable"
payload = raw[24:]
out, i = bytearray(), 0
while i < len(payload):
    start = i
    key, i = varint(payload, i)
    field, wire = key >> 3, key & 7
    if wire == 0:
        value, i = varint(payload, i)
        if field == 4:
            out += encode(key) + encode(arena)
            continue
    elif wire == 1:
        i += 8
    elif wire == 2:
        length, i = varint(payload, i)
        i += length
    elif wire == 5:
        i += 4
    else:
        sys.exit(f"unexpected wire type {wire}")
    out += payload[start:i]
out = bytes(out)
open(dst, "wb").write(b"DSV3EXE1" + struct.pack("<QQ", len(out), fnv1a64(out)) + out)
