#!/usr/bin/python3
"""Independent PyTorch reference for mpq's quantized (fake-quantized) inference.

    /usr/bin/python3 scripts/torch_qdq_reference.py MODEL.onnx --config CFG.json \\
        --input x.npy --output y.npy [--no-fold-batchnorm] [--threads 2] [--verbose]

Executes the ONNX model node by node with torch ops (float32), applying an mpq quantization
configuration (`mpq quantize ... -o CFG.json`):
  * every tensor named in "quantizers" is fake-quantized as soon as it exists: an initializer
    or Constant output, a model input, or a node output. Integer formats go through
    torch.fake_quantize_per_tensor_affine / torch.fake_quantize_per_channel_affine with the
    configuration's scale, zero_point, qmin, qmax (and axis); fp16 / bf16 through
    .half().float() / .bfloat16().float(); "fp32" is left alone. fp8 formats have no PyTorch
    1.13 counterpart and are rejected.
  * every bias named in "biases" (int32) is rounded: y = round_half_even(b / scale) * scale,
    float32 arithmetic, q clamped to the int32 range.
Nothing else of mpq is used: the configuration only supplies names and numbers.

mpq folds BatchNormalization into the preceding Conv/Gemm before quantizing (so a weight
quantizer sees the folded weight, and the folded bias is named "<node>_bnfold_bias"). This
script folds it the same way (unless --no-fold-batchnorm): scale = gamma / sqrt(var + eps)
in float64, rounded to float32; shift = beta - mean * scale (float64, rounded); W' = W * scale
and b' = b * scale + shift in float32. A quantizer or bias name that is not a tensor of the
model (after that folding) is an error naming it: mpq's constant folding keeps the names of
the tensors it computes, so every other name mpq produces is a tensor of the original file.

Writes the first model output as float32 .npy. Exit code 0 on success, 2 on bad input.
"""

import argparse
import json
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper


class RefError(Exception):
    pass


# ---------------------------------------------------------------- quantizers

def fake_quantize(t, q, name):
    fmt = q["format"]
    if fmt in ("fp32", "float", "float32"):
        return t
    if fmt == "fp16":
        return t.half().float()
    if fmt == "bf16":
        return t.bfloat16().float()
    if not fmt.startswith("int"):
        raise RefError(f"quantizer '{name}': format '{fmt}' has no PyTorch 1.13 reference")
    if t.dtype != torch.float32:
        raise RefError(f"quantizer '{name}': tensor is {t.dtype}, not float32")
    scale = [float(np.float32(s)) for s in q["scale"]]
    zp = [int(z) for z in q["zero_point"]]
    qmin, qmax = int(q["qmin"]), int(q["qmax"])
    axis = int(q.get("axis", -1))
    if axis < 0:
        if len(scale) != 1:
            raise RefError(f"quantizer '{name}': {len(scale)} scales without an axis")
        return torch.fake_quantize_per_tensor_affine(t, scale[0], zp[0], qmin, qmax)
    if axis >= t.dim() or t.shape[axis] != len(scale):
        raise RefError(f"quantizer '{name}': {len(scale)} scales do not fit axis {axis} of "
                       f"shape {list(t.shape)}")
    return torch.fake_quantize_per_channel_affine(
        t, torch.tensor(scale, dtype=torch.float32), torch.tensor(zp, dtype=torch.int32),
        axis, qmin, qmax)


def round_bias(b, scale, name):
    s = torch.tensor(np.asarray(scale, np.float32))
    if b.numel() != s.numel():
        raise RefError(f"bias '{name}': {b.numel()} values but {s.numel()} scales")
    s = s.reshape(b.shape)
    q = torch.round(b / s).clamp(-2147483648.0, 2147483647.0)  # round half to even
    return q * s


# ---------------------------------------------------------------- BatchNorm folding

