#!/usr/bin/python3
"""End-to-end: `mpq export` QDQ models run in onnxruntime agree with mpq's simulator.

    /usr/bin/python3 tests/e2e/test_qdq_onnxruntime.py MPQ_BINARY SOURCE_DIR [MODEL ...]
        [--table FILE.md]

For each bundled model (configs/models/{cnn,mobilenet,resnet,vit}.onnx) and five
configurations (W8A8, W4A8, W4A8 with AdaRounded weights and two mixed ones, see
mixed_formats()), calibrated with `mpq quantize --calib fashion-mnist:train:256`:
  * `mpq export MODEL --config CFG -o M.qdq.onnx --encodings E.json` (opset 21: int4 and int16
    native; W4A8 also at --opset 17, where 4-bit goes on an 8-bit carrier, and for cnn an fp8
    configuration, e4m3 activations and e5m2 weights: these two compare logits only);
  * mpq's top-1 accuracy from `mpq run --config CFG --data fashion-mnist:test --json`;
  * onnxruntime (tools/ort/ort_logits.js, onnxruntime-node 1.30) on the 10,000 test images,
    preprocessed as the model's metadata says.

Two onnxruntime modes, because they compute different things:
  * graph optimization 'disabled': every QuantizeLinear/DequantizeLinear and float op runs as
    the ONNX specification defines it. This is the reference for the logits. ('basic' is not:
    its WeightBiasQuantization pass rewrites a float weight of a Conv/Gemm/MatMul that sits
    between a DQ and a Q, e.g. an fp16 weight of a mixed configuration, into an int8
    per-tensor weight with an int32 bias, which changes the model's arithmetic.)
  * 'all' (onnxruntime's default, what a deployment runs): on top of that, from level
    'extended' on, it replaces DQ -> op -> Q groups by its integer kernels (QLinearConv,
    QLinearMatMul, QGemm, and the com.microsoft QLinearAdd/QLinearMul/QLinearSoftmax), which
    approximate the graph (fixed-point requantization, a softmax lookup table). Its accuracy is
    the one compared, within ACC_TOL; its logits are reported, with a looser bound. On the ViT
    those approximations alone change up to 47 of 10,000 classes (0.11 point; at 'disabled' its
    export agrees with mpq on all 10,000: e2e_foreign_suite's vit_opset13 canonicalizes to this
    graph and checks 'disabled' accuracy on all images within 0.1 point), so the ViT's bound is
    ACC_TOL_VIT.

Asserted per model and configuration:
  * top-1 accuracy of onnxruntime ('all', 10,000 images) within ACC_TOL (0.1 point) of mpq's,
    ACC_TOL_VIT (0.25) on the ViT (QLinearSoftmax's lookup table and fixed-point attention);
  * logits of the first 256 images, 'disabled' against mpq: the logits are the output of an
    activation quantizer, so any difference is a whole number of its steps s_out. What is
    left between two correct engines are rounding flips of intermediate activations whose
    value lies within float rounding error of a grid tie: mpq computes x * (1/s) where ONNX
    divides (x / s), and the engines sum convolutions in different orders (1e-7 relative).
    A flip moves one element by one step; its effect reaches a logit as at most a step or two
    of s_out. So: max |diff| <= MAX_STEPS * s_out and top-1 agrees on >= MIN_TOP1_AGREE of
    256 images. To separate the two causes, a copy of every export in which each
    QuantizeLinear gets x * (1/s) and scale 1 (mpq's arithmetic exactly) runs again: with it,
    at most MAX_DIFF_FRAC of the logits may differ (summation order and the last-bit rounding
    of float ops such as Erf, Exp and LayerNormalization alone);
  * 'all' logits: max |diff| <= MAX_STEPS_ALL * s_out (documented deviation, see above);
  * W4A8-adaround: `mpq quantize`'s own top-1 on the test set equals `mpq run --config`'s on
    the file it wrote, and the exported weights are the file's integers;
  * the exported files: encodings carry the configuration's scales and offsets, the
    carrier of each narrow grid is in metadata_props, python onnx.checker accepts the model.
Exit code 1 with the measurements and an explanation on failure.
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from fashion_mnist_test_set import load_test_set

ACC_TOL = 0.1          # top-1 accuracy points, onnxruntime vs mpq
ACC_TOL_VIT = 0.25     # the same on the ViT, whose attention onnxruntime approximates most
MAX_STEPS = 3          # 'disabled' logits: steps of the logits quantizer
MAX_DIFF_FRAC = 0.05   # 'disabled' logits: fraction of the 256 x 10 logits that may differ
MIN_TOP1_AGREE = 250   # of 256
MAX_STEPS_ALL = 8      # 'all' logits: onnxruntime's fused integer kernels
COUNT = 256
THREADS = "1"  # per process; two models run at once
MODELS = ("vit", "mobilenet", "resnet", "cnn")


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def mixed_formats(cfg, variant):
    """Formats of the two mixed configurations, by position in the (sorted) quantizer list.

    mixed-A (integer): weights int8 / int4 / int6 in turn, every fourth activation int6
        (a uint6 grid on a uint8 carrier, clipped), the rest int8.
    mixed-B (wide and float): weights int8 / fp16 / int5 in turn, activations int16 / int8 /
        bf16 in turn; the model input and the logits stay int8."""
    q = cfg["quantizers"]
    weights = [n for n in q if q[n]["kind"] == "weight"]
    acts = [n for n in q if q[n]["kind"] == "activation" and n not in ("input", "logits")]
    fmt = {}
    if variant == "F":  # fp8: e4m3 activations, e5m2 weights
        for n in weights + acts:
            fmt[n] = "fp8e5m2" if q[n]["kind"] == "weight" else "fp8e4m3"
    elif variant == "A":
        for k, n in enumerate(weights):
            fmt[n] = ("int8", "int4", "int6")[k % 3]
        for k, n in enumerate(acts):
            fmt[n] = "int6" if k % 4 == 3 else "int8"
    else:
        for k, n in enumerate(weights):
            fmt[n] = ("int8", "fp16", "int5")[k % 3]
        for k, n in enumerate(acts):
            fmt[n] = ("int16", "int8", "bf16")[k % 3]
    return fmt


def make_mixed(base_path, out_path, variant):
    with open(base_path) as f:
        cfg = json.load(f)
    for name, fmt in mixed_formats(cfg, variant).items():
        q = cfg["quantizers"][name]
        # Keep kind, scheme, granularity and range; the format's own parameters are re-derived.
        for key in ("scale", "zero_point", "qmin", "qmax"):
            q.pop(key, None)
        q["format"] = fmt
    cfg["notes"] = {"configuration": f"mixed-{variant}"}
    with open(out_path, "w") as f:
        json.dump(cfg, f)


def reciprocal_copy(src, dst):
    """The export with mpq's rounding arithmetic: Q(x * (1/s), scale 1) for every activation Q."""
    import onnx
    from onnx import helper, numpy_helper
    m = onnx.load(src)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    one = numpy_helper.from_array(np.array(1.0, np.float32), "mpq_test_one")
    g.initializer.append(one)
    nodes = []
    for n in g.node:
        if n.op_type == "QuantizeLinear":
            s = numpy_helper.to_array(inits[n.input[1]])
            if s.size == 1:
                inv = numpy_helper.from_array(np.float32(1.0) / s.astype(np.float32),
                                              n.input[1] + "_mpq_test_inv")
                g.initializer.append(inv)
                scaled = n.input[0] + "_mpq_test_scaled"
                nodes.append(helper.make_node("Mul", [n.input[0], inv.name], [scaled]))
                n.input[0] = scaled
                n.input[1] = one.name
        nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    onnx.save(m, dst)


