#!/usr/bin/env bash
# Configures (Ninja, Release, MLIR 22) and builds dsv3 into $BUILD_DIR
# (default: build/). Extra arguments are ninja targets (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BUILD_DIR:-build}
llvm=/usr/lib/llvm-22

if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -G Ninja -S . -B "$build_dir" \
    -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" \
    -DMLIR_DIR="$llvm/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$llvm/bin/lit" >/dev/null
fi
ninja -C "$build_dir" "$@"
