#!/usr/bin/env bash
# End-to-end checks of phase 1 with the first-order Taylor metric (`--metric fisher`,
# search/fisher_sweep.hpp):
#  - the sensitivity CSV is bit-identical with 1 and 3 threads, every task has a finite score
#    >= 0 and the list is sorted by it;
#  - the ranking agrees with the SQNR sweep's (Kendall tau > 0.5; printed with the tau against
#    the accuracy drop, which 128 samples barely resolve, and both sweeps' phase-1 times);
#  - the experiment file's `sensitivity: {metric: fisher}` resumes from the journal; an SQNR
#    run on that directory sets the fisher journal aside;
#  - bad input: a model whose output is not [N, classes], a network with an op that has no
#    backward rule: exit 2 with a clear message.
#
#   tests/e2e/test_fisher.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail
. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init fisher "$@"

MODEL="$(cd "$SRC" && pwd)/configs/models/cnn.onnx"
ARGS=(--model "$MODEL" --candidates W8A8,W4A8,W4A4,W2A8,W8A4 --samples 128 --batch 32 --no-plots --quiet)

# ---------------------------------------------------------------- determinism, scores
for t in 1 3; do
  "$MPQ" sensitivity "${ARGS[@]}" --metric fisher --threads "$t" -o "$TMP/f$t" >"$TMP/stdout" 2>"$TMP/stderr" ||
    bad "fisher sweep with $t threads failed"
  [ "$t" = 3 ] && fisher_s=$(grep -o '[0-9.]* s$' "$TMP/stderr" | tail -1 | cut -d' ' -f1)
done
cmp -s "$TMP/f1/sensitivity.csv" "$TMP/f3/sensitivity.csv" &&
  ok "fisher sensitivity.csv identical with 1 and 3 threads" || bad "fisher CSV differs between thread counts"
"$MPQ" sensitivity "${ARGS[@]}" --metric sqnr --threads 3 -o "$TMP/sqnr" >"$TMP/stdout" 2>"$TMP/stderr" ||
  bad "sqnr sweep failed"
sqnr_s=$(grep -o '[0-9.]* s$' "$TMP/stderr" | tail -1 | cut -d' ' -f1)

"$PY" - "$TMP/f1/sensitivity.csv" "$TMP/sqnr/sensitivity.csv" "$fisher_s" "$sqnr_s" >"$TMP/check.out" 2>&1 <<'PYEOF'
import csv, math, sys
fisher = list(csv.DictReader(open(sys.argv[1])))
sqnr = list(csv.DictReader(open(sys.argv[2])))
fs, ss = float(sys.argv[3]), float(sys.argv[4])
problems = []
vals = [float(r["fisher"]) for r in fisher]
if len(vals) < 10:
    problems.append(f"only {len(vals)} tasks")
if not all(math.isfinite(v) and v >= 0 for v in vals):
    problems.append("a fisher score is not finite or negative")
if vals != sorted(vals):
    problems.append("the list is not sorted by the fisher score")
if len({v for v in vals}) < len(vals) // 2:
    problems.append("most fisher scores are equal")
key = lambda r: (r["group"], r["candidate"])
noise = {key(r): -float(r["sqnr_db"]) for r in sqnr}
drop = {key(r): -float(r["top1_accuracy"]) for r in sqnr}
f = {key(r): float(r["fisher"]) for r in fisher}
keys = sorted(f)
if set(keys) != set(drop):
    problems.append("the fisher and sqnr sweeps have different tasks")


def tau_b(x, y):
    conc = disc = tx = ty = 0
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            a = x[keys[i]] - x[keys[j]]
            b = y[keys[i]] - y[keys[j]]
            if a == 0 and b == 0:
                continue
            if a == 0:
                tx += 1
            elif b == 0:
                ty += 1
            elif (a > 0) == (b > 0):
                conc += 1
            else:
                disc += 1
    return (conc - disc) / math.sqrt(max(1, (conc + disc + tx) * (conc + disc + ty)))


tau_sqnr, tau_acc = tau_b(f, noise), tau_b(f, drop)
print(f"{len(vals)} tasks; Kendall tau of the fisher ranking vs SQNR {tau_sqnr:.3f}, vs accuracy "
      f"drop {tau_acc:.3f}; phase 1 {fs:.2f} s with fisher, {ss:.2f} s with sqnr")
if tau_sqnr <= 0.5:
    problems.append(f"fisher does not rank like the output SQNR (tau {tau_sqnr:.3f})")
for p in problems:
    print("problem: " + p)
sys.exit(1 if problems else 0)
PYEOF
if [ $? -eq 0 ]; then ok "$(cat "$TMP/check.out")"; else bad "fisher scores: $(cat "$TMP/check.out")"; fi

# ---------------------------------------------------------------- experiment file, resume
cat >"$TMP/exp.yaml" <<YAML
model: $MODEL
data:
  calibration: fashion-mnist:train:256
sensitivity: {samples: 128, batch: 32, metric: fisher}
output: $TMP/f1
YAML
"$MPQ" sensitivity "$TMP/exp.yaml" --candidates W8A8,W4A8,W4A4,W2A8,W8A4 --no-plots --threads 2 \
  >"$TMP/stdout" 2>"$TMP/stderr" || bad "fisher from the experiment file failed"
if grep -q "0 tasks computed" "$TMP/stderr" && cmp -s "$TMP/f1/sensitivity.csv" "$TMP/f3/sensitivity.csv"; then
  ok "experiment file metric fisher resumed every task: $(grep -o '[0-9]* tasks computed, [0-9]* resumed' "$TMP/stderr")"
else
  bad "fisher resume: $(grep -o '[0-9]* tasks computed, [0-9]* resumed' "$TMP/stderr")"
fi
"$MPQ" sensitivity "${ARGS[@]}" --metric sqnr --threads 2 -o "$TMP/f1" >"$TMP/stdout" 2>"$TMP/stderr" ||
  bad "sqnr after fisher failed"
grep -q "sweep settings" "$TMP/stderr" && [ -e "$TMP/f1/phase1.journal.stale" ] &&
  ok "an sqnr run sets the fisher journal aside" || bad "fisher journal reused by sqnr: $(cat "$TMP/stderr")"

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
wf = numpy_helper.from_array(rng.standard_normal((784, 10)).astype(np.float32) * 0.05, "wf")
d = numpy_helper.from_array(np.array([0.75], np.float32), "d")
nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("MatMul", ["f", "wf"], ["z"]),
         helper.make_node("Mod", ["z", "d"], ["y"], fmod=1, name="wrap")]
g = helper.make_graph(nodes, "mod", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [wf, d])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
open(tmp + "/modnet.onnx", "wb").write(m.SerializeToString())
PYEOF
expect_error "fisher on a model whose output is not a classifier" "needs a classifier.*\[1x4x28x28\]" - -- \
  "$MPQ" sensitivity --model "$TMP/segmenter.onnx" --metric fisher --candidates W8A8,W4A8 --samples 32 --batch 32 --no-plots --quiet -o "$TMP/seg"
expect_error "fisher through an op without a backward rule" "no backward rule for op Mod.*wrap" - -- \
  "$MPQ" sensitivity --model "$TMP/modnet.onnx" --metric fisher --candidates W8A8,W4A8 --samples 32 --batch 32 --no-plots --quiet -o "$TMP/mod"

cli_test_finish
