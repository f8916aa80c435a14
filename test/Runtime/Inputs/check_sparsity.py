"""Checks the weights of a checkpoint's model.safetensors that dsv3-sparsify
acts on (the matrices of attention and the MLPs, not the router's gate):

  check_sparsity.py MODEL 2:4        every group of four along the last
                                     dimension has at least two zeros
  check_sparsity.py MODEL FRACTION   each has at least FRACTION zeros

and that the others (the embedding) are dense. Prints a summary; exits 1
with the offending tensor otherwise."""
import sys

import numpy as np
from safetensors.numpy import load_file


def acted_on(name, value):
    return (value.ndim >= 2 and not name.endswith(".mlp.gate.weight")
            and (".self_attn." in name or ".mlp." in name))


tensors = load_file(sys.argv[1])
mode = sys.argv[2]
checked, least = 0, 1.0
for name, value in sorted(tensors.items()):
    zeros = float(np.mean(value == 0))
    if not acted_on(name, value):
        if name.endswith("embed_tokens.weight") and zeros > 0.01:
            sys.exit(f"{name}: {zeros:.1%} zeros, but it is not pruned")
        continue
    checked += 1
    if mode == "2:4":
        per_group = (value.reshape(-1, 4) == 0).sum(axis=1)
        if per_group.min() < 2:
            bad = int(np.argmin(per_group))
            sys.exit(f"{name}: group {bad} along K has {per_group.min()} zeros")
    elif zeros < float(mode):
        sys.exit(f"{name}: {zeros:.1%} zeros, fewer than {float(mode):.0%}")
    least = min(least, zeros)
if checked == 0:
    sys.exit("no weight to check")
print(f"{checked} weights checked, at least {least:.0%} zeros in each")
