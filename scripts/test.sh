#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (the README's test command; CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR="${MPQ_BUILD_DIR:-build}"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
