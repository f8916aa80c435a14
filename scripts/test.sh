#!/usr/bin/env bash
# Sets up, builds and runs every test: the lit suite, the GoogleTest unit
# tests through ctest, the runtime's tests with a sanitized build of it
# (scripts/sanitize.sh runtime), then a smoke run of each of the runtime's
# fuzz targets (FUZZ_SECONDS, default 30, each). Exits non-zero if
# anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh all mlir-doc
build_dir=${BUILD_DIR:-build}

echo "== lit"
/usr/lib/llvm-22/bin/lit -sv "$build_dir/test"
echo "== ctest"
ctest --test-dir "$build_dir" --output-on-failure
# The runtime sanitized (AddressSanitizer, UndefinedBehaviorSanitizer):
# its unit tests and test/Runtime with that dsv3-run.
scripts/sanitize.sh runtime
# A smoke run of each of the runtime's fuzz targets (scripts/fuzz.sh runs
# one for longer; the compiler's need the whole project sanitized, which
# scripts/sanitize.sh all builds, too long for this run).
echo "== fuzz (${FUZZ_SECONDS:-30} s per runtime target)"
scripts/fuzz.sh runtime "${FUZZ_SECONDS:-30}"
