#!/usr/bin/python3
"""Phase 1 (per-group sensitivity sweep) of mpq against a PyTorch reference implementation.

    /usr/bin/python3 bench/phase1_vs_torch.py [--mpq build/cli/mpq] [--models cnn,vit]
        [--threads 2] [--candidates W8A8,W4A8,W4A4,W2A8] [--rounds 1] [--workdir DIR]
        [--batch 64] [--mpq-batch 8]

For every model (configs/models/<name>.onnx), model by model so both sides see similar load:
  1.-2. mpq, timed: `mpq sensitivity` in a fresh output directory (no journal to resume from), wall
     clock of the whole process (model loading + calibration + phase 1 + writing the list,
     without the gnuplot charts: --no-plots), and the phase-1 time mpq prints on stderr. The
     first run also writes --dump-tasks: every task's quantization configuration (the exact
     ranges mpq calibrated) for the torch side; mpq's per-task SQNRs come from its --json.
  3. PyTorch, timed: phase 1 the way the Python tools do it. The model is loaded once (ONNX parsed,
     BatchNorm folded as mpq does, untimed), then (timed) the float outputs of the calibration
     images are computed once, and for every task (group, candidate): that task's fake quantizers
     are enabled (weights fake-quantized and biases rounded once per task, activations on every
     forward), the whole calibration set goes through the whole model in batches of --batch
     (default 64, torch's fastest of 8, 16 and 64 here), and
     SQNR = 10 log10(sum y^2 / sum (y - yq)^2) over all outputs (float64 sums).
     Executor and quantizers: scripts/torch_qdq_reference.py (torch ops node by node,
     torch.fake_quantize_per_{tensor,channel}_affine, round-half-even bias rounding).
Same model, same first 256 images of the Fashion-MNIST training set (the model's metadata
preprocessing), same thread count (torch.set_num_threads), same ranges. Each side runs at its own batch size:
mpq at --mpq-batch (default 8: its phase 1 is fastest at 8 here, small batches keep the
activations in cache; the SQNRs do not depend on it beyond float rounding), torch at --batch.

Prints one table row per model: mpq wall and phase-1 seconds, torch seconds, ratio =
torch / mpq (wall and phase 1), CPU seconds (user + sys, all threads; mpq's is the whole
process) and their ratio, max |SQNR difference| over all tasks and over the tasks with
SQNR <= 60 dB, and GFLOP/s (nominal phase-1 FLOPs / mpq's phase-1 time: "effective", since
prefix reuse makes mpq do fewer; torch does the nominal count plus the float pass). With --rounds R > 1 each side runs R times (order alternating) and
the medians are reported. --json FILE writes every number (including per-task SQNRs).
"""

import argparse
import gzip
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import torch_qdq_reference as ref  # noqa: E402

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
HIGH_SQNR_DB = 60.0


# ---------------------------------------------------------------- data

def load_calibration(model_path, count):
    """First `count` Fashion-MNIST training images, preprocessed as mpq does (sim/dataset.cpp:
    x = (scale / std) * pixel + (-mean / std), float32 constants, per the model metadata)."""
    model = onnx.load(model_path, load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    scale = np.float32(float(meta.get("mpq.input.scale", 1.0)))
    mean = np.float32(float(meta.get("mpq.input.mean", 0.0)))
    std = np.float32(float(meta.get("mpq.input.std", 1.0)))
    layout = meta.get("mpq.input.layout", "NCHW")
    with gzip.open(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[4 * k:4 * k + 4], "big") for k in (1, 2, 3))
    px = np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows, cols)[:count]
    a = np.float32(scale / std)
    b = np.float32(-mean / std)
    # a * p + b rounded once (mpq's loop is contracted to an FMA with -march=native).
    x = (np.float64(a) * px.astype(np.float64) + np.float64(b)).astype(np.float32)
    x = x[:, :, :, None] if layout == "NHWC" else x[:, None, :, :]
    return np.ascontiguousarray(x)


