#!/usr/bin/env bash
# usage: scripts/fuzz.sh TARGET|runtime|all SECONDS
#
# Runs a libFuzzer target for SECONDS seconds, with AddressSanitizer and
# UndefinedBehaviorSanitizer; `runtime` runs the runtime's targets one after
# another, `all` every target.
#
#   runtime's: executable, elf, safetensors, checkpoint, hf_checkpoint.
#     Built with clang into build-fuzz/ (FUZZ_BUILD_DIR), a project of the
#     runtime alone (a few minutes), by scripts/sanitize.sh build-runtime.
#   compiler's: ir (the parser and verifiers), pipeline (the training
#     pipeline on random valid graphs), spec (the description importer).
#     Built into build-asan/ (SANITIZE_BUILD_DIR) by scripts/sanitize.sh
#     build, the whole project sanitized (about ten minutes on two cores,
#     once).
#
# Each corpus (build-fuzz/corpus/TARGET) is seeded from what the tests use
# or make: an executable and a checkpoint of the micro model, compiled and
# trained with the main build's tools (BUILD_DIR, default build/), the lit
# tests' IR, the example descriptions. Exits non-zero when a target finds a
# crash; the input that crashed is left in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

runtime_targets=(executable elf safetensors checkpoint hf_checkpoint)
compiler_targets=(ir pipeline spec)
all=("${runtime_targets[@]}" "${compiler_targets[@]}")
if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET|runtime|all SECONDS (targets: ${all[*]})" >&2
  exit 2
fi
if [ "$1" = all ]; then
  targets=("${all[@]}")
elif [ "$1" = runtime ]; then
  targets=("${runtime_targets[@]}")
elif [[ " ${all[*]} " == *" $1 "* ]]; then
  targets=("$1")
else
  echo "fuzz.sh: no target '$1' (targets: ${all[*]})" >&2
  exit 2
fi
seconds=$2
fuzz_dir=${FUZZ_BUILD_DIR:-build-fuzz}
asan_dir=${SANITIZE_BUILD_DIR:-build-asan}
build_dir=${BUILD_DIR:-build}

is_compiler_target() { [[ " ${compiler_targets[*]} " == *" $1 "* ]]; }

runtime_wanted=()
compiler_wanted=()
for t in "${targets[@]}"; do
  if is_compiler_target "$t"; then
    compiler_wanted+=("${t}_fuzzer")
  else
    runtime_wanted+=("${t}_fuzzer")
  fi
