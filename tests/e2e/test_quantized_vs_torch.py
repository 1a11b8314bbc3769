#!/usr/bin/python3
"""End-to-end: mpq's fake-quantized logits against an independent PyTorch reference.

    /usr/bin/python3 tests/e2e/test_quantized_vs_torch.py MPQ_BINARY SOURCE_DIR [MODEL ...]
        [--candidates W8A8,W4A8] [--diagnose]

For each bundled model (configs/models/{cnn,mobilenet,resnet,vit}.onnx, or the MODELs named)
and each candidate (W8A8 and W4A8):
  * `mpq quantize MODEL --candidate C --calib fashion-mnist:train:256 -o cfg.json`;
  * the first 256 Fashion-MNIST test images, preprocessed as the ONNX metadata says;
  * `mpq run MODEL --config cfg.json --input x.npy --output y.npy` against
    scripts/torch_qdq_reference.py (the ONNX graph executed node by node with torch ops and
    torch.fake_quantize_per_*_affine applied to every tensor the configuration names).
Measured over the 256 x 10 logits: the norm-wise relative error ||y_mpq - y_ref|| / ||y_ref||,
the element-wise max relative error max |y_mpq - y_ref| / |y_ref| (over |y_ref| >= 1e-3 of
the largest logit), the max absolute error and top-1 agreement. The same numbers are printed
for FP32 (no configuration) as the floor the engines' different summation orders leave.

What is asserted, and why not an element-wise 1e-5: mpq and PyTorch sum convolutions and
matrix products in different orders, so a pre-quantization activation differs by ~1e-7
relative between them. An element that lands that close to a rounding boundary of its
quantizer rounds to neighbouring grid points in the two engines (one quantization step apart,
~1e-2 relative at 8 bits), and the step propagates to the logits. These flips are not bugs;
they are counted with --diagnose (every quantized activation is exposed as an extra model
output and compared). Asserted per model and candidate:
  * norm-wise relative error <= NORM_RTOL (1e-5, the issue's figure);
  * top-1 agreement on >= 255/256 images (a flip may decide a near-tied image);
  * FP32 logits within 1e-5 norm-wise (the floor is well below it).
Exit code 1 with the measurements on failure.
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

NORM_RTOL = 1e-5
MIN_TOP1_AGREE = 255
COUNT = 256
THREADS = "2"
MODELS = ("cnn", "mobilenet", "resnet", "vit")
CANDIDATES = ("W8A8", "W4A8")
DATA_DIR = "/usr/share/datasets/fashion-mnist"


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def load_images(model_path, count):
    """First `count` test images, preprocessed per the model's mpq.input.* metadata."""
    import onnx
    meta = {p.key: p.value for p in onnx.load(model_path, load_external_data=False).metadata_props}
    scale = np.float32(float(meta.get("mpq.input.scale", 1.0)))
    mean = np.float32(float(meta.get("mpq.input.mean", 0.0)))
    std = np.float32(float(meta.get("mpq.input.std", 1.0)))
    with gzip.open(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[4 * k:4 * k + 4], "big") for k in (1, 2, 3))
    px = np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, rows, cols)[:count]
    x = px.astype(np.float32) * scale
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


def metrics(got, want):
    g, w = got.astype(np.float64), want.astype(np.float64)
    d = np.abs(g - w)
    big = np.abs(w) >= 1e-3 * np.abs(w).max()
    return {
        "norm_rel": float(np.linalg.norm(g - w) / np.linalg.norm(w)),
        "max_rel": float(np.max(d[big] / np.abs(w[big]))),
        "max_abs": float(d.max()),
        "top1": int(np.sum(g.argmax(1) == w.argmax(1))),
        "n_diff": int(np.sum(d > 0)),
    }


