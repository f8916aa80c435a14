#!/usr/bin/env bash
# The main job: sets up, builds dsv3-opt and prints the cost report of the
# example 2-layer MoE forward graph.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh dsv3-opt
build_dir=${BUILD_DIR:-build}

"$build_dir/bin/dsv3-opt" examples/tiny_moe_forward.mlir --dsv3-print-cost -o /dev/null
