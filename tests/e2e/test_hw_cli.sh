#!/usr/bin/env bash
# End-to-end: `mpq groups` and `mpq cost` on a bundled model and accelerator exit 0; a bad
# accelerator description, candidate or configuration exits 2 with "mpq: error: file:line: key".
#
#   tests/e2e/test_hw_cli.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail

. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init hw "$@"
MODEL=$SRC/configs/models/resnet.onnx
HW=$SRC/configs/hw/edge_npu.yaml

# A copy of the bundled description with one mistake: an unknown key on line 9.
sed '9i clock_ghz: 1' "$HW" >"$TMP/typo.yaml"
sed 's/W8A8: 5120/W8A8: 0/' "$HW" >"$TMP/zero.yaml"
printf '{"groups": {"no-such-group": "W4A8"}}\n' >"$TMP/bad_config.json"
printf '{"groups": {"input": "W4A8"}}\n' >"$TMP/config.json"
printf 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nConv1,224,224,11,11,3,96,4,\nFC,1,1,1,1,512,1000,1,\n' >"$TMP/topology.csv"

expect_ok "groups on a bundled accelerator" "quantizer groups" -- "$MPQ" groups "$MODEL" --hw "$HW"
expect_ok "groups --json" '"groups"' -- "$MPQ" groups "$MODEL" --hw "$HW" --json
expect_ok "groups --dot" "quantizer groups" -- "$MPQ" groups "$MODEL" --hw "$HW" --dot "$TMP/g.dot"
if ! grep -q "digraph" "$TMP/g.dot" 2>/dev/null; then
  bad "groups --dot: no Graphviz written"
fi
expect_ok "cost at the baseline" "total" -- "$MPQ" cost "$MODEL" --hw "$HW"
expect_ok "cost --candidate" "W4A8" -- "$MPQ" cost "$MODEL" --hw "$HW" --candidate W4A8
expect_ok "cost --config" '"input": "W4A8"' -- "$MPQ" cost "$MODEL" --hw "$HW" --config "$TMP/config.json" --json
expect_ok "cost of a SCALE-Sim topology" "total" -- "$MPQ" cost "$TMP/topology.csv" --hw "$SRC/configs/hw/systolic_ws_32x32.yaml"

expect_error "groups: unknown key" "typo.yaml:9: clock_ghz: unknown key" - -- "$MPQ" groups "$MODEL" --hw "$TMP/typo.yaml"
expect_error "cost: unknown key" "typo.yaml:9: clock_ghz: unknown key" - -- "$MPQ" cost "$MODEL" --hw "$TMP/typo.yaml"
expect_error "cost: zero throughput" \
  "zero.yaml:[0-9]+: op_classes.default.macs_per_cycle.W8A8: must be a number > 0" - -- "$MPQ" cost "$MODEL" --hw "$TMP/zero.yaml"
expect_error "groups: missing file" "missing.yaml: cannot open" - -- "$MPQ" groups "$MODEL" --hw "$TMP/missing.yaml"
expect_error "cost: unknown candidate" "W3A3: not a candidate of edge-npu" - -- \
  "$MPQ" cost "$MODEL" --hw "$HW" --candidate W3A3
expect_error "cost: bad --config" "no-such-group: no such quantizer group" - -- \
  "$MPQ" cost "$MODEL" --hw "$HW" --config "$TMP/bad_config.json"
expect_ok "groups --help" "Usage" -- "$MPQ" groups --help
expect_ok "cost --help" "Usage" -- "$MPQ" cost --help

cli_test_finish
