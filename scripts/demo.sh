#!/usr/bin/env bash
# The main job: sets up, builds, compiles examples/tiny_moe.pbtxt (a
# 2.9M-parameter DeepSeek-style MoE on bytes) into a CPU executable and
# trains it for 300 steps on examples/data/corpus.txt, ending with the loss
# at the first and the last step.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh dsv3-compile dsv3-run
build_dir=${BUILD_DIR:-build}
out=${DEMO_DIR:-$build_dir/demo}
mkdir -p "$out"
rm -rf "$out/metrics.jsonl" "$out/checkpoints"

"$build_dir/bin/dsv3-compile" examples/tiny_moe.pbtxt --summary
"$build_dir/bin/dsv3-compile" examples/tiny_moe.pbtxt \
  -o "$out/tiny_moe.dsv3"
"$build_dir/bin/dsv3-run" "$out/tiny_moe.dsv3" --steps 300 \
  --data examples/data/corpus.txt --log-every 25 \
  --metrics "$out/metrics.jsonl" --save "$out/checkpoints"
