#!/usr/bin/env bash
# The main job: sets up, builds, prints the cost report of the hand-written
# 2-layer MoE forward graph and the summary of examples/tiny_moe.pbtxt.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh dsv3-opt dsv3-compile
build_dir=${BUILD_DIR:-build}

"$build_dir/bin/dsv3-opt" examples/tiny_moe_forward.mlir --dsv3-print-cost -o /dev/null
echo
"$build_dir/bin/dsv3-compile" examples/tiny_moe.pbtxt --summary
