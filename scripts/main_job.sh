#!/usr/bin/env bash
# The README's main command: sets everything up, then runs the main job, `mpq explore`, on the
# bundled default experiment (configs/experiments/default.yaml: the CNN, Fashion-MNIST, the
# edge NPU and the Bit Fusion accelerator). Results, plots and report.md go to results/default
# (phase 1 is cached there: a rerun resumes).
# Usage: scripts/main_job.sh [EXPERIMENT.yaml] [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
EXPERIMENT="${1:-configs/experiments/default.yaml}"
OUT="${2:-results/default}"
MPQ="${MPQ_BUILD_DIR:-build}/cli/mpq"
"$MPQ" explore "$EXPERIMENT" --output "$OUT"
echo "report: $OUT/report.md"
