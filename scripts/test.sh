#!/usr/bin/env bash
# Sets up, builds and runs every test: the lit suite, then the GoogleTest
# unit tests through ctest. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh all mlir-doc
build_dir=${BUILD_DIR:-build}

echo "== lit"
/usr/lib/llvm-22/bin/lit -sv "$build_dir/test"
echo "== ctest"
ctest --test-dir "$build_dir" --output-on-failure
