#!/usr/bin/env bash
# The GPU check, run on the GPU machine from the repository root with the
# folder device/ that scripts/device-prep.sh made: no LLVM, no Debian
# packages, no network there. Writes JSON under $OUT:
#   gpu.json            the GPU (nvidia-smi)
#   tiny_moe.json       5 steps of tiny_moe on the GPU against the CPU's
#                       losses (relative difference per step)
#   tiny_moe_fp8.json   the same under precision fp8 (its quantize and
#                       dequantize kernels on the GPU against the CPU's)
#   small_moe.json      small_moe's tokens/s, TFLOP/s and MFU against the
#                       H200's dense BF16 tensor-core peak (its projection
#                       and expert GEMMs are bf16 on cuBLASLt, precision
#                       BF16; attention's stay f32) and, for reference,
#                       its FP32 peak
#   bandwidth.json      the generated kernels of small_moe's second traced
#                       step that are given 64 MiB or more: bytes of their
#                       buffers over their time, against 4.8 TB/s (an upper
#                       bound on what each moves, exact for elementwise
#                       kernels over whole tensors)
#   pytorch.json        the same small_moe written in PyTorch
#                       (bench/pytorch_moe.py, under bf16 autocast as the
#                       spec's precision asks), eager and torch.compile:
#                       tokens/s and TFLOP/s by dsv3's FLOP count for the
#                       step
#   summary.json        all of it, with every command's exit status
# Each run has its own time limit, so the whole check stays under 10
# minutes; a failure is recorded, not fatal.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=device
OUT=${OUT:-device-out}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$dir" "$work" <<'PY'
import lzma, os, sys
src, dst = sys.argv[1:3]
for name in os.listdir(src):
    if name.endswith(".xz"):
        with lzma.open(os.path.join(src, name)) as f, \
                open(os.path.join(dst, name[:-3]), "wb") as g:
            g.write(f.read())
os.chmod(os.path.join(dst, "dsv3-run"), 0o755)
PY

# cuBLASLt: the CUDA toolkit's, or the one in PyTorch's nvidia wheels.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c 'import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], "lib"))' 2>/dev/null); do
  if ls "$d"/libcublasLt.so* > /dev/null 2>&1; then
    export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
    break
  fi
done

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  > "$work/gpu.txt" 2>&1
python3 -c 'import json,sys; print(json.dumps({"nvidia_smi": open(sys.argv[1]).read().strip()}))' \
  "$work/gpu.txt" > "$OUT/gpu.json"

run() {  # name, seconds, command...
  local name=$1 limit=$2
  shift 2
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  echo $? > "$OUT/$name.rc"
}

run tiny_moe 60 "$work/dsv3-run" "$work/tiny_moe.cuda.dsv3" --steps 5 \
  --data "$work/corpus.txt" --metrics "$OUT/tiny_moe.gpu.jsonl"
# GPU errors surface late: on a failure, one step again, each command
# checked, names the command that failed.
if [ "$(cat "$OUT/tiny_moe.rc")" != 0 ]; then
  run tiny_moe_sync 60 "$work/dsv3-run" "$work/tiny_moe.cuda.dsv3" --steps 1 \
    --data "$work/corpus.txt" --sync-each-command
fi
run tiny_moe_fp8 45 "$work/dsv3-run" "$work/tiny_moe_fp8.cuda.dsv3" --steps 5 \
  --data "$work/corpus.txt" --metrics "$OUT/tiny_moe_fp8.gpu.jsonl"
run small_moe 120 "$work/dsv3-run" "$work/small_moe.cuda.dsv3" --steps 6 \
  --metrics "$OUT/small_moe.gpu.jsonl"
run small_moe_trace 60 "$work/dsv3-run" "$work/small_moe.cuda.dsv3" --steps 2 \
  --trace "$OUT/small_moe.trace.json"
run torch_eager 90 python3 "$dir/pytorch_moe.py" "$dir/small_moe.pbtxt" \
  --device cuda --steps 8 --json "$OUT/torch_eager.json"
run torch_compile 150 python3 "$dir/pytorch_moe.py" "$dir/small_moe.pbtxt" \
  --device cuda --steps 8 --compile --json "$OUT/torch_compile.json"

python3 - "$dir" "$OUT" <<'PY'
import json, os, statistics, sys
src, out = sys.argv[1:3]

def rows(path):
    try:
        return [json.loads(l) for l in open(path)]
    except OSError:
        return []

def rc(name):
    try:
        return int(open(os.path.join(out, name + ".rc")).read())
    except (OSError, ValueError):
        return None

