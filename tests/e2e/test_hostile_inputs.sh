#!/usr/bin/env bash
# End-to-end (issue 26): the hostile inputs that crashed, hung, overflowed or were silently
# accepted, each written here by a generator, now give `mpq: error:` naming the file and field,
# exit code 2, no output file and no temporary left.
#
#   tests/e2e/test_hostile_inputs.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail
. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init hostile "$@"
CNN=$SRC/configs/models/cnn.onnx
NPU=$SRC/configs/hw/edge_npu.yaml
OUT=$TMP/out.npy

# ---------------------------------------------------------------- generated reproducers
if ! "$PY" - "$TMP" "$CNN" <<'PYEOF'; then
import os, struct, sys
import numpy as np
import onnx
from onnx import TensorProto, helper
tmp, cnn = sys.argv[1], sys.argv[2]

def npy(name, header, payload=b"", version=1, hlen=None):
    h = header.encode("latin1")
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    length = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", hlen or len(h))
    with open(f"{tmp}/{name}.npy", "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]) + length + h + payload)

npy("item0", "{'descr': '<i0', 'fortran_order': False, 'shape': (4,), }", b"\0" * 16)
npy("item3", "{'descr': '<i3', 'fortran_order': False, 'shape': (4,), }", b"\0" * 12)
npy("shape_word", "{'descr': '<f4', 'fortran_order': False, 'shape': (two, 3), }", b"\0" * 24)
npy("shape_negative", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 784), }")
npy("shape_overflow",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", b"\0" * 64)
npy("huge_header", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", b"\0" * 4,
    version=2, hlen=0xFFFFFFF0)
npy("version9", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", b"\0" * 4, version=9)
np.save(f"{tmp}/x.npy", np.zeros((2, 1, 28, 28), np.float32))
np.save(f"{tmp}/x2000.npy", np.zeros((2000, 1, 28, 28), np.float32))

def model(name, nodes, inits, x_shape, y_shape, opset=13):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(m, f"{tmp}/{name}.onnx")

model("maxpool_stride0", [helper.make_node("MaxPool", ["x"], ["y"], name="pool",
                                           kernel_shape=[2, 2], strides=[0, 0])],
      [], [1, 1, 8, 8], None)
model("maxpool_kernel0", [helper.make_node("MaxPool", ["x"], ["y"], name="pool",
                                           kernel_shape=[0, 2])], [], [1, 1, 8, 8], None)
# Dims [2^20, 2^19] (2^39 floats) with 72 bytes of data.
big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 19], raw_data=b"\0" * 72)
model("huge_initializer", [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [big],
      [1, 1 << 20], [1, 1 << 19])
# Any spatial size: --input-shape decides what the dry run at batch 1 holds.
kernel = helper.make_tensor("w", TensorProto.FLOAT, [4, 1, 3, 3], [0.1] * 36)
model("dynamic_hw", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])],
      [kernel], ["N", 1, "H", "W"], ["N", 4, "H", "W"])
empty = helper.make_tensor("w", TensorProto.FLOAT, [4, 1, 0, 3], [])
model("empty_kernel", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [empty],
      [1, 1, 8, 8], None)

# A node without outputs (found by fuzz_onnx: an unnamed unsupported op was named by its
# first output, which it did not have).
graph = helper.make_graph([helper.make_node("Foo", ["x"], [])], "g",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
          f"{tmp}/no_output.onnx")