def fold_batchnorm(model, inits):
    """mpq's BatchNorm folding (graph/batchnorm_folding.cpp) on the node list; returns it."""
    nodes = list(model.graph.node)
    changed = True
    while changed:
        changed = False
        uses, producer = {}, {}
        for k, n in enumerate(nodes):
            for i in n.input:
                uses[i] = uses.get(i, 0) + 1
            for o in n.output:
                producer[o] = k
        for o in model.graph.output:
            uses[o.name] = uses.get(o.name, 0) + 1
        for k, bn in enumerate(nodes):
            if bn.op_type != "BatchNormalization" or not bn.input:
                continue
            if bn.input[0] not in producer or uses.get(bn.input[0]) != 1:
                continue
            attrs = {a.name: helper.get_attribute_value(a) for a in bn.attribute}
            if attrs.get("training_mode", 0) != 0 or any(o for o in bn.output[1:]):
                continue
            if len(bn.input) < 5 or any(i not in inits for i in bn.input[1:5]):
                continue
            p = nodes[producer[bn.input[0]]]
            if p.op_type not in ("Conv", "Gemm") or len(p.input) < 2 or p.input[1] not in inits:
                continue
            gamma, beta, mean, var = (inits[i].numpy() for i in bn.input[1:5])
            eps = float(np.float32(attrs.get("epsilon", 1e-5)))
            s64 = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
            scale = s64.astype(np.float32)
            shift = (beta.astype(np.float64) - mean.astype(np.float64) * s64).astype(np.float32)
            pattrs = {a.name: helper.get_attribute_value(a) for a in p.attribute}
            w = inits[p.input[1]].numpy()
            alpha = np.float32(pattrs.get("alpha", 1.0)) if p.op_type == "Gemm" else np.float32(1)
            pbeta = np.float32(pattrs.get("beta", 1.0)) if p.op_type == "Gemm" else np.float32(1)
            if p.op_type == "Conv":
                ch_shape = [-1] + [1] * (w.ndim - 1)
            elif pattrs.get("transB", 0):
                ch_shape = [-1, 1]
            else:
                ch_shape = [1, -1]
            wname = p.input[1]
            if uses.get(wname, 0) > 1:
                wname += "_bnfold"
                while wname in inits:
                    wname += "_"
            wf = w * (alpha * scale).reshape(ch_shape)
            bias = np.zeros(scale.shape, np.float32)
            if len(p.input) > 2 and p.input[2]:
                b = inits[p.input[2]].numpy().astype(np.float32)
                bias = (pbeta * b).astype(np.float32) * np.ones_like(bias)
            nb = (bias * scale + shift).astype(np.float32)
            bname = (p.name or p.output[0]) + "_bnfold_bias"
            while bname in inits:
                bname += "_"
            inits[wname] = torch.from_numpy(np.ascontiguousarray(wf, np.float32))
            inits[bname] = torch.from_numpy(nb)
            new_p = onnx.NodeProto()
            new_p.CopyFrom(p)
            del new_p.input[:]
            new_p.input.extend([p.input[0], wname, bname])
            new_p.output[0] = bn.output[0]
            if p.op_type == "Gemm":
                for a in new_p.attribute:
                    if a.name in ("alpha", "beta"):
                        a.f = 1.0
            nodes[producer[bn.input[0]]] = new_p
            del nodes[k]
            changed = True
            break
    return nodes


# ---------------------------------------------------------------- ops

def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def ints_of(t):
    return [int(v) for v in t.reshape(-1).tolist()]


def split_pads(pads, n):
    pads = list(pads or [0] * (2 * n))
    return pads[:n], pads[n:]


