#!/usr/bin/env bash
# End-to-end: `mpq export` refuses bad input with exit code 2, a message that starts with
# "mpq: error:" and names the problem, and writes neither the model nor the encodings; a good
# export writes both, with the element types the target opset defines.
#
#   tests/e2e/test_export_errors.sh MPQ_BINARY SOURCE_DIR
#
# Needs /usr/bin/python3 with onnx (to edit configurations and read the exported model).
set -uo pipefail

. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init export "$@"
CNN=$SRC/configs/models/cnn.onnx
RESNET=$SRC/configs/models/resnet.onnx

# Each expect_error: the model ($TMP/out.onnx) and the encodings ($TMP/enc.json) are not written.
X=("$TMP/out.onnx" "$TMP/enc.json")

if ! "$MPQ" quantize "$CNN" --candidate W8A8 --calib fashion-mnist:train:64 -o "$TMP/cnn.json" \
  >/dev/null 2>"$TMP/stderr"; then
  bad "mpq quantize W8A8 for the fixtures"; cat "$TMP/stderr"; exit 1
fi
# Formats set on one activation and one weight; the format's parameters are re-derived from
# the calibrated range when the configuration is read.
"$PY" - "$TMP" <<'PYEOF'
import json, sys
tmp = sys.argv[1]
base = json.load(open(f"{tmp}/cnn.json"))
for tag, act, weight in [("int16", "int16", "int8"), ("fp8", "int8", "fp8e4m3"),
                         ("int4", "int4", "int4"), ("int6", "int6", "int3")]:
    cfg = json.loads(json.dumps(base))
    for name, fmt in (("/Relu_output_0", act), ("fc1.weight", weight)):
        q = cfg["quantizers"][name]
        for k in ("scale", "zero_point", "qmin", "qmax"):
            q.pop(k, None)
        q["format"] = fmt
    json.dump(cfg, open(f"{tmp}/cnn_{tag}.json", "w"))
PYEOF

E=(-o "$TMP/out.onnx" --encodings "$TMP/enc.json")
expect_error "configuration of another model" "does not exist in the model" "${X[@]}" -- \
  "$MPQ" export "$RESNET" --config "$TMP/cnn.json" "${E[@]}"
expect_error "int16 at opset 17" "int16.*opset 17 cannot represent" "${X[@]}" -- \
  "$MPQ" export "$CNN" --config "$TMP/cnn_int16.json" --opset 17 "${E[@]}"
expect_error "fp8 at opset 18" "fp8e4m3.*opset 18 cannot represent" "${X[@]}" -- \
  "$MPQ" export "$CNN" --config "$TMP/cnn_fp8.json" --opset 18 "${E[@]}"
expect_error "opset below the model's" "cannot lower it to opset 13" "${X[@]}" -- \
  "$MPQ" export "$CNN" --config "$TMP/cnn.json" --opset 13 "${E[@]}"
expect_error "opset out of range" "opset 22 is not supported" "${X[@]}" -- \
  "$MPQ" export "$CNN" --config "$TMP/cnn.json" --opset 22 "${E[@]}"
expect_error "missing configuration file" "cannot read configuration" "${X[@]}" -- \
  "$MPQ" export "$CNN" --config "$TMP/none.json" "${E[@]}"
expect_error "unwritable output" "cannot write" "${X[@]}" -- \
  "$MPQ" export "$CNN" --config "$TMP/cnn.json" -o "$TMP/no/such/dir/out.onnx"

# Old opsets: opset 6 is older than the upgrade handles; an Upsample whose nearest rounding has
# no opset-13 form (one axis grows, another shrinks) is refused rather than written differently.
"$PY" - "$TMP" <<'PYEOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
tmp = sys.argv[1]
def save(name, opset, nodes, inits, out_shape):
    g = helper.make_graph(nodes, name,
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                          initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_operatorsetid("", opset)])
    m.ir_version = 3
    onnx.save(m, f"{tmp}/{name}.onnx")
w = np.random.default_rng(0).standard_normal((2, 1, 3, 3)).astype(np.float32)
save("opset6", 6, [helper.make_node("Conv", ["input", "w"], ["c"], kernel_shape=[3, 3]),
                   helper.make_node("Relu", ["c"], ["y"])], {"w": w}, ["N", 2, 26, 26])
save("upsample_mixed", 9, [helper.make_node("Conv", ["input", "w"], ["c"], kernel_shape=[3, 3]),
                           helper.make_node("Upsample", ["c", "s"], ["y"], mode="nearest")],
     {"w": w, "s": np.array([1, 1, 2, 0.5], np.float32)}, ["N", 2, 52, 13])
