#!/usr/bin/env python3
"""Writes a crafted copy of a .dsv3 executable: one field changed so that
the file has a valid header and checksum but content the loader must
refuse. The Executable message is edited as protobuf text (protoc
--decode / --encode with runtime/executable.proto), then framed again.

usage: craft_executable.py PROTO IN.dsv3 CASE OUT.dsv3
"""
import re
import subprocess
import sys

from dsv3_executable import field_bytes, fields, frame, payload_of

proto, src, case, dst = sys.argv[1:5]
proto_dir, proto_file = proto.rsplit("/", 1)


def protoc(mode, data):
    return subprocess.run(
        ["protoc", f"--{mode}=dsv3.runtime.Executable", "-I", proto_dir,
         proto_file], input=data, capture_output=True, check=True).stdout


# Top-level blocks of the text: one line per scalar field, a run of lines
# per message field.
text = protoc("decode", payload_of(src)).decode()
# protoc puts "name {" and "}" on lines of their own; string values (the
# kernel library's bytes among them) may hold braces anywhere else.
blocks, current, depth = [], [], 0
for line in text.splitlines():
    current.append(line)
    if line.rstrip().endswith("{"):
        depth += 1
    elif line.strip() == "}":
        depth -= 1
    if depth == 0:
        blocks.append(current)
        current = []
assert not current, "unbalanced text format"


def named(kind):
    return [b for b in blocks if b[0].startswith(kind + " {")]


def field(block, name):
    for line in block:
        m = re.match(rf"\s*{name}: (.*)$", line)
        if m:
            return m.group(1)
    return None


def set_field(block, name, value):
    for i, line in enumerate(block):
        if re.match(rf"\s*{name}: ", line):
            indent = line[:len(line) - len(line.lstrip())]
            block[i] = f"{indent}{name}: {value}"
            return
    block.insert(len(block) - 1, f"  {name}: {value}")


def top(name, value):
    for b in blocks:
        if b[0].startswith(name + ":"):
            b[0] = f"{name}: {value}"
            return
    blocks.append([f"{name}: {value}"])


buffers = named("buffers")
commands = named("commands")
role = lambda b: field(b, "role") or "ROLE_UNSPECIFIED"
by_role = lambda r: [b for b in buffers if role(b) == r]
launches = [c for c in commands if c[1].strip() == "launch {"]
gemms = [c for c in commands if c[1].strip() == "gemm {"]
gpu_launches = [c for c in commands if c[1].strip() == "gpu_launch {"]
attentions = [c for c in commands if c[1].strip() == "attention {"]
truncate_library = False
invalid_utf8 = False

if case == "offset-overflow":
    set_field(by_role("PARAM")[0], "offset", 2**63 - 64)
elif case == "launch-missing-output":
    c = next(c for c in launches if any("outputs:" in l for l in c))
    c.remove(next(l for l in c if "outputs:" in l))
elif case == "launch-small-output":
    # An output swapped for a buffer of another size.
    c = next(c for c in launches if any("outputs:" in l for l in c))
    i = next(i for i, l in enumerate(c) if "outputs:" in l)
    out = int(c[i].split(":")[1])
    size = int(field(buffers[out], "bytes"))
    other = next(j for j, b in enumerate(buffers)
                 if int(field(b, "bytes") or 0) not in (0, size))
    c[i] = f"    outputs: {other}"
elif case == "loss-empty":
    b = by_role("LOSS")[0]
    b.insert(2, "  shape: 0")
    set_field(b, "bytes", 0)
elif case == "batch-negative":
    top("micro_batch", -1)
elif case == "batch-huge":
    top("micro_batch", 2**40)
elif case == "batch-wrap":
    top("micro_batch", 2**62)
elif case == "vocab-large":
    top("vocab_size", 1 << 20)
elif case == "truncated-library":
    truncate_library = True
elif case == "two-losses":
    b = next(b for b in by_role("METRIC")
             if field(b, "dtype") == "TYPE_F32" and "shape:" not in "".join(b))
    set_field(b, "role", "LOSS")
elif case == "no-step":
    set_field(by_role("STEP")[0], "role", "ACTIVATION")
