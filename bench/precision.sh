#!/usr/bin/env bash
# Training in each precision policy on the CPU: the model compiled with
# --precision=fp32, bf16, fp16 and fp8, trained for STEPS steps on the
# corpus with the same seed, and compared by the mean loss of the last 50
# steps (bf16 and fp16 against fp32, fp8 against bf16), with the median
# tokens/s, the planned arena, and for fp16 the steps loss scaling skipped
# and the final scale.
#
#   bench/precision.sh [MODEL] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-examples/tiny_moe.pbtxt}
steps=${2:-300}
bin=${BUILD_DIR:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "model $model, $steps steps on examples/data/corpus.txt, seed 1, $(nproc) cores"
printf '%-8s %10s %12s %9s %11s %8s %12s\n' policy "last-50" "vs" "tok/s" "arena" skipped "final scale"
fp32= bf16=
for policy in fp32 bf16 fp16 fp8; do
  "$bin/dsv3-compile" "$model" --target=cpu --precision=$policy -o "$tmp/m.dsv3" 2>/dev/null
  rm -f "$tmp/m.jsonl"
  "$bin/dsv3-run" "$tmp/m.dsv3" --steps "$steps" --data examples/data/corpus.txt \
    --seed 1 --metrics "$tmp/m.jsonl" --log-every 1000000 > /dev/null
  arena=$("$bin/dsv3-run" "$tmp/m.dsv3" --dump | sed -n 's/.*arena \([0-9.]* [KMG]iB\).*/\1/p' | head -1)
  base=${fp32:-0} against=fp32
  [ "$policy" = fp8 ] && base=$bf16 against=bf16
  line=$(python3 - "$tmp/m.jsonl" "$base" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
last = sum(r["loss"] for r in rows[-50:]) / 50
tps = statistics.median(r["tokens_per_s"] for r in rows[2:])
base = float(sys.argv[2]) or last
skipped = rows[-1].get("skipped", "-")
scale = rows[-1].get("loss_scale", "-")
print(f"{last:.4f} {100 * (last / base - 1):+.2f}% {tps:.0f} "
      f"{skipped if skipped == '-' else int(skipped)} {scale}")
PY
)
  read -r last ratio tps skipped scale <<< "$line"
  [ -z "$fp32" ] && fp32=$last
  [ "$policy" = bf16 ] && bf16=$last
  [ "$policy" = fp32 ] && ratio=- || ratio="$ratio vs $against"
  printf '%-8s %10s %12s %9s %11s %8s %12s\n' "$policy" "$last" "$ratio" "$tps" "$arena" "$skipped" "$scale"
done
