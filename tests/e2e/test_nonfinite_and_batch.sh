#!/usr/bin/env bash
# End-to-end (issue 22, items 3 and 6):
#  - no silent NaN: a configuration whose run turns non-finite makes `mpq quantize` and
#    `mpq run --config` fail (exit 2, no output file) naming the first non-finite tensor and
#    its op; phase 1 records such a task as failed, ranks it last and never prints inf/nan;
#  - batch dimension: with a batch fixed by --input-shape, quantize, run and sensitivity all
#    take any number of samples at batch 1, and all refuse a count that does not fill batches.
#
#   tests/e2e/test_nonfinite_and_batch.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail
. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init nonfinite "$@"

# y = x / |x| + |x|: finite in float; an 8-bit |x| rounds small magnitudes to zero.
if ! "$PY" - "$TMP" <<'PYEOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper
tmp = sys.argv[1]
W = 64
g = helper.make_graph(
    [helper.make_node("Abs", ["x"], ["mag"], name="abs"),
     helper.make_node("Div", ["x", "mag"], ["sign"], name="divide"),
     helper.make_node("Add", ["sign", "mag"], ["y"], name="add")],
    "sign",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", W])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", W])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 7
onnx.save(m, f"{tmp}/sign.onnx")
rng = np.random.default_rng(1)
x = rng.uniform(-1, 1, (32, W)).astype(np.float32)
x[::2] *= 0.001                      # rows whose |x| is below half an 8-bit step
np.save(f"{tmp}/mixed.npy", x)
big = np.sign(x) * (0.5 + 0.5 * np.abs(rng.uniform(-1, 1, x.shape)))
np.save(f"{tmp}/large.npy", big.astype(np.float32))
small = big.copy()
small[3] *= 1e-4
np.save(f"{tmp}/small.npy", small.astype(np.float32))
for n in (8, 6):
    np.save(f"{tmp}/img{n}.npy", rng.uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32))
PYEOF
then
  echo "FAIL: could not write the fixtures with $PY (needs numpy and onnx)" >&2
  exit 1
fi
M=$TMP/sign.onnx

# quantize: calibrated on rows of two scales, W8A8 breaks the Div.
"$MPQ" quantize "$M" --candidate W8A8 --calib "$TMP/mixed.npy" -o "$TMP/broken.json" \
  >"$TMP/stdout" 2>"$TMP/stderr"
rc=$?
if [ $rc -eq 2 ] && grep -q "^mpq: error:" "$TMP/stderr" && grep -q "tensor 'sign'" "$TMP/stderr" &&
  grep -q "Div 'divide'" "$TMP/stderr" && [ ! -e "$TMP/broken.json" ] &&
  ! grep -Eqi "inf dB|nan" "$TMP/stdout"; then
  ok "quantize: non-finite output is an error naming tensor 'sign' from Div 'divide'"
else
  bad "quantize: non-finite output (exit $rc)"
fi

# run --config: a configuration that is finite on its calibration data, run on inputs it breaks.
if "$MPQ" quantize "$M" --candidate W8A8 --calib "$TMP/large.npy" -o "$TMP/cfg.json" \
  >"$TMP/stdout" 2>"$TMP/stderr"; then
  ok "quantize: the same model calibrated on large magnitudes is finite"
  "$MPQ" run "$M" --config "$TMP/cfg.json" --input "$TMP/small.npy" --output "$TMP/y.npy" \
    >"$TMP/stdout" 2>"$TMP/stderr"
  rc=$?
  if [ $rc -eq 2 ] && grep -q "tensor 'sign'" "$TMP/stderr" && grep -q "Div 'divide'" "$TMP/stderr" &&
    [ ! -e "$TMP/y.npy" ]; then
    ok "run --config: non-finite output is an error naming the Div"
  else
    bad "run --config: non-finite output (exit $rc)"
  fi
  if "$MPQ" run "$M" --config "$TMP/cfg.json" --input "$TMP/large.npy" --output "$TMP/y.npy" \
    >"$TMP/stdout" 2>"$TMP/stderr" && [ -e "$TMP/y.npy" ]; then
    ok "run --config: finite inputs still run"
  else
    bad "run --config on finite inputs"
  fi
else
  bad "quantize on large magnitudes"
fi

# phase 1: the W8A8 task of the group holding 'mag' breaks; it is recorded, not fatal.
"$MPQ" sensitivity --model "$M" --candidates W8A8,W16A16 --calib "$TMP/mixed.npy" \
  --no-plots --quiet -o "$TMP/p1" >"$TMP/stdout" 2>"$TMP/stderr"
rc=$?
csv=$TMP/p1/sensitivity.csv
if [ $rc -eq 0 ] && [ -e "$csv" ] && tail -n 1 "$csv" | grep -q "tensor 'sign'" &&
  tail -n 1 "$csv" | grep -q -- ",-inf," && grep -q "failed: group" "$TMP/stdout" &&
  ! grep -E '^[0-9]+ ' "$TMP/stdout" | grep -Eqi '(^| )-?(nan|inf)( |$)' &&
  grep -q '"failure"' "$TMP/p1/phase1.journal"; then
  ok "sensitivity: the broken task is failed with its reason, ranked last, journaled"
else
  bad "sensitivity: broken task (exit $rc)"
  cat "$csv" 2>/dev/null | head -5
fi
# Resumed from the journal, the failure is still there.
"$MPQ" sensitivity --model "$M" --candidates W8A8,W16A16 --calib "$TMP/mixed.npy" \
  --no-plots --quiet -o "$TMP/p1" --json >"$TMP/stdout" 2>"$TMP/stderr"
if grep -q "0 tasks computed" "$TMP/stderr" && grep -q '"failure"' "$TMP/stdout"; then
  ok "sensitivity: a resumed failed task keeps its reason"
else
  bad "sensitivity: resumed failed task"
fi

# ---------------------------------------------------------------- batch dimension
CNN=$SRC/configs/models/cnn.onnx
for cmd in quantize sensitivity run; do
  case $cmd in
    quantize) args=(quantize "$CNN" --candidate W8A8 --calib "$TMP/img8.npy") ;;
    sensitivity) args=(sensitivity --model "$CNN" --candidates W8A8,W16A16 --calib "$TMP/img8.npy" --no-plots --quiet -o "$TMP/s_$cmd") ;;
    run) args=(run "$CNN" --input "$TMP/img8.npy" --output "$TMP/y8.npy") ;;
  esac
  if "$MPQ" "${args[@]}" --input-shape 1x1x28x28 >"$TMP/stdout" 2>"$TMP/stderr"; then
    ok "$cmd: 8 samples with --input-shape 1x1x28x28 (batches of 1)"
  else
    bad "$cmd: 8 samples with --input-shape 1x1x28x28"
  fi
  "$MPQ" "${args[@]/img8/img6}" --input-shape 4x1x28x28 >"$TMP/stdout" 2>"$TMP/stderr"
  rc=$?
  if [ $rc -eq 2 ] && grep -q "6 samples do not fill batches of 4" "$TMP/stderr"; then
    ok "$cmd: 6 samples with --input-shape 4x1x28x28 refused"
  else
    bad "$cmd: 6 samples with --input-shape 4x1x28x28 (exit $rc)"
  fi
done
if "$PY" -c "
import numpy as np, sys
y = np.load('$TMP/y8.npy'); print(y.shape); sys.exit(0 if y.shape == (8, 10) else 1)" >/dev/null; then
  ok "run: 8 samples at batch 1 give 8 outputs"
else
  bad "run: output of 8 samples at batch 1"
fi

cli_test_finish
