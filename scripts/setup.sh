#!/usr/bin/env bash
# Installs every Debian and npm package mpq needs, then configures and builds it.
# Idempotent: packages already present are skipped, the build is incremental.
# Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  build-essential cmake pkg-config clang-format
  libeigen3-dev libboost-graph-dev libyaml-cpp-dev libtbb-dev
  libgnuplot-iostream-dev gnuplot-nox libboost-iostreams-dev libboost-filesystem-dev
  libboost-system-dev
  libonnx-dev libprotobuf-dev protobuf-compiler zlib1g-dev libpng-dev libjpeg62-turbo-dev
  libcli11-dev nlohmann-json3-dev libglpk-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-onnx python3-numpy python3-torch python3-torchvision python3-pil
  dataset-fashion-mnist libonnx-testdata
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js for the onnxruntime reference engine: keep an existing node, else Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# onnxruntime-node: its postinstall downloads GPU files, which fails offline; the CPU library is
# inside the package, so scripts are skipped.
if [ ! -d tools/ort/node_modules/onnxruntime-node ]; then
  (cd tools/ort && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

[ "${1:-}" = "--no-build" ] && exit 0
BUILD_DIR="${MPQ_BUILD_DIR:-build}"
EXTRA=()
[ "${CI:-}" = "true" ] && EXTRA+=(-DMPQ_WERROR=ON)
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "${EXTRA[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: built $BUILD_DIR/cli/mpq"
