#!/usr/bin/env bash
# `mpq explore` on every bundled model (configs/experiments/{default,mobilenet,resnet,vit}.yaml)
# and the table of the README's phase-2 section: per model and accelerator, the front size, the
# evaluations each accuracy-bound search needed, and the chosen configuration for a 1-point bound.
#
#   scripts/explore_all.sh [MPQ_BINARY] [OUT_DIR]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
MPQ=${1:-$SRC/build/cli/mpq}
OUT=${2:-$SRC/results}
echo "| model | accelerator | float | front points | binary | interpolation | brute force | reverse | bisection | chosen accuracy | chosen BOPs / baseline | chosen latency / baseline |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for e in default mobilenet resnet vit; do
  name=$e
  [ "$e" = default ] && name=cnn
  "$MPQ" explore "$SRC/configs/experiments/$e.yaml" --output "$OUT/explore-$name" --quiet --json \
    >"$OUT/explore-$name.json"
  /usr/bin/python3 - "$name" "$OUT/explore-$name.json" <<'PYEOF'
import json, sys
name, x = sys.argv[1], json.load(open(sys.argv[2]))
for a in x["accelerators"]:
    acc = a["accelerator"]
    s = {t["method"].split(" (")[0]: t for t in a["searches"]}
    base = a["front"][0]["cost"][acc]
    ch = a["chosen"]
    print(f"| {name} | {acc} | {x['float_score']:.2f} | {len(a['front'])} | "
          f"{s['binary search']['evaluations']} | {s['interpolation search']['evaluations']} | "
          f"{s['brute force']['evaluations']} | {s['reverse']['evaluations']} | "
          f"{s['sensitivity-guided bisection']['evaluations']} | {ch['score']:.2f} | "
          f"{ch['cost'][acc]['bops'] / base['bops']:.3f} | {ch['cost'][acc]['latency'] / base['latency']:.3f} |")
PYEOF
done
