"""Which side of a phase-1 SQNR difference is off: mpq, PyTorch float32, or neither.

    /usr/bin/python3 bench/sqnr_float64_referee.py [--mpq build/cli/mpq] [--model vit]
        [--top 14] [--group NAME] [--candidates W8A8,W4A8,W4A4,W2A8] [--threads 2]

Runs `mpq sensitivity` as bench/phase1_vs_torch.py does (256 calibration images, --dump-tasks),
then for the --top tasks with the highest mpq SQNR (where float rounding shows most), plus every
task of --group if given, computes the task's SQNR with bench/phase1_vs_torch.py's PyTorch
executor twice: in float32 (as the benchmark) and in float64 (every tensor double; activation
fake quantization as clamp(round(x / s) + z, qmin, qmax) in double; weights quantized in float32
as both engines do, then widened). Prints mpq, torch32 and torch64 per task and the differences.
The float64 run is the referee: the side further from it is the one whose rounding moves the
SQNR. Session 7 used it to find that Eigen's float erf, not rounding order, made the ViT's
blocks.1 Erf-output task differ by 0.06 dB (bench/README.md).
"""

import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import phase1_vs_torch as bench  # noqa: E402

ref = bench.ref
float32_fake_quantize = ref.fake_quantize


def fake_quantize(t, q, name):
    """Float64 tensors: the affine grid in double; anything else: the benchmark's quantizer."""
    if t.dtype != torch.float64:
        return float32_fake_quantize(t, q, name)
    scale = torch.tensor([float(np.float32(s)) for s in q["scale"]], dtype=torch.float64)
    zp = torch.tensor([int(z) for z in q["zero_point"]], dtype=torch.float64)
    axis = int(q.get("axis", -1))
    if axis >= 0:
        shape = [1] * t.dim()
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    qv = torch.clamp(torch.round(t / scale) + zp, int(q["qmin"]), int(q["qmax"]))
    return (qv - zp) * scale


def widened(values):
    return {k: (v.double() if v.is_floating_point() else v) for k, v in values.items()}


def sqnr(model, xs, ys, consts, act_q):
    signal = sum(float(torch.sum(y.double() ** 2)) for y in ys)
    noise = sum(float(torch.sum((y.double() - model.forward(xb, consts, act_q).double()) ** 2))
                for xb, y in zip(xs, ys))
    return 10.0 * math.log10(signal / noise) if noise > 0 else math.inf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mpq", default=os.path.join(ROOT, "build", "cli", "mpq"))
    ap.add_argument("--model", default="vit")
    ap.add_argument("--candidates", default="W8A8,W4A8,W4A4,W2A8")
    ap.add_argument("--top", type=int, default=14)
    ap.add_argument("--group", action="append", default=[], help="also every task of this group")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64, help="torch's batch size (default 64)")
    ap.add_argument("--workdir", default="/tmp/mpq-sqnr-float64-referee")
    args = ap.parse_args()
    args.mpq_batch = 8
    os.chdir(ROOT)
    torch.set_num_threads(args.threads)
    ref.fake_quantize = fake_quantize  # the executor looks it up at call time

    model_path = os.path.join("configs", "models", f"{args.model}.onnx")
    os.makedirs(args.workdir, exist_ok=True)
    run_dir = os.path.join(args.workdir, "run")
    tasks_path = os.path.join(args.workdir, "tasks.json")
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = bench.mpq_cmd(args, args.candidates, model_path, run_dir) + ["--dump-tasks", tasks_path]
    sqnr_mpq = bench.run_mpq(cmd)[0]
    with open(tasks_path) as f:
        tasks = json.load(f)["tasks"]
    keys = sorted(tasks, key=lambda k: -sqnr_mpq[(tasks[k]["group"], tasks[k]["candidate"])])
    chosen = keys[:args.top] + [k for k in keys[args.top:] if tasks[k]["group"] in args.group]

    model = bench.TorchModel(model_path)
    x = bench.load_calibration(model_path, args.samples)
    xs32 = [torch.from_numpy(x[i:i + args.batch]) for i in range(0, len(x), args.batch)]
    xs64 = [t.double() for t in xs32]
    print(f"{'group':60s} {'cand':5s} {'mpq':>9s} {'torch32':>9s} {'torch64':>9s} "
          f"{'mpq-t64':>8s} {'t32-t64':>8s}")
    with torch.no_grad():
        ys32 = [model.forward(xb, model.inits, {}) for xb in xs32]
        ys64 = [model.forward(xb, widened(model.inits), {}) for xb in xs64]
        for k in chosen:
            cfg = tasks[k]
            consts = model.quantized_constants(cfg)
            act_q = {n: q for n, q in cfg.get("quantizers", {}).items() if n not in model.inits}
            t32 = sqnr(model, xs32, ys32, consts, act_q)
            t64 = sqnr(model, xs64, ys64, widened(consts), act_q)
            m = sqnr_mpq[(cfg["group"], cfg["candidate"])]
            print(f"{cfg['group'][-60:]:60s} {cfg['candidate']:5s} {m:9.4f} {t32:9.4f} {t64:9.4f} "
                  f"{m - t64:+8.4f} {t32 - t64:+8.4f}", flush=True)


if __name__ == "__main__":
    main()
