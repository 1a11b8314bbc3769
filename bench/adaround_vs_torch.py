#!/usr/bin/python3
"""AdaRound of one layer: mpq against a PyTorch reference implementation of the same AdaRound.

    /usr/bin/python3 bench/adaround_vs_torch.py [--bench build/bench/mpq_bench_adaround]
        [--layers cnn:fc1.weight:10000,resnet:onnx::Conv_101:500] [--candidate W4A8]
        [--samples 256] [--threads 2] [--rounds 2] [--json FILE]

Per layer (model:weight:iterations), same layer, same data, same hyper-parameters, same
threads, rounds alternating mpq and torch (order flipped every round; the machine is shared):
  * mpq (timed, build/bench/mpq_bench_adaround, wall clock inside the process): one pass of the
    float network over the first --samples Fashion-MNIST training images summing the layer
    input's second moments, then AdaRound of the weight (sim/adaround.hpp: Adam on V, exact
    full-batch gradient 2 (w_q A - t) from the moments). It also writes the weight quantizer it
    calibrated (per-channel scale, zero point, grid) and the learned integers.
  * PyTorch (timed): AdaRound as it is usually written: the layer's float inputs on the same
    images (untimed: torch_qdq_reference's node-by-node executor, BatchNorm folded as mpq
    does), then for every iteration the soft-quantized weight w_q = s (clamp(floor(w/s) + h(V)
    + z, qmin, qmax) - z), the layer's output on the whole calibration set (F.conv2d / matmul:
    full batch, the objective mpq minimises exactly), loss = sum over channels of the squared
    output error, mean over input vectors, + lambda sum(1 - |2h(V) - 1|^beta), autograd,
    torch.optim.Adam. Same initial V (h(V) = the fractional part), lambda 0.01, beta 20 -> 2
    linearly after a 20 % warm-up without the regularizer, lr 1e-3, Adam betas 0.9/0.999, eps
    1e-8, same quantizer (mpq's), and as mpq a channel whose learned rounding ends worse than
    nearest on its own objective keeps nearest. A second reference, "torch-moments", writes
    the same algebra as mpq in torch (A = E[x x^T] once from F.unfold patches, per iteration
    the loss w_q A w_q^T - 2 w_q . t through autograd): it isolates the implementation from
    the formulation.
  * Both results' reconstruction losses, E ||w x - w_q x||^2 (mean over the input vectors,
    summed over channels), are measured by this script in float64 on the same inputs from
    each side's integers.

Prints per layer: seconds of each side (median over rounds), time ratio torch / mpq, loss
ratio mpq / torch. Targets (issue 24): ratio >= 5, loss ratio <= 1.05.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import torch_qdq_reference as ref  # noqa: E402
from phase1_vs_torch import TorchModel, load_calibration  # noqa: E402

ZETA, GAMMA = 1.1, -0.1
LAMBDA, BETA_START, BETA_END, WARMUP, LR = 0.01, 20.0, 2.0, 0.2, 1e-3


class Layer:
    """The weight's node, its float input on the calibration images, and how to apply it."""

    def __init__(self, model_path, weight, x):
        tm = TorchModel(model_path)
        node = next(n for n in tm.nodes if len(n.input) > 1 and n.input[1] == weight)
        self.node, self.w = node, tm.inits[weight].float()
        values = dict(tm.inits)
        values[tm.input] = torch.from_numpy(x)
        with torch.no_grad():
            for n in tm.nodes:
                if n is node:
                    break
                outs = ref.run_node(n, [values[i] if i else None for i in n.input], tm.opset)
                outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
                for name, t in zip(n.output, outs):
                    if name:
                        values[name] = t
        self.x = values[node.input[0]].float().contiguous()
        # The output channel axis of the weight: Conv and Gemm(transB=1) rows, else columns.
        trans_b = ref.attr(node, "transB", 0)
        self.axis = 0 if node.op_type == "Conv" or (node.op_type == "Gemm" and trans_b) else 1

    def apply(self, x, w):
        n = self.node
        if n.op_type == "Conv":
            return ref.conv(n, x, w)
        if n.op_type == "Gemm" and ref.attr(n, "transB", 0):
            return x @ w.t()
        return x @ w

    def rows_view(self, t):
        """(rows, fan_in) view of a weight-shaped tensor."""
        return t.reshape(t.shape[0], -1) if self.axis == 0 else t.t()

    def vectors(self, y):
        """Output values as (input vectors, channels)."""
        if self.node.op_type == "Conv":
            return y.permute(0, 2, 3, 1).reshape(-1, y.shape[1])
        return y.reshape(-1, y.shape[-1])

    def patches(self):
        """The layer's input vectors (vectors, fan_in), in the rows' fan_in order."""
        n = self.node
        if n.op_type == "Conv":
            if ref.attr(n, "group", 1) != 1:
                raise SystemExit("torch-moments: grouped convs are not supported here")
            k = self.w.shape[2:]
            pads = ref.split_pads(ref.attr(n, "pads", [0] * 2 * len(k)), len(k))
            if any(a != b for a, b in pads):
                raise SystemExit("torch-moments: asymmetric pads are not supported here")
            cols = F.unfold(self.x, k, dilation=ref.attr(n, "dilations", [1, 1]),
                            padding=[a for a, _ in pads], stride=ref.attr(n, "strides", [1, 1]))
            return cols.permute(0, 2, 1).reshape(-1, cols.shape[1])
        return self.x.reshape(-1, self.x.shape[-1])


