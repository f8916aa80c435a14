"""The .dsv3 file at the protobuf wire level, for tests that craft one:
the 24-byte frame (magic, payload length, FNV-1a hash) and the top-level
fields of the Executable message."""

import struct

MAGIC = b"DSV3EXE1"


def varint(data, i):
    """The varint at data[i], and the index after it."""
    value = shift = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def encode_varint(value):
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


def payload_of(path):
    """The Executable message of the .dsv3 file at `path`."""
    raw = open(path, "rb").read()
    assert raw[:8] == MAGIC, f"{path}: not a dsv3 executable"
    return raw[24:]


def frame(payload):
    """A .dsv3 file of `payload`, with its length and checksum."""
    return MAGIC + struct.pack("<QQ", len(payload), fnv1a64(payload)) + payload


def fields(payload):
    """(field number, wire type, value, encoded bytes) of each top-level
    field: the value is an int for varints, the bytes for length-delimited
    fields, None otherwise."""
    i = 0
    while i < len(payload):
        start = i
        key, i = varint(payload, i)
        wire, value = key & 7, None
        if wire == 0:
            value, i = varint(payload, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            length, i = varint(payload, i)
            value = payload[i:i + length]
            i += length
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unexpected wire type {wire}")
        yield key >> 3, wire, value, payload[start:i]


def field_bytes(number, wire, value):
    """One field encoded: a varint (wire 0) or length-delimited (wire 2)."""
    key = encode_varint(number << 3 | wire)
    if wire == 0:
        return key + encode_varint(value)
    return key + encode_varint(len(value)) + value
