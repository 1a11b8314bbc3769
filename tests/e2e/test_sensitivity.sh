#!/usr/bin/env bash
# End-to-end checks of phase 1 (`mpq sensitivity`):
#  - the sensitivity CSV and --json are bit-identical with 1, 2 and 8 threads;
#  - a sweep killed with SIGKILL mid-way resumes from its journal and ends identical to an
#    uninterrupted run;
#  - changed inputs set the journal aside with a message naming what changed;
#  - bad input (accuracy metric on unlabeled data, nothing to sweep, an incompatible journal)
#    exits 2 with a clear message and overwrites nothing.
#
#   tests/e2e/test_sensitivity.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail
. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init sens "$@"

MODEL="$SRC/configs/models/mobilenet.onnx"
ARGS=(--model "$MODEL" --candidates W8A8,W4A8,W4A4,W2A8 --samples 128 --batch 32 --no-plots --quiet)

# ---------------------------------------------------------------- thread count
for t in 1 2 8; do
  "$MPQ" sensitivity "${ARGS[@]}" --threads "$t" -o "$TMP/t$t" --json >"$TMP/t$t.json" 2>"$TMP/t$t.err" ||
    bad "sweep with $t threads failed: $(cat "$TMP/t$t.err")"
done
if cmp -s "$TMP/t1/sensitivity.csv" "$TMP/t2/sensitivity.csv" &&
  cmp -s "$TMP/t1/sensitivity.csv" "$TMP/t8/sensitivity.csv"; then
  ok "sensitivity.csv identical with 1, 2 and 8 threads"
else
  bad "sensitivity.csv differs between thread counts"
fi
if cmp -s "$TMP/t1.json" "$TMP/t2.json" && cmp -s "$TMP/t1.json" "$TMP/t8.json"; then
  ok "--json identical with 1, 2 and 8 threads"
else
  bad "--json differs between thread counts"
fi
tasks=$(($(wc -l <"$TMP/t1/sensitivity.csv") - 1))
[ "$tasks" -gt 10 ] && ok "$tasks tasks swept" || bad "only $tasks tasks"

# ---------------------------------------------------------------- kill -9 and resume
"$MPQ" sensitivity "${ARGS[@]}" --threads 1 -o "$TMP/killed" >/dev/null 2>&1 &
pid=$!
# Kill once a few tasks are journaled (the first line is the key line).
for _ in $(seq 1 600); do
  n=$(cat "$TMP/killed/phase1.journal" 2>/dev/null | wc -l)
  [ "$n" -ge 4 ] && break
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
journaled=$(($(wc -l <"$TMP/killed/phase1.journal") - 1))
if [ "$journaled" -ge 3 ] && [ "$journaled" -lt "$tasks" ] && [ ! -e "$TMP/killed/sensitivity.csv" ]; then
  ok "killed mid-way with $journaled of $tasks tasks journaled and no CSV written"
else
  bad "kill did not land mid-way ($journaled of $tasks journaled)"
fi
"$MPQ" sensitivity "${ARGS[@]}" --threads 2 -o "$TMP/killed" >/dev/null 2>"$TMP/resume.err" ||
  bad "resume failed: $(cat "$TMP/resume.err")"
if grep -q "resumed from the journal" "$TMP/resume.err" && ! grep -q " 0 resumed" "$TMP/resume.err"; then
  ok "resumed: $(grep -o '[0-9]* tasks computed, [0-9]* resumed' "$TMP/resume.err")"
else
  bad "nothing was resumed: $(cat "$TMP/resume.err")"
fi
cmp -s "$TMP/killed/sensitivity.csv" "$TMP/t1/sensitivity.csv" &&
  ok "resumed sweep identical to the uninterrupted one" ||
  bad "resumed sweep differs from the uninterrupted one"

# A torn last line (power loss mid-write) is dropped and that task recomputed.
printf '{"group": "torn' >>"$TMP/killed/phase1.journal"
"$MPQ" sensitivity "${ARGS[@]}" -o "$TMP/killed" >/dev/null 2>"$TMP/torn.err" &&
  cmp -s "$TMP/killed/sensitivity.csv" "$TMP/t1/sensitivity.csv" &&
  ok "a torn journal line is ignored" || bad "torn journal line: $(cat "$TMP/torn.err")"

# ---------------------------------------------------------------- changed inputs
"$MPQ" sensitivity "${ARGS[@]}" --calib fashion-mnist:train:256+128 -o "$TMP/killed" >/dev/null \
  2>"$TMP/changed.err"
if grep -q "calibration data" "$TMP/changed.err" && [ -e "$TMP/killed/phase1.journal.stale" ]; then
  ok "changed calibration data: $(grep -o 'made from other inputs ([^)]*)' "$TMP/changed.err")"
else
  bad "changed calibration data not reported: $(cat "$TMP/changed.err")"
fi

# ---------------------------------------------------------------- bad input
"$PY" -c "import numpy as np; np.save('$TMP/unlabeled.npy', np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32))"
expect_error "accuracy metric on unlabeled data" "needs labels" - -- \
  "$MPQ" sensitivity "${ARGS[@]}" --metric accuracy --calib "$TMP/unlabeled.npy" -o "$TMP/unl"
expect_error "only the baseline candidate" "nothing to sweep" - -- \
  "$MPQ" sensitivity "${ARGS[@]}" --candidates W8A8 -o "$TMP/none"
expect_error "unknown metric" "unknown sensitivity metric 'speed'" - -- \
  "$MPQ" sensitivity "${ARGS[@]}" --metric speed -o "$TMP/m"
mkdir -p "$TMP/old"
echo '{"mpq_phase1_journal": 99, "inputs": {}}' >"$TMP/old/phase1.journal"
cp "$TMP/old/phase1.journal" "$TMP/old.copy"
expect_error "journal of an incompatible version" "incompatible mpq.*version 99" - -- \
  "$MPQ" sensitivity "${ARGS[@]}" -o "$TMP/old"
cmp -s "$TMP/old/phase1.journal" "$TMP/old.copy" && [ ! -e "$TMP/old/sensitivity.csv" ] &&
  ok "incompatible journal left untouched" || bad "incompatible journal was changed"
"$MPQ" sensitivity --help >/dev/null && ok "mpq sensitivity --help" || bad "--help"

cli_test_finish
