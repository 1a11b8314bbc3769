#!/usr/bin/env bash
# End-to-end checks of data-free inputs (`mpq synthesize`, sim/input_synthesis.hpp):
#  - Lee et al.'s method on the bundled CNN: the float model classifies >= 90% of the samples as
#    their target label (`mpq run` on the written .npy and labels); the files are byte-identical
#    with 1 and 2 threads; a progress bar on stderr;
#  - ZeroQ's BatchNorm matching on the CNN (its BatchNormalizations are in the ONNX file);
#  - an experiment with `data.calibration: synthetic:10x2` runs phase 1 with no data, caches the
#    set in the output directory and, resumed, neither synthesizes again nor recomputes a task;
#  - bad input: a model with no class axis, --classes beyond the output width, zero and negative
#    --per-class, an unwritable -o, zeroq on a model without BatchNorm, a malformed synthetic:.
#
#   tests/e2e/test_synthesize.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail
. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init synthesize "$@"

MODELS="$(cd "$SRC" && pwd)/configs/models"
CNN="$MODELS/cnn.onnx"
SYN=(--classes 10 --per-class 3 --seed 5 --iterations 40 --batch 16)

# ---------------------------------------------------------------- lee: labels, determinism
for t in 1 2; do
  "$MPQ" synthesize "$CNN" "${SYN[@]}" --threads "$t" -o "$TMP/s$t.npy" >"$TMP/stdout" 2>"$TMP/stderr" ||
    bad "synthesize with $t threads failed"
done
grep -q "synthesizing" "$TMP/stderr" && ok "a progress bar on stderr" || bad "no progress on stderr"
cmp -s "$TMP/s1.npy" "$TMP/s2.npy" && cmp -s "$TMP/s1.labels.npy" "$TMP/s2.labels.npy" &&
  ok "synth.npy and synth.labels.npy byte-identical with 1 and 2 threads" ||
  bad "the synthesized set differs between thread counts"
"$MPQ" run "$CNN" --data "$TMP/s1.npy" --labels "$TMP/s1.labels.npy" --json >"$TMP/stdout" 2>"$TMP/stderr" ||
  bad "run on the synthesized set failed"
"$PY" - "$TMP/stdout" "$TMP/s1.npy" "$TMP/s1.labels.npy" >"$TMP/check.out" 2>&1 <<'PYEOF'
import json, sys
import numpy as np
r = json.load(open(sys.argv[1]))
x, y = np.load(sys.argv[2]), np.load(sys.argv[3])
problems = []
if x.shape != (30, 1, 28, 28) or x.dtype != np.float32:
    problems.append(f"inputs {x.shape} {x.dtype}")
if list(y) != [k % 10 for k in range(30)]:
    problems.append(f"labels {list(y)}")
if r["top1_accuracy"] < 90:
    problems.append(f"the float model assigns only {r['top1_accuracy']:.1f}% their target label")
print(f"the float CNN assigns {r['top1_accuracy']:.1f}% of 30 synthesized samples their target label")
for p in problems:
    print("problem: " + p)
sys.exit(1 if problems else 0)
PYEOF
if [ $? -eq 0 ]; then ok "$(cat "$TMP/check.out")"; else bad "$(cat "$TMP/check.out")"; fi

# ---------------------------------------------------------------- zeroq
expect_ok "zeroq on the CNN's BatchNorm statistics" "zeroq" -- \
  "$MPQ" synthesize "$CNN" --method zeroq --classes 10 --per-class 2 --iterations 20 --quiet -o "$TMP/z.npy"
[ -s "$TMP/z.npy" ] && [ -s "$TMP/z.labels.npy" ] && ok "zeroq wrote its set and labels" ||
  bad "zeroq files missing"

# ---------------------------------------------------------------- experiment: synthetic:
cat >"$TMP/exp.yaml" <<YAML
model: $CNN
data:
  calibration: synthetic:10x2
sensitivity: {samples: 20, batch: 20}
output: $TMP/exp
YAML
"$MPQ" sensitivity "$TMP/exp.yaml" --candidates W8A8,W4A8,W4A4 --no-plots --threads 2 \
  >"$TMP/stdout" 2>"$TMP/stderr" || bad "sensitivity on synthetic:10x2 failed"
