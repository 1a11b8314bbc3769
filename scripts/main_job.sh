#!/usr/bin/env bash
# The README's main command: sets everything up, then runs the main job on the bundled default
# (configs/models/cnn.onnx on the Fashion-MNIST test set) and writes a report.
# Usage: scripts/main_job.sh [MODEL.onnx] [OUTPUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
MODEL="${1:-configs/models/cnn.onnx}"
OUT="${2:-results/default}"
MPQ="${MPQ_BUILD_DIR:-build}/cli/mpq"
mkdir -p "$OUT"
tmp=$(mktemp -d "$OUT/.partial.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$MPQ" inspect "$MODEL" | tee "$tmp/layers.txt"
"$MPQ" inspect "$MODEL" --json > "$tmp/layers.json"
"$MPQ" run "$MODEL" --data fashion-mnist:test --json > "$tmp/accuracy.json"
acc=$(sed -n 's/.*"top1_accuracy": \([0-9.]*\).*/\1/p' "$tmp/accuracy.json")
{
  echo "# mpq report: $(basename "$MODEL")"
  echo
  echo "FP32 top-1 accuracy on the Fashion-MNIST test set (10,000 images): **${acc}%**"
  echo
  echo "Reproduce: \`$MPQ run $MODEL --data fashion-mnist:test\`"
  echo
  echo '## Layers'
  echo
  echo '```'
  cat "$tmp/layers.txt"
  echo '```'
} > "$tmp/report.md"
# Only complete results replace the previous ones.
for f in layers.txt layers.json accuracy.json report.md; do mv "$tmp/$f" "$OUT/$f"; done
printf 'top-1 accuracy %s%%\nreport: %s/report.md\n' "$acc" "$OUT"
