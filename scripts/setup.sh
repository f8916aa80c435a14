#!/usr/bin/env bash
# Installs the Debian packages dsv3 builds and tests with (DESIGN §7), and
# the Python test tooling from PyPI.
# Idempotent: installs only what is missing and says nothing when nothing is.
set -euo pipefail

packages=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  ninja-build cmake g++
  protobuf-compiler libprotobuf-dev
  libgtest-dev libgmock-dev
  libopenblas-dev
  libopenmpi-dev openmpi-bin
  nlohmann-json3-dev
  clang-22 libclang-rt-22-dev
  python3 time
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
  else
    sudo=
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup: done"
fi

# Test and benchmark tooling from PyPI, never a dependency of dsv3 itself:
# transformers (with PyTorch) as the independent reference of the Hugging
# Face tests and of bench/, tensorboard to read event files back. Installed
# for the `python3` on PATH, which the lit suite runs them with.
python_tools=(torch==2.15.0 transformers==5.24.0 tensorboard==2.21.0
              safetensors numpy)
if ! python3 -c "import torch, transformers, tensorboard, safetensors, numpy" \
    2>/dev/null; then
  echo "setup: pip installing ${python_tools[*]} (test tooling)"
  python3 -m pip install -q --disable-pip-version-check "${python_tools[@]}" ||
    { echo "setup: pip could not install the test tooling for" \
           "$(command -v python3); put a Python whose pip can (a venv," \
           "for instance) first on PATH" >&2; exit 1; }
  echo "setup: done"
fi