def diagnose(mpq, src, model, cfg_path, x_path, tmp, tag):
    """Per activation quantizer, how many elements differ between the engines.

    A copy of the model exposes every activation quantizer's tensor as a graph output (mpq
    writes them with --output-dir; exposing a fused op's output tensor does not change the
    placement of the quantizers named); the reference keeps every value it computes."""
    import onnx
    sys.path.insert(0, os.path.join(src, "scripts"))
    import torch
    import torch_qdq_reference as ref

    with open(cfg_path) as f:
        cfg = json.load(f)
    acts = [n for n, q in cfg["quantizers"].items()
            if q.get("kind") == "activation" and "scale" in q]
    m = onnx.load(model)
    present = {o.name for o in m.graph.output} | {i.name for i in m.graph.input}
    for name in acts:
        if name not in present:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    exposed = os.path.join(tmp, tag + ".exposed.onnx")
    onnx.save(m, exposed)
    out_dir = os.path.join(tmp, tag + ".outs")
    p = run([mpq, "run", exposed, "--config", cfg_path, "--input", x_path, "--output-dir",
             out_dir, "--threads", THREADS])
    if p.returncode != 0:
        return [f"  (diagnosis failed: mpq run exited {p.returncode}: {p.stderr.strip()})"]
    torch.set_num_threads(int(THREADS))
    _, values = ref.run(model, cfg, np.load(x_path), all_values=True)

    lines, first, total = [], None, 0
    order = [n for n in values if n in set(acts)]  # production order
    for name in order:
        safe = name.replace("/", "_").replace("\\", "_").replace(":", "_")
        path = os.path.join(out_dir, safe + ".npy")
        if not os.path.exists(path):
            continue  # the model input: identical by construction
        got = np.load(path).astype(np.float64)
        want = values[name].numpy().astype(np.float64)
        step = float(cfg["quantizers"][name]["scale"][0])
        d = np.abs(got - want)
        n_diff = int(np.sum(d > 0))
        n_step = int(np.sum(np.abs(d - step) <= 1e-3 * step))
        total += n_diff
        if n_diff and first is None:
            first = name
            # The first disagreement can only be a rounding flip on a near-tie input.
        lines.append(f"    {name}: {n_diff}/{d.size} differ ({n_step} by exactly one step "
                     f"{step:.3g}; max |diff| {d.max():.3g})")
    lines.insert(0, f"  first quantized activation where the engines disagree: {first}; "
                    f"{total} differing activation elements in all")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mpq")
    ap.add_argument("src")
    ap.add_argument("models", nargs="*")
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--diagnose", action="store_true",
                    help="count per-quantizer rounding flips between the engines")
    args = ap.parse_args()
    mpq, src = os.path.abspath(args.mpq), os.path.abspath(args.src)
    if not os.access(mpq, os.X_OK):
        print(f"FAIL: mpq binary {mpq} does not exist or is not executable", file=sys.stderr)
        return 1
    reference = os.path.join(src, "scripts", "torch_qdq_reference.py")
    models = args.models or list(MODELS)
    candidates = [c for c in args.candidates.split(",") if c]

    rows, failures, notes = [], [], []
    with tempfile.TemporaryDirectory(prefix="mpq_e2e_qvt_") as tmp:
        for name in models:
            model = os.path.join(src, "configs", "models", name + ".onnx")
            x_path = os.path.join(tmp, name + ".x.npy")
            np.save(x_path, load_images(model, COUNT))
            for cand in ["FP32"] + candidates:
                tag = f"{name}.{cand}"
                cfg = os.path.join(tmp, tag + ".json")
                y_mpq = os.path.join(tmp, tag + ".mpq.npy")
                y_ref = os.path.join(tmp, tag + ".ref.npy")
                cfg_args = []
                if cand != "FP32":
                    p = run([mpq, "quantize", model, "--candidate", cand, "--calib",
                             "fashion-mnist:train:256", "-o", cfg, "--threads", THREADS])
                    if p.returncode != 0:
                        failures.append(f"{tag}: mpq quantize exited {p.returncode}: "
                                        f"{p.stderr.strip()}")
                        continue
                    cfg_args = ["--config", cfg]
                p = run([mpq, "run", model, *cfg_args, "--input", x_path, "--output", y_mpq,
                         "--threads", THREADS])
                if p.returncode != 0:
                    failures.append(f"{tag}: mpq run exited {p.returncode}: {p.stderr.strip()}")
                    continue
                p = run([sys.executable, reference, model, *cfg_args, "--input", x_path,
                         "--output", y_ref, "--threads", THREADS])
                if p.returncode != 0:
                    failures.append(f"{tag}: torch_qdq_reference.py exited {p.returncode}: "
                                    f"{p.stderr.strip()}")
                    continue
                got, want = np.load(y_mpq), np.load(y_ref)
                if got.shape != want.shape or not np.all(np.isfinite(got)):
                    failures.append(f"{tag}: mpq logits {list(got.shape)} (finite: "
                                    f"{bool(np.all(np.isfinite(got)))}) vs reference "
                                    f"{list(want.shape)}")
                    continue
                r = metrics(got, want)
                r["tag"] = tag
                rows.append(r)
                print(f"{tag}: norm rel {r['norm_rel']:.3g}, max rel {r['max_rel']:.3g}, "
                      f"top-1 agree {r['top1']}/{COUNT}", flush=True)
                bad = []
                if r["norm_rel"] > NORM_RTOL:
                    bad.append(f"norm-wise relative error {r['norm_rel']:.3g} > {NORM_RTOL}")
                if r["top1"] < MIN_TOP1_AGREE:
                    bad.append(f"top-1 agrees on {r['top1']}/{COUNT} < {MIN_TOP1_AGREE}")
                if bad:
                    failures.append(f"{tag}: " + "; ".join(bad))
                if cand != "FP32" and (args.diagnose or bad):
                    notes.append(f"{tag}:")
                    notes += diagnose(mpq, src, model, cfg, x_path, tmp, tag)

    print(f"\n{'model.candidate':<16} {'norm rel':>9} {'max rel':>9} {'max abs':>9} "
          f"{'#diff':>6} {'top-1 agree':>11}")
    for r in rows:
        print(f"{r['tag']:<16} {r['norm_rel']:>9.2e} {r['max_rel']:>9.2e} {r['max_abs']:>9.2e} "
              f"{r['n_diff']:>6} {r['top1']:>7}/{COUNT}")
    if notes:
        print("\nrounding flips between the engines:\n" + "\n".join(notes))
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"\nall {len(rows)} model/candidate pairs match the PyTorch reference "
          f"(norm-wise relative <= {NORM_RTOL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
