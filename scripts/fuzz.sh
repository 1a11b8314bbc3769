#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with Clang, ASan and UBSan (build-fuzz/) and runs
# each for SECONDS (default 60), starting from the committed seed corpus. Prints one line per
# target: executions, corpus size and findings; crash reproducers land in build-fuzz/findings/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (exit 1 when any target found something)
# Example: scripts/fuzz.sh 3600 fuzz_npy fuzz_idx
# MPQ_FUZZ_RUNS=1000000 stops each target after that many executions (SECONDS still caps it).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
shift || true
CXX_CLANG="${MPQ_FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}"
if [ -z "$CXX_CLANG" ]; then
  echo "fuzz: no clang++ (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi
BUILD_DIR="${MPQ_FUZZ_BUILD_DIR:-build-fuzz}"
LAUNCHER=()
command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1: what libFuzzer and ASan are meant for, and it compiles Eigen's kernels far faster.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_CXX_COMPILER="$CXX_CLANG" \
  -DMPQ_FUZZ=ON -DMPQ_BUILD_TESTS=OFF -DMPQ_BUILD_BENCH=OFF "${LAUNCHER[@]}" >/dev/null
cmake --build "$BUILD_DIR" --target mpq_fuzz_targets -j"$(nproc)"

TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(fuzz_onnx fuzz_accelerator_yaml fuzz_experiment_yaml
  fuzz_config_json fuzz_npy fuzz_idx fuzz_scalesim_csv fuzz_latency_csv fuzz_journal)
mkdir -p "$BUILD_DIR/findings"
status=0
printf '%-22s %12s %8s %9s\n' target executions corpus findings
for t in "${TARGETS[@]}"; do
  seeds="tests/fuzz/corpus/$t"
  [ -d "$seeds" ] || { echo "fuzz: no target $t (no $seeds)" >&2; exit 2; }
  work="$BUILD_DIR/corpus/$t"
  mkdir -p "$work"
  log="$BUILD_DIR/findings/$t.log"
  marker="$BUILD_DIR/findings/.started-$t"
  touch "$marker"
  # The grown corpus in build-fuzz/ is kept between runs; the committed seeds are read only.
  set +e
  "$BUILD_DIR/tests/fuzz/$t" "$work" "$seeds" -max_total_time="$SECONDS_PER_TARGET" \
    ${MPQ_FUZZ_RUNS:+-runs=$MPQ_FUZZ_RUNS} -print_final_stats=1 -rss_limit_mb=2048 -timeout=25 -max_len=65536 \
    -artifact_prefix="$BUILD_DIR/findings/$t-" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  found=$(find "$BUILD_DIR/findings" -maxdepth 1 -name "$t-*" -newer "$marker" | wc -l)
  [ $rc -ne 0 ] && [ "$found" -eq 0 ] && found="exit $rc"
  printf '%-22s %12s %8s %9s\n' "$t" "${runs:-?}" "$(ls "$work" | wc -l)" "$found"
  [ "$found" != "0" ] && status=1 && echo "  see $log" >&2
done
exit $status