done
if [ ${#runtime_wanted[@]} -gt 0 ]; then
  scripts/sanitize.sh build-runtime "${runtime_wanted[@]}"
fi
if [ ${#compiler_wanted[@]} -gt 0 ]; then
  scripts/sanitize.sh build "${compiler_wanted[@]}"
fi

# Seeds, once: what the tests produce.
seeds=$fuzz_dir/seeds
# Made again when a target has none yet or the compiler is newer than
# them (a new executable format, say).
need_seeds=0
for t in "${all[@]}"; do [ -d "$seeds/$t" ] || need_seeds=1; done
if [ ! -f "$seeds/done" ] || [ $need_seeds = 1 ] ||
   [ "$build_dir/bin/dsv3-compile" -nt "$seeds/done" ]; then
  if [ ! -x "$build_dir/bin/dsv3-compile" ] || [ ! -x "$build_dir/bin/dsv3-run" ]; then
    echo "fuzz.sh: the seeds need $build_dir/bin/dsv3-compile and dsv3-run (scripts/build.sh)" >&2
    exit 1
  fi
  rm -rf "$seeds" && mkdir -p "$seeds"
  "$build_dir/bin/dsv3-compile" test/Conversion/Inputs/micro_moe.pbtxt -O1 \
    -o "$seeds/micro.dsv3" 2>/dev/null
  "$build_dir/bin/dsv3-compile" test/Conversion/Inputs/micro_moe.pbtxt \
    --emit=train -o "$seeds/micro-train.mlir"
  "$build_dir/bin/dsv3-run" "$seeds/micro.dsv3" --steps 1 --save "$seeds/ck" >/dev/null
  # With the CUDA toolkit, a GPU executable too (its launches and their
  # signatures).
  "$build_dir/bin/dsv3-compile" test/Conversion/Inputs/micro_moe.pbtxt \
    --target=cuda -o "$seeds/micro-cuda.dsv3" 2>/dev/null || rm -f "$seeds/micro-cuda.dsv3"
  python3 - "$seeds" <<'PY'
import glob, os, random, re, sys
sys.path.insert(0, "test/Runtime/Inputs")
from dsv3_executable import fields, payload_of
seeds = sys.argv[1]
# The kernel library is field 7 of the Executable message. The executable
# seed goes without it (the loader's checks do not read it; the elf target
# fuzzes it), which keeps its inputs small and fast.
parts = list(fields(payload_of(f"{seeds}/micro.dsv3")))
library = next(value for number, _, value, _ in parts if number == 7)
stripped = b"".join(encoded for number, _, _, encoded in parts if number != 7)
executables = [bytes(stripped)]
if os.path.exists(f"{seeds}/micro-cuda.dsv3"):
    # Without the cubin and the PTX (fields 17 and 18) for the same reason.
    executables.append(b"".join(
        encoded for number, _, _, encoded in
        fields(payload_of(f"{seeds}/micro-cuda.dsv3")) if number not in (17, 18)))
sep = b"\n--8<--\n"
ck = f"{seeds}/ck"
step = f"{ck}/step-00000001"
model = open(f"{step}/model.safetensors", "rb").read()
optimizer = open(f"{step}/optimizer.safetensors", "rb").read()
# The lit tests' IR, one split-input chunk per seed, and the micro model's
# training step.
ir = [open(f"{seeds}/micro-train.mlir", "rb").read()]
for path in sorted(glob.glob("test/**/*.mlir", recursive=True)):
    ir += [chunk.encode() for chunk in
           re.split(r"^// -----$", open(path).read(), flags=re.M)
           if len(chunk) < 16384]
descriptions = [open(p, "rb").read() for p in sorted(
    glob.glob("examples/*.pbtxt") + glob.glob("examples/configs/*.json") +
    glob.glob("test/*/Inputs/*.pbtxt") + glob.glob("test/*/Inputs/*.json"))]
# The graph generator reads any bytes; a few fixed ones start it off.
rng = random.Random(0)
graphs = [bytes(rng.randrange(256) for _ in range(n)) for n in (0, 8, 64, 256)]
corpus = {
    "executable": executables,
    "elf": [library],
    "safetensors": [model, optimizer],
    "checkpoint": [open(f"{ck}/latest", "rb").read() + sep +
                   open(f"{step}/state.json", "rb").read() + sep + model +
                   sep + optimizer],
    "hf_checkpoint": [sep + model,
                      b'{"weight_map": {"model.norm.weight": "a.safetensors"}}' +
                      sep + model + sep + optimizer],
    "ir": ir,
    "pipeline": graphs,
    "spec": descriptions,
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
  # The seeds join the corpus, replacing older seeds (libFuzzer names the
  # inputs it adds by their hash).
  cp "$seeds/$t"/* "$corpus"/
  max_len=$(( $(du -b "$seeds/$t"/* | sort -n | tail -1 | cut -f1) + 4096 ))
  echo "== fuzz $t for ${seconds}s (corpus $corpus)"
  log=$fuzz_dir/$t.log
  if is_compiler_target "$t"; then
    binary=$asan_dir/bin/${t}_fuzzer
  else
    binary=$fuzz_dir/${t}_fuzzer
  fi
  case $binary in /*) ;; *) binary=$PWD/$binary ;; esac
  if ( cd "$fuzz_dir" && "$binary" -max_total_time="$seconds" \
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