def initializer_ints(t):
    """An integer initializer's values, flat; int4/uint4 (ONNX types 22/21, two a byte, low
    nibble first) unpacked here, since this python onnx predates them."""
    import onnx.numpy_helper
    if t.data_type not in (21, 22):
        return onnx.numpy_helper.to_array(t).astype(np.int64).ravel()
    raw = np.frombuffer(t.raw_data, np.uint8)
    v = np.stack([raw & 0xF, raw >> 4], axis=1).ravel()[:int(np.prod(t.dims))].astype(np.int64)
    return np.where(v > 7, v - 16, v) if t.data_type == 22 else v


def check_files(model_qdq, enc_path, cfg):
    """Encodings and metadata against the configuration; python onnx.checker on the model."""
    import onnx
    import onnx.numpy_helper
    errs = []
    m = onnx.load(model_qdq)
    check = onnx.ModelProto()
    check.CopyFrom(m)
    check.ir_version = min(check.ir_version, 8)  # python onnx 1.12, like libonnx 1.12
    for op in check.opset_import:
        op.version = min(op.version, 17)
    try:
        onnx.checker.check_model(check)
    except Exception as e:  # noqa: BLE001 - any checker failure is reported
        # Ops this old checker cannot judge at opset 17: ReduceMean has its axes as an input
        # from 18, Gelu exists from 20 (the ViT's canonicalized GELUs; mpq's own check runs
        # libonnx's checker on the same graph with each Gelu written as its subgraph).
        if not any(op in str(e) for op in ("ReduceMean", "Gelu")):
            errs.append(f"python onnx.checker: {str(e).splitlines()[0]}")
    # AdaRound's integers are the exported weights, element for element.
    inits = {t.name: t for t in m.graph.initializer}
    dq_input = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "DequantizeLinear"}
    for name, q in cfg["quantizers"].items():
        if "integer_weights" not in q:
            continue
        want = np.array([int(v) for v in q["integer_weights"].split()])
        got = initializer_ints(inits[dq_input[name]])
        if not np.array_equal(want, got):
            errs.append(f"'{name}': the exported weight is not the configuration's AdaRound "
                        f"integers ({int((want != got).sum())} of {want.size} differ)")
    meta = {p.key: p.value for p in m.metadata_props}
    carriers = json.loads(meta.get("mpq.qdq.carriers", "{}"))
    with open(enc_path) as f:
        enc = json.load(f)
    for name, q in cfg["quantizers"].items():
        if q["format"] == "fp32":
            continue
        section = enc["param_encodings" if q["kind"] == "weight" else "activation_encodings"]
        if name not in section:
            errs.append(f"encodings: '{name}' missing")
            continue
        e = section[name]
        if q["format"].startswith("int"):
            bits = int(q["format"][3:])
            if e["bitwidth"] != bits or e["dtype"] != "int":
                errs.append(f"encodings: '{name}' bitwidth {e['bitwidth']} dtype {e['dtype']}")
            if not np.allclose(e["scale"], q["scale"], rtol=0, atol=0):
                errs.append(f"encodings: '{name}' scale differs from the configuration")
            if [-z for z in q["zero_point"]] != e["offset"]:
                errs.append(f"encodings: '{name}' offset is not -zero_point")
            narrow = bits not in (4, 8, 16) or q["qmin"] not in (0, -(1 << (bits - 1)))
            if narrow and name not in carriers:
                errs.append(f"metadata_props: carrier of {q['format']} '{name}' not recorded")
            if narrow and carriers.get(name, {}).get("carrier") != e.get("carrier"):
                errs.append(f"carrier of '{name}': metadata {carriers.get(name)} vs encodings "
                            f"{e.get('carrier')}")
        elif e["dtype"] != "float":
            errs.append(f"encodings: '{name}' is {q['format']} but dtype {e['dtype']}")
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mpq")
    ap.add_argument("src")
    ap.add_argument("models", nargs="*")
    ap.add_argument("--table", help="also write the results as a Markdown table")
    ap.add_argument("--extra-level", choices=["basic", "extended"],
                    help="also run onnxruntime at this optimization level on the 256 images and "
                         "report how many logits differ from mpq's (not asserted; README)")
    args = ap.parse_args()
    mpq, src = os.path.abspath(args.mpq), os.path.abspath(args.src)
    ort = os.path.join(src, "tools", "ort", "ort_logits.js")
    if not os.path.isdir(os.path.join(src, "tools", "ort", "node_modules", "onnxruntime-node")):
        print("FAIL: tools/ort/node_modules/onnxruntime-node missing (run scripts/setup.sh)")
        return 1
    models = args.models or list(MODELS)
    with tempfile.TemporaryDirectory(prefix="mpq_e2e_qdq_") as tmp:
        # Two models at a time, one thread each: the 2 cores stay busy through the serial parts
        # (process start, model loading); the longest model (vit) starts first.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(
                lambda n: check_model(mpq, src, ort, n, tmp, args.extra_level), models))
    rows = [r for res in results for r in res[0]]
    failures = [f for res in results for f in res[1]]
    table = markdown(rows)
    print("\n" + table)
    if args.table:
        with open(args.table, "w") as f:
            f.write(table)
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures))
        return 1
    print("\nPASS")
    return 0


