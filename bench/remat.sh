#!/usr/bin/env bash
# What each rematerialization policy costs and saves: for each of
# --remat=none, full, sqrt and selective, the planned arena of MODEL and the FLOPs it
# recomputes (dsv3-compile --report), and the median tokens/s of STEPS
# steps on the corpus on the CPU (STEPS=0: compile only, for models too
# big to train here).
#
#   bench/remat.sh [MODEL] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-examples/tiny_moe.pbtxt}
steps=${2:-30}
bin=${BUILD_DIR:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "model $model, $steps steps on examples/data/corpus.txt, $(nproc) cores"
printf '%-10s %14s %24s %12s %9s %9s\n' policy arena "recomputed FLOPs" "kept (MiB)" compile "tok/s"
for policy in none full sqrt selective; do
  start=$(date +%s%N)
  "$bin/dsv3-compile" "$model" --target=cpu --remat=$policy --report -o "$tmp/m.dsv3" \
    > "$tmp/report.txt" 2>&1
  compile=$(( ($(date +%s%N) - start) / 100000000 ))  # tenths of a second
  arena=$(sed -n 's/.*in an arena of [0-9]* bytes (\([0-9.]* MiB\)).*/\1/p' "$tmp/report.txt" | head -1)
  recomputed=$(sed -n 's/.*recomputed: [0-9]* ops, [0-9]* FLOPs (\([0-9.]*%\) of.*/\1 of the step/p' "$tmp/report.txt")
  kept=$(sed -n 's/.*kept for the backward: .*-> [0-9]* bytes (\([0-9.]*\) MiB).*/\1/p' "$tmp/report.txt")
  tps=-
  if [ "$steps" -gt 0 ]; then
    rm -f "$tmp/m.jsonl"
    "$bin/dsv3-run" "$tmp/m.dsv3" --steps "$steps" --data examples/data/corpus.txt \
      --metrics "$tmp/m.jsonl" --log-every 1000000 > /dev/null
    tps=$(python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(round(statistics.median(r["tokens_per_s"] for r in rows[2:])))' "$tmp/m.jsonl")
  fi
  printf '%-10s %14s %24s %12s %6d.%ds %9s\n' "$policy" "$arena" "$recomputed" "$kept" \
    $((compile / 10)) $((compile % 10)) "$tps"
done
