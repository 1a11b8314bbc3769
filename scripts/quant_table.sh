#!/usr/bin/env bash
# Range-setting tables (README.md, configs/models/README.md): every model at W8A8 and W4A8 with
# each range-setting method (min-max, percentile 99.99, MSE and the default, enhanced) for
# weights and activations alike, and W16A16 with the default; calibrated on 512 training images,
# measured on the Fashion-MNIST test images. The last column is the default's distance to the
# best method of the row (0 when it is the best).
#
#   scripts/quant_table.sh [MPQ_BINARY] [DATA] [MODELS...]
#     MPQ_BINARY  default build/cli/mpq
#     DATA        evaluation set, default fashion-mnist:test (all 10,000 images)
#     MODELS      ONNX files, default configs/models/{cnn,mobilenet,resnet,vit}.onnx; any model
#                 that takes Fashion-MNIST images (metadata mpq.input.*) works
#   CALIB=SPEC (environment) calibrates on another set than the first 512 training images
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
MPQ=${1:-$SRC/build/cli/mpq}
DATA=${2:-fashion-mnist:test}
shift $(($# < 2 ? $# : 2))
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=("$SRC"/configs/models/{cnn,mobilenet,resnet,vit}.onnx)
METHODS=(minmax percentile mse enhanced)
CALIB=${CALIB:-fashion-mnist:train:512}  # another calibration set: CALIB=fashion-mnist:train:OFFSET+N

# top-1 accuracy and float accuracy of one run, as "acc float"
top1() {
  "$MPQ" quantize "$1" --candidate "$2" --act-range "$3" --weight-range "$3" \
    --calib "$CALIB" --data "$DATA" --json |
    /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)['metrics']
print(f\"{d['top1_accuracy']:.2f} {d['float_top1_accuracy']:.2f}\")"
}

echo "evaluation: $DATA; calibration: $CALIB"
echo
echo "| model | candidate | float | min-max | percentile | MSE | enhanced (default) | default - best |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for m in "${MODELS[@]}"; do
  name=$(basename "$m" .onnx)
  for c in W8A8 W4A8; do
    accs=()
    for r in "${METHODS[@]}"; do
      read -r acc fp < <(top1 "$m" "$c" "$r")
      accs+=("$acc")
    done
    /usr/bin/python3 -c "
import sys
a = [float(x) for x in sys.argv[4:]]
print(f'| {sys.argv[1]} | {sys.argv[2]} | {sys.argv[3]} | ' + ' | '.join(f'{x:.2f}' for x in a) +
      f' | {a[-1] - max(a):+.2f} |')" "$name" "$c" "$fp" "${accs[@]}"
  done
done
echo
echo "| model | float | W16A16 (default) | difference |"
echo "|---|---:|---:|---:|"
for m in "${MODELS[@]}"; do
  read -r acc fp < <(top1 "$m" W16A16 enhanced)
  /usr/bin/python3 -c "
import sys
f, a = float(sys.argv[2]), float(sys.argv[3])
print(f'| {sys.argv[1]} | {f:.2f} | {a:.2f} | {a - f:+.2f} |')" "$(basename "$m" .onnx)" "$fp" "$acc"
done
