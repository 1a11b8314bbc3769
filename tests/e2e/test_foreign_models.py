#!/usr/bin/python3
"""End-to-end: mpq against onnxruntime on the hand-built "foreign" models.

    /usr/bin/python3 tests/e2e/test_foreign_models.py MPQ_BINARY SOURCE_DIR [--keep DIR]

Runs scripts/make_foreign_models.py into a temporary directory (it writes NAME.onnx,
NAME.input.npy and NAME.ort.npy, onnxruntime's output through tools/ort), then for each model
checks that
  * `mpq run NAME.onnx --input NAME.input.npy --output out.npy` matches NAME.ort.npy
    (rtol 1e-4, atol 1e-5, element-wise |mpq - ort| <= atol + rtol * |ort|),
  * `mpq inspect NAME.onnx --json` works, and for foreign_opset9 lists no BatchNormalization
    (it must be folded into the preceding Conv).
Needs tools/ort/node_modules (scripts/setup.sh installs it).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

RTOL, ATOL = 1e-4, 1e-5
MODELS = ("foreign_opset9", "foreign_opset11", "foreign_opset13")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def compare(name, got, want):
    """Returns an error message, or None when `got` matches `want`."""
    if got.shape != want.shape:
        return f"{name}: output shape {list(got.shape)} != onnxruntime's {list(want.shape)}"
    if got.dtype != want.dtype:
        return f"{name}: output dtype {got.dtype} != onnxruntime's {want.dtype}"
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not np.all(np.isfinite(g)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0])
        return f"{name}: non-finite output {g[bad]} at index {bad}"
    diff = np.abs(g - w)
    excess = diff - (ATOL + RTOL * np.abs(w))
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    if np.any(excess > 0):
        first = np.unravel_index(int(np.argmax(excess)), excess.shape)
        n_bad = int(np.sum(excess > 0))
        return (f"{name}: {n_bad}/{diff.size} elements differ from onnxruntime beyond rtol {RTOL}, "
                f"atol {ATOL}; max abs diff {diff[worst]:.3g} at index {tuple(map(int, worst))} "
                f"(mpq {g[worst]:.7g}, ort {w[worst]:.7g}); worst relative to tolerance at "
                f"{tuple(map(int, first))} (mpq {g[first]:.7g}, ort {w[first]:.7g})")
    return None


def check_model(mpq, tmp, name):
    errors = []
    model = os.path.join(tmp, name + ".onnx")
    inp = os.path.join(tmp, name + ".input.npy")
    out = os.path.join(tmp, name + ".mpq.npy")
    want = np.load(os.path.join(tmp, name + ".ort.npy"))

    p = run([mpq, "run", model, "--input", inp, "--output", out, "--threads", "2"])
    if p.returncode != 0:
        errors.append(f"{name}: mpq run exited {p.returncode}: {p.stderr.strip()}")
        diff = float("nan")
    elif not os.path.exists(out):
        errors.append(f"{name}: mpq run exited 0 but wrote no {out}")
        diff = float("nan")
    else:
        got = np.load(out)
        msg = compare(name, got, want)
        if msg:
            errors.append(msg)
        diff = (float(np.max(np.abs(got.astype(np.float64) - want)))
                if got.shape == want.shape else float("inf"))

    p = run([mpq, "inspect", model, "--json"])
    ops = []
    if p.returncode != 0:
        errors.append(f"{name}: mpq inspect --json exited {p.returncode}: {p.stderr.strip()}")
    else:
        try:
            doc = json.loads(p.stdout)
            ops = [layer["op"] for layer in doc["layers"]]
        except (ValueError, KeyError, TypeError) as e:
            errors.append(f"{name}: mpq inspect --json printed no valid layer list ({e}): "
                          f"{p.stdout[:300]!r}")
        else:
            if not ops:
                errors.append(f"{name}: mpq inspect --json lists no layers")
            if name == "foreign_opset9":
                if "BatchNormalization" in ops:
                    errors.append(f"{name}: BatchNormalization was not folded into the Conv "
                                  f"(inspect lists ops {ops})")
                if "Conv" not in ops:
                    errors.append(f"{name}: inspect lists no Conv (ops {ops})")
    return diff, len(ops), errors


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    mpq, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not os.access(mpq, os.X_OK):
        print(f"FAIL: mpq binary {mpq} does not exist or is not executable", file=sys.stderr)
        return 1
    keep = sys.argv[4] if len(sys.argv) >= 5 and sys.argv[3] == "--keep" else None
    if not os.path.isdir(os.path.join(src, "tools", "ort", "node_modules", "onnxruntime-node")):
        print("FAIL: tools/ort/node_modules/onnxruntime-node is missing: run scripts/setup.sh "
              "(or `cd tools/ort && npm install --ignore-scripts`)", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="mpq_e2e_foreign_") as tmp:
        work = keep or tmp
        os.makedirs(work, exist_ok=True)
        p = run([sys.executable, os.path.join(src, "scripts", "make_foreign_models.py"), "--out", work])
        print(p.stdout, end="")
        if p.returncode != 0:
            print(f"FAIL: make_foreign_models.py exited {p.returncode}:\n{p.stderr}", file=sys.stderr)
            return 1

        failures = []
        print(f"{'model':<18} {'layers':>6} {'max|mpq-ort|':>13}  result")
        for name in MODELS:
            diff, n_layers, errors = check_model(mpq, work, name)
            print(f"{name:<18} {n_layers:>6} {diff:>13.3g}  {'FAIL' if errors else 'ok'}")
            failures += errors
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("all foreign models match onnxruntime")
    return 0


if __name__ == "__main__":
    sys.exit(main())