def check_model(mpq, src, ort, name, tmp, extra_level=None):
    """Every configuration of one model: (rows, failures)."""
    failures, rows = [], []
    model = os.path.join(src, "configs", "models", name + ".onnx")
    x, labels = load_test_set(model)
    x_all, x_256 = os.path.join(tmp, name + ".x.npy"), os.path.join(tmp, name + ".x256.npy")
    np.save(x_all, x)
    np.save(x_256, x[:COUNT])
    base = os.path.join(tmp, f"{name}.W8A8.json")
    # The logits-only variants (no 10,000-image runs): W4A8 on 8-bit carriers, and fp8 (cnn).
    extra = ("W4A8@opset17", "mixed-F") if name == "cnn" else ("W4A8@opset17",)
    for conf in ("W8A8", "W4A8", "W4A8-adaround", "mixed-A", "mixed-B") + extra:
        tag = f"{name} {conf}"
        cfg_path = os.path.join(tmp, f"{name}.{conf.split('@')[0]}.json")
        calib = ["--calib", "fashion-mnist:train:256", "--threads", THREADS]
        quantize_json = None
        if conf in ("W8A8", "W4A8"):
            p = run([mpq, "quantize", model, "--candidate", conf, "-o", cfg_path, *calib])
        elif conf == "W4A8-adaround":
            # Its metrics on the test set, to compare with `mpq run --config` of the file.
            p = run([mpq, "quantize", model, "--candidate", "W4A8", "-o", cfg_path, *calib,
                     "--weight-rounding", "adaround", "--adaround-iters", "1000",
                     "--data", "fashion-mnist:test", "--json"])
            if p.returncode == 0:
                quantize_json = json.loads(p.stdout)
        elif conf.startswith("mixed"):
            edited = cfg_path + ".edited.json"
            make_mixed(base, edited, conf[-1])
            p = run([mpq, "quantize", model, "--config", edited, "-o", cfg_path, *calib])
        else:
            p = subprocess.CompletedProcess([], 0)
        if p.returncode != 0:
            failures.append(f"{tag}: mpq quantize exited {p.returncode}: {p.stderr}")
            continue
        with open(cfg_path) as f:
            cfg = json.load(f)
        opset = "17" if conf.endswith("opset17") else "21"
        qdq = os.path.join(tmp, f"{name}.{conf}.qdq.onnx")
        enc = os.path.join(tmp, f"{name}.{conf}.enc.json")
        p = run([mpq, "export", model, "--config", cfg_path, "-o", qdq, "--encodings", enc,
                 "--opset", opset, "--json"])
        if p.returncode != 0:
            failures.append(f"{tag}: mpq export exited {p.returncode}: {p.stderr}")
            continue
        exported = json.loads(p.stdout)
        failures += [f"{tag}: {e}" for e in check_files(qdq, enc, cfg)]

        y_mpq = os.path.join(tmp, f"{name}.{conf}.mpq.npy")
        p = run([mpq, "run", model, "--config", cfg_path, "--input", x_256, "--output",
                 y_mpq, "--threads", THREADS])
        if p.returncode != 0:
            failures.append(f"{tag}: mpq run exited {p.returncode}: {p.stderr}")
            continue
        full = conf not in extra
        if full:
            p = run([mpq, "run", model, "--config", cfg_path, "--data",
                     "fashion-mnist:test", "--json", "--threads", THREADS])
            if p.returncode != 0:
                failures.append(f"{tag}: mpq run --data exited {p.returncode}: {p.stderr}")
                continue
            acc_mpq = json.loads(p.stdout)["top1_accuracy"]
            if quantize_json is not None:
                acc_q = quantize_json["metrics"]["top1_accuracy"]
                if abs(acc_q - acc_mpq) > 1e-9:
                    failures.append(f"{tag}: `mpq quantize` measured {acc_q} % top-1, `mpq run "
                                    f"--config` of the file it wrote {acc_mpq} %: the written "
                                    f"AdaRound integers are not what was measured")
        outs = {}
        jobs = [("disabled", x_256, qdq)] + ([("all", x_all, qdq)] if full else [])
        if extra_level:
            jobs.append((extra_level, x_256, qdq))
        if True:  # every configuration: isolates the x / s versus x * (1/s) flips
            recip = qdq + ".recip.onnx"
            reciprocal_copy(qdq, recip)
            jobs.append(("recip", x_256, recip))
        for level, xin, mfile in jobs:
            y = os.path.join(tmp, f"{name}.{conf}.ort.{level}.npy")
            p = run(["node", ort, "--model", mfile, "--input", xin, "--output", y,
                     "--threads", THREADS, "--opt-level",
                     "disabled" if level == "recip" else level])
            if p.returncode != 0:
                failures.append(f"{tag}: onnxruntime ({level}) failed: {p.stderr.strip()}")
                break
            outs[level] = np.load(y)
        else:
            ref = np.load(y_mpq).astype(np.float64)
            step = float(cfg["quantizers"]["logits"]["scale"][0]) \
                if "scale" in cfg["quantizers"].get("logits", {}) else None
            r = {"tag": tag, "counts": exported}
            d = np.abs(outs["disabled"].astype(np.float64) - ref)
            r["spec_max"], r["spec_ndiff"] = float(d.max()), int((d > 0).sum())
            r["spec_top1"] = int((outs["disabled"].argmax(1) == ref.argmax(1)).sum())
            r["step"] = step
            if "recip" in outs:
                r["recip_ndiff"] = int((np.abs(outs["recip"] - ref) > 0).sum())
            if extra_level:
                e = np.abs(outs[extra_level].astype(np.float64) - ref)
                r["extra"] = (extra_level, int((e > 0).sum()), float(e.max()))
            if full:
                a = outs["all"]
                r["acc_mpq"] = acc_mpq
                r["acc_ort"] = float((a.argmax(1) == labels).mean() * 100)
                r["all_max"] = float(np.abs(a[:COUNT].astype(np.float64) - ref).max())
            rows.append(r)
            bad = judge(r)
            failures += [f"{tag}: {b}" for b in bad]
            print(summary(r), flush=True)
    return rows, failures


