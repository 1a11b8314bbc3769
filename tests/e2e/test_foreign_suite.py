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
  * Export (opsets 11 and 12 go through ONNX's version converter): W8A8 with the default
    settings, calibrated on 256 training images, `mpq export` (opset 21), and at opset 17 too;
    the exported model in onnxruntime against `mpq run --config`: top-1 accuracy on the 10,000
    test images at level 'disabled' (the ONNX semantics, which mpq simulates) within ACC_TOL,
    and on the first 256 of them the logits within MAX_STEPS steps of the logits' quantizer and
    the same class on at least MIN_TOP1_AGREE images (tests/e2e/test_qdq_onnxruntime.py
    explains the tolerances: rounding flips of values at a grid tie); at onnxruntime's default
    level 'all', within ACC_TOL_ALL: there its QDQ fusions run integer kernels that requantize
    with their own rounding (on the ViT, 47 of 10,000 classes differ from level 'disabled',
    which agrees with mpq on all 10,000).
Needs tools/ort/node_modules (scripts/setup.sh).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from e2e_args import mpq_and_source
from fashion_mnist_test_set import load_test_set

MODELS = ("mnv3_opset11", "tf_opset12", "vit_opset13")
COUNT = 1000
FP32_RTOL, FP32_ATOL = 1e-4, 1e-4
ACC_TOL = 0.1         # top-1 points, exported model in onnxruntime vs mpq's simulation
ACC_TOL_ALL = 0.25    # the same at onnxruntime's level 'all' (its fused integer kernels)
MAX_STEPS = 3         # 'disabled' logits: steps of the logits quantizer
MIN_TOP1_AGREE = 250  # of LOGIT_COUNT
LOGIT_COUNT = 256


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


def output_name(model):
    import onnx
    return onnx.load(model).graph.output[0].name


def check_export(mpq, src, name, tmp):
    errors = []
    model = os.path.join(src, "configs", "models", "foreign", name + ".onnx")
    x, labels = model_input(model, None)
    x_all, x_256 = os.path.join(tmp, name + ".xall.npy"), os.path.join(tmp, name + ".x256.npy")
    np.save(x_all, x)
    np.save(x_256, x[:LOGIT_COUNT])
    cfg_path = os.path.join(tmp, name + ".W8A8.json")
    p = run([mpq, "quantize", model, "--candidate", "W8A8", "--calib", "fashion-mnist:train:256",
             "-o", cfg_path, "--threads", "2"])
    if p.returncode != 0:
        return [f"{name}: mpq quantize exited {p.returncode}: {p.stderr.strip()}"]
    with open(cfg_path) as f:
        cfg = json.load(f)
    step = cfg["quantizers"][output_name(model)]["scale"][0]
    y_mpq = os.path.join(tmp, name + ".W8A8.mpq.npy")
    p = run([mpq, "run", model, "--config", cfg_path, "--input", x_256, "--output", y_mpq,
             "--threads", "2"])
    if p.returncode != 0:
        return [f"{name}: mpq run --config exited {p.returncode}: {p.stderr.strip()}"]
    ref = np.load(y_mpq).astype(np.float64)
    p = run([mpq, "run", model, "--config", cfg_path, "--data", "fashion-mnist:test", "--json",
             "--threads", "2"])
    if p.returncode != 0:
        return [f"{name}: mpq run --config --data exited {p.returncode}: {p.stderr.strip()}"]
    acc_mpq = json.loads(p.stdout)["top1_accuracy"]
    for opset in ("21", "17"):
        tag = f"{name} W8A8 opset {opset}"
        qdq = os.path.join(tmp, f"{name}.W8A8.{opset}.qdq.onnx")
        p = run([mpq, "export", model, "--config", cfg_path, "-o", qdq, "--opset", opset, "--json"])
        if p.returncode != 0:
            errors.append(f"{tag}: mpq export exited {p.returncode}: {p.stderr.strip()}")
            continue
        counts = json.loads(p.stdout)
        try:
            semantics = ort_logits(src, qdq, x_all, qdq + ".disabled.npy", "disabled")
            full = ort_logits(src, qdq, x_all, qdq + ".all.npy", "all")
        except RuntimeError as e:
            errors.append(f"{tag}: {e}")
            continue
        spec = semantics[:LOGIT_COUNT]
        d = np.abs(spec.astype(np.float64) - ref)
        agree = int((spec.argmax(1) == ref.argmax(1)).sum())
        acc_ort = float((semantics.argmax(1) == labels).mean() * 100)
        acc_all = float((full.argmax(1) == labels).mean() * 100)
        print(f"{tag}: {counts['quantize_linear']} Q / {counts['dequantize_linear']} DQ; accuracy "
              f"mpq {acc_mpq:.2f} onnxruntime {acc_ort:.2f} (level 'all' {acc_all:.2f}); "
              f"'disabled' logits max |diff| "
              f"{d.max():.4g} ({d.max() / step:.1f} steps), {int((d > 0).sum())}/{d.size} differ, "
              f"top-1 agree {agree}/{LOGIT_COUNT}", flush=True)
        if abs(acc_mpq - acc_ort) > ACC_TOL + 1e-9:
            errors.append(f"{tag}: accuracy mpq {acc_mpq:.2f} vs onnxruntime {acc_ort:.2f} differs "
                          f"by more than {ACC_TOL} point")
        if abs(acc_mpq - acc_all) > ACC_TOL_ALL + 1e-9:
            errors.append(f"{tag}: accuracy mpq {acc_mpq:.2f} vs onnxruntime level 'all' "
                          f"{acc_all:.2f} differs by more than {ACC_TOL_ALL} point")
        if d.max() > MAX_STEPS * step * (1 + 1e-6):
            errors.append(f"{tag}: 'disabled' logits differ by {d.max() / step:.2f} steps "
                          f"(> {MAX_STEPS}): the exported graph computes something else than "
                          f"mpq's simulation")
        if agree < MIN_TOP1_AGREE:
            errors.append(f"{tag}: top-1 agrees on {agree}/{LOGIT_COUNT} < {MIN_TOP1_AGREE}")
    return errors


def main():
    mpq, src, rest = mpq_and_source(__doc__, need_onnxruntime=True)
    models = rest or list(MODELS)
    failures = []
    with tempfile.TemporaryDirectory(prefix="mpq_e2e_suite_") as tmp:
        for name in models:
            errors, _ = check_fp32(mpq, src, name, tmp)
            failures += errors
            failures += check_export(mpq, src, name, tmp)
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
