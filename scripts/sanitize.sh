#!/usr/bin/env bash
# usage: scripts/sanitize.sh runtime | all | build [TARGET...] |
#                            build-runtime [TARGET...]
#
# AddressSanitizer and UndefinedBehaviorSanitizer builds, with clang 22.
#
#   runtime  What CI runs (scripts/test.sh): the runtime, dsv3-run and the
#            runtime's unit tests built sanitized into build-fuzz/
#            (FUZZ_BUILD_DIR, the fuzz targets' project), then those unit
#            tests, and the lit tests of test/Runtime with the sanitized
#            dsv3-run and the main build's compiler (BUILD_DIR, build/).
#            (All of them but learns.test, huggingface.test, remat.test
#            and grad-accum.test, whose time is training, transformers' and
#            the compiler's.) The runtime is what reads the
#            files users pass around and runs the kernels; about five
#            minutes on two cores with the fuzz targets' build.
#   all      The whole project built sanitized into build-asan/
#            (SANITIZE_BUILD_DIR; about ten minutes on two cores), then
#            every lit test and every unit test with its tools (far longer:
#            the compiler runs sanitized in every test).
#   build    Only build TARGETs (default: all) in build-asan/; the compiler's
#            fuzz targets (scripts/fuzz.sh) are built this way.
#   build-runtime  Only build TARGETs in build-fuzz/ (the runtime's fuzz
#            targets).
#
# Exits non-zero if a build or a test fails or a sanitizer reports anything.
set -euo pipefail
cd "$(dirname "$0")/.."

llvm=/usr/lib/llvm-22
clang=${CLANG:-clang-22}
clangxx=${CLANGXX:-clang++-22}
asan_dir=${SANITIZE_BUILD_DIR:-build-asan}
fuzz_dir=${FUZZ_BUILD_DIR:-build-fuzz}
build_dir=${BUILD_DIR:-build}
# Leaks are reported too; a sanitizer's first report fails the process.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# A directory as an absolute path (the tools run from other directories).
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

# Configures $1 from source $2 with "${@:3}", again when it was configured
# with another compiler (an older checkout's clang 14, say).
configure() {
  local dir=$1 source=$2
  shift 2
  if [ -f "$dir/CMakeCache.txt" ] &&
     ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=.*$clangxx\$" "$dir/CMakeCache.txt"; then
    rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles" "$dir/build.ninja"
  fi
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -G Ninja -S "$source" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER="$clangxx" "$@" >/dev/null
  fi
}

# The runtime's project (fuzz/): the runtime compiled with the sanitizers
# and coverage, libFuzzer's main only in the fuzz targets.
configure_runtime() { configure "$fuzz_dir" fuzz; }

# The whole project: every dsv3 library and tool sanitized and with
# coverage (vptr and function checks need RTTI and instrumented callers,
# which the Debian LLVM libraries are not), assertions on.
configure_all() {
  configure "$asan_dir" . -DCMAKE_C_COMPILER="$clang" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DMLIR_DIR="$llvm/lib/cmake/mlir" -DLLVM_EXTERNAL_LIT="$llvm/bin/lit" \
    "-DLLVM_USE_SANITIZER=Address;Undefined" \
    "-DLLVM_UBSAN_FLAGS=-fsanitize=undefined -fno-sanitize=vptr,function -fno-sanitize-recover=all" \
    -DLLVM_USE_SANITIZE_COVERAGE=ON -DDSV3_FUZZ=ON
}

# ninja --quiet: no progress lines, but a failing command and its errors.
case "${1:-}" in
runtime)
  configure_runtime
  echo "== sanitize: the runtime, dsv3-run and its unit tests ($fuzz_dir)"
  ninja --quiet -C "$fuzz_dir" dsv3-run Dsv3RuntimeTests
  ctest --test-dir "$fuzz_dir" --output-on-failure
  # Every test of test/Runtime but those whose time is not dsv3-run's
  # input handling: learns.test trains 300 steps (7 minutes sanitized),
  # huggingface.test is mostly transformers' (3 minutes), and remat.test
  # and grad-accum.test check what the compiler planned by training 80 and
  # 6 steps of tiny_moe (several minutes sanitized).
  echo "== sanitize: test/Runtime with the sanitized dsv3-run" \
    "(all but learns, huggingface, remat and grad-accum)"
  "$llvm/bin/lit" -s "$build_dir/test/Runtime" \
    --filter-out='Runtime/(learns|huggingface|remat|grad-accum)\.test' \
    -Ddsv3_run="$(absolute "$fuzz_dir")/bin/dsv3-run"
  ;;
all)
  configure_all
  echo "== sanitize: the whole project ($asan_dir)"
  ninja -C "$asan_dir" all mlir-doc
  "$llvm/bin/lit" -sv "$asan_dir/test"
  ctest --test-dir "$asan_dir" --output-on-failure
  ;;
build)
  configure_all
  shift
  echo "== sanitize: building ${*:-all} in $asan_dir"
  ninja --quiet -C "$asan_dir" "$@"
  ;;
build-runtime)
  configure_runtime
  shift
  ninja --quiet -C "$fuzz_dir" "$@"
  ;;
*)
  echo "usage: scripts/sanitize.sh runtime | all | build [TARGET...] | build-runtime [TARGET...]" >&2
  exit 2
  ;;
esac