def judge(r):
    bad = []
    step = r["step"]
    tol = ACC_TOL_VIT if r["tag"].startswith("vit") else ACC_TOL
    if "acc_mpq" in r and abs(r["acc_mpq"] - r["acc_ort"]) > tol + 1e-9:
        bad.append(f"top-1 accuracy mpq {r['acc_mpq']:.2f} vs onnxruntime {r['acc_ort']:.2f} "
                   f"differs by more than {tol} point: more images change class than "
                   f"rounding flips at ties explain; compare the 'disabled' logits below to see "
                   f"whether mpq or onnxruntime's fused kernels are off")
    if step is None:
        return bad + ["the logits are not quantized; the step tolerance needs their scale"]
    if r["spec_max"] > MAX_STEPS * step * (1 + 1e-6):
        bad.append(f"'disabled' logits differ by up to {r['spec_max']:.4g} = "
                   f"{r['spec_max'] / step:.2f} steps of the logits quantizer (> {MAX_STEPS}): "
                   f"more than rounding flips at ties; a scale, zero point, clip range or "
                   f"rounding rule differs between mpq's simulator and the exported Q/DQ graph")
    if r["recip_ndiff"] > MAX_DIFF_FRAC * COUNT * 10:
        bad.append(f"with mpq's x * (1/s) rounding in every QuantizeLinear, {r['recip_ndiff']} "
                   f"of {COUNT * 10} 'disabled' logits still differ (> {MAX_DIFF_FRAC:.0%}): "
                   f"summation-order ties cannot flip that many; something systematic differs")
    if r["spec_top1"] < MIN_TOP1_AGREE:
        bad.append(f"top-1 agrees on {r['spec_top1']}/{COUNT} images < {MIN_TOP1_AGREE}")
    if "all_max" in r and r["all_max"] > MAX_STEPS_ALL * step * (1 + 1e-6):
        bad.append(f"'all' logits differ by {r['all_max'] / step:.1f} steps (> {MAX_STEPS_ALL})")
    return bad


