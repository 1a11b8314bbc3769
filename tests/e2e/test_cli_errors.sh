#!/usr/bin/env bash
# End-to-end: every input error of the mpq CLI exits with code 2, prints a message on stderr
# that starts with "mpq: error:" and names the culprit, and writes no output file; --help exits 0.
#
#   tests/e2e/test_cli_errors.sh MPQ_BINARY SOURCE_DIR
#
# Needs /usr/bin/python3 with numpy and onnx (to write the .npy inputs and the unsupported-op
# model) and one bundled model, configs/models/*.onnx.
set -uo pipefail
. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init cli "$@"

# ---------------------------------------------------------------- fixtures
MODEL=""
for m in cnn mobilenet resnet vit; do
  if [ -f "$SRC/configs/models/$m.onnx" ]; then MODEL="$SRC/configs/models/$m.onnx"; break; fi
done
[ -z "$MODEL" ] && MODEL=$(ls "$SRC"/configs/models/*.onnx 2>/dev/null | head -n 1)
if [ -z "$MODEL" ]; then
  echo "FAIL: no bundled model in $SRC/configs/models" >&2
  exit 1
fi

size=$(stat -c %s "$MODEL")
head -c $((size / 2)) "$MODEL" >"$TMP/truncated.onnx"
printf 'this is a plain text file, not an ONNX model\n' >"$TMP/notes.onnx"

if ! "$PY" - "$TMP" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper

tmp = sys.argv[1]
np.save(f"{tmp}/x.npy", np.zeros((1, 1, 28, 28), np.float32))
np.save(f"{tmp}/x3x3.npy", np.zeros((3, 3), np.float32))
np.save(f"{tmp}/v4.npy", np.zeros((1, 4), np.float32))
g = helper.make_graph(
    [helper.make_node("FrobnicateTensor", ["x"], ["h"], name="frob"),
     helper.make_node("Relu", ["h"], ["r"], name="relu"),
     helper.make_node("WibbleNorm", ["r"], ["y"], name="wibble")],
    "unsupported",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
m = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", 13)])
m.ir_version = 7
onnx.save(m, f"{tmp}/unsupported.onnx")
EOF
then
  echo "FAIL: could not write the fixtures with $PY (needs numpy and onnx)" >&2
  exit 1
fi

OUT="$TMP/out.npy"

# ---------------------------------------------------------------- command line
expect_error "unknown command" "unknown command 'bogus' \\(commands: inspect, run" - -- \
  "$MPQ" bogus
expect_error "no command" "A subcommand is required" - -- \
  "$MPQ"
expect_error "missing argument" "model is required" - -- \
  "$MPQ" quantize

# ---------------------------------------------------------------- model files
expect_error "truncated ONNX file (run)" "truncated.onnx.*(not a valid ONNX|truncated|corrupt)" "$OUT" -- \
  "$MPQ" run "$TMP/truncated.onnx" --input "$TMP/x.npy" --output "$OUT"
expect_error "truncated ONNX file (inspect)" "truncated.onnx.*(not a valid ONNX|truncated|corrupt)" - -- \
  "$MPQ" inspect "$TMP/truncated.onnx"
expect_error "text file instead of ONNX" "notes.onnx.*not a valid ONNX" "$OUT" -- \
  "$MPQ" run "$TMP/notes.onnx" --input "$TMP/x.npy" --output "$OUT"
expect_error "missing model file (run)" "does-not-exist.onnx" "$OUT" -- \
  "$MPQ" run "$TMP/does-not-exist.onnx" --input "$TMP/x.npy" --output "$OUT"
expect_error "missing model file (inspect)" "does-not-exist.onnx" - -- \
  "$MPQ" inspect "$TMP/does-not-exist.onnx"
expect_error "unsupported ops (run): both listed" "FrobnicateTensor" "$OUT" -- \
  "$MPQ" run "$TMP/unsupported.onnx" --input "$TMP/v4.npy" --output "$OUT"
grep -q "WibbleNorm" "$TMP/stderr" || {
  fails=$((fails + 1)); echo "FAIL unsupported ops (run): WibbleNorm not listed"; }
expect_error "unsupported ops (inspect): both listed" "WibbleNorm" - -- \
  "$MPQ" inspect "$TMP/unsupported.onnx"
grep -q "FrobnicateTensor" "$TMP/stderr" || {
  fails=$((fails + 1)); echo "FAIL unsupported ops (inspect): FrobnicateTensor not listed"; }
if grep -q "Relu" "$TMP/stderr"; then
  fails=$((fails + 1)); echo "FAIL unsupported ops (inspect): the supported Relu is listed too"
fi

# ---------------------------------------------------------------- inputs
expect_error "--input-shape with the wrong rank" "rank" "$OUT" -- \
  "$MPQ" run "$MODEL" --input-shape 1x28x28 --input "$TMP/x.npy" --output "$OUT"
expect_error "--input-shape with the wrong rank (inspect)" "rank" - -- \
  "$MPQ" inspect "$MODEL" --input-shape input:28x28
expect_error "wrong-shaped .npy input" "shape.*\[?3, ?3\]?|3x3" "$OUT" -- \
  "$MPQ" run "$MODEL" --input "$TMP/x3x3.npy" --output "$OUT"
expect_error "wrong-shaped .npy input (--output-dir)" "shape" - -- \
  "$MPQ" run "$MODEL" --input "$TMP/x3x3.npy" --output-dir "$TMP/outdir"
if [ -n "$(ls -A "$TMP/outdir" 2>/dev/null)" ]; then
  fails=$((fails + 1)); echo "FAIL wrong-shaped .npy input (--output-dir): files written: $(ls "$TMP/outdir")"
fi
expect_error "missing .npy input file" "no-such-input.npy" "$OUT" -- \
  "$MPQ" run "$MODEL" --input "$TMP/no-such-input.npy" --output "$OUT"

# ---------------------------------------------------------------- data sets
expect_error "missing data file" "/nonexistent" - -- \
  env MPQ_FASHION_MNIST_DIR=/nonexistent "$MPQ" run "$MODEL" --data fashion-mnist:test
expect_error "unknown data set name" "unknown data set.*imagenet-9000" - -- \
  "$MPQ" run "$MODEL" --data imagenet-9000:test

# ---------------------------------------------------------------- quantization (issue 3)
CFG="$TMP/cfg.json"
expect_error "unknown format name" "unknown number format 'fp7'" "$CFG" -- \
  "$MPQ" quantize "$MODEL" --candidate Wfp7A8 --calib fashion-mnist:train:32 -o "$CFG"
expect_error "bit-width outside 2..16" "bit-width 17 is outside 2..16" "$CFG" -- \
  "$MPQ" quantize "$MODEL" --candidate W17A8 --calib fashion-mnist:train:32 -o "$CFG"
expect_error "calibration data of the wrong shape" "x3x3.npy.*shape" "$CFG" -- \
  "$MPQ" quantize "$MODEL" --candidate W8A8 --calib "$TMP/x3x3.npy" -o "$CFG"
expect_error "unknown range method" "unknown range-setting method 'median'" "$CFG" -- \
  "$MPQ" quantize "$MODEL" --candidate W8A8 --act-range median -o "$CFG"
expect_error "unknown weight rounding" "--weight-rounding must be nearest or adaround" "$CFG" -- \
  "$MPQ" quantize "$MODEL" --candidate W4A8 --weight-rounding stochastic -o "$CFG"
expect_error "AdaRound of a float weight format" "AdaRound chooses between two integers.*fp8e4m3" "$CFG" -- \
  "$MPQ" quantize "$MODEL" --candidate fp8e4m3 --weight-rounding adaround --adaround-iters 10 \
  --calib fashion-mnist:train:32 -o "$CFG"
expect_error "AdaRound with no iterations" "--adaround-iters must be at least 1" "$CFG" -- \
  "$MPQ" quantize "$MODEL" --candidate W4A8 --weight-rounding adaround --adaround-iters 0 -o "$CFG"
expect_error "AdaRound of a float weight candidate in phase 1" \
  "AdaRound chooses between two integers: candidate Wfp8e4m3Afp8e4m3 has fp8e4m3 weights" - -- \
  "$MPQ" sensitivity --model "$MODEL" --candidates W8A8,fp8e4m3 --samples 32 --batch 32 \
  --weight-rounding adaround --adaround-iters 5 --quiet --no-plots -o "$TMP/ada_fp"
# A MatMul whose input is an empty slice of the model input: no calibration vector reaches it.
"$PY" - "$TMP/empty_branch.onnx" "$TMP/x8.npy" <<'PYEOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper as h, numpy_helper as nh
rng = np.random.default_rng(0)
consts = [nh.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w_live"),
          nh.from_array(rng.standard_normal((8, 4)).astype(np.float32), "w_unreached"),
          nh.from_array(np.array([0], np.int64), "zero"), nh.from_array(np.array([1], np.int64), "one")]
nodes = [h.make_node("MatMul", ["x", "w_live"], ["y_live"]),
         h.make_node("Unsqueeze", ["x", "one"], ["x3"]),
         h.make_node("Slice", ["x3", "zero", "zero", "one"], ["x_empty"]),
         h.make_node("MatMul", ["x_empty", "w_unreached"], ["y_empty3"]),
         h.make_node("ReduceSum", ["y_empty3", "one"], ["y_empty"], keepdims=0),
         h.make_node("Add", ["y_live", "y_empty"], ["y"])]
g = h.make_graph(nodes, "empty_branch", [h.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
                 [h.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], consts)
m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, sys.argv[1])
np.save(sys.argv[2], rng.standard_normal((16, 8)).astype(np.float32))
PYEOF
expect_error "AdaRound of a layer no calibration data reaches" \
  "activation 'y_empty3' has no finite values on .*x8.npy; it cannot be calibrated" "$CFG" -- \
  "$MPQ" quantize "$TMP/empty_branch.onnx" --candidate W4A8 --weight-rounding adaround \
  --bias-correction --adaround-iters 5 --calib "$TMP/x8.npy" -o "$CFG"
# An AdaRound cache made from other inputs is set aside, naming what changed, as the journal is.
ADA_ARGS=(--model "$MODEL" --candidates W8A8,W4A8 --samples 32 --batch 32 --weight-rounding adaround
  --adaround-iters 5 --quiet --no-plots -o "$TMP/ada_cache")
"$MPQ" sensitivity "${ADA_ARGS[@]}" >/dev/null 2>&1
expect_notice "AdaRound cache from other calibration images" \
  "cached AdaRound weights .* other inputs \(calibration data changed\)" -- \
  "$MPQ" sensitivity "${ADA_ARGS[@]}" --calib fashion-mnist:train:32+32
expect_notice "AdaRound cache without bias correction, run with it" \
  "cached AdaRound weights .* other inputs \(weight rounding changed\)" -- \
  "$MPQ" sensitivity "${ADA_ARGS[@]}" --calib fashion-mnist:train:32+32 --bias-correction
# A valid configuration, then one naming a quantizer the model does not have.
if "$MPQ" quantize "$MODEL" --candidate W8A8 --calib fashion-mnist:train:32 \
     --data fashion-mnist:test:32 -o "$CFG" >/dev/null 2>&1; then
  "$PY" - "$CFG" "$TMP/cfg_bad.json" <<'PYEOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
q = cfg["quantizers"]
q["not_in_this_model"] = next(iter(q.values()))
json.dump(cfg, open(sys.argv[2], "w"))
PYEOF
  expect_error "configuration naming an absent quantizer" "quantizer 'not_in_this_model' does not exist" "$OUT" -- \
    "$MPQ" run "$MODEL" --config "$TMP/cfg_bad.json" --input "$TMP/x.npy" --output "$OUT"
  expect_error "quantize --config naming an absent quantizer" "not_in_this_model" "$TMP/cfg2.json" -- \
    "$MPQ" quantize "$MODEL" --config "$TMP/cfg_bad.json" --calib fashion-mnist:train:32 -o "$TMP/cfg2.json"
  expect_error "configuration that is not JSON" "not valid JSON" "$OUT" -- \
    "$MPQ" run "$MODEL" --config "$TMP/x.npy" --input "$TMP/x.npy" --output "$OUT"
else
  fails=$((fails + 1)); echo "FAIL could not write a valid W8A8 configuration"
fi

# ---------------------------------------------------------------- help
expect_ok "mpq --help" -- "$MPQ" --help
expect_ok "mpq run --help" -- "$MPQ" run --help
expect_ok "mpq inspect --help" -- "$MPQ" inspect --help
expect_ok "mpq quantize --help" -- "$MPQ" quantize --help

cli_test_finish
