#!/usr/bin/python3
"""End-to-end: mpq against onnxruntime on the hand-built "foreign" models.

    /usr/bin/python3 tests/e2e/test_foreign_models.py MPQ_BINARY SOURCE_DIR [--keep DIR]

Runs scripts/make_foreign_models.py into a temporary directory (it writes NAME.onnx,
NAME.input.npy and NAME.ort.npy, onnxruntime's output through tools/ort), then for each model
checks that
  * `mpq run NAME.onnx --input NAME.input.npy --output out.npy` matches NAME.ort.npy
    (rtol 1e-4, atol 1e-5, element-wise |mpq - ort| <= atol + rtol * |ort|),
  * `mpq inspect NAME.onnx --json` works, and for foreign_opset9 lists no BatchNormalization
    (it must be folded into the preceding Conv),
  * the foreign_patterns_* models are canonicalized into the expected fused ops (the patterns
    and counts of `mpq inspect --json`), with fewer quantizers than with --no-canonicalize
    (both counts printed), and the onnxruntime comparison above runs on the canonicalized graph;
  * foreign_patterns_transformer (opset 13) quantized at W8A8 and exported at opsets 13, 17
    and 21, where its fused ops are written as their subgraphs or as ONNX ops (LayerNormalization
    from 17, Gelu from 20, never mpq's own domain), runs in onnxruntime with logits within
    EXPORT_MAX_STEPS steps of the logits quantizer of `mpq run --config`.
Needs tools/ort/node_modules (scripts/setup.sh installs it).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from e2e_args import mpq_and_source

RTOL, ATOL = 1e-4, 1e-5
EXPORT_MAX_STEPS = 2
MODELS = ("foreign_opset9", "foreign_opset11", "foreign_opset13", "foreign_patterns_cnn",
          "foreign_patterns_transformer")
# What the canonicalization pass must find in the models written out op by op.
EXPECTED_PATTERNS = {
    "foreign_patterns_cnn": {"affine chain": 4, "HardSwish": 1, "HardSigmoid": 1,
                             "gated Mul": 1, "SiLU": 1, "Softplus": 1, "Mish": 1},
    "foreign_patterns_transformer": {"affine chain": 1, "LayerNormalization": 2, "GELU": 1,
                                     "GELU (tanh)": 1, "RMSNorm": 1},
}


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
            if name in EXPECTED_PATTERNS:
                errors += check_canonical(mpq, model, name, doc.get("canonicalized", {}))
    return diff, len(ops), errors


def quantizer_count(mpq, model, extra):
    p = run([mpq, "inspect", model, "--quantizers", "--json"] + extra)
    if p.returncode != 0:
        return None, p.stderr.strip()
    return len(json.loads(p.stdout)["quantizers"]), None


def check_canonical(mpq, model, name, report):
    errors = []
    counts = {}
    for r in report.get("rewrites", []):
        counts[r["pattern"]] = counts.get(r["pattern"], 0) + 1
    if counts != EXPECTED_PATTERNS[name]:
        errors.append(f"{name}: canonicalized {counts}, expected {EXPECTED_PATTERNS[name]}")
    if report.get("unfused"):
        errors.append(f"{name}: patterns left unfused: {report['unfused']}")
    after, err = quantizer_count(mpq, model, [])
    before, err2 = quantizer_count(mpq, model, ["--no-canonicalize"])
    if err or err2:
        errors.append(f"{name}: mpq inspect --quantizers failed: {err or err2}")
    else:
        print(f"  {name}: {before} quantizers as exported, {after} after canonicalization "
              f"({report.get('summary')})")
        if not after < before:
            errors.append(f"{name}: {after} quantizers after canonicalization, {before} before")
    return errors


def export_ops(path):
    import onnx
    m = onnx.load(path)  # (mpq export ran onnx::checker; Debian's Python checker stops at IR 8)
    return {(n.domain, n.op_type) for n in m.graph.node}


def check_export(mpq, src, work, name):
    """W8A8 through mpq export at three opsets, run in onnxruntime against mpq's simulation."""
    errors = []
    model = os.path.join(work, name + ".onnx")
    inp = os.path.join(work, name + ".input.npy")
    cfg = os.path.join(work, name + ".w8a8.json")
    sim = os.path.join(work, name + ".w8a8.mpq.npy")
    p = run([mpq, "quantize", model, "--candidate", "W8A8", "--calib", inp, "-o", cfg])
    if p.returncode != 0:
        return [f"{name}: mpq quantize exited {p.returncode}: {p.stderr.strip()}"]
    p = run([mpq, "run", model, "--config", cfg, "--input", inp, "--output", sim])
    if p.returncode != 0:
        return [f"{name}: mpq run --config exited {p.returncode}: {p.stderr.strip()}"]
    want = np.load(sim).astype(np.float64)
    for opset in (13, 17, 21):
        qdq = os.path.join(work, f"{name}.opset{opset}.qdq.onnx")
        enc = os.path.join(work, f"{name}.opset{opset}.encodings.json")
        p = run([mpq, "export", model, "--config", cfg, "-o", qdq, "--encodings", enc,
                 "--opset", str(opset)])
        if p.returncode != 0:
            errors.append(f"{name}: mpq export --opset {opset} exited {p.returncode}: "
                          f"{p.stderr.strip()}")
            continue
        ops = export_ops(qdq)
        if any(d == "mpq" for d, _ in ops):
            errors.append(f"{name}: the opset-{opset} export has ops of mpq's domain: {ops}")
        for op, since in (("LayerNormalization", 17), ("Gelu", 20)):
            if (("", op) in ops) != (opset >= since):
                errors.append(f"{name}: the opset-{opset} export {'lacks' if opset >= since else 'has'} {op}")
        with tempfile.TemporaryDirectory(prefix="mpq_ort_") as tmp:
            p = run(["node", os.path.join(src, "tools", "ort", "ort_run.js"), "--model", qdq,
                     "--input", f"image={inp}", "--output-dir", tmp, "--threads", "1"])
            if p.returncode != 0:
                errors.append(f"{name}: onnxruntime on the opset-{opset} export: {p.stderr.strip()}")
                continue
            got = np.load(os.path.join(tmp, "logits.npy")).astype(np.float64)
        with open(enc) as f:
            step = json.load(f)["activation_encodings"]["logits"]
        step = (step[0] if isinstance(step, list) else step)["scale"]
        step = step[0] if isinstance(step, list) else step
        steps = float(np.max(np.abs(got - want))) / step
        print(f"  {name}: W8A8 export at opset {opset}: onnxruntime within {steps:.2f} steps "
              f"of mpq's logits")
        if not steps <= EXPORT_MAX_STEPS:
            errors.append(f"{name}: the opset-{opset} export differs from mpq by {steps:.2f} "
                          f"logit steps (at most {EXPORT_MAX_STEPS})")
    return errors


def main():
    mpq, src, rest = mpq_and_source(__doc__, need_onnxruntime=True)
    keep = rest[1] if len(rest) >= 2 and rest[0] == "--keep" else None

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
        failures += check_export(mpq, src, work, "foreign_patterns_transformer")
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("all foreign models match onnxruntime")
    return 0


if __name__ == "__main__":
    sys.exit(main())
