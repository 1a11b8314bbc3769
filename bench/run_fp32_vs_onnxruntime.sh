#!/usr/bin/env bash
# FP32 throughput of mpq vs onnxruntime (CPU EP) on the same ONNX files and input shapes.
# See bench/README.md.
#
#   bench/run_fp32_vs_onnxruntime.sh [--build-dir DIR] [--threads 2] [--batches "1 32"]
#                                    [--rounds 3] [--iters 20] [--resnet-iters 5] [--no-resnet]
#                                    [--models "cnn mobilenet ..."]
#
# For each bundled model (configs/models/*.onnx) and torchvision ResNet-18 (exported on demand by
# scripts/export_resnet18.py into DIR/bench/resnet18.onnx, never committed), at each batch size,
# runs DIR/bench/mpq_bench_fp32 and tools/ort/ort_bench.js alternately, --rounds times each
# (order flipped every round so neither engine always runs on a warmer machine), and prints
# the median over rounds of each run's median ms per batch and ratio = ort_ms / mpq_ms
# (> 1: mpq is faster).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)

BUILD_DIR=${MPQ_BUILD_DIR:-build}
THREADS=2
BATCHES="1 32"
ROUNDS=3
ITERS=20
RESNET_ITERS=5
RESNET=1
MODELS=""
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --batches) BATCHES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --iters) ITERS=$2; shift 2 ;;
    --resnet-iters) RESNET_ITERS=$2; shift 2 ;;
    --no-resnet) RESNET=0; shift ;;
    --models) MODELS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$SRC/$BUILD_DIR" ;; esac

MPQ_BENCH="$BUILD_DIR/bench/mpq_bench_fp32"
ORT_BENCH="$SRC/tools/ort/ort_bench.js"
if [ ! -x "$MPQ_BENCH" ]; then
  echo "error: $MPQ_BENCH not found: build it (cmake --build $BUILD_DIR --target mpq_bench_fp32)" >&2
  exit 2
fi
if [ ! -d "$SRC/tools/ort/node_modules/onnxruntime-node" ]; then
  echo "error: tools/ort/node_modules is missing: run scripts/setup.sh --no-build" >&2
  exit 2
fi

# name|path|iters|warmup
entries=()
if [ -z "$MODELS" ]; then
  for f in "$SRC"/configs/models/*.onnx; do
    [ -e "$f" ] && MODELS="$MODELS $(basename "$f" .onnx)"
  done
fi
for m in $MODELS; do entries+=("$m|$SRC/configs/models/$m.onnx|$ITERS|3"); done
if [ "$RESNET" = 1 ]; then
  RESNET_ONNX="$BUILD_DIR/bench/resnet18.onnx"
  if [ ! -f "$RESNET_ONNX" ]; then
    echo "exporting ResNet-18 to $RESNET_ONNX ..." >&2
    /usr/bin/python3 "$SRC/scripts/export_resnet18.py" --out "$RESNET_ONNX" >&2
  fi
  entries+=("resnet18|$RESNET_ONNX|$RESNET_ITERS|1")
fi

field() {  # field NAME JSON -> number
  sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" <<<"$2"
}
median() {  # median of the arguments
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}

echo "machine: $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
rows=()
for e in "${entries[@]}"; do
  IFS='|' read -r name path iters warmup <<<"$e"
  for b in $BATCHES; do
    mpq_ms=()
    ort_ms=()
    for ((r = 0; r < ROUNDS; r++)); do
      for engine in mpq ort; do
        # Flip the order every round.
        if [ $((r % 2)) = 1 ]; then engine=$([ "$engine" = mpq ] && echo ort || echo mpq); fi
        args=(--model "$path" --batch "$b" --threads "$THREADS" --iters "$iters" --warmup "$warmup")
        if [ "$engine" = mpq ]; then
          json=$("$MPQ_BENCH" "${args[@]}")
          mpq_ms+=("$(field ms_per_batch_median "$json")")
        else
          json=$(node "$ORT_BENCH" "${args[@]}")
          ort_ms+=("$(field ms_per_batch_median "$json")")
        fi
        echo "  $name b=$b round $((r + 1)): $json" >&2
      done
    done
    m=$(median "${mpq_ms[@]}")
    o=$(median "${ort_ms[@]}")
    rows+=("$(awk -v n="$name" -v b="$b" -v m="$m" -v o="$o" \
      'BEGIN {printf "| %-10s | %5d | %10.3f | %10.3f | %6.2f |", n, b, m, o, o / m}')")
  done
done
echo "machine: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo "threads: $THREADS, rounds: $ROUNDS (median of per-run medians), ratio = ort_ms / mpq_ms (> 1: mpq faster)"
echo "| model      | batch |     mpq ms |     ort ms |  ratio |"
echo "|------------|-------|------------|------------|--------|"
printf '%s\n' "${rows[@]}"
