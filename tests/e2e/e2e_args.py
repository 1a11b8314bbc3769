"""What the end-to-end Python tests share: their arguments (MPQ_BINARY SOURCE_DIR [...]) and the
experiment files they hand to `mpq explore`."""
import os
import sys


def mpq_and_source(doc, need_onnxruntime=False):
    """(mpq, src, rest) from the command line. Exits 2 with `doc` on too few arguments, and 1
    when the mpq binary or (with need_onnxruntime) tools/ort's onnxruntime is missing."""
    if len(sys.argv) < 3:
        print(doc, file=sys.stderr)
        sys.exit(2)
    mpq, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not os.access(mpq, os.X_OK):
        print(f"FAIL: mpq binary {mpq} does not exist or is not executable", file=sys.stderr)
        sys.exit(1)
    if need_onnxruntime and not os.path.isdir(
            os.path.join(src, "tools", "ort", "node_modules", "onnxruntime-node")):
        print("FAIL: tools/ort/node_modules/onnxruntime-node is missing: run scripts/setup.sh "
              "(or `cd tools/ort && npm install --ignore-scripts`)", file=sys.stderr)
        sys.exit(1)
    return mpq, src, sys.argv[3:]


def write_experiment(path, model, accelerators, homogeneous, output, samples, evaluation,
                     search_extra="", top_extra=""):
    """An experiment YAML at `path`: `samples` calibration images (also phase 1's samples,
    batch 64), `evaluation` test images, accuracy drop 1.0; returns `path`."""
    with open(path, "w") as f:
        f.write(f"""model: {model}
data:
  calibration: fashion-mnist:train:{samples}
  evaluation: fashion-mnist:test:{evaluation}
accelerators: [{", ".join(accelerators)}]
sensitivity: {{samples: {samples}, batch: 64}}
search:
  accuracy_drop: 1.0
  homogeneous: [{", ".join(homogeneous)}]
{search_extra}
output: {output}
{top_extra}""")
    return path
