#!/usr/bin/env bash
# usage: scripts/fuzz.sh TARGET|all SECONDS
#
# Runs a libFuzzer target (executable, elf, safetensors, checkpoint,
# hf_checkpoint, or all of them one after another) for SECONDS seconds each,
# with AddressSanitizer and UndefinedBehaviorSanitizer. The targets are
# built with clang into build-fuzz/ (FUZZ_BUILD_DIR); each corpus
# (build-fuzz/corpus/TARGET) is seeded from what the tests make: an
# executable and a checkpoint of the micro model, compiled and trained with
# the main build's tools (BUILD_DIR, default build/). Exits non-zero when a
# target finds a crash; the input that crashed is left in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

all=(executable elf safetensors checkpoint hf_checkpoint)
if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET|all SECONDS (targets: ${all[*]})" >&2
  exit 2
fi
if [ "$1" = all ]; then
  targets=("${all[@]}")
elif [[ " ${all[*]} " == *" $1 "* ]]; then
  targets=("$1")
else
  echo "fuzz.sh: no target '$1' (targets: ${all[*]})" >&2
  exit 2
fi
seconds=$2
fuzz_dir=${FUZZ_BUILD_DIR:-build-fuzz}
build_dir=${BUILD_DIR:-build}
clangxx=${CLANGXX:-clang++-14}

if [ ! -f "$fuzz_dir/build.ninja" ]; then
  cmake -G Ninja -S fuzz -B "$fuzz_dir" -DCMAKE_CXX_COMPILER="$clangxx" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$fuzz_dir" "${targets[@]/%/_fuzzer}" >/dev/null

# Seeds, once: what the tests produce.
seeds=$fuzz_dir/seeds
if [ ! -f "$seeds/done" ]; then
  if [ ! -x "$build_dir/bin/dsv3-compile" ] || [ ! -x "$build_dir/bin/dsv3-run" ]; then
    echo "fuzz.sh: the seeds need $build_dir/bin/dsv3-compile and dsv3-run (scripts/build.sh)" >&2
    exit 1
  fi
  rm -rf "$seeds" && mkdir -p "$seeds"
  "$build_dir/bin/dsv3-compile" test/Conversion/Inputs/micro_moe.pbtxt -O1 \
    -o "$seeds/micro.dsv3" 2>/dev/null
  "$build_dir/bin/dsv3-run" "$seeds/micro.dsv3" --steps 1 --save "$seeds/ck" >/dev/null
  python3 - "$seeds" <<'PY'
import os, sys
sys.path.insert(0, "test/Runtime/Inputs")
from dsv3_executable import fields, payload_of
seeds = sys.argv[1]
# The kernel library is field 7 of the Executable message. The executable
# seed goes without it (the loader's checks do not read it; the elf target
# fuzzes it), which keeps its inputs small and fast.
parts = list(fields(payload_of(f"{seeds}/micro.dsv3")))
library = next(value for number, _, value, _ in parts if number == 7)
stripped = b"".join(encoded for number, _, _, encoded in parts if number != 7)
sep = b"\n--8<--\n"
ck = f"{seeds}/ck"
step = f"{ck}/step-00000001"
model = open(f"{step}/model.safetensors", "rb").read()
optimizer = open(f"{step}/optimizer.safetensors", "rb").read()
corpus = {
    "executable": [bytes(stripped)],
    "elf": [library],
    "safetensors": [model, optimizer],
    "checkpoint": [open(f"{ck}/latest", "rb").read() + sep +
                   open(f"{step}/state.json", "rb").read() + sep + model +
                   sep + optimizer],
    "hf_checkpoint": [sep + model,
                      b'{"weight_map": {"model.norm.weight": "a.safetensors"}}' +
                      sep + model + sep + optimizer],
}
for target, inputs in corpus.items():
    os.makedirs(f"{seeds}/{target}", exist_ok=True)
    for k, data in enumerate(inputs):
        open(f"{seeds}/{target}/seed-{k}", "wb").write(data)
PY
  touch "$seeds/done"
fi

status=0
for t in "${targets[@]}"; do
  corpus=$fuzz_dir/corpus/$t
  mkdir -p "$corpus"
  [ -n "$(ls -A "$corpus")" ] || cp "$seeds/$t"/* "$corpus"/
  max_len=$(( $(du -b "$seeds/$t"/* | sort -n | tail -1 | cut -f1) + 4096 ))
  echo "== fuzz $t for ${seconds}s (corpus $corpus)"
  log=$fuzz_dir/$t.log
  if ( cd "$fuzz_dir" && "./${t}_fuzzer" -max_total_time="$seconds" \
         -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$t-" \
         "corpus/$t" ) >"$log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)" "$log" | tr '\n' ' '
    echo "corpus $(ls "$corpus" | wc -l) inputs: no crash"
  else
    echo "fuzz.sh: $t found a crash; the input is in $fuzz_dir/$t-*, the log in $log" >&2
    tail -40 "$log" >&2
    status=1
  fi
done
exit $status
