#!/usr/bin/env bash
# Prepares the GPU check on this machine (which has LLVM/MLIR and the CUDA
# toolkit but maybe no GPU): builds the compiler and a dsv3-run that needs
# only glibc (dsv3-run-portable), compiles tiny_moe and small_moe for cuda
# (sm_90), and tiny_moe under precision fp8, runs tiny_moe's first 5 steps
# on the CPU (fp32 and fp8) as the references, and
# puts everything, xz-compressed, with scripts/device-check.sh and the
# PyTorch peer (bench/pytorch_moe.py) into the git-ignored folder device/
# (a few MB; the GPU machine takes 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh dsv3-compile dsv3-run dsv3-run-portable
bin=${BUILD_DIR:-build}/bin
out=device
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"

echo "device-prep: compiling for cuda sm_90"
"$bin/dsv3-compile" examples/tiny_moe.pbtxt --target=cuda --sm=90 -o "$work/tiny_moe.cuda.dsv3"
"$bin/dsv3-compile" examples/small_moe.pbtxt --target=cuda --sm=90 -o "$work/small_moe.cuda.dsv3"
"$bin/dsv3-compile" examples/tiny_moe.pbtxt --target=cuda --sm=90 --precision=fp8 \
  -o "$work/tiny_moe_fp8.cuda.dsv3"
echo "device-prep: the CPU references (tiny_moe, 5 steps, fp32 and fp8)"
"$bin/dsv3-compile" examples/tiny_moe.pbtxt --target=cpu -o "$work/tiny_moe.cpu.dsv3"
"$bin/dsv3-run" "$work/tiny_moe.cpu.dsv3" --steps 5 --data examples/data/corpus.txt \
  --metrics "$out/tiny_moe.cpu.jsonl"
"$bin/dsv3-compile" examples/tiny_moe.pbtxt --target=cpu --precision=fp8 \
  -o "$work/tiny_moe_fp8.cpu.dsv3"
"$bin/dsv3-run" "$work/tiny_moe_fp8.cpu.dsv3" --steps 5 --data examples/data/corpus.txt \
  --metrics "$out/tiny_moe_fp8.cpu.jsonl"

strip -o "$work/dsv3-run" "$bin/dsv3-run-portable"
for f in dsv3-run tiny_moe.cuda.dsv3 tiny_moe_fp8.cuda.dsv3 small_moe.cuda.dsv3; do
  xz -6 -T0 -c "$work/$f" > "$out/$f.xz"
done
xz -6 -c examples/data/corpus.txt > "$out/corpus.txt.xz"
cp scripts/device-check.sh bench/pytorch_moe.py examples/small_moe.pbtxt "$out/"
du -sh "$out"
ls -l "$out"
