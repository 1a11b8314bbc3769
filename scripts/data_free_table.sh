#!/usr/bin/env bash
# The data-free table of the README (issue 23): for each bundled model, 256 samples synthesized
# by `mpq synthesize` (Lee et al.'s method, default settings, seed 0; 10 classes x 26 = 260, the
# first 256 used) against 256 real training images:
#   - synthesis time on 2 threads;
#   - Kendall tau between the phase-1 SQNR rankings on the edge NPU (calibration and scoring on
#     the 256 synthetic samples vs on the 256 images: `sensitivity --compare-calib`);
#   - the configuration chosen for the 1-point accuracy bound when phase 1 and phase 2 both run
#     on the synthetic set (its labels), and when both run on the 256 real images: each one's real
#     top-1 accuracy on the 10,000-image test set, next to the float model's.
#
#   [MODELS="cnn resnet"] scripts/data_free_table.sh [MPQ_BINARY] [OUT_DIR]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
MPQ=${1:-$SRC/build/cli/mpq}
OUT=${2:-$SRC/results/data_free}
HW=$SRC/configs/hw/edge_npu.yaml
mkdir -p "$OUT"

# explore NAME MODEL CALIBRATION-YAML: phase 1 and phase 2 on one data set, the chosen
# configuration's test accuracy printed.
explore() {
  local dir=$OUT/$1
  cat >"$dir.yaml" <<YAML
model: $2
data:
  calibration: $3
accelerators: [$HW]
sensitivity: {samples: 256, batch: 64}
search: {accuracy_drop: 1.0}
output: $dir
YAML
  "$MPQ" explore "$dir.yaml" --quiet --no-plots --json >"$dir.json"
  "$MPQ" run "$2" --config "$(ls "$dir"/configs/*_chosen.json | head -1)" --data fashion-mnist:test \
    --json >"$dir.test.json"
}

echo "| model | synthesis, 260 samples, 2 threads (s) | on target | tau phase 1 synthetic vs real (256 each) | float test accuracy | chosen on synthetic: test accuracy | BOPs / baseline | chosen on real: test accuracy | BOPs / baseline |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for m in ${MODELS:-cnn mobilenet resnet vit}; do
  model=$SRC/configs/models/$m.onnx
  "$MPQ" synthesize "$model" --classes 10 --per-class 26 --seed 0 --threads 2 --quiet --json \
    -o "$OUT/$m-synth.npy" >"$OUT/$m-synth.json"
  "$MPQ" sensitivity --model "$model" --hw "$HW" --samples 256 --calib fashion-mnist:train:256 \
    --compare-calib "$OUT/$m-synth.npy" -o "$OUT/$m-tau" --no-plots --quiet --json >"$OUT/$m-tau.json"
  explore "$m-explore-synthetic" "$model" "{source: $OUT/$m-synth.npy, labels: $OUT/$m-synth.labels.npy}"
  explore "$m-explore-real" "$model" "fashion-mnist:train:256"
  "$MPQ" run "$model" --data fashion-mnist:test --json >"$OUT/$m-float.json"
  /usr/bin/python3 - "$m" "$OUT" <<'PYEOF'
import json, sys
m, out = sys.argv[1], sys.argv[2]
load = lambda n: json.load(open(f"{out}/{m}-{n}.json"))
syn, tau, fl = load("synth"), load("tau"), load("float")
def chosen(kind):
    x = load(f"explore-{kind}")
    a = x["accelerators"][0]
    acc = a["accelerator"]
    base = a["front"][0]["cost"][acc]["bops"]
    test = load(f"explore-{kind}.test")
    return f"{test['top1_accuracy']:.2f} | {a['chosen']['cost'][acc]['bops'] / base:.3f}"
print(f"| {m} | {syn['seconds']:.1f} | {syn['on_target_percent']:.1f}% | "
      f"{tau['kendall_tau_calibration_subsets']:.3f} | {fl['top1_accuracy']:.2f} | "
      f"{chosen('synthetic')} | {chosen('real')} |")
PYEOF
done
