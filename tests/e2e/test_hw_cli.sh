#!/usr/bin/env bash
# End-to-end: `mpq groups` and `mpq cost` on a bundled model and accelerator exit 0; a bad
# accelerator description, candidate or configuration exits 2 with "mpq: error: file:line: key".
#
#   tests/e2e/test_hw_cli.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 MPQ_BINARY SOURCE_DIR" >&2
  exit 2
fi
MPQ=$1
SRC=$2
MODEL=$SRC/configs/models/resnet.onnx
HW=$SRC/configs/hw/edge_npu.yaml
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mpq_e2e_hw.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0
passes=0

# expect RC PATTERN NAME -- CMD...: exit code RC; PATTERN (extended regex) must match stderr for
# errors, stdout otherwise.
expect() {
  local rc_want=$1 pattern=$2 name=$3
  shift 4
  "$@" >"$TMP/stdout" 2>"$TMP/stderr"
  local rc=$?
  local out="$TMP/stdout"
  [ "$rc_want" -ne 0 ] && out="$TMP/stderr"
  if [ "$rc" -eq "$rc_want" ] && grep -Eq -- "$pattern" "$out"; then
    passes=$((passes + 1))
    echo "ok   $name"
  else
    fails=$((fails + 1))
    echo "FAIL $name: exit code $rc (want $rc_want) or output does not match /$pattern/"
    sed 's/^/     stderr: /' "$TMP/stderr" | head -n 5
  fi
}

# A copy of the bundled description with one mistake: an unknown key on line 9.
sed '9i clock_ghz: 1' "$HW" >"$TMP/typo.yaml"
sed 's/W8A8: 5120/W8A8: 0/' "$HW" >"$TMP/zero.yaml"
printf '{"groups": {"no-such-group": "W4A8"}}\n' >"$TMP/bad_config.json"
printf '{"groups": {"input": "W4A8"}}\n' >"$TMP/config.json"
printf 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nConv1,224,224,11,11,3,96,4,\nFC,1,1,1,1,512,1000,1,\n' >"$TMP/topology.csv"

expect 0 "quantizer groups" "groups on a bundled accelerator" -- "$MPQ" groups "$MODEL" --hw "$HW"
expect 0 '"groups"' "groups --json" -- "$MPQ" groups "$MODEL" --hw "$HW" --json
expect 0 "quantizer groups" "groups --dot" -- "$MPQ" groups "$MODEL" --hw "$HW" --dot "$TMP/g.dot"
if ! grep -q "digraph" "$TMP/g.dot" 2>/dev/null; then
  fails=$((fails + 1)); echo "FAIL groups --dot: no Graphviz written"
fi
expect 0 "total" "cost at the baseline" -- "$MPQ" cost "$MODEL" --hw "$HW"
expect 0 "W4A8" "cost --candidate" -- "$MPQ" cost "$MODEL" --hw "$HW" --candidate W4A8
expect 0 '"input": "W4A8"' "cost --config" -- "$MPQ" cost "$MODEL" --hw "$HW" --config "$TMP/config.json" --json
expect 0 "total" "cost of a SCALE-Sim topology" -- "$MPQ" cost "$TMP/topology.csv" --hw "$SRC/configs/hw/systolic_ws_32x32.yaml"

expect 2 "typo.yaml:9: clock_ghz: unknown key" "groups: unknown key" -- "$MPQ" groups "$MODEL" --hw "$TMP/typo.yaml"
expect 2 "typo.yaml:9: clock_ghz: unknown key" "cost: unknown key" -- "$MPQ" cost "$MODEL" --hw "$TMP/typo.yaml"
expect 2 "zero.yaml:[0-9]+: op_classes.default.macs_per_cycle.W8A8: must be a number > 0" \
  "cost: zero throughput" -- "$MPQ" cost "$MODEL" --hw "$TMP/zero.yaml"
expect 2 "missing.yaml: cannot open" "groups: missing file" -- "$MPQ" groups "$MODEL" --hw "$TMP/missing.yaml"
expect 2 "W3A3: not a candidate of edge-npu" "cost: unknown candidate" -- \
  "$MPQ" cost "$MODEL" --hw "$HW" --candidate W3A3
expect 2 "no-such-group: no such quantizer group" "cost: bad --config" -- \
  "$MPQ" cost "$MODEL" --hw "$HW" --config "$TMP/bad_config.json"
expect 0 "Usage" "groups --help" -- "$MPQ" groups --help
expect 0 "Usage" "cost --help" -- "$MPQ" cost --help

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
