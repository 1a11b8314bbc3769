#!/usr/bin/env bash
# Builds the unit, hw, search and qdq test binaries with AddressSanitizer and
# UndefinedBehaviorSanitizer (every library too; build-asan/) and runs them. Any report fails
# the run (UBSan is built not to recover). Usage: scripts/sanitize.sh [GTEST_FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${MPQ_ASAN_BUILD_DIR:-build-asan}"
LAUNCHER=()
command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 keeps the stacks readable; NDEBUG off so that the internal invariants are checked too.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DMPQ_SANITIZE=ON -DMPQ_BUILD_BENCH=OFF \
  "${LAUNCHER[@]}" >/dev/null
BINARIES=(mpq_unit_tests mpq_hw_tests mpq_search_tests mpq_qdq_tests)
cmake --build "$BUILD_DIR" --target "${BINARIES[@]}" -j"$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for b in "${BINARIES[@]}"; do
  path=$(find "$BUILD_DIR/tests" -maxdepth 1 -name "$b" -type f)
  echo "sanitize: $b"
  if ! "$path" --gtest_brief=1 ${1:+--gtest_filter="$1"}; then
    status=1
    echo "sanitize: $b FAILED" >&2
  fi
done
[ $status -eq 0 ] && echo "sanitize: all binaries clean under ASan+UBSan"
exit $status
