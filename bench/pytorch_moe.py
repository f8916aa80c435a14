"""The same DeepSeek-style MoE as a ModelSpec, written in PyTorch: the peer
dsv3's training step is measured against (eager and torch.compile).

It follows what dsv3's forward builder emits: MLA attention (optional query
compression, a shared rotary key), SwiGLU MLPs in the first layers, then MoE
layers with sigmoid scoring, an aux-loss-free bias, group-limited top-k and a
shared expert, a final norm and head, and multi-token prediction modules;
AdamW. Numerics are f32 without TF32, like the dsv3 executable's f32 step;
with `compile { precision: BF16 }` the step runs under torch.autocast to
bf16, as a PyTorch user would train it (parameters and AdamW stay f32, like
dsv3's bf16 GEMMs; autocast also puts attention's GEMMs in bf16, which dsv3
keeps in f32).

usage: pytorch_moe.py SPEC.pbtxt [--steps N] [--compile] [--device cuda|cpu]
                      [--micro-batch B] [--seq-len S] [--threads T]
                      [--json FILE]

Prints one JSON object: tokens/s (median over the steps after the first
two) and the loss of each step.
"""
import argparse
import json
import math
import re
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


def parse_pbtxt(text):
    """The subset of protobuf text format ModelSpec files use: nested
    blocks and scalar fields."""
    root, stack = {}, []
    cur = root
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("{"):
            child = {}
            cur[line[:-1].strip()] = child
            stack.append(cur)
            cur = child
        elif line == "}":
            cur = stack.pop()
        else:
            key, value = (s.strip() for s in line.split(":", 1))
            value = value.strip('"')
            if re.fullmatch(r"-?\d+", value):
                value = int(value)
            elif re.fullmatch(r"-?[\d.]+(e-?\d+)?", value):
                value = float(value)
            cur[key] = value
    return root


class RMSNorm(nn.Module):
    def __init__(self, n, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, positions, theta):
    d = x.shape[-1]
    freqs = theta ** (-torch.arange(0, d, 2, device=x.device, dtype=x.dtype) / d)
    angles = positions[..., None].to(x.dtype) * freqs
    cos, sin = angles.cos()[:, :, None, :], angles.sin()[:, :, None, :]
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), -1).flatten(-2)


class MLA(nn.Module):
    def __init__(self, a, h, heads, theta):
        super().__init__()
        self.heads, self.theta = heads, theta
        self.nope, self.rope_dim = a["qk_nope_head_dim"], a["qk_rope_head_dim"]
        self.v = a["v_head_dim"]
        qk = self.nope + self.rope_dim
        self.q_lora = a.get("q_lora_rank", 0)
        if self.q_lora:
            self.q_a = nn.Linear(h, self.q_lora, bias=False)
            self.q_norm = RMSNorm(self.q_lora)
            self.q_b = nn.Linear(self.q_lora, heads * qk, bias=False)
        else:
            self.q = nn.Linear(h, heads * qk, bias=False)
        self.kv_lora = a["kv_lora_rank"]
        self.kv_a = nn.Linear(h, self.kv_lora + self.rope_dim, bias=False)
        self.kv_norm = RMSNorm(self.kv_lora)
        self.kv_b = nn.Linear(self.kv_lora, heads * (self.nope + self.v), bias=False)
        self.o = nn.Linear(heads * self.v, h, bias=False)

    def forward(self, x, positions, mask):
        b, s, _ = x.shape
        q = self.q_b(self.q_norm(self.q_a(x))) if self.q_lora else self.q(x)
        q = q.view(b, s, self.heads, -1)
        q_nope, q_rope = q.split([self.nope, self.rope_dim], -1)
        kv = self.kv_a(x)
        c, k_rope = kv.split([self.kv_lora, self.rope_dim], -1)
        kv = self.kv_b(self.kv_norm(c)).view(b, s, self.heads, -1)
        k_nope, v = kv.split([self.nope, self.v], -1)
        q_rope = rope(q_rope, positions, self.theta)
        k_rope = rope(k_rope[:, :, None, :], positions, self.theta)
        q = torch.cat([q_nope, q_rope], -1).transpose(1, 2)
        k = torch.cat([k_nope, k_rope.expand(-1, -1, self.heads, -1)], -1).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, k, v.transpose(1, 2), attn_mask=mask)
        return self.o(o.transpose(1, 2).reshape(b, s, -1))


