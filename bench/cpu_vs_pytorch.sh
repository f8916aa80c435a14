#!/usr/bin/env bash
# The CPU step side by side: dsv3's compiled executable (dsv3-run), PyTorch
# eager and torch.compile (bench/pytorch_moe.py) on the same ModelSpec,
# shape and thread count, in one invocation. Each round runs the three in
# turn, so that a drift in the machine's speed touches all of them; prints
# each round's tokens/s (median of the steps after the first two) and
# ratios, their medians, and dsv3's split of the step into kernels, GEMMs
# and copies.
#
#   bench/cpu_vs_pytorch.sh [MODEL] [STEPS] [THREADS] [ROUNDS]
#
# Installs PyTorch with pip when it is missing (a benchmark tool, never
# needed by dsv3 itself).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-examples/tiny_moe.pbtxt}
steps=${2:-30}
threads=${3:-$(nproc)}
rounds=${4:-3}
bin=${BUILD_DIR:-build}/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 -c "import torch" 2>/dev/null || python3 -m pip install --quiet torch

start=$(date +%s.%N)
"$bin/dsv3-compile" "$model" --target=cpu -o "$tmp/model.dsv3" 2>/dev/null
end=$(date +%s.%N)
compile_s=$(python3 -c "print(f'{$end - $start:.1f}')")
for round in $(seq 1 "$rounds"); do
  "$bin/dsv3-run" "$tmp/model.dsv3" --steps "$steps" --threads "$threads" \
    --metrics "$tmp/m$round.jsonl" --log-every 1000000 > "$tmp/run$round.txt"
  python3 bench/pytorch_moe.py "$model" --steps "$steps" --threads "$threads" \
    --device cpu --json "$tmp/eager$round.json" > /dev/null
  python3 bench/pytorch_moe.py "$model" --steps "$steps" --threads "$threads" \
    --device cpu --compile --json "$tmp/compile$round.json" > /dev/null
done

python3 - "$model" "$threads" "$compile_s" "$rounds" "$tmp" <<'PY'
import json, statistics, sys
model, threads, compile_s, rounds, tmp = sys.argv[1:6]
rounds = int(rounds)
def dsv3(r):
    rows = [json.loads(l) for l in open(f"{tmp}/m{r}.jsonl")][2:]
    return statistics.median(x["tokens_per_s"] for x in rows)
runs = [(dsv3(r), json.load(open(f"{tmp}/eager{r}.json")),
         json.load(open(f"{tmp}/compile{r}.json"))) for r in range(1, rounds + 1)]
b, s = runs[0][1]["batch"]
print(f"{model}: {b} x {s} tokens per step, {threads} threads, "
      f"{rounds} rounds (dsv3, eager, torch.compile in turn)")
print(f"  dsv3 compile {compile_s} s; torch.compile's first step "
      + ", ".join(f"{c['first_step_s']:.1f}" for _, _, c in runs) + " s")
print("  round    dsv3-run     eager   compile   dsv3/eager   dsv3/compile")
for i, (d, e, c) in enumerate(runs, 1):
    print(f"  {i:5d} {d:11.0f} {e['tokens_per_s']:9.0f} {c['tokens_per_s']:9.0f}"
          f" {d / e['tokens_per_s']:12.2f} {d / c['tokens_per_s']:14.2f}")
med = statistics.median
print(f"  median {med(d for d, _, _ in runs):10.0f}"
      f" {med(e['tokens_per_s'] for _, e, _ in runs):9.0f}"
      f" {med(c['tokens_per_s'] for _, _, c in runs):9.0f}"
      f" {med(d / e['tokens_per_s'] for d, e, _ in runs):12.2f}"
      f" {med(d / c['tokens_per_s'] for d, _, c in runs):14.2f}"
      "   (ratios: median of the rounds')")
PY
echo "dsv3's step in round $rounds:"
sed -n '/^time per step/,/^slowest/p' "$tmp/run$rounds.txt" | sed '$d'
