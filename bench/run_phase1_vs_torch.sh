#!/bin/sh
# Phase 1 of mpq against the PyTorch reference (bench/phase1_vs_torch.py; see bench/README.md).
#   bench/run_phase1_vs_torch.sh [--mpq build/cli/mpq] [--models cnn,vit] [--threads 2]
#       [--candidates W8A8,W4A8,W4A4,W2A8] [--model-candidates vit=W8A8,W4A4] [--rounds 1]
#       [--json results.json]
# Needs Debian's python3-torch and python3-onnx: runs /usr/bin/python3 (the python3 first on
# PATH may lack them).
set -eu
cd "$(dirname "$0")/.."
echo "load before: $(cat /proc/loadavg)" >&2
/usr/bin/python3 bench/phase1_vs_torch.py "$@"
echo "load after: $(cat /proc/loadavg)" >&2
