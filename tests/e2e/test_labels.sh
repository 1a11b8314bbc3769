#!/usr/bin/env bash
# Labels for .npy samples (`--labels y.npy`, or `labels:` in an experiment's data):
#  - the first 200 Fashion-MNIST test images saved as x.npy (preprocessed as the CNN's metadata
#    says, by numpy, not by mpq) with their labels as y.npy give exactly the results of
#    fashion-mnist:test:200 in `mpq run`, `mpq quantize` and `mpq sensitivity --metric accuracy`
#    (the sensitivity CSV byte for byte), flags and experiment file alike;
#  - a label count other than the sample count, a float label array, a label outside the
#    model's ten classes and labels for a data set that has its own exit 2 naming the file.
#
#   tests/e2e/test_labels.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail
. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init labels "$@"

MODEL="$SRC/configs/models/cnn.onnx"
N=200
"$PY" - "$MODEL" "$TMP" "$N" <<'PYEOF' || bad "writing the arrays failed"
import gzip
import sys
import numpy as np
import onnx
model, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
meta = {p.key: p.value for p in onnx.load(model).metadata_props}
scale, mean, std = (np.float32(meta[f"mpq.input.{k}"]) for k in ("scale", "mean", "std"))
d = "/usr/share/datasets/fashion-mnist"
with gzip.open(f"{d}/t10k-images-idx3-ubyte.gz") as f:
    px = np.frombuffer(f.read(), np.uint8, offset=16)[:n * 784].reshape(n, 1, 28, 28)
