#!/usr/bin/python3
"""Kendall tau of phase-1 scores (ALPS, SQNR, Fisher) against each task's actual accuracy drop.

    /usr/bin/python3 scripts/alps_tau.py [--mpq build/cli/mpq] [--out results/alps_tau]
        [--models cnn,mobilenet,resnet,vit] [--candidates W8A8,W4A8,W2A8]
        [--adaround-iters 10000] [--hw configs/hw/bitfusion.yaml]

Per bundled model, on the accelerator's groups and the listed candidates (the first is the
baseline), with the other groups float (mode float) and ranges calibrated on the first 256
Fashion-MNIST training images in every run:
  * the actual drop of each task (group g, candidate c): float top-1 minus top-1 with only g at
    c (round to nearest), on the full 10,000-image test set (`--metric accuracy --data
    fashion-mnist:test --samples 10000`; calibration stays on the 256 training images);
  * the scores, each on the same 256 labeled training images: ALPS (`--metric alps`: top-1
    with g at c recovered by AdaRound + bias correction on g), SQNR of the output (`--metric
    sqnr`), and Fisher (`--metric fisher`, first-order Taylor);
  * Kendall tau-b between each score, oriented so that larger = more robust (ALPS and SQNR as
    they are, Fisher negated), and the negated drop: 1 means the score orders the tasks
    exactly as their drops do.
Prints a Markdown table; every run's JSON stays in --out.
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kendall_tau_b(x, y):
    """Kendall tau-b (ties in either list counted as in scipy.stats.kendalltau)."""
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) ** 0.5
    return (concordant - discordant) / denom if denom else float("nan")


def sweep(args, model, metric, out, extra):
    path = os.path.join(out, f"{model}-{metric}")
    cmd = [args.mpq, "sensitivity", "--model", os.path.join(ROOT, "configs", "models",
                                                           model + ".onnx"),
           "--hw", args.hw, "--candidates", args.candidates, "--metric", metric,
           "--calib", "fashion-mnist:train:256", "--quiet", "--no-plots", "--json", "-o", path]
    cmd += extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr}")
    with open(path + ".json", "w") as f:
        f.write(p.stdout)
    return {(e["group"], e["candidate"]): e for e in json.loads(p.stdout)["entries"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mpq", default=os.path.join(ROOT, "build", "cli", "mpq"))
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "alps_tau"))
    ap.add_argument("--models", default="cnn,mobilenet,resnet,vit")
    ap.add_argument("--candidates", default="W8A8,W4A8,W2A8")
    ap.add_argument("--adaround-iters", default="10000")
    ap.add_argument("--hw", default=os.path.join(ROOT, "configs", "hw", "bitfusion.yaml"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print("| model | tasks | tau ALPS | tau SQNR | tau Fisher | drops: min / median / max "
          "(points) |")
    print("|---|---:|---:|---:|---:|---|")
    for model in args.models.split(","):
        truth = sweep(args, model, "accuracy", args.out,
                      ["--data", "fashion-mnist:test", "--samples", "10000"])
        alps = sweep(args, model, "alps", args.out, ["--adaround-iters", args.adaround_iters])
        sqnr = sweep(args, model, "sqnr", args.out, [])
        fisher = sweep(args, model, "fisher", args.out, [])
        keys = sorted(k for k in truth if k in alps and k in sqnr and k in fisher)
        drop = [truth[k]["metrics"]["float_top1_accuracy"] - truth[k]["metrics"]["top1_accuracy"]
                for k in keys]
        robust = [-d for d in drop]
        taus = [kendall_tau_b([alps[k]["metrics"]["top1_accuracy"] for k in keys], robust),
                kendall_tau_b([sqnr[k]["metrics"]["sqnr_db"] for k in keys], robust),
                kendall_tau_b([-fisher[k]["fisher"] for k in keys], robust)]
        d = sorted(drop)
        print(f"| {model} | {len(keys)} | " + " | ".join(f"{t:.3f}" for t in taus) +
              f" | {d[0]:.2f} / {d[len(d) // 2]:.2f} / {d[-1]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
