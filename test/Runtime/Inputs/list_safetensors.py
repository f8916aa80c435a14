"""Lists a safetensors file (name, dtype, shape), read independently of the
runtime: an 8-byte little-endian header length, a JSON header, the data."""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
for name, entry in sorted(header.items()):
    if name != "__metadata__":
        print(name, entry["dtype"], entry["shape"])
