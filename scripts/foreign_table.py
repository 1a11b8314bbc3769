#!/usr/bin/python3
"""The README's foreign-model table: each model of configs/models/foreign in mpq before and
after issue 22, and its export in onnxruntime.

    /usr/bin/python3 scripts/foreign_table.py MPQ_BEFORE MPQ_AFTER [--out FILE.md]

MPQ_BEFORE is mpq built at the commit before issue 22's work (94d1de7:
`git worktree add --detach /tmp/mpq-before 94d1de7`, then build it as the README says),
MPQ_AFTER the current build. With --before-as-exported, MPQ_BEFORE is run with the settings of
that commit instead: `--no-canonicalize` and MSE ranges (its arithmetic otherwise is the current
one: no NaN guard, no fusion rules are involved on these models). Per model:
  * FP32: top-1 on the 10,000 test images in mpq (`mpq run --data fashion-mnist:test`) and
    onnxruntime (tools/ort/ort_logits.js on the same images, preprocessed per the metadata),
    and the largest logit difference;
  * activation and weight quantizers (`mpq inspect --quantizers --json`), before / after;
  * W8A8 with the default settings (`mpq quantize --candidate W8A8`: 512 calibration images,
    evaluated on the 10,000 test images): top-1 accuracy and output SQNR, before / after,
    and whether any printed metric or any logit of `mpq run --config` is not finite;
  * the after-configuration exported (`mpq export`, opset 21) and run in onnxruntime (level
    'all', 10,000 images): its accuracy against `mpq run --config`'s, and the largest logit
    difference on 256 images at level 'disabled' in steps of the logits' quantizer.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from fashion_mnist_test_set import load_test_set  # noqa: E402

MODELS = ("mnv3_opset11", "tf_opset12", "vit_opset13")
ORT = os.path.join(REPO, "tools", "ort", "ort_logits.js")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def ort(model, x, out, level):
    run(["node", ORT, "--model", model, "--input", x, "--output", out, "--threads", "2",
         "--opt-level", level])
    return np.load(out)


BEFORE_FLAGS = []  # --before-as-exported: the settings before issue 22 on a current binary


def quantizer_counts(mpq, model, flags=()):
    q = json.loads(run([mpq, "inspect", model, "--quantizers", "--json", *flags]))["quantizers"]
    acts = sum(1 for r in q if r["kind"] == "activation")
    return acts, len(q) - acts


def w8a8(mpq, model, cfg, flags=()):
    out = json.loads(run([mpq, "quantize", model, "--candidate", "W8A8", "--data",
                          "fashion-mnist:test", "-o", cfg, "--json", "--threads", "2", *flags]))
    m = out["metrics"]
    finite = all(isinstance(v, (int, float)) and math.isfinite(v)
                 for v in (m.get("sqnr_db"), m.get("top1_accuracy"), m.get("kl_divergence")))
    return m.get("top1_accuracy"), m.get("sqnr_db"), finite


def fmt(v, spec=".2f"):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def row(before, after, name, tmp):
    import onnx
    model = os.path.join(REPO, "configs", "models", "foreign", name + ".onnx")
    m = onnx.load(model)
    meta = {p.key: p.value for p in m.metadata_props}
    x, labels = load_test_set(model)
    if meta.get("mpq.input.layout") == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    xa, x256 = os.path.join(tmp, name + ".x.npy"), os.path.join(tmp, name + ".x256.npy")
    np.save(xa, x)
    np.save(x256, x[:256])
    r = {"model": name, "opset": m.opset_import[0].version}
    y_ort = ort(model, xa, os.path.join(tmp, name + ".fp32.ort.npy"), "disabled")
    y_mpq = os.path.join(tmp, name + ".fp32.mpq.npy")
    run([after, "run", model, "--input", xa, "--output", y_mpq, "--threads", "2"])
    y = np.load(y_mpq)
    r["fp32_ort"] = float((y_ort.argmax(1) == labels).mean() * 100)
    r["fp32_mpq"] = json.loads(run([after, "run", model, "--data", "fashion-mnist:test", "--json",
                                    "--threads", "2"]))["top1_accuracy"]
    r["fp32_diff"] = float(np.abs(y.astype(np.float64) - y_ort).max())
    r["q_before"] = quantizer_counts(before, model, BEFORE_FLAGS[:1])
    r["q_after"] = quantizer_counts(after, model)
    cfg_b, cfg_a = os.path.join(tmp, name + ".before.json"), os.path.join(tmp, name + ".after.json")
    try:
        r["acc_before"], r["sqnr_before"], fin_b = w8a8(before, model, cfg_b, BEFORE_FLAGS)
    except RuntimeError as e:  # the old binary may refuse a model; the table says so
        print(f"{name}: before: {e}", file=sys.stderr)
        r["acc_before"], r["sqnr_before"], fin_b = None, None, False
    r["acc_after"], r["sqnr_after"], fin_a = w8a8(after, model, cfg_a)
    yq = os.path.join(tmp, name + ".w8a8.npy")
    run([after, "run", model, "--config", cfg_a, "--input", xa, "--output", yq, "--threads", "2"])
    ref = np.load(yq).astype(np.float64)
    r["finite_before"], r["finite_after"] = fin_b, fin_a and bool(np.all(np.isfinite(ref)))
    qdq = os.path.join(tmp, name + ".qdq.onnx")
    run([after, "export", model, "--config", cfg_a, "-o", qdq])
    full = ort(qdq, xa, qdq + ".all.npy", "all")
    spec = ort(qdq, x256, qdq + ".disabled.npy", "disabled")
    with open(cfg_a) as f:
        step = json.load(f)["quantizers"][m.graph.output[0].name]["scale"][0]
    r["sim_acc"] = float((ref.argmax(1) == labels).mean() * 100)
    r["ort_acc"] = float((full.argmax(1) == labels).mean() * 100)
    r["steps"] = float(np.abs(spec.astype(np.float64) - ref[:256]).max() / step)
    return r


def markdown(rows):
    out = ["| model | opset | FP32 top-1 mpq / onnxruntime (max logit diff) | quantizers act+weight "
           "before / after | W8A8 top-1 before / after | W8A8 output SQNR dB before / after | "
           "all finite before / after | export: top-1 mpq / onnxruntime, max logit diff (steps) |",
           "|---|---:|---|---|---|---|---|---|"]
    for r in rows:
        qb, qa = r["q_before"], r["q_after"]
        out.append(
            f"| {r['model']} | {r['opset']} | {r['fp32_mpq']:.2f} / {r['fp32_ort']:.2f} "
            f"({r['fp32_diff']:.1e}) | {qb[0]}+{qb[1]} / {qa[0]}+{qa[1]} | "
            f"{fmt(r['acc_before'])} / {fmt(r['acc_after'])} | {fmt(r['sqnr_before'], '.1f')} / "
            f"{fmt(r['sqnr_after'], '.1f')} | {'yes' if r['finite_before'] else 'NO'} / "
            f"{'yes' if r['finite_after'] else 'NO'} | {r['sim_acc']:.2f} / {r['ort_acc']:.2f}, "
            f"{r['steps']:.0f} |")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--out")
    ap.add_argument("--before-as-exported", action="store_true",
                    help="run MPQ_BEFORE with --no-canonicalize and MSE ranges")
    ap.add_argument("models", nargs="*")
    args = ap.parse_args()
    if args.before_as_exported:
        BEFORE_FLAGS.extend(["--no-canonicalize", "--act-range", "mse", "--weight-range", "mse"])
    rows = []
    with tempfile.TemporaryDirectory(prefix="mpq_foreign_table_") as tmp:
        for name in args.models or MODELS:
            rows.append(row(os.path.abspath(args.before), os.path.abspath(args.after), name, tmp))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    table = markdown(rows)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
