#!/usr/bin/env bash
# The README's AdaRound-in-the-explorer table and plot: `mpq explore` on every bundled model
# with the Bit Fusion accelerator (2-bit weights), once with round-to-nearest weights and once
# with AdaRound (every (weight, format) pair learned once and spliced into every front point),
# the same experiment otherwise: 256 calibration images (ranges, phase-1 SQNR, AdaRound's
# moments), phase-2 accuracy on EVAL test images, bound = float accuracy - 1 point.
# Prints the table (front size and the cheapest configuration within the bound, each way) and
# draws both fronts of every model on one figure with gnuplot:
# OUT/adaround_fronts_bitfusion.{png,svg} (the README's copy: docs/plots/).
#
#   [MODELS="cnn resnet"] [EVAL=1000] [ITERS=10000] scripts/adaround_fronts.sh [MPQ] [OUT]
#   PLOT_ONLY=1 MODELS=... scripts/adaround_fronts.sh [MPQ] [OUT]   # table and plot of runs done
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
MPQ=${1:-$SRC/build/cli/mpq}
OUT=${2:-$SRC/results/adaround_fronts}
EVAL=${EVAL:-1000}
ITERS=${ITERS:-10000}
MODELS=${MODELS:-cnn mobilenet resnet vit}
mkdir -p "$OUT"
for m in $MODELS; do
  [ -n "${PLOT_ONLY:-}" ] && continue
  cat >"$OUT/$m.yaml" <<EOF
model: $SRC/configs/models/$m.onnx
data:
  calibration: fashion-mnist:train:256
  evaluation: fashion-mnist:test:$EVAL
accelerators: [$SRC/configs/hw/bitfusion.yaml]
sensitivity: {metric: sqnr, samples: 256, batch: 64}
ranges: {adaround_iters: $ITERS}
search:
  accuracy_drop: 1.0
  homogeneous: [W8A8, W4A8, W2A8]
output: $OUT/$m-nearest
EOF
  for r in nearest adaround; do
    "$MPQ" explore "$OUT/$m.yaml" --weight-rounding "$r" --output "$OUT/$m-$r" --quiet \
      --no-plots --json >"$OUT/$m-$r.json"
  done
done
/usr/bin/python3 - "$OUT" $MODELS <<'PYEOF'
import json, os, subprocess, sys
out, models = sys.argv[1], sys.argv[2:]
print("| model | float | weights | front points | chosen accuracy | chosen BOPs / baseline "
      "| chosen latency / baseline | chosen energy / baseline | chosen weight memory / baseline |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
plots = []
for m in models:
    for r in ("nearest", "adaround"):
        x = json.load(open(os.path.join(out, f"{m}-{r}.json")))
        a = x["accelerators"][0]
        acc = a["accelerator"]
        base = a["front"][0]["cost"][acc]
        ch = a["chosen"]
        rel = {k: ch["cost"][acc][k] / base[k] for k in ("bops", "latency", "energy", "memory")}
        print(f"| {m} | {x['float_score']:.2f} | {r} | {len(a['front'])} | {ch['score']:.2f} | "
              f"{rel['bops']:.3f} | {rel['latency']:.3f} | {rel['energy']:.3f} | "
              f"{rel['memory']:.3f} |")
        path = os.path.join(out, f"{m}-{r}.dat")
        with open(path, "w") as f:
            for p in a["front"]:
                f.write(f"{p['cost'][acc]['bops'] / base['bops']} {p['score']}\n")
        plots.append((m, r, path, x["float_score"]))
script = []
for term, ext in (("pngcairo size 1400,1000 font ',11'", "png"), ("svg size 1400,1000", "svg")):
    script += [f"set terminal {term}", f"set output '{out}/adaround_fronts_bitfusion.{ext}'",
               "set multiplot layout 2,2 title 'Bit Fusion: Pareto fronts, round-to-nearest vs "
               "AdaRound weights (phase-2 accuracy on the test images)'"]
    for m in models:
        rows = [p for p in plots if p[0] == m]
        fl = rows[0][3]
        script += [f"set title '{m}'", "set xlabel 'BOPs / baseline (W8A8)'",
                   "set ylabel 'top-1 accuracy (%)'", "set key bottom right", "set grid",
                   f"set yrange [{fl - 6}:{fl + 1}]", "set xrange [0:1.02]"]
        script.append("plot " + ", ".join(
            [f"'{p[2]}' using 1:2 with linespoints title '{p[1]}'" for p in rows] +
            [f"{fl - 1} with lines dashtype 2 title 'float - 1 point'"]))
    script.append("unset multiplot")
subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
PYEOF
