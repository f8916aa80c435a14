"""Reads a dsv3-run --export-int8 directory and writes the dequantized
model (weight = int8 * scale per row) as model.safetensors in OUT, with the
export's config.json: a Hugging Face directory dsv3-run --init-from takes.

  dequantize_int8.py EXPORT OUT"""
import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

src, out = sys.argv[1], sys.argv[2]
note = json.load(open(os.path.join(src, "quantization.json")))
assert note["format"] == "dsv3-int8" and note["bits"] == 8, note
tensors = load_file(os.path.join(src, "model.safetensors"))
suffix = note["scale_suffix"]
result = {}
for name in note["quantized"]:
    q, scale = tensors[name], tensors[name + suffix]
    assert q.dtype == np.int8 and scale.dtype == np.float32, name
    assert int(np.abs(q).max()) <= 127, name
    result[name] = (q.astype(np.float32) * scale[..., None]).astype(np.float32)
for name, value in tensors.items():
    if name not in result and not (name.endswith(suffix)
                                   and name[:-len(suffix)] in result):
        result[name] = value
os.makedirs(out, exist_ok=True)
save_file(result, os.path.join(out, "model.safetensors"))
if os.path.exists(os.path.join(src, "config.json")):
    shutil.copy(os.path.join(src, "config.json"), out)
print(f"{len(note['quantized'])} int8 weights dequantized, "
      f"{len(result) - len(note['quantized'])} other tensors")
