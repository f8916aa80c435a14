#!/usr/bin/env bash
# Sets up, builds and runs every test: the lit suite, the GoogleTest unit
# tests through ctest, then a smoke run of each fuzz target (FUZZ_SECONDS,
# default 30, each). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh all mlir-doc
build_dir=${BUILD_DIR:-build}

echo "== lit"
/usr/lib/llvm-22/bin/lit -sv "$build_dir/test"
echo "== ctest"
ctest --test-dir "$build_dir" --output-on-failure
# A smoke run of each fuzz target (scripts/fuzz.sh runs one for longer).
echo "== fuzz (${FUZZ_SECONDS:-30} s per target)"
scripts/fuzz.sh all "${FUZZ_SECONDS:-30}"
