#!/usr/bin/env bash
# The phase-1 robustness table of the README: for each bundled model on the edge NPU,
# (1) Kendall tau between the SQNR ranking and the accuracy ranking of the same tasks (1,000
# calibration and 1,000 labeled test images), and (2) Kendall tau between the SQNR rankings
# from two disjoint calibration subsets of 256 training images each.
#
#   [MODELS="cnn resnet"] scripts/phase1_tau.sh [MPQ_BINARY] [OUT_DIR]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
MPQ=${1:-$SRC/build/cli/mpq}
OUT=${2:-$SRC/results/phase1_tau}
HW=$SRC/configs/hw/edge_npu.yaml
mkdir -p "$OUT"
echo "| model | tasks | tau SQNR vs accuracy (1,000 test images) | tau between calibration subsets (2 x 256) |"
echo "|---|---:|---:|---:|"
for m in ${MODELS:-cnn mobilenet resnet vit}; do
  "$MPQ" sensitivity --model "$SRC/configs/models/$m.onnx" --hw "$HW" --samples 1000 \
    --calib fashion-mnist:train:1000 --data fashion-mnist:test:1000 -o "$OUT/$m-accuracy" \
    --no-plots --quiet --json >"$OUT/$m-accuracy.json"
  "$MPQ" sensitivity --model "$SRC/configs/models/$m.onnx" --hw "$HW" \
    --calib fashion-mnist:train:256 --compare-calib fashion-mnist:train:256+256 \
    -o "$OUT/$m-subsets" --no-plots --quiet --json >"$OUT/$m-subsets.json"
  /usr/bin/python3 - "$m" "$OUT/$m-accuracy.json" "$OUT/$m-subsets.json" <<'PYEOF'
import json, sys
m, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(f"| {m} | {len(a['entries'])} | {a['kendall_tau_sqnr_vs_accuracy']:.3f} | "
      f"{b['kendall_tau_calibration_subsets']:.3f} |")
PYEOF
done
