#!/usr/bin/python3
"""End-to-end: mpq's fake-quantized logits against an independent PyTorch reference.

    /usr/bin/python3 tests/e2e/test_quantized_vs_torch.py MPQ_BINARY SOURCE_DIR [MODEL ...]
        [--candidates W8A8,W4A8]

For each bundled model (configs/models/{cnn,mobilenet,resnet,vit}.onnx, or the MODELs named)
and each candidate (W8A8 and W4A8):
  * `mpq quantize MODEL --candidate C --calib fashion-mnist:train:256 -o cfg.json`;
  * the first 256 Fashion-MNIST test images, preprocessed as the ONNX metadata says;
  * `mpq run MODEL --config cfg.json --input x.npy --output y.npy` against
    scripts/torch_qdq_reference.py (the ONNX graph executed node by node with torch ops and
    torch.fake_quantize_per_*_affine applied to every tensor the configuration names).
Measured over the 256 x 10 logits: the norm-wise relative error ||y_mpq - y_ref|| / ||y_ref||,
the element-wise max relative error max |y_mpq - y_ref| / |y_ref| (over |y_ref| >= 1e-3 of
the largest logit), the max absolute error, top-1 agreement and the number of images whose
logits are bit-identical. FP32 (no configuration) runs too, as the floor.

Why the issue's "logits within 1e-5 relative" is not asserted on quantized logits: mpq and
PyTorch sum convolutions and matrix products in different orders, so a pre-quantization
activation differs by ~1e-7 relative between them. An element that lands that close to a
rounding boundary rounds to neighbouring grid points in the two engines, and the step
propagates. The logits are themselves quantized (8 bits), so one flipped logit alone is one
output step, ~4e-4 of the norm of all 2560 logits. Measured (2 threads): no more than 8 flips
per 11.7 million quantized activation elements, yet 0 to 19 of 256 images end with different
logits and the norm-wise error is 4e-4 .. 3e-3. Instead, asserted:
  * FP32: norm-wise relative error <= 1e-5 (measured ~3e-7);
  * quantized: top-1 agreement >= 254/256 and bit-identical logits on >= 230/256 images at
    W8A8, >= 160/256 at W4A8 (MIN_IMAGES_IDENTICAL says why);
  * quantized, teacher-forced on the first 32 images (flip_check): at every activation
    quantizer, fed mpq's own quantized inputs, the reference is bit-identical to mpq except
    for one-step flips whose pre-quantization value is within 1e-4 steps of a rounding
    boundary (measured <= 1.4e-5), at most 1e-5 of the elements. A real difference (e.g. a
    float instead of an int32-rounded bias, ~1e-3 steps) fails this.
Exit code 1 with the measurements on failure.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from fashion_mnist_test_set import load_test_set

NORM_RTOL = 1e-5
MIN_TOP1_AGREE = 254        # of 256; measured 256 everywhere
# Images with bit-identical logits, of 256: W8A8 measured 247 .. 255. At W4A8 the exact products
# of 4-bit weights and 8-bit activations lie on a coarse lattice, so a MatMul's output often sits
# exactly on a rounding tie (the ViT's first value projection: 11 of 100,352 elements on 32
# images, 3.8e-6 steps from the boundary, i.e. float summation order decides), and one flip in an
# attention value reaches every token of the image: measured 184 (vit) .. 256 (cnn, mobilenet).
# The teacher-forced check below is what holds each flip to a tie.
MIN_IMAGES_IDENTICAL = {"W8A8": 230, "W4A8": 160}
COUNT = 256
FORCED_COUNT = 32           # images for the teacher-forced per-quantizer check
TIE_TOL = 1e-4              # steps from a rounding boundary a flip may sit; measured <= 1.4e-5
MAX_FLIP_RATE = 1e-5        # flips per quantized activation element; measured <= 4.3e-6
THREADS = "2"
MODELS = ("cnn", "mobilenet", "resnet", "vit")
CANDIDATES = ("W8A8", "W4A8")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


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
        # images whose 10 logits are bit-identical / within 1e-5 norm-wise relative
        "img_same": int(np.sum(np.all(got == want, axis=1))),
        "img_close": int(np.sum(np.linalg.norm(g - w, axis=1)
                                <= NORM_RTOL * np.linalg.norm(w, axis=1))),
    }


def flip_check(mpq, src, model, cfg_path, x, tmp, tag):
    """Teacher-forced, per activation quantizer: every element where mpq and the reference
    disagree must be a one-step rounding flip on a near-tie.

    A copy of the model exposes every activation quantizer's tensor as a graph output (extra
    outputs do not move the quantizers the configuration names); mpq writes them all. The
    reference then runs with each quantized activation replaced by mpq's (so differences do
    not propagate), and at each quantizer compares its own result with mpq's: a mismatch must
    be exactly one grid step, with the reference's pre-quantization value within TIE_TOL steps
    of the rounding boundary. Returns (stats, errors)."""
    import onnx
    import torch
    sys.path.insert(0, os.path.join(src, "scripts"))
    import torch_qdq_reference as ref

    with open(cfg_path) as f:
        cfg = json.load(f)
    acts = {n: q for n, q in cfg["quantizers"].items()
            if q.get("kind") == "activation" and q["format"].startswith("int")}
    m = onnx.load(model)
    present = {o.name for o in m.graph.output} | {i.name for i in m.graph.input}
    for name in acts:
        if name not in present:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    exposed = os.path.join(tmp, tag + ".exposed.onnx")
    onnx.save(m, exposed)
    x_path = os.path.join(tmp, tag + ".forced_x.npy")
    np.save(x_path, x)
    out_dir = os.path.join(tmp, tag + ".outs")
    p = run([mpq, "run", exposed, "--config", cfg_path, "--input", x_path, "--output-dir",
             out_dir, "--threads", THREADS])
    if p.returncode != 0:
        return None, [f"{tag}: mpq run on the exposed model exited {p.returncode}: "
                      f"{p.stderr.strip()}"]
    mpq_vals = {}
    for name in acts:
        path = os.path.join(out_dir, name.replace("/", "_").replace("\\", "_")
                            .replace(":", "_") + ".npy")
        if os.path.exists(path):
            mpq_vals[name] = np.load(path)

    stats = {"elements": 0, "flips": 0, "max_tie_dist": 0.0, "quantizers": len(mpq_vals)}
    errors = []

    def observe(name, before, after):
        if name not in mpq_vals:
            return after
        q = acts[name]
        got = mpq_vals[name]
        want = after.numpy()
        if got.shape != want.shape:
            errors.append(f"{tag}: {name}: mpq shape {list(got.shape)} != reference "
                          f"{list(want.shape)}")
            return after
        s = np.float32(q["scale"][0])
        zp = int(q["zero_point"][0])
        diff = got.view(np.uint32) != want.view(np.uint32)
        stats["elements"] += got.size
        n = int(diff.sum())
        if n:
            pre = before.numpy()[diff]
            u = (pre * (np.float32(1) / s)).astype(np.float64) + zp  # PyTorch's arithmetic
            dist = np.abs(u - (np.floor(u) + 0.5))  # to the nearest rounding boundary, steps
            steps = np.abs(np.rint(got[diff].astype(np.float64) / s)
                           - np.rint(want[diff].astype(np.float64) / s))
            stats["flips"] += n
            stats["max_tie_dist"] = max(stats["max_tie_dist"], float(dist.max()))
            bad = (dist > TIE_TOL) | (steps != 1)
            if bad.any():
                k = int(np.argmax(bad))
                errors.append(f"{tag}: {name}: {int(bad.sum())}/{n} differing elements are not "
                              f"one-step flips on a near-tie (e.g. pre-quantization {pre[k]!r}, "
                              f"{dist[k]:.3g} steps from the boundary, mpq {got[diff][k]!r}, "
                              f"reference {want[diff][k]!r})")
        return torch.from_numpy(np.array(got))  # teacher forcing: continue from mpq's values

    torch.set_num_threads(int(THREADS))
    ref.run(model, cfg, x, observe=observe)
    missing = sorted(set(acts) - set(mpq_vals) - {i.name for i in m.graph.input})
    if missing:
        errors.append(f"{tag}: mpq did not write the exposed activations {missing}")
    return stats, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mpq")
    ap.add_argument("src")
    ap.add_argument("models", nargs="*")
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    args = ap.parse_args()
    mpq, src = os.path.abspath(args.mpq), os.path.abspath(args.src)
    if not os.access(mpq, os.X_OK):
        print(f"FAIL: mpq binary {mpq} does not exist or is not executable", file=sys.stderr)
        return 1
    reference = os.path.join(src, "scripts", "torch_qdq_reference.py")
    models = args.models or list(MODELS)
    candidates = [c for c in args.candidates.split(",") if c]

    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="mpq_e2e_qvt_") as tmp:
        for name in models:
            model = os.path.join(src, "configs", "models", name + ".onnx")
            x, _ = load_test_set(model, COUNT)
            x_path = os.path.join(tmp, name + ".x.npy")
            np.save(x_path, x)
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
                bad = []
                if cand == "FP32":
                    if r["norm_rel"] > NORM_RTOL:
                        bad.append(f"FP32 norm-wise relative error {r['norm_rel']:.3g} > "
                                   f"{NORM_RTOL}")
                else:
                    need = MIN_IMAGES_IDENTICAL.get(cand, MIN_IMAGES_IDENTICAL["W8A8"])
                    if r["img_same"] < need:
                        bad.append(f"{r['img_same']}/{COUNT} images with bit-identical logits "
                                   f"< {need}")
                    if r["top1"] < MIN_TOP1_AGREE:
                        bad.append(f"top-1 agrees on {r['top1']}/{COUNT} < {MIN_TOP1_AGREE}")
                    stats, errs = flip_check(mpq, src, model, cfg, x[:FORCED_COUNT], tmp, tag)
                    bad += errs
                    r["forced"] = stats
                    if stats and stats["flips"] > MAX_FLIP_RATE * stats["elements"]:
                        bad.append(f"teacher-forced: {stats['flips']} of {stats['elements']} "
                                   f"quantized activation elements flip (> {MAX_FLIP_RATE:g})")
                rows.append(r)
                print(f"{tag}: norm rel {r['norm_rel']:.3g}, max rel {r['max_rel']:.3g}, "
                      f"top-1 agree {r['top1']}/{COUNT}, images identical {r['img_same']}"
                      + (f", forced flips {r['forced']['flips']}/{r['forced']['elements']}"
                         if r.get("forced") else ""), flush=True)
                failures += [f"{tag}: {b}" for b in bad]

    print(f"\n{'model.candidate':<16} {'norm rel':>9} {'max rel':>9} {'max abs':>9} "
          f"{'#diff':>6} {'top-1':>7} {'identical':>9}  teacher-forced flips (max tie dist)")
    for r in rows:
        f = r.get("forced")
        forced = (f"{f['flips']}/{f['elements']} ({f['max_tie_dist']:.2g} steps)" if f else "-")
        print(f"{r['tag']:<16} {r['norm_rel']:>9.2e} {r['max_rel']:>9.2e} {r['max_abs']:>9.2e} "
              f"{r['n_diff']:>6} {r['top1']:>3}/{COUNT} {r['img_same']:>5}/{COUNT}  {forced}")
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"\nall {len(rows)} model/candidate runs agree with the PyTorch reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