# An IDX file declaring 2^32-1 images of 28 x 28 in 80 bytes.
os.makedirs(f"{tmp}/idx_many", exist_ok=True)
with open(f"{tmp}/idx_many/t10k-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 0xFFFFFFFF, 28, 28) + b"\0" * 64)
with open(f"{tmp}/idx_many/t10k-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 0xFFFFFFFF))

# IDX files whose count x rows x cols overflows 64 bits, with labels.
os.makedirs(f"{tmp}/idx", exist_ok=True)
with open(f"{tmp}/idx/t10k-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + b"\0" * 64)
with open(f"{tmp}/idx/t10k-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 0xFFFFFFFF))
PYEOF
  echo "FAIL: could not write the reproducers"
  exit 1
fi

# ---------------------------------------------------------------- .npy
for c in "item0:unsupported .npy dtype 'i0'" "item3:unsupported .npy dtype 'i3'" \
  "shape_word:shape entry ' ?two' is not a non-negative integer" \
  "shape_negative:shape entry '-1' is not a non-negative integer" \
  "shape_overflow:truncated data" "huge_header:truncated .npy header \(declares 4294967280" \
  "version9:unsupported .npy format version 9"; do
  name=${c%%:*}
  expect_error ".npy: $name" "$name.npy.*${c#*:}" "$OUT" -- \
    "$MPQ" run "$CNN" --input "$TMP/$name.npy" --output "$OUT"
done

# ---------------------------------------------------------------- ONNX
expect_error "MaxPool with stride 0 (was SIGFPE in shape inference)" \
  "maxpool_stride0.onnx: node 'pool' \(MaxPool\): attribute strides holds 0" - -- \
  "$MPQ" inspect "$TMP/maxpool_stride0.onnx"
expect_error "MaxPool with a kernel of 0" "node 'pool' \(MaxPool\): attribute kernel_shape holds 0" \
  - -- "$MPQ" inspect "$TMP/maxpool_kernel0.onnx"
expect_error "initializer of 2^39 elements with 72 bytes (was 1 GiB and bad_alloc)" \
  "initializer 'w': raw data holds 72 bytes" - -- "$MPQ" inspect "$TMP/huge_initializer.onnx"
expect_error "Conv weight with a dimension of 0" "node 'conv' \(Conv\): weight 'w' has a dimension of size 0" \
  - -- "$MPQ" inspect "$TMP/empty_kernel.onnx"

expect_error "a node without outputs (found by fuzzing; was an internal error)" \
  "no_output.onnx: node 0 \(Foo\): the node has no output" - -- "$MPQ" inspect "$TMP/no_output.onnx"

# ---------------------------------------------------------------- data sets
expect_error "IDX sizes overflowing 64 bits (was bad_alloc)" \
  "t10k-images-idx3-ubyte.gz' \(4294967295 images of 4294967295 x 4294967295\) needs more than 8 EiB, more than the memory budget" - -- \
  env MPQ_FASHION_MNIST_DIR="$TMP/idx" "$MPQ" run "$CNN" --data fashion-mnist:test
expect_error "IDX file declaring more images than the memory budget" \
  "t10k-images-idx3-ubyte.gz' \(4294967295 images of 28 x 28\) needs 3.06 TiB, more than the memory budget" - -- \
  env MPQ_FASHION_MNIST_DIR="$TMP/idx_many" "$MPQ" run "$CNN" --data fashion-mnist:test
expect_error "IDX file shorter than the images asked for" \
  "t10k-images-idx3-ubyte.gz' is truncated or too long: 64 pixel bytes for 4294967295 images of 28 x 28" - -- \
  env MPQ_FASHION_MNIST_DIR="$TMP/idx_many" "$MPQ" run "$CNN" --data fashion-mnist:test:10
expect_error "more test images than the split has (was clamped silently)" \
  "asks for 999999999 from image 0 on, but the test split has 10000 images" - -- \
  "$MPQ" run "$CNN" --data fashion-mnist:test:999999999
expect_error "offset beyond the split" "asks for 5 from image 20000 on" - -- \
  "$MPQ" run "$CNN" --data fashion-mnist:test:20000+5

# ---------------------------------------------------------------- accelerator YAML
sed 's/^energy_pj_per_mac: {/energy_pj_per_mac: {[x]: 1, /' "$NPU" >"$TMP/complex_key.yaml"
sed 's/^energy_pj_per_mac: {/energy_pj_per_mac: {~: 1, /' "$NPU" >"$TMP/null_key.yaml"
sed 's/^  W8A8: {weights: int8, activations: int8}/&\n  W8A8: {weights: int8, activations: int8}/' \
  "$NPU" >"$TMP/twice.yaml"
expect_error "complex key in a map (was a use-after-free)" \
  "complex_key.yaml:[0-9]+: energy_pj_per_mac.*(a key must be a plain name|expected)" - -- \
  "$MPQ" cost "$CNN" --hw "$TMP/complex_key.yaml"
expect_error "null key in a map" "null_key.yaml:[0-9]+: energy_pj_per_mac" - -- \
  "$MPQ" cost "$CNN" --hw "$TMP/null_key.yaml"
expect_error "a candidate declared twice" "twice.yaml:15: candidates.W8A8: declared twice \(first on line 14\)" \
  - -- "$MPQ" cost "$CNN" --hw "$TMP/twice.yaml"

# ---------------------------------------------------------------- SCALE-Sim topology
printf 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nbig,4000000000,4000000000,3,3,4000000000,4000000000,1,\n' \
  >"$TMP/huge.csv"
printf 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nbig,16000000,16000000,3,3,16000000,16000000,1,\n' \
  >"$TMP/overflow.csv"
expect_error "topology dimension of 4e9 (was negative MACs)" \
  "huge.csv:2: big: IFMAP Height: expected an integer from 1 to 16777216" - -- \
  "$MPQ" cost "$TMP/huge.csv" --hw "$SRC/configs/hw/systolic_ws_32x32.yaml"
expect_error "topology whose MACs overflow 64 bits" "overflow.csv:2: big: .*does not fit 64 bits" - -- \
  "$MPQ" cost "$TMP/overflow.csv" --hw "$SRC/configs/hw/systolic_ws_32x32.yaml"

# ---------------------------------------------------------------- configurations
if "$MPQ" quantize "$CNN" --candidate W8A8 --calib fashion-mnist:train:32 -o "$TMP/w8a8.json" \
  >"$TMP/stdout" 2>"$TMP/stderr"; then
  "$PY" - "$TMP" <<'PYEOF'
import json, sys
tmp = sys.argv[1]
base = json.load(open(f"{tmp}/w8a8.json"))
name = next(n for n, q in base["quantizers"].items() if q.get("kind") == "activation")
for tag, change in [("qmin", {"qmin": -2**31, "qmax": 2**31 - 1}), ("zero_point", {"zero_point": [2000000000]})]:
    c = json.loads(json.dumps(base))
    c["quantizers"][name].update(change)
    json.dump(c, open(f"{tmp}/bad_{tag}.json", "w"))
PYEOF
  expect_error "qmin/qmax of 32 bits in an int8 quantizer (was accepted)" \
    "qmin/qmax \[-2147483648, 2147483647\] do not fit int8" "$OUT" -- \
    "$MPQ" run "$CNN" --config "$TMP/bad_qmin.json" --input "$TMP/x.npy" --output "$OUT"
  expect_error "zero point outside the grid (was accepted)" \
    "zero_point 2000000000 is outside \[qmin, qmax\]" "$OUT" -- \
    "$MPQ" run "$CNN" --config "$TMP/bad_zero_point.json" --input "$TMP/x.npy" --output "$OUT"
else
  bad "mpq quantize W8A8 for the configuration fixtures"
fi
if "$MPQ" quantize "$CNN" --candidate Wfp16Afp16 --calib fashion-mnist:train:32 -o "$TMP/fp16.json" \
  >"$TMP/stdout" 2>"$TMP/stderr" &&
  "$MPQ" run "$CNN" --config "$TMP/fp16.json" --input "$TMP/x.npy" --output "$TMP/fp16_y.npy" \
    >"$TMP/stdout" 2>"$TMP/stderr"; then
  ok "a Wfp16Afp16 configuration runs (was an assertion on per-channel scales)"
else
  bad "a Wfp16Afp16 configuration runs"
fi

# ---------------------------------------------------------------- non-finite weights and data
if "$PY" - "$TMP" "$CNN" <<'PYEOF'; then
import sys
import numpy as np
import onnx
from onnx import numpy_helper
tmp, cnn = sys.argv[1], sys.argv[2]
m = onnx.load(cnn)
conv = next(n for n in m.graph.node if n.op_type == "Conv")
init = next(i for i in m.graph.initializer if i.name == conv.input[1])
w = numpy_helper.to_array(init).copy()
w.flat[5] = np.nan
w.flat[7] = np.inf
init.CopyFrom(numpy_helper.from_array(w, init.name))
onnx.save(m, f"{tmp}/nan_weight.onnx")
open(f"{tmp}/nan_weight.names", "w").write(f"{init.name}\n{conv.name}\n")
x = np.zeros((2, 1, 28, 28), np.float32)
x[1, 0, 3, 4] = np.nan
np.save(f"{tmp}/nan_x.npy", x)
PYEOF
  W=$(sed -n 1p "$TMP/nan_weight.names")
  NODE=$(sed -n 2p "$TMP/nan_weight.names")
  expect_error "NaN and inf in a Conv weight (ran to a NaN output)" \
    "initializer '$W' \(read by Conv '$NODE'\) holds 1 NaN and 1 infinite values.*--allow-nonfinite" \
    "$OUT" -- "$MPQ" run "$TMP/nan_weight.onnx" --input "$TMP/x.npy" --output "$OUT"
  expect_ok "inspect --allow-nonfinite reads the model with a NaN weight" -- \
    "$MPQ" inspect "$TMP/nan_weight.onnx" --allow-nonfinite
  expect_error "NaN in an input array (ran to a NaN output)" \
    "nan_x.npy holds 1 NaN and 0 infinite values of 1568 \(the first at \[1, 0, 3, 4\]\)" \
    "$OUT" -- "$MPQ" run "$CNN" --input "$TMP/nan_x.npy" --output "$OUT"
  expect_error "NaN in calibration data" "--calib: .*nan_x.npy holds 1 NaN" "$TMP/q.json" -- \
    "$MPQ" quantize "$CNN" --candidate W8A8 --calib "$TMP/nan_x.npy" -o "$TMP/q.json"
  expect_ok "--allow-nonfinite: the run goes on" "wrote" -- \
    "$MPQ" run "$CNN" --input "$TMP/nan_x.npy" --output "$OUT" --allow-nonfinite
  cat >"$TMP/nan_calib.yaml" <<EOF
model: $CNN
accelerators: [$NPU]
data: {calibration: $TMP/nan_x.npy}
output: $TMP/nan_calib_out
EOF
  expect_error "NaN in an experiment's calibration array" "calibration data: .*nan_x.npy holds 1 NaN" \
    - -- "$MPQ" explore "$TMP/nan_calib.yaml" --quiet --no-plots
  [ -e "$TMP/nan_calib_out" ] && bad "a results directory was left for the NaN calibration data"
else
  bad "could not write the non-finite fixtures"
fi

# ---------------------------------------------------------------- memory budget
expect_error "input 1x1x100000x100000 (was bad_alloc in the dry run)" \
  "the model at batch 1 \(shape inference\) needs [0-9.]+ [KMGT]iB, more than the memory budget of 8.00 GiB.*the largest tensor is" \
  - -- "$MPQ" inspect "$TMP/dynamic_hw.onnx" --input-shape 1x1x100000x100000 --max-memory 8G
expect_error "input 1x1x100000x100000 under the default budget" "needs 186.[0-9] GiB, more than the memory budget" \
  - -- "$MPQ" inspect "$TMP/dynamic_hw.onnx" --input-shape 1x1x100000x100000
expect_error "a batch beyond --max-memory" \
  "--data fashion-mnist:test:256: a run in batches of 256 \(.* of weights, .* of activations per sample, the largest '[^']+' .*\) needs .*, more than the memory budget of 4.00 MiB.*smaller batch" \
  - -- "$MPQ" run "$CNN" --data fashion-mnist:test:256 --batch 256 --max-memory 4M
expect_ok "the same run in batches of 4 fits" "accuracy" -- \
  "$MPQ" run "$CNN" --data fashion-mnist:test:256 --batch 4 --max-memory 4M
expect_error "an .npy array beyond --max-memory" \
  "x2000.npy' \(shape \[2000x1x28x28\]\) needs 12.0 MiB, more than the memory budget of 8.00 MiB" "$OUT" -- \
  "$MPQ" run "$CNN" --input "$TMP/x2000.npy" --output "$OUT" --max-memory 8M
expect_error "a model file beyond --max-memory" \
  "model file '[^']*cnn.onnx' \(read and parsed\) needs 1.86 MiB, more than the memory budget of 1.00 MiB" - -- \
  "$MPQ" inspect "$CNN" --max-memory 1M
expect_error "phase 1 with two engines beyond --max-memory" \
  "phase 1 over 256 samples with 2 engines in flight at batch 64 .*, more than the memory budget of 32.0 MiB.*fewer --threads" \
  "$TMP/sweep_mem/sensitivity.csv" -- "$MPQ" sensitivity --model "$CNN" --candidates W8A8,W4A8 \
  --samples 256 --batch 64 --threads 2 --no-plots --quiet -o "$TMP/sweep_mem" --max-memory 32M
expect_ok "the same phase 1 with one engine fits" -- "$MPQ" sensitivity --model "$CNN" \
  --candidates W8A8,W4A8 --samples 256 --batch 64 --threads 1 --no-plots --quiet \
  -o "$TMP/sweep_mem" --max-memory 32M
expect_error "--max-memory that is not a size" "--max-memory: 'lots' is not a size" - -- \
  "$MPQ" run "$CNN" --input "$TMP/x.npy" --output "$OUT" --max-memory lots

# ---------------------------------------------------------------- one run per output directory
# Another run holds the directory (flock(1) takes the same lock mpq takes on DIR/.mpq.lock).
mkdir -p "$TMP/held"
echo 4242 >"$TMP/held/.mpq.lock"
flock -o "$TMP/held/.mpq.lock" sleep 60 &
holder=$!
for _ in $(seq 50); do flock -n "$TMP/held/.mpq.lock" true 2>/dev/null || break; sleep 0.1; done
expect_error "sensitivity on a directory another run holds" \
  "'$TMP/held' is in use by another mpq run \(pid 4242\)" "$TMP/held/phase1.journal" -- \
  "$MPQ" sensitivity --model "$CNN" --candidates W8A8,W4A8 --samples 32 --batch 32 --no-plots \
  --quiet -o "$TMP/held"
cat >"$TMP/held.yaml" <<EOF
model: $CNN
accelerators: [$NPU]
data: {calibration: "fashion-mnist:train:32"}
sensitivity: {samples: 32, batch: 32}
output: $TMP/held
EOF
expect_error "explore on a directory another run holds" "is in use by another mpq run" \
  "$TMP/held/phase1.journal" -- "$MPQ" explore "$TMP/held.yaml" --quiet --no-plots
pkill -P $holder sleep 2>/dev/null
kill $holder 2>/dev/null
wait $holder 2>/dev/null
expect_ok "the same sensitivity run once the directory is free" -- \
  "$MPQ" sensitivity --model "$CNN" --candidates W8A8,W4A8 --samples 32 --batch 32 --no-plots \
  --quiet -o "$TMP/held"

# ---------------------------------------------------------------- experiments, journals
cat >"$TMP/per_channel.yaml" <<EOF
model: $CNN
accelerators: [$NPU]
ranges: {per_channel: [1, 2]}
output: $TMP/per_channel_out
EOF
expect_error "per_channel: [1, 2] (was an internal error)" \
  "per_channel.yaml:3: ranges.per_channel: expected true or false, got a list" - -- \
  "$MPQ" explore "$TMP/per_channel.yaml" --quiet --no-plots
[ -e "$TMP/per_channel_out" ] && bad "a results directory was left for a refused experiment"
mkdir -p "$TMP/p1/phase1.journal"
expect_error "phase1.journal is a directory (left a temporary)" "cannot create the journal" \
  "$TMP/p1/phase1.journal.x" -- "$MPQ" sensitivity --model "$CNN" --candidates W8A8,W4A8 \
  --samples 32 --batch 32 --no-plots --quiet -o "$TMP/p1"
if compgen -G "$TMP/p1/phase1.journal.tmp*" >/dev/null; then
  bad "phase1.journal.tmp* left behind"
else
  ok "no journal temporary left behind"
fi

cli_test_finish
