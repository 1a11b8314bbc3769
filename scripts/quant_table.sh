#!/usr/bin/env bash
# The homogeneous-quantization table of configs/models/README.md: every bundled model at W8A8,
# W4A8 and W4A4, MSE and min-max range setting, calibrated on 512 training images and measured
# on the 10,000 test images.
#
#   scripts/quant_table.sh [MPQ_BINARY]   (default: build/cli/mpq)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
MPQ=${1:-$SRC/build/cli/mpq}
echo "| model | candidate | range setting | top-1 (%) | FP32 top-1 (%) | output SQNR (dB) | top-1 agreement (%) |"
echo "|---|---|---|---:|---:|---:|---:|"
for m in cnn mobilenet resnet vit; do
  for c in W8A8 W4A8 W4A4; do
    for r in mse minmax; do
      "$MPQ" quantize "$SRC/configs/models/$m.onnx" --candidate "$c" --act-range "$r" \
        --weight-range "$r" --calib fashion-mnist:train:512 --data fashion-mnist:test --json |
        /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)['metrics']
print(f\"| $m | $c | $r | {d['top1_accuracy']:.2f} | {d['float_top1_accuracy']:.2f} | {d['sqnr_db']:.2f} | {d['top1_agreement']:.2f} |\")"
    done
  done
done