elif case == "unknown-role":
    set_field(by_role("PARAM")[0], "role", 9)
elif case == "duplicate-batch-field":
    set_field(next(b for b in by_role("BATCH")
                   if field(b, "batch_field") == '"positions"'),
              "batch_field", '"tokens"')
elif case == "init-uniform" or case == "init-empty":
    b = next(b for b in by_role("PARAM") if 'kind: "normal"' in "".join(b))
    i = next(i for i, l in enumerate(b) if "kind:" in l)
    b[i] = '    kind: "uniform"' if case == "init-uniform" else '    kind: ""'
elif case == "init-constant-nan":
    b = next(b for b in by_role("PARAM") if 'kind: "normal"' in "".join(b))
    i = next(i for i, l in enumerate(b) if "kind:" in l)
    b[i] = '    kind: "constant"\n    value: nan'
elif case == "fp8-param":
    b = by_role("PARAM")[0]
    set_field(b, "dtype", "TYPE_F8E4M3FN")
    set_field(b, "bytes", int(field(b, "bytes")) // 4)
elif case == "no-commands":
    blocks = [b for b in blocks if b not in commands]
elif case == "shared-offset":
    params = by_role("PARAM")
    set_field(params[1], "offset", field(params[0], "offset") or 0)
elif case == "gemm-in-place":
    g = gemms[0]
    set_field(g, "c", field(g, "a"))
elif case == "attention-short-seq":
    # Buffers smaller than the shape says: refused, never read past.
    c = attentions[0]
    i = next(i for i, l in enumerate(c) if l.strip().startswith("seq:"))
    c[i] = f"    seq: {int(c[i].split(':')[1]) * 2}"
elif case == "attention-in-place":
    a = next(c for c in attentions if any("d_query:" in l for l in c))
    query = next(l for l in a if l.strip().startswith("query:"))
    i = next(i for i, l in enumerate(a) if l.strip().startswith("d_query:"))
    a[i] = "    d_query: " + query.split(":")[1].strip()
elif case == "gpu-launch-in-cpu":
    c = launches[0]
    c[1:-2] = ["  gpu_launch {", '    function: "f"', "    grid: 1",
               "    grid: 1", "    grid: 1", "    block: 1", "    block: 1",
               "    block: 1", "  }"]
elif case == "gpu-grid":
    # A grid larger than the function was generated for.
    c = gpu_launches[0]
    i = next(i for i, l in enumerate(c) if l.strip().startswith("grid:"))
    c[i] = f"    grid: {int(c[i].split(':')[1]) * 2}"
elif case == "gpu-missing-arg":
    c = next(c for c in gpu_launches if sum("args {" in l for l in c) > 1)
    i = max(i for i, l in enumerate(c) if "args {" in l)
    del c[i:i + 3]
elif case == "gpu-small-arg":
    # An argument swapped for a buffer of another size.
    c = gpu_launches[0]
    i = next(i for i, l in enumerate(c) if "buffer:" in l)
    size = int(field(buffers[int(c[i].split(":")[1])], "bytes"))
    other = next(j for j, b in enumerate(buffers)
                 if int(field(b, "bytes") or 0) not in (0, size))
    c[i] = f"      buffer: {other}"
elif case == "invalid-utf8":
    invalid_utf8 = True
elif case == "peak-above-arena":
    top("peak_live_bytes", int(next(field(b, "arena_bytes") for b in blocks
                                    if b[0].startswith("arena_bytes"))) + 64)
elif case == "negative-steps":
    top("total_steps", -3)
else:
    sys.exit(f"unknown case {case}")

payload = protoc("encode", ("\n".join(l for b in blocks for l in b) +
                            "\n").encode())
if truncate_library:
    # Field 7 (kernel_library, length-delimited) keeps its first half.
    payload = b"".join(
        field_bytes(7, 2, value[:len(value) // 2]) if number == 7 else encoded
        for number, _, value, encoded in fields(payload))
if invalid_utf8:
    # Field 2 (model, a string) becomes bytes that are not UTF-8.
    payload = b"".join(
        field_bytes(2, 2, b"\xff\xfe") if number == 2 else encoded
        for number, _, value, encoded in fields(payload))
open(dst, "wb").write(frame(payload))
