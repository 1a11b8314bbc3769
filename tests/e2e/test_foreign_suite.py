#!/usr/bin/python3
"""End-to-end: the foreign model suite (configs/models/foreign/, scripts/make_foreign_suite.py)
in mpq against onnxruntime.

    /usr/bin/python3 tests/e2e/test_foreign_suite.py MPQ_BINARY SOURCE_DIR [MODEL ...]

Per model, on the first COUNT Fashion-MNIST test images, preprocessed as the model's metadata
says (NHWC for the TensorFlow-style model):
  * FP32: `mpq run --input` against onnxruntime (tools/ort/ort_logits.js, optimization
    'disabled'): every logit within FP32_ATOL + FP32_RTOL x |ort|, the same top-1 class on every
    image; `mpq run --data fashion-mnist:test:COUNT` gives the accuracy of those logits (mpq's
    own reader applies the metadata the same way).
Needs tools/ort/node_modules (scripts/setup.sh).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from fashion_mnist_test_set import load_test_set

MODELS = ("mnv3_opset11", "tf_opset12", "vit_opset13")
COUNT = 1000
FP32_RTOL, FP32_ATOL = 1e-4, 1e-4


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def model_input(model, count):
    import onnx
    meta = {p.key: p.value for p in onnx.load(model).metadata_props}
    x, labels = load_test_set(model, count)
    if meta.get("mpq.input.layout") == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return x, labels


def ort_logits(src, model, x_path, out, level="disabled"):
    p = run(["node", os.path.join(src, "tools", "ort", "ort_logits.js"), "--model", model,
             "--input", x_path, "--output", out, "--threads", "1", "--opt-level", level])
    if p.returncode != 0:
        raise RuntimeError(f"onnxruntime failed on {model}: {p.stderr.strip()}")
    return np.load(out)


def check_fp32(mpq, src, name, tmp):
    errors = []
    model = os.path.join(src, "configs", "models", "foreign", name + ".onnx")
    x, labels = model_input(model, COUNT)
    x_path = os.path.join(tmp, name + ".x.npy")
    np.save(x_path, x)
    want = ort_logits(src, model, x_path, os.path.join(tmp, name + ".ort.npy"))
    out = os.path.join(tmp, name + ".mpq.npy")
    p = run([mpq, "run", model, "--input", x_path, "--output", out, "--threads", "2"])
    if p.returncode != 0:
        return [f"{name}: mpq run --input exited {p.returncode}: {p.stderr.strip()}"], None
    got = np.load(out)
    if got.shape != want.shape:
        return [f"{name}: mpq output shape {got.shape} != onnxruntime's {want.shape}"], None
    diff = np.abs(got.astype(np.float64) - want)
    excess = diff - (FP32_ATOL + FP32_RTOL * np.abs(want))
    if not np.all(np.isfinite(got)):
        errors.append(f"{name}: mpq's FP32 logits contain non-finite values")
    if np.any(excess > 0):
        errors.append(f"{name}: {int((excess > 0).sum())} FP32 logits differ from onnxruntime "
                      f"beyond {FP32_ATOL} + {FP32_RTOL} x |ort| (max {diff.max():.3g})")
    same_class = int((got.argmax(1) == want.argmax(1)).sum())
    if same_class != COUNT:
        errors.append(f"{name}: FP32 top-1 class agrees with onnxruntime on {same_class}/{COUNT}")
    acc_ort = float((want.argmax(1) == labels).mean() * 100)
    acc_mpq_logits = float((got.argmax(1) == labels).mean() * 100)
    p = run([mpq, "run", model, "--data", f"fashion-mnist:test:{COUNT}", "--json", "--threads", "2"])
    if p.returncode != 0:
        errors.append(f"{name}: mpq run --data exited {p.returncode}: {p.stderr.strip()}")
        acc_data = float("nan")
    else:
        acc_data = json.loads(p.stdout)["top1_accuracy"]
        if abs(acc_data - acc_mpq_logits) > 1e-9:
            errors.append(f"{name}: mpq run --data accuracy {acc_data:.2f} != {acc_mpq_logits:.2f} "
                          f"from its logits on the same images preprocessed per the metadata")
    print(f"{name}: FP32 max |mpq - ort| {diff.max():.3g}, top-1 agree {same_class}/{COUNT}, "
          f"accuracy onnxruntime {acc_ort:.2f} mpq {acc_data:.2f} ({COUNT} images)", flush=True)
    return errors, x_path


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    mpq, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    models = sys.argv[3:] or list(MODELS)
    if not os.path.isdir(os.path.join(src, "tools", "ort", "node_modules", "onnxruntime-node")):
        print("FAIL: tools/ort/node_modules/onnxruntime-node missing (run scripts/setup.sh)")
        return 1
    failures = []
    with tempfile.TemporaryDirectory(prefix="mpq_e2e_suite_") as tmp:
        for name in models:
            errors, _ = check_fp32(mpq, src, name, tmp)
            failures += errors
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