PYEOF
for m in opset6 upsample_mixed; do
  "$MPQ" quantize "$TMP/$m.onnx" --candidate W8A8 --calib fashion-mnist:train:16 -o "$TMP/$m.json" \
    >/dev/null 2>"$TMP/stderr" || { bad "mpq quantize $m: $(head -n 1 "$TMP/stderr")"; }
done
expect_error "opset 6: older than the upgrade handles" "uses opset 6.*opset 7 on.*nothing was written" "${X[@]}" -- \
  "$MPQ" export "$TMP/opset6.onnx" --config "$TMP/opset6.json" "${E[@]}"
expect_error "Upsample growing one axis and shrinking another" \
  "Upsample.*no opset-13 equivalent.*nothing was written" "${X[@]}" -- \
  "$MPQ" export "$TMP/upsample_mixed.onnx" --config "$TMP/upsample_mixed.json" "${E[@]}"

# Good exports: element types per opset, carriers in metadata_props and encodings.
check_export() {  # NAME CONFIG OPSET PYTHON-ASSERTIONS
  local name=$1 cfg=$2 opset=$3 code=$4
  rm -f "$TMP/out.onnx" "$TMP/enc.json"
  if ! "$MPQ" export "$CNN" --config "$cfg" --opset "$opset" "${E[@]}" >/dev/null 2>"$TMP/stderr"; then
    bad "$name: export failed: $(head -n 2 "$TMP/stderr")"
    return
  fi
  if "$PY" - "$TMP" <<PYEOF 2>"$TMP/pyerr"; then ok "$name"; else bad "$name: $(tail -n 1 "$TMP/pyerr")"; fi
import json, sys, onnx
tmp = sys.argv[1]
m = onnx.load(f"{tmp}/out.onnx")
enc = json.load(open(f"{tmp}/enc.json"))
types = {t.name: t.data_type for t in m.graph.initializer}
meta = {p.key: p.value for p in m.metadata_props}
carriers = json.loads(meta["mpq.qdq.carriers"])
ops = [n.op_type for n in m.graph.node]
opset = [o.version for o in m.opset_import if o.domain == ""][0]
$code
PYEOF
}
check_export "W8A8 at opset 21: int8 weights, uint8 activations, int32 biases, IR 10" \
  "$TMP/cnn.json" 21 '
assert opset == 21 and m.ir_version == 10, (opset, m.ir_version)
assert types["fc1.weight_quantized"] == 3 and types["input_dq_zero_point"] == 2, types
assert types["fc1.bias_quantized"] == 6, types
assert carriers == {} and "Clip" not in ops[:ops.index("Conv")], carriers
assert enc["param_encodings"]["fc1.weight"]["enc_type"] == "PER_CHANNEL"
'
check_export "int4 at opset 21: native int4/uint4" "$TMP/cnn_int4.json" 21 '
assert types["fc1.weight_quantized"] == 22 and types["/Relu_output_0_zero_point"] == 21, types
assert carriers == {}, carriers
'
check_export "int4 at opset 17: on an 8-bit carrier, clipped, recorded" "$TMP/cnn_int4.json" 17 '
assert opset == 17 and m.ir_version == 8
assert types["fc1.weight_quantized"] == 3 and types["/Relu_output_0_zero_point"] == 2, types
assert carriers["/Relu_output_0"]["carrier"] == "uint8" and carriers["fc1.weight"]["carrier"] == "int8"
assert enc["activation_encodings"]["/Relu_output_0"]["carrier"] == "uint8"
assert enc["activation_encodings"]["/Relu_output_0"]["clipped_to_grid"] is True
assert ops.count("Clip") == 1, ops
'
check_export "int6 / int3 at opset 21: 8-bit carrier" "$TMP/cnn_int6.json" 21 '
assert types["fc1.weight_quantized"] == 3 and carriers["fc1.weight"]["qmax"] == 3, carriers
assert carriers["/Relu_output_0"] == {"format": "int6", "carrier": "uint8", "qmin": 0, "qmax": 63}
'
check_export "int16 at opset 21: native uint16" "$TMP/cnn_int16.json" 21 '
assert types["/Relu_output_0_zero_point"] == 4, types
'
check_export "fp8 at opset 19: float8e4m3fn weight" "$TMP/cnn_fp8.json" 19 '
assert types["fc1.weight_quantized"] == 17 and m.ir_version == 9, types
'

cli_test_finish