def broadcast(v, layer):
    shape = [1] * layer.w.dim()
    shape[layer.axis] = -1
    return torch.tensor(v, dtype=torch.float32).reshape(shape)


def beta_at(it, iters):
    warm = int(WARMUP * iters)
    if it < warm:
        return 0.0
    return BETA_END + (BETA_START - BETA_END) * (1 - (it - warm) / max(1, iters - warm))


def initial_v(w, s):
    fl = torch.floor(w * (1.0 / s))
    rest = torch.clamp(w * (1.0 / s) - fl, 0, 1)
    sg = (rest - GAMMA) / (ZETA - GAMMA)
    return fl, torch.log(sg / (1 - sg))


def soft_weight(fl, v, s, z, qmin, qmax):
    h = torch.clamp(torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0, 1)
    return (torch.clamp(fl + h + z, qmin, qmax) - z) * s, h


def adam_loop(v, iters, loss_of):
    opt = torch.optim.Adam([v], lr=LR, betas=(0.9, 0.999), eps=1e-8)
    for it in range(iters):
        beta = beta_at(it, iters)
        loss, h = loss_of()
        if beta > 0:
            loss = loss + LAMBDA * (1 - (2 * h - 1).abs().pow(beta)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def torch_direct(layer, q, iters):
    """AdaRound through the layer itself, full batch, autograd. Returns the integers."""
    s, z = broadcast(q["scale"], layer), broadcast(q["zero_point"], layer)
    fl, v0 = initial_v(layer.w, s)
    v = v0.clone().requires_grad_(True)
    with torch.no_grad():
        y = layer.apply(layer.x, layer.w)
    count = y.numel() / y.shape[1 if layer.node.op_type == "Conv" else -1]

    def loss_of():
        wq, h = soft_weight(fl, v, s, z, q["qmin"], q["qmax"])
        return ((layer.apply(layer.x, wq) - y) ** 2).sum() / count, h

    adam_loop(v, iters, loss_of)
    return torch.clamp(fl + (v.detach() >= 0).float() + z, q["qmin"], q["qmax"])


def torch_moments(layer, q, iters):
    """The same AdaRound from the input's second moments (mpq's algebra), in torch."""
    s, z = broadcast(q["scale"], layer), broadcast(q["zero_point"], layer)
    fl, v0 = initial_v(layer.w, s)
    v = v0.clone().requires_grad_(True)
    p = layer.patches()
    a = (p.t() @ p) / p.shape[0]
    w_rows = layer.rows_view(layer.w)
    t = w_rows @ a

    def loss_of():
        wq, h = soft_weight(fl, v, s, z, q["qmin"], q["qmax"])
        r = layer.rows_view(wq)
        return ((r @ a) * r).sum() - 2 * (r * t).sum(), h

    adam_loop(v, iters, loss_of)
    return torch.clamp(fl + (v.detach() >= 0).float() + z, q["qmin"], q["qmax"])


def channel_errors(layer, q, codes):
    """Per output channel: the squared output error, mean over input vectors (float64)."""
    s = broadcast(q["scale"], layer).double()
    z = broadcast(q["zero_point"], layer).double()
    wq = (codes.double() - z) * s
    x = layer.x.double()
    d = layer.vectors(layer.apply(x, layer.w.double()) - layer.apply(x, wq))
    return (d ** 2).mean(dim=0)


def keep_better_channels(layer, q, codes, nearest):
    """As mpq: a channel whose learned rounding is worse than nearest's keeps nearest."""
    worse = channel_errors(layer, q, codes) > channel_errors(layer, q, nearest)
    mask = broadcast(worse.float().tolist(), layer) > 0
    return torch.where(mask, nearest, codes)


def nearest_codes(layer, q):
    s, z = broadcast(q["scale"], layer), broadcast(q["zero_point"], layer)
    return torch.clamp(torch.round(layer.w * (1.0 / s)) + z, q["qmin"], q["qmax"])


def run_mpq(args, model, weight, iters, dump):
    cmd = [args.bench, "--model", model, "--candidate", args.candidate, "--calib",
           f"fashion-mnist:train:{args.samples}", "--layer", weight, "--iters", str(iters),
           "--threads", str(args.threads), "--dump", dump]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {p.stderr}")
    out = json.loads(p.stdout)
    with open(os.path.join(dump, weight + ".json")) as f:
        q = json.load(f)
    return out, q


def bench_layer(args, spec):
    name, rest = spec.split(":", 1)
    weight, iters = rest.rsplit(":", 1)
    iters = int(iters)
    model = os.path.join(ROOT, "configs", "models", name + ".onnx")
    x = load_calibration(model, args.samples)
    layer = Layer(model, weight, x)
    times = {"mpq": [], "torch": [], "torch-moments": []}
    cpu = {"mpq": [], "torch": [], "torch-moments": []}
    codes = {}
    with tempfile.TemporaryDirectory() as dump:
        for rnd in range(args.rounds):
            order = ["mpq", "torch", "torch-moments"]
            if rnd % 2:
                order.reverse()
            for who in order:
                if who == "mpq":
                    out, q = run_mpq(args, model, weight, iters, dump)
                    times["mpq"].append(out["total_s"])
                    cpu["mpq"].append(out["cpu_s"])
                    mpq_q = q
                    codes["mpq"] = torch.tensor(q["integers"], dtype=torch.float32).reshape(
                        layer.w.shape)
                    mpq_layer = out["layers"][0]
                    continue
                if "mpq" not in codes:  # the quantizer comes from mpq's first run
                    out, mpq_q = run_mpq(args, model, weight, 1, dump)
                fn = torch_direct if who == "torch" else torch_moments
                t0, c0 = time.perf_counter(), time.process_time()
                c = fn(layer, mpq_q, iters)
                c = keep_better_channels(layer, mpq_q, c, nearest_codes(layer, mpq_q))
                times[who].append(time.perf_counter() - t0)
                cpu[who].append(time.process_time() - c0)
                codes[who] = c
    err = {k: float(channel_errors(layer, mpq_q, c).sum()) for k, c in codes.items()}
    err["nearest"] = float(channel_errors(layer, mpq_q, nearest_codes(layer, mpq_q)).sum())
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    return {"layer": f"{name}:{weight}", "op": layer.node.op_type,
            "rows_x_fan_in": f"{mpq_layer['rows']}x{mpq_layer['fan_in']}",
            "vectors": mpq_layer["vectors"], "iterations": iters, "seconds": med,
            "all_seconds": times, "cpu_seconds": med_cpu, "all_cpu_seconds": cpu, "loss": err,
            "cpu_ratio": med_cpu["torch"] / med_cpu["mpq"],
            "time_ratio": med["torch"] / med["mpq"],
            "time_ratio_moments": med["torch-moments"] / med["mpq"],
            "loss_ratio": err["mpq"] / err["torch"],
            "loss_ratio_moments": err["mpq"] / err["torch-moments"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "mpq_bench_adaround"))
    ap.add_argument("--layers", default="cnn:fc1.weight:10000,resnet:onnx::Conv_101:500,"
                                        "mobilenet:onnx::Conv_160:2000")
    ap.add_argument("--candidate", default="W4A8")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load before: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    rows = []
    print("| layer | op | rows x fan_in | vectors | iterations | mpq s | torch s | torch / mpq "
          "| torch-moments s | torch-moments / mpq | CPU s mpq / torch (ratio) | loss nearest | loss mpq | loss torch "
          "| mpq / torch loss | mpq / torch-moments loss |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for spec in args.layers.split(","):
        r = bench_layer(args, spec)
        rows.append(r)
        s, e = r["seconds"], r["loss"]
        print(f"| {r['layer']} | {r['op']} | {r['rows_x_fan_in']} | {r['vectors']} | "
              f"{r['iterations']} | {s['mpq']:.2f} | {s['torch']:.2f} | {r['time_ratio']:.1f} | "
              f"{s['torch-moments']:.2f} | {r['time_ratio_moments']:.1f} | "
              f"{r['cpu_seconds']['mpq']:.2f} / {r['cpu_seconds']['torch']:.2f} "
              f"({r['cpu_ratio']:.1f}) | {e['nearest']:.4g} | "
              f"{e['mpq']:.4g} | {e['torch']:.4g} | {r['loss_ratio']:.3f} | "
              f"{r['loss_ratio_moments']:.3f} |", flush=True)
    print(f"load after: {open('/proc/loadavg').read().strip()}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    ok = all(r["time_ratio"] >= 5 and r["loss_ratio"] <= 1.05 for r in rows)
    print("targets (torch / mpq >= 5, loss ratio <= 1.05):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