class SwiGLU(nn.Module):
    def __init__(self, h, n):
        super().__init__()
        self.gate = nn.Linear(h, n, bias=False)
        self.up = nn.Linear(h, n, bias=False)
        self.down = nn.Linear(n, h, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class MoE(nn.Module):
    def __init__(self, m, h):
        super().__init__()
        self.e, self.k = m["num_routed_experts"], m["top_k"]
        self.groups = m.get("n_group", 1)
        self.topk_groups = m.get("topk_group", 1)
        self.scale = m.get("routed_scaling_factor", 1.0)
        self.norm = m.get("norm_topk_prob", True)
        n = m["intermediate_size"]
        self.router = nn.Linear(h, self.e, bias=False)
        self.register_buffer("bias", torch.zeros(self.e))
        self.w_gate = nn.Parameter(torch.randn(self.e, n, h) * 0.02)
        self.w_up = nn.Parameter(torch.randn(self.e, n, h) * 0.02)
        self.w_down = nn.Parameter(torch.randn(self.e, h, n) * 0.02)
        shared = m.get("num_shared_experts", 0)
        self.shared = SwiGLU(h, n * shared) if shared else None

    def forward(self, x):
        b, s, h = x.shape
        t = x.reshape(-1, h)
        scores = torch.sigmoid(self.router(t))
        biased = scores + self.bias
        if self.groups > 1:
            g = biased.view(-1, self.groups, self.e // self.groups)
            group_score = g.topk(2, -1).values.sum(-1)
            keep = group_score.topk(self.topk_groups, -1).indices
            mask = torch.zeros_like(group_score).scatter_(1, keep, 1.0)
            biased = (g * mask[..., None] + (mask[..., None] - 1) * 1e9).view(-1, self.e)
        idx = biased.topk(self.k, -1).indices
        w = scores.gather(1, idx)
        if self.norm:
            w = w / w.sum(-1, keepdim=True)
        w = w * self.scale
        out = torch.zeros_like(t)
        flat = idx.flatten()
        order = flat.argsort()
        counts = torch.bincount(flat, minlength=self.e).tolist()
        rows = order // self.k
        start = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            r = rows[start:start + n]
            xe = t[r]
            ye = (F.silu(xe @ self.w_gate[e].t()) * (xe @ self.w_up[e].t())) @ self.w_down[e].t()
            contribution = ye * w.flatten()[order[start:start + n], None]
            out.index_add_(0, r, contribution.to(out.dtype))
            start += n
        if self.shared is not None:
            out = out + self.shared(t)
        return out.view(b, s, h)


class Block(nn.Module):
    def __init__(self, spec, moe_layer):
        super().__init__()
        a, h = spec["arch"], spec["arch"]["hidden_size"]
        self.attn_norm, self.mlp_norm = RMSNorm(h), RMSNorm(h)
        self.attn = MLA(a["attention"], h, a["num_heads"], a.get("rope_theta", 10000.0))
        self.mlp = MoE(spec["moe"], h) if moe_layer else SwiGLU(h, a["dense_intermediate_size"])

    def forward(self, x, positions, mask):
        x = x + self.attn(self.attn_norm(x), positions, mask)
        return x + self.mlp(self.mlp_norm(x))


class Model(nn.Module):
    def __init__(self, spec):
        super().__init__()
        a = spec["arch"]
        h, v = a["hidden_size"], a["vocab_size"]
        self.embed = nn.Embedding(v, h)
        self.layers = nn.ModuleList(
            Block(spec, i >= a.get("first_k_dense", 0)) for i in range(a["num_layers"]))
        self.norm = RMSNorm(h)
        self.head = nn.Linear(h, v, bias=False)
        mtp = spec.get("mtp", {})
        self.mtp_weight = mtp.get("loss_weight", 0.3)
        self.mtp = nn.ModuleList(nn.ModuleDict({
            "h_norm": RMSNorm(h), "e_norm": RMSNorm(h),
            "proj": nn.Linear(2 * h, h, bias=False),
            "block": Block(spec, True), "norm": RMSNorm(h)})
            for _ in range(mtp.get("depth", 0)))

    def forward(self, tokens, targets):
        b, s = tokens.shape
        positions = torch.arange(s, device=tokens.device).expand(b, s)
        mask = torch.ones(s, s, dtype=torch.bool, device=tokens.device).tril()
        x = self.embed(tokens)
        for layer in self.layers:
            x = layer(x, positions, mask)
        loss = F.cross_entropy(self.head(self.norm(x)).flatten(0, 1), targets.flatten())
        h = x
        for d, m in enumerate(self.mtp, start=1):
            shifted = torch.roll(tokens, -d, 1)
            h = m["proj"](torch.cat([m["h_norm"](h), m["e_norm"](self.embed(shifted))], -1))
            h = m["block"](h, positions, mask)
            logits = self.head(m["norm"](h))
            loss = loss + self.mtp_weight * F.cross_entropy(
                logits.flatten(0, 1), torch.roll(targets, -d, 1).flatten())
        return loss


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("spec")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--micro-batch", type=int)
    p.add_argument("--seq-len", type=int)
    p.add_argument("--threads", type=int,
                   help="CPU threads (torch.set_num_threads; default: torch's)")
    p.add_argument("--json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    spec = parse_pbtxt(open(args.spec).read())
    t = spec.get("training", {})
    b = args.micro_batch or t.get("micro_batch", 8)
    s = args.seq_len or t.get("seq_len", 128)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = Model(spec).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=t.get("lr", 3e-4),
                            weight_decay=t.get("weight_decay", 0.1))
    forward = torch.compile(model) if args.compile else model
    precision = spec.get("compile", {}).get("precision", "FP32")
    autocast = torch.autocast(device_type=args.device, dtype=torch.bfloat16,
                              enabled=precision == "BF16")
    vocab = spec["arch"]["vocab_size"]
    gen = torch.Generator(device="cpu").manual_seed(1)

    def sync():
        if args.device == "cuda":
            torch.cuda.synchronize()

    losses, times = [], []
    for _ in range(args.steps):
        tokens = torch.randint(0, vocab, (b, s + 1), generator=gen).to(args.device)
        sync()
        start = time.perf_counter()
        with autocast:
            loss = forward(tokens[:, :-1], tokens[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
    steady = times[2:] or times
    result = {"mode": "torch.compile" if args.compile else "eager",
              "device": args.device, "batch": [b, s], "precision": precision,
              "threads": torch.get_num_threads(),
              "parameters": sum(p.numel() for p in model.parameters()),
              "tokens_per_s": b * s / statistics.median(steady),
              "step_s": statistics.median(steady),
              "first_step_s": times[0], "losses": losses}
    text = json.dumps(result)
    print(text)
    if args.json:
        open(args.json, "w").write(text + "\n")


if __name__ == "__main__":
    main()
