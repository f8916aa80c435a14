"""transformers as the independent reference for Hugging Face interop.

  hf_reference.py make v3|v2 DIR        a small random DeepSeek model, saved
  hf_reference.py tokens FILE N         N random byte tokens as uint32
  hf_reference.py loss DIR TOKENS B S   transformers' mean next-token loss on
                                        the first [B, S] batch dsv3-run packs
                                        from TOKENS (a token file, no EOS)
  hf_reference.py load DIR              loads DIR with from_pretrained and
                                        fails on any missing or unexpected key
  hf_reference.py convert SRC DST bf16-shards|fp8
                                        SRC as bf16 in several shards with an
                                        index, or with every 2-d weight in
                                        fp8 E4M3 scaled per 128 x 128 block
                                        (DeepSeek's weight_scale_inv) and its
                                        dequantized f32 twin in DST-dequantized
  hf_reference.py first-loss METRICS    the loss of the first line of a
                                        dsv3-run --metrics file
  hf_reference.py close A B RTOL        |A - B| <= RTOL |B| for two numbers
"""
import json
import sys

import numpy as np


def make(kind, out):
    import torch
    import transformers

    torch.manual_seed(0)
    common = dict(vocab_size=256, hidden_size=64, intermediate_size=128,
                  moe_intermediate_size=32, num_hidden_layers=3,
                  first_k_dense_replace=1, num_attention_heads=4,
                  num_key_value_heads=4, n_routed_experts=8,
                  n_shared_experts=1, num_experts_per_tok=2,
                  kv_lora_rank=16, qk_nope_head_dim=16, qk_rope_head_dim=8,
                  v_head_dim=16, max_position_embeddings=256)
    if kind == "v3":
        config = transformers.DeepseekV3Config(
            q_lora_rank=32, n_group=2, topk_group=1, **common)
        model = transformers.DeepseekV3ForCausalLM(config)
    else:
        config = transformers.DeepseekV2Config(
            q_lora_rank=None, n_group=2, topk_group=1,
            topk_method="group_limited_greedy", **common)
        model = transformers.DeepseekV2ForCausalLM(config)
    # Every tensor away from its initial value (norms from ones, the router
    # bias from zeros), so a tensor loaded into the wrong place shows.
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            tensor.add_(0.02 * torch.randn_like(tensor))
    model.save_pretrained(out)


def tokens(path, n):
    rng = np.random.default_rng(1)
    rng.integers(0, 256, size=int(n)).astype("<u4").tofile(path)


def loss(model_dir, token_file, batch, seq):
    import torch
    import transformers

    batch, seq = int(batch), int(seq)
    stream = np.fromfile(token_file, dtype="<u4").astype(np.int64)
    # dsv3-run's packing of a document-free stream: row r holds tokens
    # [r S, (r + 1) S) and predicts the ones after them.
    inputs = np.stack([stream[r * seq:(r + 1) * seq] for r in range(batch)])
    targets = np.stack([stream[r * seq + 1:(r + 1) * seq + 1]
                        for r in range(batch)])
    model = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(inputs)).logits.double()
    value = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        torch.from_numpy(targets).reshape(-1))
    print(f"{value.item():.9g}")


def convert(src, dst, how):
    import math
    import os
    import shutil

    import torch
    import transformers
    from safetensors.torch import load_file, save_file

    if how == "bf16-shards":
        model = transformers.AutoModelForCausalLM.from_pretrained(
            src, dtype=torch.bfloat16)
        model.save_pretrained(dst, max_shard_size="100KB")
        return
    assert how == "fp8", how
    tensors = load_file(os.path.join(src, "model.safetensors"))
    quantized, dequantized = {}, {}
    for name, w in tensors.items():
        if w.dim() != 2 or not name.endswith(".weight"):
            quantized[name] = dequantized[name] = w
            continue
        rows, cols = w.shape
        scale = torch.empty(math.ceil(rows / 128), math.ceil(cols / 128))
        q = torch.empty(rows, cols, dtype=torch.float8_e4m3fn)
        back = torch.empty_like(w)
        for i in range(scale.shape[0]):
            for j in range(scale.shape[1]):
                block = (slice(i * 128, (i + 1) * 128),
                         slice(j * 128, (j + 1) * 128))
                s = w[block].abs().max().clamp(min=1e-12) / 448
                q[block] = (w[block] / s).to(torch.float8_e4m3fn)
                scale[i, j] = s
                back[block] = q[block].float() * scale[i, j]
        quantized[name] = q
        quantized[name + "_scale_inv"] = scale
        dequantized[name] = back
    for out, values in ((dst, quantized), (dst + "-dequantized", dequantized)):
        os.makedirs(out, exist_ok=True)
        save_file(values, os.path.join(out, "model.safetensors"),
                  metadata={"format": "pt"})
        config = json.load(open(os.path.join(src, "config.json")))
        if out == dst:
            config["quantization_config"] = {
                "activation_scheme": "dynamic", "fmt": "e4m3",
                "quant_method": "fp8", "weight_block_size": [128, 128]}
        json.dump(config, open(os.path.join(out, "config.json"), "w"),
                  indent=2)


def first_loss(metrics):
    with open(metrics) as f:
        print(repr(json.loads(f.readline())["loss"]))


def load(model_dir):
    import transformers

    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k != "error_msgs"}
    if bad or info.get("error_msgs"):
        sys.exit(f"{model_dir}: {json.dumps(info, default=str)}")
    print(f"{model_dir}: {type(model).__name__}, every key loaded")


def close(a, b, rtol):
    a, b, rtol = float(a), float(b), float(rtol)
    if not abs(a - b) <= rtol * abs(b):
        sys.exit(f"{a} and {b} differ by {abs(a - b) / abs(b):.3g} "
                 f"relative, more than {rtol}")
    print(f"{a} ~ {b} (relative {abs(a - b) / abs(b):.2g})")


if __name__ == "__main__":
    commands = {"make": make, "tokens": tokens, "loss": loss, "load": load,
                "close": close, "convert": convert, "first-loss": first_loss}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