def conv(node, x, w, b=None):
    n = x.dim() - 2
    if attr(node, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise RefError(f"Conv '{node.name}': auto_pad is not supported by the reference")
    begin, end = split_pads(attr(node, "pads"), n)
    strides = attr(node, "strides", [1] * n)
    dil = attr(node, "dilations", [1] * n)
    group = attr(node, "group", 1)
    if begin != end:
        pad = []
        for d in reversed(range(n)):
            pad += [begin[d], end[d]]
        x = F.pad(x, pad)
        begin = [0] * n
    f = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
    return f(x, w, b, stride=strides, padding=begin, dilation=dil, groups=group)


def pool(node, x, kind):
    n = x.dim() - 2
    k = attr(node, "kernel_shape")
    strides = attr(node, "strides", [1] * n)
    begin, end = split_pads(attr(node, "pads"), n)
    ceil = bool(attr(node, "ceil_mode", 0))
    if kind == "max":
        dil = attr(node, "dilations", [1] * n)
        if begin != end:
            pad = []
            for d in reversed(range(n)):
                pad += [begin[d], end[d]]
            x = F.pad(x, pad, value=float("-inf"))
            begin = [0] * n
        f = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[n]
        return f(x, k, strides, begin, dil, ceil_mode=ceil)
    if begin != end:
        raise RefError(f"AveragePool '{node.name}': asymmetric pads are not supported")
    f = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[n]
    return f(x, k, strides, begin, ceil_mode=ceil,
             count_include_pad=bool(attr(node, "count_include_pad", 0)))


def reshape(x, shape, allowzero):
    shape = list(shape)
    if not allowzero:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def axes_input(node, ins, pos):
    if len(ins) > pos and ins[pos] is not None:
        return ints_of(ins[pos])
    a = attr(node, "axes")
    return list(a) if a is not None else None


def run_node(node, ins, opset):
    op = node.op_type
    x = ins[0] if ins else None
    if op == "Conv":
        return conv(node, x, ins[1], ins[2] if len(ins) > 2 else None)
    if op == "Gemm":
        a = x.t() if attr(node, "transA", 0) else x
        b = ins[1].t() if attr(node, "transB", 0) else ins[1]
        y = a @ b
        alpha, beta = attr(node, "alpha", 1.0), attr(node, "beta", 1.0)
        if alpha != 1.0:
            y = y * alpha
        if len(ins) > 2 and ins[2] is not None:
            y = y + (ins[2] if beta == 1.0 else ins[2] * beta)
        return y
    if op == "MatMul":
        return torch.matmul(x, ins[1])
    if op == "BatchNormalization":
        return F.batch_norm(x, ins[3], ins[4], ins[1], ins[2], False, 0.0,
                            attr(node, "epsilon", 1e-5))
    if op == "Relu":
        return torch.relu(x)
    if op == "Clip":
        lo = ins[1] if len(ins) > 1 and ins[1] is not None else attr(node, "min")
        hi = ins[2] if len(ins) > 2 and ins[2] is not None else attr(node, "max")
        lo = float(lo) if lo is not None else None
        hi = float(hi) if hi is not None else None
        return torch.clamp(x, lo, hi)
    binary = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
              "Pow": torch.pow}
    if op in binary:
        if op == "Div" and not x.is_floating_point():
            return torch.div(x, ins[1], rounding_mode="trunc")
        return binary[op](x, ins[1])
    unary = {"Erf": torch.erf, "Sqrt": torch.sqrt, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
             "Exp": torch.exp, "Log": torch.log, "Neg": torch.neg, "Abs": torch.abs,
             "Identity": lambda t: t, "Reciprocal": torch.reciprocal}
    if op in unary:
        return unary[op](x)
    if op == "MaxPool":
        return pool(node, x, "max")
    if op == "AveragePool":
        return pool(node, x, "avg")
    if op == "GlobalAveragePool":
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
    if op == "GlobalMaxPool":
        return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)
    if op == "Flatten":
        axis = attr(node, "axis", 1) % max(x.dim(), 1) if x.dim() else 0
        lead = int(np.prod(x.shape[:axis])) if axis else 1
        return x.reshape(lead, -1)
    if op == "Reshape":
        return reshape(x, ints_of(ins[1]), attr(node, "allowzero", 0))
    if op == "Transpose":
        perm = attr(node, "perm", list(reversed(range(x.dim()))))
        return x.permute(*perm)
    if op == "Softmax":
        if opset < 13:
            raise RefError("Softmax before opset 13 is not supported by the reference")
        return torch.softmax(x, attr(node, "axis", -1))
    if op == "LayerNormalization":
        axis = attr(node, "axis", -1) % x.dim()
        w = ins[1] if len(ins) > 1 else None
        b = ins[2] if len(ins) > 2 else None
        return F.layer_norm(x, tuple(x.shape[axis:]), w, b, attr(node, "epsilon", 1e-5))
    if op in ("ReduceMean", "ReduceSum", "ReduceMax"):
        axes = axes_input(node, ins, 1)
        keep = bool(attr(node, "keepdims", 1))
        if not axes:
            axes = list(range(x.dim()))
        f = {"ReduceMean": torch.mean, "ReduceSum": torch.sum, "ReduceMax": torch.amax}[op]
        return f(x, dim=tuple(axes), keepdim=keep)
    if op == "Concat":
        return torch.cat(ins, dim=attr(node, "axis"))
    if op == "Shape":
        return torch.tensor(list(x.shape), dtype=torch.int64)
    if op == "Unsqueeze":
        axes = axes_input(node, ins, 1)
        rank = x.dim() + len(axes)
        for a in sorted(a % rank for a in axes):
            x = x.unsqueeze(a)
        return x
    if op == "Squeeze":
        axes = axes_input(node, ins, 1)
        if axes is None:
            return x.squeeze()
        for a in sorted((a % x.dim() for a in axes), reverse=True):
            x = x.squeeze(a)
        return x
    if op == "Gather":
        axis = attr(node, "axis", 0) % x.dim()
        idx = ins[1].long()
        idx = torch.where(idx < 0, idx + x.shape[axis], idx)
        out = torch.index_select(x, axis, idx.reshape(-1))
        return out.reshape(list(x.shape[:axis]) + list(idx.shape) + list(x.shape[axis + 1:]))
    if op == "Slice":
        starts, ends = ints_of(ins[1]), ints_of(ins[2])
        axes = ints_of(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = ints_of(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
        sl = [slice(None)] * x.dim()
        for s, e, a, st in zip(starts, ends, axes, steps):
            if st <= 0:
                raise RefError(f"Slice '{node.name}': non-positive steps are not supported")
            dim = x.shape[a % x.dim()]
            s = max(0, min(dim, s + dim if s < 0 else s))
            e = max(0, min(dim, e + dim if e < 0 else e))
            sl[a % x.dim()] = slice(s, e, st)
        return x[tuple(sl)]
    if op == "Cast":
        to = attr(node, "to")
        return x.float() if to in (1, 10, 11, 16) else x.long()
    raise RefError(f"op {op} (node '{node.name}') is not supported by the reference")


def constant_value(node):
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if a.name == "value":
            arr = numpy_helper.to_array(v)
        elif a.name in ("value_float", "value_floats"):
            arr = np.asarray(v, np.float32)
        elif a.name in ("value_int", "value_ints"):
            arr = np.asarray(v, np.int64)
        else:
            raise RefError(f"Constant '{node.name}': attribute {a.name} is not supported")
        return to_torch(arr)
    raise RefError(f"Constant '{node.name}' has no value")


def to_torch(arr):
    arr = np.asarray(arr)  # copied below: onnx's arrays may be read-only views
    if arr.dtype.kind == "f":
        return torch.from_numpy(np.array(arr, np.float32, order="C"))
    if arr.dtype.kind == "b":
        return torch.from_numpy(np.array(arr, order="C"))
    return torch.from_numpy(np.array(arr, np.int64, order="C"))


# ---------------------------------------------------------------- driver

def run(model_path, cfg, x, fold_bn=True, verbose=False, all_values=False, observe=None):
    """The first model output (float32 numpy); with all_values, also every tensor by name.

    observe(name, before, after), if given, is called for every tensor as it is produced
    (before / after its quantizer or bias rounding) and returns the tensor to continue with:
    the tests use it to feed mpq's own quantized activations back in (teacher forcing)."""
    model = onnx.load(model_path)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=17)
    inits = {i.name: to_torch(numpy_helper.to_array(i)) for i in model.graph.initializer}
    nodes = fold_batchnorm(model, inits) if fold_bn else list(model.graph.node)

    quantizers = cfg.get("quantizers", {})
    biases = cfg.get("biases", {})
    known = set(inits) | {i.name for i in model.graph.input}
    for n in nodes:
        known.update(o for o in n.output if o)
    missing = sorted(set(quantizers) - known)
    missing_b = sorted(set(biases) - set(inits))
    if missing or missing_b:
        msg = []
        if missing:
            msg.append("quantizers not tensors of %s%s: %s" % (
                model_path, " (after BatchNorm folding)" if fold_bn else "", ", ".join(missing)))
        if missing_b:
            msg.append("biases not initializers of %s: %s" % (model_path, ", ".join(missing_b)))
        raise RefError("; ".join(msg))
    for name, b in biases.items():
        if b.get("format", "int32") != "int32":
            raise RefError(f"bias '{name}': format {b.get('format')} is not supported")

    applied = {"weight": 0, "activation": 0, "bias": 0}
    done = set()

    def produced(name, t):
        before = t
        if name in biases and name not in done:
            t = round_bias(t, biases[name]["scale"], name)
            applied["bias"] += 1
        if name in quantizers and name not in done:
            t = fake_quantize(t, quantizers[name], name)
            applied[quantizers[name].get("kind", "activation")] += 1
        done.add(name)
        return observe(name, before, t) if observe else t

    values = {}
    for name, t in inits.items():
        values[name] = produced(name, t)
    graph_inputs = [i.name for i in model.graph.input if i.name not in inits]
    if len(graph_inputs) != 1:
        raise RefError(f"the reference runs single-input models; {model_path} has "
                       f"{len(graph_inputs)}")
    values[graph_inputs[0]] = produced(graph_inputs[0], torch.from_numpy(x))

    with torch.no_grad():
        for n in nodes:
            if n.op_type == "Constant":
                outs = [constant_value(n)]
            else:
                ins = [values[i] if i else None for i in n.input]
                outs = run_node(n, ins, opset)
                outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
            for name, t in zip(n.output, outs):
                if name:
                    values[name] = produced(name, t)
    if verbose:
        print(f"applied {applied['weight']} weight and {applied['activation']} activation "
              f"quantizers, rounded {applied['bias']} biases", file=sys.stderr)
    y = values[model.graph.output[0].name].numpy().astype(np.float32)
    return (y, values) if all_values else y


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--config", help="mpq configuration JSON (omit: float32 inference)")
    ap.add_argument("--input", required=True, help="float32 .npy fed to the model input")
    ap.add_argument("--output", required=True, help="first model output, float32 .npy")
    ap.add_argument("--no-fold-batchnorm", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        cfg = {}
        if args.config:
            with open(args.config) as f:
                cfg = json.load(f)
            if cfg.get("format") != "mpq-quant-config":
                raise RefError(f"{args.config}: not an mpq quantization configuration")
        x = np.ascontiguousarray(np.load(args.input), np.float32)
        y = run(args.model, cfg, x, fold_bn=not args.no_fold_batchnorm, verbose=args.verbose)
    except (RefError, OSError, ValueError) as e:
        print(f"torch_qdq_reference: {e}", file=sys.stderr)
        return 2
    np.save(args.output, y)
    return 0


if __name__ == "__main__":
    sys.exit(main())