def tail(name):
    try:
        return open(os.path.join(out, name + ".log")).read()[-2000:]
    except OSError:
        return ""

def against_cpu(name):
    cpu = rows(os.path.join(src, name + ".cpu.jsonl"))
    gpu = rows(os.path.join(out, name + ".gpu.jsonl"))
    steps = [{"step": c["step"], "cpu": c["loss"], "gpu": g["loss"],
              "relative": abs(g["loss"] - c["loss"]) / abs(c["loss"])}
             for c, g in zip(cpu, gpu)]
    result = {"exit": rc(name), "steps": steps,
              "max_relative": max((s["relative"] for s in steps), default=None),
              "log": tail(name)}
    json.dump(result, open(os.path.join(out, name + ".json"), "w"), indent=1)
    return result

tiny = against_cpu("tiny_moe")
tiny_fp8 = against_cpu("tiny_moe_fp8")

small_rows = rows(os.path.join(out, "small_moe.gpu.jsonl"))[1:]
peak_fp32 = 67e12  # H200 SXM dense FP32 (no tensor cores)
peak_bf16 = 989e12  # H200 SXM dense BF16 tensor cores
small = {"exit": rc("small_moe"), "log": tail("small_moe")}
if small_rows:
    tflops = statistics.median(r["tflops"] for r in small_rows)
    small.update(tokens_per_s=statistics.median(r["tokens_per_s"] for r in small_rows),
                 tflops=tflops, mfu_bf16=tflops * 1e12 / peak_bf16,
                 mfu_fp32=tflops * 1e12 / peak_fp32)
json.dump(small, open(os.path.join(out, "small_moe.json"), "w"), indent=1)

bandwidth = {"exit": rc("small_moe_trace"), "peak_gbps": 4800.0, "kernels": []}
try:
    trace = json.load(open(os.path.join(out, "small_moe.trace.json")))["traceEvents"]
    launches = [e for e in trace if e["cat"] == "kernel"]
    second = launches[len(launches) // 2:]
    big = [e for e in second
           if e.get("args", {}).get("bytes", 0) >= 64 << 20 and e["dur"] > 0]
    rows_bw = sorted(({"function": e["name"], "bytes": e["args"]["bytes"],
                       "us": e["dur"],
                       "gbps": e["args"]["bytes"] / e["dur"] / 1e3}
                      for e in big), key=lambda r: -r["gbps"])
    bandwidth["kernels"] = rows_bw
    if rows_bw:
        bandwidth["median_gbps"] = statistics.median(r["gbps"] for r in rows_bw)
        bandwidth["best_gbps"] = rows_bw[0]["gbps"]
except (OSError, KeyError, ValueError) as e:
    bandwidth["error"] = str(e)
json.dump(bandwidth, open(os.path.join(out, "bandwidth.json"), "w"), indent=1)

# FLOPs of one step by dsv3's cost model, from the executable's metrics.
flops = None
if small_rows:
    flops = statistics.median(r["tflops"] * 1e12 * r["step_s"] for r in small_rows)
torch_results = {}
for mode in ("torch_eager", "torch_compile"):
    entry = {"exit": rc(mode)}
    try:
        r = json.load(open(os.path.join(out, mode + ".json")))
        entry.update(tokens_per_s=r["tokens_per_s"], step_s=r["step_s"],
                     first_step_s=r["first_step_s"], parameters=r["parameters"])
        if flops:
            entry["tflops"] = flops / r["step_s"] / 1e12
            entry["mfu_bf16"] = entry["tflops"] * 1e12 / peak_bf16
            entry["mfu_fp32"] = entry["tflops"] * 1e12 / peak_fp32
    except (OSError, KeyError, ValueError):
        entry["log"] = tail(mode)
    torch_results[mode] = entry
json.dump(torch_results, open(os.path.join(out, "pytorch.json"), "w"), indent=1)

summary = {"gpu": json.load(open(os.path.join(out, "gpu.json"))),
           "pytorch": {k: {kk: vv for kk, vv in v.items() if kk != "log"}
                       for k, v in torch_results.items()},
           "bandwidth": {k: v for k, v in bandwidth.items() if k != "kernels"},
           "tiny_moe": {k: v for k, v in tiny.items() if k != "log"},
           "tiny_moe_fp8": {k: v for k, v in tiny_fp8.items() if k != "log"},
           "small_moe": {k: v for k, v in small.items() if k != "log"}}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps(summary, indent=1))
PY
