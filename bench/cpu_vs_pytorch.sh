#!/usr/bin/env bash
# The CPU step side by side: dsv3's compiled executable (dsv3-run), PyTorch
# eager and torch.compile (bench/pytorch_moe.py) on the same ModelSpec,
# shape and thread count, in one invocation. Prints tokens/s (median of the
# steps after the first two) and the ratios, and dsv3's split of the step
# into kernels, GEMMs and copies.
#
#   bench/cpu_vs_pytorch.sh [MODEL] [STEPS] [THREADS]
#
# Installs PyTorch with pip when it is missing (a benchmark tool, never
# needed by dsv3 itself).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-examples/tiny_moe.pbtxt}
steps=${2:-30}
threads=${3:-$(nproc)}
bin=${BUILD_DIR:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 -c "import torch" 2>/dev/null || python3 -m pip install --quiet torch

start=$(date +%s.%N)
"$bin/dsv3-compile" "$model" --target=cpu -o "$tmp/model.dsv3" 2>/dev/null
end=$(date +%s.%N)
compile_s=$(python3 -c "print(f'{$end - $start:.1f}')")
"$bin/dsv3-run" "$tmp/model.dsv3" --steps "$steps" --threads "$threads" \
  --metrics "$tmp/m.jsonl" --log-every 1000000 > "$tmp/run.txt"
dsv3=$(python3 - "$tmp/m.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])][2:]
print(f"{statistics.median(r['tokens_per_s'] for r in rows):.0f}")
PY
)
python3 bench/pytorch_moe.py "$model" --steps "$steps" --threads "$threads" \
  --device cpu --json "$tmp/eager.json" > /dev/null
python3 bench/pytorch_moe.py "$model" --steps "$steps" --threads "$threads" \
  --device cpu --compile --json "$tmp/compile.json" > /dev/null

python3 - "$model" "$threads" "$dsv3" "$compile_s" "$tmp/eager.json" \
  "$tmp/compile.json" <<'PY'
import json, sys
model, threads, dsv3, compile_s = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
eager = json.load(open(sys.argv[5]))
compiled = json.load(open(sys.argv[6]))
b, s = eager["batch"]
print(f"{model}: {b} x {s} tokens per step, {threads} threads")
print(f"  dsv3-run            {dsv3:8.0f} tokens/s   (compile {compile_s} s)")
print(f"  PyTorch eager       {eager['tokens_per_s']:8.0f} tokens/s")
print(f"  torch.compile       {compiled['tokens_per_s']:8.0f} tokens/s   "
      f"(first step {compiled['first_step_s']:.1f} s)")
print(f"  dsv3 / eager         {dsv3 / eager['tokens_per_s']:.2f}")
print(f"  dsv3 / torch.compile {dsv3 / compiled['tokens_per_s']:.2f}")
PY
sed -n '/^time per step/,/^slowest/p' "$tmp/run.txt" | sed '$d'