# ---------------------------------------------------------------- the PyTorch phase 1

class TorchModel:
    """An ONNX model loaded once for torch_qdq_reference's node-by-node executor."""

    def __init__(self, path):
        model = onnx.load(path)
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=17)
        self.inits = {i.name: ref.to_torch(numpy_helper.to_array(i))
                      for i in model.graph.initializer}
        self.nodes = ref.fold_batchnorm(model, self.inits)
        # Constant nodes do not depend on the input: evaluate them once.
        for n in self.nodes:
            if n.op_type == "Constant":
                self.inits[n.output[0]] = ref.constant_value(n)
        self.nodes = [n for n in self.nodes if n.op_type != "Constant"]
        inputs = [i.name for i in model.graph.input if i.name not in self.inits]
        if len(inputs) != 1:
            raise ref.RefError(f"{path}: {len(inputs)} inputs, the benchmark needs one")
        self.input = inputs[0]
        self.output = model.graph.output[0].name
        self.known = set(self.inits) | {self.input}
        for n in self.nodes:
            self.known.update(o for o in n.output if o)

    def check(self, cfg, key):
        missing = sorted(set(cfg.get("quantizers", {})) - self.known)
        missing += sorted(set(cfg.get("biases", {})) - set(self.inits))
        if missing:
            raise ref.RefError(f"task {key}: not tensors of the model: {', '.join(missing)}")
        for name, b in cfg.get("biases", {}).items():
            if b.get("format", "int32") != "int32":
                raise ref.RefError(f"task {key}: bias '{name}' is {b.get('format')}")

    def quantized_constants(self, cfg):
        """Initializers with this task's weight quantizers and bias rounding applied (once)."""
        q, biases = cfg.get("quantizers", {}), cfg.get("biases", {})
        values = dict(self.inits)
        for name in set(q) | set(biases):
            if name not in self.inits:
                continue
            t = self.inits[name]
            if name in biases:
                t = ref.round_bias(t, biases[name]["scale"], name)
            if name in q:
                t = ref.fake_quantize(t, q[name], name)
            values[name] = t
        return values

    def forward(self, x, constants, act_q):
        values = dict(constants)
        if self.input in act_q:
            x = ref.fake_quantize(x, act_q[self.input], self.input)
        values[self.input] = x
        for n in self.nodes:
            outs = ref.run_node(n, [values[i] if i else None for i in n.input], self.opset)
            outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
            for name, t in zip(n.output, outs):
                if not name:
                    continue
                if name in act_q:
                    t = ref.fake_quantize(t, act_q[name], name)
                values[name] = t
        return values[self.output]