with gzip.open(f"{d}/t10k-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
# The model's preprocessing as mpq defines it: a = scale / std and b = -mean / std in float32,
# then a * pixel + b rounded once (a fused multiply-add; exact in float64 before the rounding),
# so that the arrays hold the very floats of the data set's samples.
a, b = np.float32(scale / std), np.float32(-mean / std)
x = (px.astype(np.float64) * np.float64(a) + np.float64(b)).astype(np.float32)
np.save(f"{out}/x.npy", x.astype(np.float32))
np.save(f"{out}/y.npy", y)
np.save(f"{out}/y_short.npy", y[:-1])
np.save(f"{out}/y_float.npy", y.astype(np.float32))
bad = y.copy()
bad[17] = 10
np.save(f"{out}/y_class10.npy", bad)
PYEOF

json_field() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# ---------------------------------------------------------------- same accuracy as the data set
"$MPQ" run "$MODEL" --data "fashion-mnist:test:$N" --json >"$TMP/run_ds.json" 2>"$TMP/stderr" ||
  bad "run on fashion-mnist:test:$N failed"
"$MPQ" run "$MODEL" --data "$TMP/x.npy" --labels "$TMP/y.npy" --json >"$TMP/run_npy.json" \
  2>"$TMP/stderr" || bad "run on x.npy --labels y.npy failed"
a=$(json_field "$TMP/run_ds.json" 'd["correct"], d["total"]')
b=$(json_field "$TMP/run_npy.json" 'd["correct"], d["total"]')
[ -n "$a" ] && [ "$a" = "$b" ] && ok "run: x.npy + y.npy gives fashion-mnist's ($a)" ||
  bad "run: correct, total differ: data set ($a), arrays ($b)"

Q=(quantize "$MODEL" --candidate W4A4 --calib fashion-mnist:train:256 --json)
"$MPQ" "${Q[@]}" --data "fashion-mnist:test:$N" >"$TMP/q_ds.json" 2>"$TMP/stderr" ||
  bad "quantize on the data set failed"
"$MPQ" "${Q[@]}" --data "$TMP/x.npy" --labels "$TMP/y.npy" >"$TMP/q_npy.json" 2>"$TMP/stderr" ||
  bad "quantize on the arrays failed"
a=$(json_field "$TMP/q_ds.json" 'd["metrics"]["top1_accuracy"], d["metrics"]["float_top1_accuracy"]')
b=$(json_field "$TMP/q_npy.json" 'd["metrics"]["top1_accuracy"], d["metrics"]["float_top1_accuracy"]')
[ -n "$a" ] && [ "$a" != "None, None" ] && [ "$a" = "$b" ] &&
  ok "quantize: W4A4 and float accuracy equal on the arrays ($a)" ||
  bad "quantize: accuracy differs: data set ($a), arrays ($b)"

S=(sensitivity --model "$MODEL" --calib fashion-mnist:train:128 --candidates W4A4,W2A8
  --metric accuracy --samples "$N" --batch 50 --no-plots --quiet)
"$MPQ" "${S[@]}" --data "fashion-mnist:test:$N" -o "$TMP/s_ds" >/dev/null 2>"$TMP/stderr" ||
  bad "sensitivity on the data set failed"
"$MPQ" "${S[@]}" --data "$TMP/x.npy" --labels "$TMP/y.npy" -o "$TMP/s_npy" >/dev/null \
  2>"$TMP/stderr" || bad "sensitivity on the arrays failed"
cat >"$TMP/exp.yaml" <<YAML
model: $MODEL
data:
  calibration: fashion-mnist:train:128
  sensitivity: {source: x.npy, labels: y.npy}
candidates: [W4A4, W2A8]
sensitivity: {metric: accuracy, samples: $N, batch: 50}
output: s_yaml
YAML
"$MPQ" sensitivity "$TMP/exp.yaml" --no-plots --quiet >/dev/null 2>"$TMP/stderr" ||
  bad "sensitivity from the experiment file failed"
if [ -s "$TMP/s_ds/sensitivity.csv" ] && cmp -s "$TMP/s_ds/sensitivity.csv" "$TMP/s_npy/sensitivity.csv" &&
  cmp -s "$TMP/s_ds/sensitivity.csv" "$TMP/s_yaml/sensitivity.csv"; then
  ok "sensitivity --metric accuracy: CSV identical on the data set, --labels and labels: ($(($(wc -l <"$TMP/s_ds/sensitivity.csv") - 1)) tasks)"
else
  bad "sensitivity CSVs differ between the data set and the labeled arrays"
fi

# ---------------------------------------------------------------- bad labels
expect_error "run: fewer labels than samples" "y_short.npy: 199 labels for 200 samples" - -- \
  "$MPQ" run "$MODEL" --data "$TMP/x.npy" --labels "$TMP/y_short.npy"
expect_error "quantize: float labels" "y_float.npy: labels must be an integer array" "$TMP/cfg.json" -- \
  "$MPQ" quantize "$MODEL" --candidate W8A8 --calib fashion-mnist:train:64 --data "$TMP/x.npy" \
  --labels "$TMP/y_float.npy" -o "$TMP/cfg.json"
expect_error "sensitivity: a label outside the ten classes" \
  "y_class10.npy: label 10 of sample 17 is outside \[0, 10\)" "$TMP/bad/sensitivity.csv" -- \
  "$MPQ" sensitivity --model "$MODEL" --calib fashion-mnist:train:64 --data "$TMP/x.npy" \
  --labels "$TMP/y_class10.npy" --candidates W8A8,W4A4 --samples 64 -o "$TMP/bad" --quiet
expect_error "run: labels for a data set with its own" "fashion-mnist:test:$N has labels of its own" - -- \
  "$MPQ" run "$MODEL" --data "fashion-mnist:test:$N" --labels "$TMP/y.npy"
expect_error "run: a missing labels file" "nope.npy" - -- \
  "$MPQ" run "$MODEL" --data "$TMP/x.npy" --labels "$TMP/nope.npy"
sed 's/labels: y.npy/labels: y_short.npy/; s/output: s_yaml/output: s_bad/' "$TMP/exp.yaml" >"$TMP/exp_bad.yaml"
expect_error "experiment: labels: with the wrong count" "y_short.npy: 199 labels for 200 samples" \
  "$TMP/s_bad/sensitivity.csv" -- "$MPQ" sensitivity "$TMP/exp_bad.yaml" --no-plots --quiet
printf 'model: %s\ndata:\n  calibration: {labels: y.npy}\n' "$MODEL" >"$TMP/exp_nosource.yaml"
expect_error "experiment: labels without a source" "data.calibration.source: missing required key" - -- \
  "$MPQ" sensitivity "$TMP/exp_nosource.yaml" --quiet

cli_test_finish