cached=$(ls "$TMP"/exp/synthetic-*.npy 2>/dev/null | grep -v labels)
if [ -n "$cached" ] && [ -s "$TMP/exp/sensitivity.csv" ] && grep -q "synthesizing" "$TMP/stderr"; then
  ok "phase 1 on synthetic:10x2 with no data; the set cached as $(basename "$cached")"
else
  bad "synthetic experiment: no cached set or no sensitivity.csv"
fi
cp "$TMP/exp/sensitivity.csv" "$TMP/first.csv"
stamp=$(stat -c %Y.%s "$cached" 2>/dev/null)
sleep 1
"$MPQ" sensitivity "$TMP/exp.yaml" --candidates W8A8,W4A8,W4A4 --no-plots --threads 1 \
  >"$TMP/stdout" 2>"$TMP/stderr" || bad "the resumed synthetic run failed"
if ! grep -q "synthesizing" "$TMP/stderr" && [ "$(stat -c %Y.%s "$cached")" = "$stamp" ] &&
  grep -q "0 tasks computed" "$TMP/stderr" && cmp -s "$TMP/first.csv" "$TMP/exp/sensitivity.csv"; then
  ok "resumed: the cached set read back, $(grep -o '[0-9]* tasks computed, [0-9]* resumed' "$TMP/stderr")"
else
  bad "resume resynthesized or recomputed"
fi

# ---------------------------------------------------------------- bad input
"$PY" - "$TMP" <<'PYEOF'
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
tmp = sys.argv[1]
rng = np.random.default_rng(0)
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])
w = numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w")
conv = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")
g = helper.make_graph([conv], "seg", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
open(tmp + "/segmenter.onnx", "wb").write(m.SerializeToString())
PYEOF
mkdir -p "$TMP/out"
OUT="$TMP/out/synth.npy"
expect_error "synthesize on a model with no class axis" "needs a classifier.*\[1x4x28x28\]" "$OUT" "$TMP/out/synth.labels.npy" -- \
  "$MPQ" synthesize "$TMP/segmenter.onnx" --classes 4 --per-class 2 -o "$OUT"
expect_error "synthesize --classes beyond the output width" "classes 11 is beyond the model's 10 classes" "$OUT" -- \
  "$MPQ" synthesize "$CNN" --classes 11 --per-class 2 -o "$OUT"
expect_error "synthesize --per-class 0" "per-class must be positive, got 0" "$OUT" -- \
  "$MPQ" synthesize "$CNN" --classes 10 --per-class 0 -o "$OUT"
expect_error "synthesize --per-class -3" "per-class must be positive, got -3" "$OUT" -- \
  "$MPQ" synthesize "$CNN" --classes 10 --per-class -3 -o "$OUT"
expect_error "synthesize -o into a missing directory" "cannot write .*does not exist" - -- \
  "$MPQ" synthesize "$CNN" --classes 10 --per-class 1 -o "$TMP/missing/synth.npy"
expect_error "synthesize -o without .npy" "must end in .npy" "$TMP/out/synth" -- \
  "$MPQ" synthesize "$CNN" --classes 10 --per-class 1 -o "$TMP/out/synth"
mkdir -p "$TMP/dir.npy"
expect_error "synthesize -o naming a directory" "cannot write .*is a directory" - -- \
  "$MPQ" synthesize "$CNN" --classes 10 --per-class 1 -o "$TMP/dir.npy"
expect_error "synthesize --method zeroq on a model without BatchNorm" "no BatchNormalization with running statistics" "$OUT" -- \
  "$MPQ" synthesize "$MODELS/resnet.onnx" --method zeroq --classes 10 --per-class 1 -o "$OUT"
sed 's/synthetic:10x2/synthetic:10x0/' "$TMP/exp.yaml" >"$TMP/bad.yaml"
expect_error "data.calibration synthetic: with a zero count" "data.calibration.*synthetic:<classes>x<per-class>" - -- \
  "$MPQ" sensitivity "$TMP/bad.yaml" --candidates W8A8,W4A8 --no-plots

cli_test_finish
