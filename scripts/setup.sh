#!/usr/bin/env bash
# Installs the Debian packages dsv3 builds and tests with (DESIGN §7).
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
  python3 time
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
