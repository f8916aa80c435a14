#!/usr/bin/env bash
# Training a model sparse or quantized against dense, on the CPU: each of
# dsv3-sparsify's schemes compiled, trained for STEPS steps on the corpus
# with the same seed, and compared by the mean loss of the last 50 steps,
# with the median tokens/s, the planned arena and the zeros of the pruned
# weights in the final checkpoint.
#
#   bench/sparsity.sh [MODEL] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-examples/tiny_moe.pbtxt}
steps=${2:-300}
bin=${BUILD_DIR:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

schemes=(
  "dense|"
  "2:4|--sparsity=weights-2:4"
  "2:4 + SR-STE 2e-4|--sparsity=weights-2:4 --srste=0.0002"
  "2:4 + SR-STE 2e-2|--sparsity=weights-2:4 --srste=0.02"
  "pruning to 30% (steps 50..200, every 10)|--prune=0.3 --prune-start=50 --prune-end=200 --sparse-refresh=10"
  "L1 1e-7 + pruning to 30%|--l1=0.0000001 --prune=0.3 --prune-start=50 --prune-end=200 --sparse-refresh=10"
  "L1 1e-5 + pruning to 30%|--l1=0.00001 --prune=0.3 --prune-start=50 --prune-end=200 --sparse-refresh=10"
  "int8 QAT|--qat=int8"
)
echo "model $model, $steps steps on examples/data/corpus.txt, seed 1"
printf '%-52s %10s %8s %9s %9s %11s\n' scheme "last-50" "vs dense" "tok/s" "arena" "zeros"
dense=
for entry in "${schemes[@]}"; do
  name=${entry%%|*}
  flags=${entry#*|}
  # shellcheck disable=SC2086
  "$bin/dsv3-compile" "$model" --target=cpu $flags -o "$tmp/m.dsv3" 2>/dev/null
  rm -rf "$tmp/ck" "$tmp/m.jsonl"
  "$bin/dsv3-run" "$tmp/m.dsv3" --steps "$steps" --data examples/data/corpus.txt \
    --seed 1 --metrics "$tmp/m.jsonl" --save "$tmp/ck" --log-every 1000000 > /dev/null
  arena=$("$bin/dsv3-run" "$tmp/m.dsv3" --dump | sed -n 's/.*arena \([0-9.]* [KMG]iB\).*/\1/p' | head -1)
  line=$(python3 - "$tmp/m.jsonl" "$tmp/ck/step-$(printf %08d "$steps")/model.safetensors" "${dense:-0}" <<'PY'
import json, statistics, sys
import numpy as np
from safetensors.numpy import load_file
rows = [json.loads(l) for l in open(sys.argv[1])]
last = sum(r["loss"] for r in rows[-50:]) / 50
tps = statistics.median(r["tokens_per_s"] for r in rows[2:])
least = 1.0
for name, v in load_file(sys.argv[2]).items():
    if v.ndim >= 2 and not name.endswith(".mlp.gate.weight") and (
            ".self_attn." in name or ".mlp." in name):
        least = min(least, float(np.mean(v == 0)))
dense = float(sys.argv[3]) or last
print(f"{last:.4f} {100 * (last / dense - 1):+.2f}% {tps:.0f} {100 * least:.1f}%")
PY
)
  read -r last ratio tps zeros <<< "$line"
  [ -z "$dense" ] && dense=$last
  printf '%-52s %10s %8s %9s %9s %11s\n' "$name" "$last" "$ratio" "$tps" "$arena" "$zeros"
done