def summary(r):
    s = (f"{r['tag']}: 'disabled' max |diff| {r['spec_max']:.4g} ({r['spec_max'] / r['step']:.0f}"
         f" steps), {r['spec_ndiff']}/{COUNT * 10} logits differ, top-1 agree "
         f"{r['spec_top1']}/{COUNT}")
    if "recip_ndiff" in r:
        s += f"; with x*(1/s) in Q: {r['recip_ndiff']} differ"
    if "extra" in r:
        level, n, mx = r["extra"]
        s += f"; '{level}': {n}/{COUNT * 10} logits differ, max {mx / r['step']:.0f} steps"
    if "acc_mpq" in r:
        s += (f"; accuracy mpq {r['acc_mpq']:.2f} onnxruntime {r['acc_ort']:.2f}; 'all' max "
              f"|diff| {r['all_max']:.4g}")
    return s


def markdown(rows):
    out = ["| model | configuration | Q / DQ / Clip / Cast | mpq top-1 | onnxruntime top-1 "
           "('all') | max logit diff 'disabled' (steps) | logits differing 'disabled' | "
           "max logit diff 'all' (steps) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        model, conf = r["tag"].split(" ", 1)
        c = r["counts"]
        acc = (f"{r['acc_mpq']:.2f} | {r['acc_ort']:.2f}" if "acc_mpq" in r else "- | -")
        alls = (f"{r['all_max']:.4f} ({r['all_max'] / r['step']:.0f})" if "all_max" in r else "-")
        diff = f"{r['spec_ndiff']}/{COUNT * 10}"
        if "recip_ndiff" in r:
            diff += f" ({r['recip_ndiff']} with x*(1/s))"
        out.append(f"| {model} | {conf} | {c['quantize_linear']} / {c['dequantize_linear']} / "
                   f"{c['clip']} / {c['cast']} | {acc} | {r['spec_max']:.4f} "
                   f"({r['spec_max'] / r['step']:.0f}) | {diff} | {alls} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
