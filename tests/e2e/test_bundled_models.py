#!/usr/bin/python3
"""End-to-end: mpq against PyTorch on the bundled Fashion-MNIST models.

    /usr/bin/python3 tests/e2e/test_bundled_models.py MPQ_BINARY SOURCE_DIR [MODEL ...]

For each configs/models/NAME.onnx with NAME.pt beside it (or only the MODELs named):
  * scripts/torch_reference.py: PyTorch's accuracy on the 10,000 test images, the logits of
    the first 256 and those 256 preprocessed images (--inputs-out);
  * `mpq run NAME.onnx --data fashion-mnist:test --json`: top-1 accuracy within 0.05 points
    of PyTorch's;
  * `mpq run NAME.onnx --input x.npy --output y.npy` on the 256 images: logits within
    rtol 1e-4, atol 1e-5 of PyTorch's.
Everything runs with 2 threads. Prints a table: model, torch acc, mpq acc, max abs logit diff.
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from e2e_args import mpq_and_source

RTOL, ATOL = 1e-4, 1e-5
ACC_TOL = 0.05  # percentage points
COUNT = 256
THREADS = "2"


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def check_model(mpq, src, models_dir, name, tmp):
    errors = []
    logits_ref = os.path.join(tmp, name + ".torch_logits.npy")
    inputs = os.path.join(tmp, name + ".inputs.npy")
    logits_mpq = os.path.join(tmp, name + ".mpq_logits.npy")
    model = os.path.join(models_dir, name + ".onnx")
    row = {"model": name, "torch": float("nan"), "mpq": float("nan"), "diff": float("nan")}

    p = run([sys.executable, os.path.join(src, "scripts", "torch_reference.py"), "--model", name,
             "--models-dir", models_dir, "--count", str(COUNT), "--logits-out", logits_ref,
             "--inputs-out", inputs, "--json", "--threads", THREADS])
    if p.returncode != 0:
        return row, [f"{name}: torch_reference.py exited {p.returncode}: {p.stderr.strip()}"]
    torch_res = json.loads(p.stdout.strip().splitlines()[-1])
    row["torch"] = 100.0 * torch_res["correct"] / torch_res["total"]

    p = run([mpq, "run", model, "--data", "fashion-mnist:test", "--json", "--threads", THREADS])
    if p.returncode != 0:
        errors.append(f"{name}: mpq run --data exited {p.returncode}: {p.stderr.strip()}")
    else:
        res = json.loads(p.stdout)
        if res["total"] != torch_res["total"]:
            errors.append(f"{name}: mpq evaluated {res['total']} images, PyTorch {torch_res['total']}")
        row["mpq"] = 100.0 * res["correct"] / res["total"]
        if abs(row["mpq"] - row["torch"]) > ACC_TOL + 1e-9:
            errors.append(f"{name}: mpq accuracy {row['mpq']:.2f}% ({res['correct']}/{res['total']}) "
                          f"differs from PyTorch's {row['torch']:.2f}% ({torch_res['correct']}/"
                          f"{torch_res['total']}) by more than {ACC_TOL} points")

    p = run([mpq, "run", model, "--input", inputs, "--output", logits_mpq, "--threads", THREADS])
    if p.returncode != 0:
        errors.append(f"{name}: mpq run --input exited {p.returncode}: {p.stderr.strip()}")
        return row, errors
    got, want = np.load(logits_mpq), np.load(logits_ref)
    if got.shape != want.shape:
        errors.append(f"{name}: mpq logits shape {list(got.shape)} != PyTorch's {list(want.shape)}")
        return row, errors
    g, w = got.astype(np.float64), want.astype(np.float64)
    diff = np.abs(g - w)
    row["diff"] = float(np.nanmax(diff)) if np.all(np.isfinite(g)) else float("inf")
    excess = diff - (ATOL + RTOL * np.abs(w))
    if not np.all(np.isfinite(g)) or np.any(excess > 0):
        worst = np.unravel_index(int(np.nanargmax(diff)), diff.shape)
        n_bad = int(np.sum(~(excess <= 0)))
        errors.append(f"{name}: {n_bad}/{diff.size} logits differ from PyTorch's beyond rtol {RTOL}, "
                      f"atol {ATOL}; max abs diff {diff[worst]:.3g} at [image {worst[0]}, class "
                      f"{worst[1]}] (mpq {g[worst]:.7g}, torch {w[worst]:.7g})")
    return row, errors


def main():
    mpq, src, rest = mpq_and_source(__doc__)
    models_dir = os.path.join(src, "configs", "models")
    names = rest or sorted(
        os.path.basename(p)[:-5] for p in glob.glob(os.path.join(models_dir, "*.onnx"))
        if os.path.exists(p[:-5] + ".pt"))
    if not names:
        print(f"FAIL: no configs/models/*.onnx with a .pt beside it in {models_dir}", file=sys.stderr)
        return 1

    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="mpq_e2e_bundled_") as tmp:
        for name in names:
            row, errors = check_model(mpq, src, models_dir, name, tmp)
            rows.append(row)
            failures += errors
            print(f"{name}: {'FAIL' if errors else 'ok'}", flush=True)

    print(f"\n{'model':<12} {'torch acc %':>11} {'mpq acc %':>10} {'max|logit diff|':>16}")
    for r in rows:
        print(f"{r['model']:<12} {r['torch']:>11.2f} {r['mpq']:>10.2f} {r['diff']:>16.3g}")
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"\nall {len(rows)} bundled models match PyTorch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
