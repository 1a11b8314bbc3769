#!/usr/bin/python3
"""One forward + backward pass: mpq's reverse mode (sim/backward.hpp) against PyTorch autograd.

    /usr/bin/python3 bench/backward_vs_torch.py [--bench build/bench/mpq_bench_backward]
        [--models cnn,resnet,mobilenet,vit,mnv3_opset11,tf_opset12,vit_opset13]
        [--batch 32] [--threads 2] [--rounds 5] [--iters 20]

Both sides: one seeded uniform[-1, 1) batch, the summed softmax cross-entropy of the logits
against labels k mod 10, and its gradient w.r.t. the input and every weight (the input and all
parameters require a gradient). mpq: build/bench/mpq_bench_backward (the model prepared as
`mpq run` does: BatchNorm folded). PyTorch: the nn.Module the ONNX file was written from
(scripts/train_models.py for the bundled models, scripts/make_foreign_suite.py's MobileNetV3
for mnv3_opset11; tf_opset12 and vit_opset13 were written from the bundled mobilenet and vit
modules), eval mode, float32, torch.set_num_threads(--threads), gradients set to None between
passes. Rounds alternate the two sides (order flipped each round); each side reports its median
over --iters timed passes after 3 warm-up passes; the table gives the median over rounds and
ratio = torch ms / mpq ms (> 1: mpq is faster).

Then (unless --no-phase1) phase 1 with `--metric fisher` against `--metric sqnr` on each bundled
model, same data (the first --samples Fashion-MNIST training images), candidates and threads,
in fresh output directories, alternating: the phase-1 seconds mpq prints (range calibration
included: both metrics calibrate the same task ranges) and ratio = sqnr s / fisher s.
"""

import argparse
import json
import os
import re
import shutil
import tempfile
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import train_models as tm  # noqa: E402

BUNDLED = ["cnn", "resnet", "mobilenet", "vit"]
FOREIGN = {"mnv3_opset11": "mnv3", "tf_opset12": "mobilenet", "vit_opset13": "vit"}


def onnx_path(name):
    if name in BUNDLED:
        return os.path.join(ROOT, "configs", "models", name + ".onnx")
    return os.path.join(ROOT, "configs", "models", "foreign", name + ".onnx")


def torch_module(name):
    source = FOREIGN.get(name, name)
    if source == "mnv3":
        import make_foreign_suite as fs  # noqa: E402  (heavy: only when asked for)
        net = fs.MobileNetV3Tiny()
        net.load_state_dict(torch.load(os.path.join(ROOT, "configs", "models", "foreign", "mnv3.pt")))
    else:
        net = tm.build_model(source)
        net.load_state_dict(torch.load(os.path.join(ROOT, "configs", "models", source + ".pt")))
    return net.eval()


def xorshift_uniform(count, seed=0):
    """The xorshift32 uniform [-1, 1) stream of mpq_bench_backward (and ort_bench.js)."""
    x = (seed ^ 0x9E3779B9) & 0xFFFFFFFF or 1
    out = torch.empty(count, dtype=torch.float64)
    for k in range(count):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[k] = x / 4294967296.0 * 2.0 - 1.0
    return out.float()


def time_torch(net, batch, iters, warmup=3):
    x0 = xorshift_uniform(batch * 28 * 28).reshape(batch, 1, 28, 28)
    labels = torch.arange(batch) % 10
    params = list(net.parameters())

    def one():
        x = x0.clone().requires_grad_(True)
        for p in params:
            p.grad = None
        loss = F.cross_entropy(net(x), labels, reduction="sum")
        loss.backward()

    for _ in range(warmup):
        one()
    ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        one()
        ms.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(ms)


def time_mpq(bench, name, batch, threads, iters):
    out = subprocess.run([bench, "--model", onnx_path(name), "--batch", str(batch), "--threads",
                          str(threads), "--iters", str(iters)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["ms_per_pass_median"]


def phase1_seconds(mpq, model, metric, samples, threads, extra):
    out = tempfile.mkdtemp(prefix="mpq_phase1_")
    try:
        err = subprocess.run([mpq, "sensitivity", "--model", onnx_path(model), "--candidates",
                              "W8A8,W4A8,W4A4,W2A8,W8A4", "--samples", str(samples), "--batch", "32",
                              "--no-plots", "--metric", metric, "--threads", str(threads), "-o", out]
                             + extra, check=True, capture_output=True, text=True).stderr
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return float(re.findall(r"phase 1: .* ([0-9.]+) s$", err, re.M)[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "mpq_bench_backward"))
    ap.add_argument("--models", default=",".join(BUNDLED + list(FOREIGN)))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--mpq", default=os.path.join(ROOT, "build", "cli", "mpq"))
    ap.add_argument("--samples", type=int, default=128, help="phase 1: samples (default 128)")
    ap.add_argument("--no-phase1", action="store_true", help="skip the fisher vs sqnr rows")
    ap.add_argument("--no-torch", action="store_true", help="skip the backward vs PyTorch rows")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"batch {args.batch}, {args.threads} threads, {args.rounds} rounds x {args.iters} passes; "
          f"load {os.getloadavg()[0]:.2f}; torch {torch.__version__}", flush=True)
    if not args.no_torch:
        backward_rows(args)
    if not args.no_phase1:
        phase1_rows(args)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


def phase1_rows(args):
    print(f"\nphase 1, {args.samples} samples, W8A8 baseline, W4A8/W4A4/W2A8/W8A4, batch 32")
    print("| model | weight ranges | fisher s | sqnr s | ratio (sqnr / fisher) |")
    print("|---|---|---:|---:|---:|")
    for name in [m for m in args.models.split(",") if m in BUNDLED]:
        for ranges, extra in (("enhanced (default)", []), ("minmax", ["--weight-range", "minmax"])):
            times = {"fisher": [], "sqnr": []}
            for r in range(args.rounds):
                for metric in (["fisher", "sqnr"] if r % 2 == 0 else ["sqnr", "fisher"]):
                    times[metric].append(phase1_seconds(args.mpq, name, metric, args.samples,
                                                        args.threads, extra))
            f, q = statistics.median(times["fisher"]), statistics.median(times["sqnr"])
            print(f"| {name} | {ranges} | {f:.3f} | {q:.3f} | {q / f:.2f}x |", flush=True)


def backward_rows(args):
    print("| model | mpq ms | PyTorch ms | ratio (PyTorch / mpq) |")
    print("|---|---:|---:|---:|")
    for name in args.models.split(","):
        net = torch_module(name)
        mpq_ms, torch_ms = [], []
        for r in range(args.rounds):
            sides = [("mpq", lambda: mpq_ms.append(time_mpq(args.bench, name, args.batch, args.threads,
                                                             args.iters))),
                     ("torch", lambda: torch_ms.append(time_torch(net, args.batch, args.iters)))]
            for _, run in (sides if r % 2 == 0 else sides[::-1]):
                run()
        m, t = statistics.median(mpq_ms), statistics.median(torch_ms)
        print(f"| {name} | {m:.2f} | {t:.2f} | {t / m:.2f}x |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