def cpu_seconds(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def torch_phase1(model, x, tasks, batch):
    """{task key: SQNR dB}, wall s, CPU s. Timed: float outputs once + every task's full pass."""
    xs = [torch.from_numpy(x[i:i + batch]) for i in range(0, len(x), batch)]
    with torch.no_grad():
        c0 = cpu_seconds(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        ys = [model.forward(xb, model.inits, {}) for xb in xs]
        signal = sum(float(torch.sum(y.double() ** 2)) for y in ys)
        float_s = time.perf_counter() - t0
        out = {}
        for key, cfg in tasks.items():
            consts = model.quantized_constants(cfg)
            act_q = {k: v for k, v in cfg.get("quantizers", {}).items() if k not in model.inits}
            noise = 0.0
            for xb, y in zip(xs, ys):
                yq = model.forward(xb, consts, act_q)
                noise += float(torch.sum((y.double() - yq.double()) ** 2))
            out[key] = 10.0 * math.log10(signal / noise) if noise > 0 else math.inf
        wall = time.perf_counter() - t0
        return out, wall, cpu_seconds(resource.RUSAGE_SELF) - c0, float_s


# ---------------------------------------------------------------- mpq

def mpq_cmd(args, candidates, model_path, out_dir):
    return [args.mpq, "sensitivity", "--model", model_path, "--candidates", candidates,
            "--calib", f"fashion-mnist:train:{args.samples}", "--samples", str(args.samples),
            "--batch", str(args.mpq_batch), "--threads", str(args.threads), "-o", out_dir,
            "--json", "--quiet", "--no-plots"]


def run_mpq(cmd):
    c0 = cpu_seconds(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - c0
    if p.returncode != 0:
        sys.exit(f"phase1_vs_torch: {' '.join(cmd)} exited {p.returncode}:\n{p.stderr}")
    m = re.search(r"phase 1: (\d+) tasks computed, (\d+) resumed from the journal, ([0-9.]+) s",
                  p.stderr)
    if not m:
        sys.exit(f"phase1_vs_torch: no phase-1 line on mpq's stderr:\n{p.stderr}")
    if int(m.group(2)) != 0:
        sys.exit("phase1_vs_torch: mpq resumed from a journal: the output directory was not fresh")
    sqnr = {(e["group"], e["candidate"]): e["metrics"]["sqnr_db"]
            for e in json.loads(p.stdout)["entries"]}
    return sqnr, wall, float(m.group(3)), cpu


def total_macs(mpq, model_path):
    p = subprocess.run([mpq, "inspect", model_path, "--json"], capture_output=True, text=True,
                       check=True)
    return int(json.loads(p.stdout)["total_macs"])


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def fp32_peak(cores):
    """Nominal FP32 peak: cores x 2 FMA units x 16 AVX-512 lanes x 2 flops x `cpu MHz`."""
    mhz = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    return cores * 2 * 16 * 2 * (mhz or 0.0) / 1000.0, mhz


# ---------------------------------------------------------------- driver

def load_tasks(path, tmodel, sqnr_mpq, name, max_tasks):
    with open(path) as f:
        tasks = json.load(f)["tasks"]
    by_pair = {}
    for key, cfg in tasks.items():
        pair = (cfg["group"], cfg["candidate"])
        if pair in by_pair:
            sys.exit(f"phase1_vs_torch: {name}: two tasks for {pair}")
        by_pair[pair] = key
        tmodel.check(cfg, key)
    if set(by_pair) != set(sqnr_mpq):
        sys.exit(f"phase1_vs_torch: {name}: dumped tasks and mpq's list differ")
    keys = sorted(tasks)
    if max_tasks and len(keys) > max_tasks:  # evenly spaced over groups and candidates
        keys = [keys[(k * len(keys)) // max_tasks] for k in range(max_tasks)]
    return tasks, {k: tasks[k] for k in keys}, by_pair


def bench_model(args, name):
    model_path = os.path.join("configs", "models", f"{name}.onnx")
    tag = os.path.join(args.workdir, name)
    cands = args.per_model.get(name, args.candidates)
    tasks_path = tag + "-tasks.json"
    tmodel = TorchModel(model_path)  # untimed: loading is not phase 1
    x = load_calibration(model_path, args.samples)

    mpq_wall, mpq_p1, mpq_cpu, torch_s, torch_cpu, loads = [], [], [], [], [], [loadavg()]
    sqnr_mpq = sqnr_torch = tasks = subset = by_pair = None
    torch_float_s = torch_task_s = None
    for r in range(args.rounds):
        # Round 1 runs mpq first: its run also dumps the tasks' configurations (after phase 1,
        # inside the wall time: a few hundred KB of JSON) for the torch side.
        order = ("mpq", "torch") if r % 2 == 0 else ("torch", "mpq")
        for side in order:
            if side == "mpq":
                run_dir = tag + "-run"
                shutil.rmtree(run_dir, ignore_errors=True)  # fresh: no journal to resume
                cmd = mpq_cmd(args, cands, model_path, run_dir)
                if r == 0:
                    cmd += ["--dump-tasks", tasks_path]
                sqnr, wall, p1, cpu = run_mpq(cmd)
                if sqnr_mpq is not None and sqnr != sqnr_mpq:
                    sys.exit(f"phase1_vs_torch: {name}: mpq's SQNRs changed between runs")
                sqnr_mpq = sqnr
                mpq_wall.append(wall)
                mpq_p1.append(p1)
                mpq_cpu.append(cpu)
                if tasks is None:
                    tasks, subset, by_pair = load_tasks(tasks_path, tmodel, sqnr_mpq, name,
                                                        args.torch_max_tasks)
            else:
                sqnr_torch, secs, cpu, fl = torch_phase1(tmodel, x, subset, args.batch)
                # Every task costs torch the same (a full pass): a subset is extrapolated.
                scale = (len(tasks) / len(subset))
                torch_float_s, torch_task_s = fl, (secs - fl) / len(subset)
                torch_s.append(fl + (secs - fl) * scale)
                torch_cpu.append(cpu * scale)  # (the float pass is a small part)
            loads.append(loadavg())
            print(f"  {name} round {r + 1}: {side} done, load {loads[-1]:.2f}", file=sys.stderr)

    diffs = []
    for pair, key in by_pair.items():
        if key not in sqnr_torch:
            continue
        a, b = sqnr_mpq[pair], sqnr_torch[key]
        d = abs(a - b) if math.isfinite(a) and math.isfinite(b) else (0.0 if a == b else math.inf)
        diffs.append((d, a, b, pair))
    low = [d for d in diffs if d[1] <= HIGH_SQNR_DB]
    macs = total_macs(args.mpq, model_path)
    n = len(tasks)
    nominal_flop = n * args.samples * 2.0 * macs
    med = statistics.median
    res = {
        "model": name, "candidates": cands, "tasks": n, "macs_per_image": macs,
        "torch_tasks_run": len(subset), "torch_float_pass_s": torch_float_s,
        "torch_s_per_task": torch_task_s,
        "mpq_cpu_s": med(mpq_cpu), "torch_cpu_s": med(torch_cpu),
        "ratio_cpu": med(torch_cpu) / med(mpq_cpu),
        "mpq_cpu_runs": mpq_cpu, "torch_cpu_runs": torch_cpu,
        "mpq_wall_s": med(mpq_wall), "mpq_phase1_s": med(mpq_p1), "torch_s": med(torch_s),
        "mpq_wall_runs": mpq_wall, "mpq_phase1_runs": mpq_p1, "torch_runs": torch_s,
        "ratio_wall": med(torch_s) / med(mpq_wall), "ratio_phase1": med(torch_s) / med(mpq_p1),
        "max_sqnr_diff_db": max(d[0] for d in diffs),
        "worst_task": list(max(diffs)[3]), "worst_task_sqnr": [max(diffs)[1], max(diffs)[2]],
        "max_sqnr_diff_db_le60": max((d[0] for d in low), default=float("nan")),
        "tasks_le60": len(low),
        "min_sqnr_db": min(d[1] for d in diffs), "max_sqnr_db": max(d[1] for d in diffs),
        "nominal_gflop": nominal_flop / 1e9,
        "mpq_gflops_effective": nominal_flop / med(mpq_p1) / 1e9,
        "torch_gflops": (nominal_flop + args.samples * 2.0 * macs) / med(torch_s) / 1e9,
        "loadavg": loads,
        "tasks_sqnr": [{"group": p[0], "candidate": p[1], "mpq": a, "torch": b}
                       for _, a, b, p in sorted(diffs, key=lambda d: d[3])],
    }
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    default_mpq = next((p for p in ("build-bench/cli/mpq", "build/cli/mpq",
                                    "build-werror/cli/mpq") if os.path.exists(os.path.join(ROOT, p))),
                       "build/cli/mpq")
    ap.add_argument("--mpq", default=default_mpq, help=f"mpq binary (default {default_mpq})")
    ap.add_argument("--models", default="cnn,mobilenet,resnet,vit")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--candidates", default="W8A8,W4A8,W4A4,W2A8")
    ap.add_argument("--model-candidates", action="append", default=[], metavar="MODEL=C1,C2",
                    help="candidates for one model (repeatable), e.g. vit=W8A8,W4A4")
    ap.add_argument("--torch-max-tasks", type=int, default=0, metavar="N",
                    help="torch runs only N evenly spaced tasks of a model with more and its "
                         "time is extrapolated to all (every task is one full pass); "
                         "SQNRs are compared on those N (default 0: all tasks)")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64, help="torch's batch size (default 64)")
    ap.add_argument("--mpq-batch", type=int, default=8, help="mpq's batch size (default 8)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--workdir", default="/tmp/mpq-phase1-vs-torch")
    ap.add_argument("--json", help="write every number here")
    args = ap.parse_args()
    args.per_model = dict(m.split("=", 1) for m in args.model_candidates)
    os.chdir(ROOT)
    args.mpq = os.path.abspath(args.mpq)
    os.makedirs(args.workdir, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    peak, mhz = fp32_peak(args.threads)
    print(f"threads {args.threads}, candidates {args.candidates}, {args.samples} images, batch "
          f"{args.mpq_batch} (mpq) / {args.batch} (torch), torch {torch.__version__}, "
          f"mpq {args.mpq}")
    print(f"FP32 peak (nominal): {args.threads} cores x 2 FMA x 16 lanes x 2 flops x "
          f"{mhz:.0f} MHz = {peak:.0f} GFLOP/s; measured Eigen SGEMM 2048^2 on 2 threads "
          f"~129 GFLOP/s (../shared/NOTES.md)")
    hdr = ("| model | candidates | tasks | mpq wall s | mpq phase 1 s | torch s | ratio wall "
           "| ratio phase 1 | mpq CPU s | torch CPU s | ratio CPU | max dSQNR dB "
           "| max dSQNR dB (SQNR<=60) | mpq GFLOP/s eff. | % peak | torch GFLOP/s |")
    print(hdr)
    print("|" + "|".join(["---"] * (hdr.count("|") - 1)) + "|")
    results = []
    for name in args.models.split(","):
        r = bench_model(args, name.strip())
        results.append(r)
        nt = str(r["tasks"]) + ("" if r["torch_tasks_run"] == r["tasks"]
                                else f" ({r['torch_tasks_run']} in torch)")
        print(f"| {r['model']} | {r['candidates']} | {nt} | {r['mpq_wall_s']:.2f} | "
              f"{r['mpq_phase1_s']:.2f} | {r['torch_s']:.2f} | {r['ratio_wall']:.1f} | "
              f"{r['ratio_phase1']:.1f} | {r['mpq_cpu_s']:.1f} | {r['torch_cpu_s']:.1f} | "
              f"{r['ratio_cpu']:.1f} | {r['max_sqnr_diff_db']:.4f} | "
              f"{r['max_sqnr_diff_db_le60']:.4f} | {r['mpq_gflops_effective']:.1f} | "
              f"{100 * r['mpq_gflops_effective'] / peak:.1f} | {r['torch_gflops']:.1f} |",
              flush=True)
    for r in results:
        print(f"{r['model']}: SQNR {r['min_sqnr_db']:.2f}..{r['max_sqnr_db']:.2f} dB, worst task "
              f"{r['worst_task']} mpq {r['worst_task_sqnr'][0]:.4f} torch "
              f"{r['worst_task_sqnr'][1]:.4f}; load average {r['loadavg']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflops_nominal": peak, "cpu_mhz": mhz, "threads": args.threads,
                       "batch_mpq": args.mpq_batch, "batch_torch": args.batch,
                       "candidates": args.candidates, "models": results}, f, indent=1)


if __name__ == "__main__":
    main()
