#!/usr/bin/env python3
"""Writes a copy of a .dsv3 executable whose planned arena is BYTES: the
top-level field 4 (arena_bytes) of the Executable message rewritten, and
the frame's length and FNV-1a checksum recomputed, so that the file loads
and passes every check but the one of the memory available.

usage: set_arena.py IN.dsv3 BYTES OUT.dsv3"""

import sys

from dsv3_executable import field_bytes, fields, frame, payload_of

src, arena, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = b"".join(field_bytes(4, 0, arena) if number == 4 else encoded
               for number, _, _, encoded in fields(payload_of(src)))
open(dst, "wb").write(frame(out))
