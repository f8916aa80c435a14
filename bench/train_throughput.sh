#!/usr/bin/env bash
# Training throughput of a model's step on the CPU: the compiled executable
# (dsv3-run; median tokens/s over steps 2..N from its metrics) against the
# reference interpreter (dsv3-interpret on the same @train_step; wall time
# of the whole process for two steps, so a little load time is included).
#
#   bench/train_throughput.sh [MODEL] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-examples/tiny_moe.pbtxt}
steps=${2:-30}
bin=${BUILD_DIR:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin/dsv3-compile" "$model" --target=cpu -o "$tmp/model.dsv3" 2>/dev/null
"$bin/dsv3-run" "$tmp/model.dsv3" --steps "$steps" \
  --data examples/data/corpus.txt --metrics "$tmp/m.jsonl" --log-every 1000000 \
  | tail -1
compiled=$(python3 - "$tmp/m.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]
print(f"{statistics.median(r['tokens_per_s'] for r in rows):.0f}")
PY
)
tokens=$("$bin/dsv3-run" "$tmp/model.dsv3" --dump | sed -n 's/^batch \([0-9]*\) x \([0-9]*\),.*/\1 \2/p')
read -r b s <<< "$tokens"

"$bin/dsv3-compile" "$model" --emit=train -o "$tmp/train.mlir"
start=$(date +%s.%N)
"$bin/dsv3-opt" "$tmp/train.mlir" --dsv3-interpret="function=train_step steps=2" -o /dev/null > /dev/null
end=$(date +%s.%N)
interpreted=$(python3 -c "print(f'{2 * $b * $s / ($end - $start):.0f}')")

echo "model $model, $b x $s tokens per step"
echo "compiled executable: $compiled tokens/s (median of steps 2..$steps)"
echo "interpreter:         $interpreted tokens/s (2 steps, whole process)"
python3 -c "print(f'speed-up: {$compiled / $interpreted:.1f}x')"
