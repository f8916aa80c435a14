#!/usr/bin/env bash
# Import time of the published DeepSeek descriptions: the in-process stage
# timers of dsv3-compile (--time), then the whole process five times.
# Usage: bench/import_time.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/bin/dsv3-compile

for model in examples/deepseek_v3.pbtxt examples/configs/deepseek_v3.json \
             examples/deepseek_v2_lite.pbtxt; do
  echo "== $model"
  "$bin" "$model" --emit=forward -o /dev/null --time 2>&1 |
    grep -E 'load and validate|build the forward|verify the IR|Total'
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%e s wall, %M KiB peak' "$bin" "$model" --emit=forward -o /dev/null
  done
done
