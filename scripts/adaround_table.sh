#!/usr/bin/env bash
# AdaRound table (README.md): every model at W4A8, W3A8 and W2A8 (per-channel weights, enhanced
# ranges) with round-to-nearest and with AdaRound (`--weight-rounding adaround`, defaults:
# quantized-network inputs, 10,000 iterations), calibrated on 512 training images, measured on DATA. Each
# cell is top-1 %; the AdaRound columns also give the wall time of the whole `mpq quantize`.
#
#   scripts/adaround_table.sh [MPQ_BINARY] [DATA] [MODELS...]
#     MPQ_BINARY  default build/cli/mpq
#     DATA        evaluation set, default fashion-mnist:test (all 10,000 images)
#     MODELS      ONNX files, default configs/models/{cnn,mobilenet,resnet,vit}.onnx
# EXTRA="--adaround-inputs float" (say) is passed to the AdaRound runs.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
MPQ=${1:-$SRC/build/cli/mpq}
DATA=${2:-fashion-mnist:test}
shift $(($# < 2 ? $# : 2))
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=("$SRC"/configs/models/{cnn,mobilenet,resnet,vit}.onnx)
CANDIDATES=(${CANDIDATES:-W4A8 W3A8 W2A8})

# "acc float seconds" of one run
top1() {
  local start end out
  start=$(date +%s.%N)
  out=$("$MPQ" quantize "$@" --calib fashion-mnist:train:512 --data "$DATA" --json)
  end=$(date +%s.%N)
  /usr/bin/python3 -c "
import json, sys
d = json.loads(sys.argv[1])['metrics']
print(f\"{d['top1_accuracy']:.2f} {d['float_top1_accuracy']:.2f} {float(sys.argv[3]) - float(sys.argv[2]):.0f}\")" \
    "$out" "$start" "$end"
}

echo "evaluation: $DATA; calibration: fashion-mnist:train:512; AdaRound options: ${EXTRA:-defaults}"
echo
echo "| model | candidate | float | nearest | AdaRound | AdaRound - nearest | quantize with AdaRound (s) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for m in "${MODELS[@]}"; do
  name=$(basename "$m" .onnx)
  for c in "${CANDIDATES[@]}"; do
    read -r near fp _ < <(top1 "$m" --candidate "$c")
    # shellcheck disable=SC2086
    read -r ada _ secs < <(top1 "$m" --candidate "$c" --weight-rounding adaround ${EXTRA:-})
    /usr/bin/python3 -c "
import sys
n, a = float(sys.argv[4]), float(sys.argv[5])
print(f'| {sys.argv[1]} | {sys.argv[2]} | {sys.argv[3]} | {n:.2f} | {a:.2f} | {a - n:+.2f} | {sys.argv[6]} |')" \
      "$name" "$c" "$fp" "$near" "$ada" "$secs"
  done
done
