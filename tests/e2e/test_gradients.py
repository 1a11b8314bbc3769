#!/usr/bin/python3
"""Reverse mode (sim/backward.hpp) against PyTorch autograd.

    /usr/bin/python3 tests/e2e/test_gradients.py MPQ_GRAD_TOOL SOURCE_DIR

* Every op's vector-Jacobian product, one row per (op, shapes, attributes, tolerance): a
  one-node ONNX model whose float operands are model inputs (random normal, a random
  cotangent), run by mpq_grad_tool, against the same node evaluated by a small ONNX
  interpreter written with torch functions (float64) and differentiated by autograd. The
  forward outputs are compared too, which checks the interpreter against mpq. Tolerance:
  norm-wise, ||g_mpq - g_torch|| <= rtol ||g_torch|| + 1e-6 per gradient.
* Central differences of mpq's own forward pass on a few small cases: v . J u against
  (f(x + eps u) - f(x - eps u)) . v / (2 eps).
* The bundled models and the foreign models (configs/models/foreign): the gradient of the
  summed cross-entropy against random labels, w.r.t. the input and every weight (ONNX
  initializer; mpq without BatchNorm folding or canonicalization, --raw), within rtol 1e-4
  norm-wise, on 8 random inputs; and w.r.t. the input with mpq's default preparation
  (BatchNorm folded, patterns canonicalized). Constants whose PyTorch gradient is not finite
  (the exponent of Pow on a negative base) are left out and counted.
Prints one line per row; exits 1 on any failure.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

torch.set_num_threads(2)
torch.set_default_dtype(torch.float64)


# ---- a small ONNX interpreter on torch (float64), for autograd ----

def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def ints(t):
    return [int(v) for v in t.reshape(-1).tolist()]


def spatial_pads(node, rank):
    pads = attr(node, "pads", [0] * (2 * rank))
    return list(pads[:rank]), list(pads[rank:])


def pad_spatial(x, begin, end, value=0.0):
    p = []
    for b, e in zip(reversed(begin), reversed(end)):
        p += [b, e]
    return F.pad(x, p, value=value) if any(p) else x


def conv(node, x, w, b=None):
    r = x.dim() - 2
    begin, end = spatial_pads(node, r)
    x = pad_spatial(x, begin, end)
    fn = [None, F.conv1d, F.conv2d, F.conv3d][r]
    return fn(x, w, b, stride=attr(node, "strides", [1] * r), dilation=attr(node, "dilations", [1] * r),
              groups=attr(node, "group", 1))


def conv_transpose(node, x, w, b=None):
    r = x.dim() - 2
    begin, end = spatial_pads(node, r)
    fn = [None, F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][r]
    y = fn(x, w, b, stride=attr(node, "strides", [1] * r), dilation=attr(node, "dilations", [1] * r),
           groups=attr(node, "group", 1), output_padding=attr(node, "output_padding", [0] * r))
    idx = [slice(None), slice(None)] + [slice(bb, y.shape[2 + d] - ee) for d, (bb, ee) in
                                        enumerate(zip(begin, end))]
    return y[tuple(idx)]


def pool(node, x, kind):
    r = x.dim() - 2
    k = attr(node, "kernel_shape")
    begin, end = spatial_pads(node, r)
    s = attr(node, "strides", [1] * r)
    ceil = bool(attr(node, "ceil_mode", 0))
    if kind == "max":
        x = pad_spatial(x, begin, end, value=-float("inf"))
        fn = [None, F.max_pool1d, F.max_pool2d, F.max_pool3d][r]
        return fn(x, k, s, dilation=attr(node, "dilations", [1] * r), ceil_mode=ceil)
    assert begin == end, "asymmetric average pooling pads are not modelled here"
    fn = [None, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d][r]
    return fn(x, k, s, padding=begin, ceil_mode=ceil,
              count_include_pad=bool(attr(node, "count_include_pad", 0)))


def reduce_axes(node, ins, opset):
    if (opset >= 18 or (node.op_type == "ReduceSum" and opset >= 13)):
        return ints(ins[1]) if len(ins) > 1 and ins[1] is not None else None
    return attr(node, "axes", None)


def reduce(node, ins, opset):
    x = ins[0]
    axes = reduce_axes(node, ins, opset)
    keep = bool(attr(node, "keepdims", 1))
    dims = list(range(x.dim())) if not axes else [a % x.dim() for a in axes]
    op = node.op_type
    if op == "ReduceSum":
        return x.sum(dims, keepdim=keep)
    if op == "ReduceMean":
        return x.mean(dims, keepdim=keep)
    if op == "ReduceMax":
        return x.amax(dims, keepdim=keep)
    if op == "ReduceMin":
        return x.amin(dims, keepdim=keep)
    if op == "ReduceProd":
        y = x
        for d in sorted(dims, reverse=True):
            y = y.prod(d, keepdim=True)
        return y if keep else y.reshape([s for i, s in enumerate(x.shape) if i not in dims])
    if op == "ReduceSumSquare":
        return (x * x).sum(dims, keepdim=keep)
    if op == "ReduceL1":
        return x.abs().sum(dims, keepdim=keep)
    if op == "ReduceL2":
        return (x * x).sum(dims, keepdim=keep).sqrt()
    if op == "ReduceLogSum":
        return x.sum(dims, keepdim=keep).log()
    if op == "ReduceLogSumExp":
        return torch.logsumexp(x, dims, keepdim=keep)
    raise ValueError(op)


def softmax(node, x, opset, log):
    legacy = opset < 13
    axis = attr(node, "axis", 1 if legacy else -1) % x.dim()
    fn = F.log_softmax if log else F.softmax
    if not legacy:
        return fn(x, dim=axis)
    shape = x.shape
    return fn(x.reshape(int(np.prod(shape[:axis])), -1), dim=1).reshape(shape)


def slice_op(ins):
    x, starts, ends = ins[0], ints(ins[1]), ints(ins[2])
    axes = ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    idx = [slice(None)] * x.dim()
    for s, e, a, st in zip(starts, ends, axes, steps):
        n = x.shape[a]
        s = max(0, min(n, s + n if s < 0 else s)) if st > 0 else max(-1, min(n - 1, s + n if s < 0 else s))
        e = max(0, min(n, e + n if e < 0 else e)) if st > 0 else max(-1, min(n, e + n if e < 0 else e))
        if st > 0:
            idx[a] = slice(s, e, st)
        else:
            # torch has no negative steps: flip, then slice forward.
            x = x.flip(a)
            idx[a] = slice(n - 1 - s, n - 1 - e, -st)
    return x[tuple(idx)]


def pad_op(node, ins, opset):
    x = ins[0]
    pads = ints(ins[1]) if opset >= 11 else attr(node, "pads")
    mode = attr(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    value = float(ins[2].reshape(-1)[0]) if opset >= 11 and len(ins) > 2 and ins[2] is not None else 0.0
    r = x.dim()
    p = []
    for d in reversed(range(r)):
        p += [pads[d], pads[r + d]]
    torch_mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[mode]
    if torch_mode == "constant":
        return F.pad(x, p, value=value)
    lead = r - 2
    assert all(v == 0 for v in p[2 * (r - lead):]) if lead else True
    return F.pad(x, p[:4], mode=torch_mode)


def run_node(node, ins, opset):
    op = node.op_type
    a = lambda n, d=None: attr(node, n, d)  # noqa: E731
    x = ins[0] if ins else None
    unary = {
        "Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Erf": torch.erf,
        "Sqrt": torch.sqrt, "Exp": torch.exp, "Log": torch.log, "Neg": torch.neg, "Abs": torch.abs,
        "Reciprocal": torch.reciprocal, "Softsign": F.softsign, "Identity": lambda v: v,
        "HardSwish": F.hardswish, "Floor": torch.floor, "Sign": torch.sign,
    }
    if op in unary:
        return [unary[op](x)]
    if op == "Softplus":
        return [F.softplus(x)]
    if op == "Mish":
        return [x * torch.tanh(F.softplus(x))]
    if op == "LeakyRelu":
        return [F.leaky_relu(x, a("alpha", 0.01))]
    if op == "Elu":
        return [F.elu(x, a("alpha", 1.0))]
    if op == "Selu":
        al, ga = a("alpha", 1.67326319217681884765625), a("gamma", 1.05070102214813232421875)
        return [ga * torch.where(x > 0, x, al * torch.expm1(torch.clamp(x, max=0)))]
    if op == "HardSigmoid":
        return [torch.clamp(a("alpha", 0.2) * x + a("beta", 0.5), 0, 1)]
    if op == "Gelu":
        ap = a("approximate", b"none")
        return [F.gelu(x, approximate=ap.decode() if isinstance(ap, bytes) else ap)]
    if op == "Clip":
        lo = ins[1] if len(ins) > 1 and ins[1] is not None else None
        hi = ins[2] if len(ins) > 2 and ins[2] is not None else None
        if opset < 11:
            lo, hi = a("min", None), a("max", None)
        return [torch.clamp(x, lo, hi)]
    binary = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
              "Pow": torch.pow}
    if op in binary:
        return [binary[op](ins[0], ins[1])]
    if op == "PRelu":
        return [torch.where(x < 0, x * ins[1], x)]
    if op in ("Max", "Min", "Sum", "Mean"):
        shape = torch.broadcast_shapes(*[t.shape for t in ins])
        y = ins[0].expand(shape)
        for t in ins[1:]:
            y = {"Max": torch.maximum, "Min": torch.minimum}.get(op, torch.add)(y, t)
        return [y / len(ins) if op == "Mean" else y]
    if op == "Where":
        return [torch.where(ins[0].bool(), ins[1], ins[2])]
    if op == "Conv":
        return [conv(node, *ins)]
    if op == "ConvTranspose":
        return [conv_transpose(node, *ins)]
    if op == "BatchNormalization":
        shape = [1, -1] + [1] * (x.dim() - 2)
        c = lambda t: t.reshape(shape)  # noqa: E731
        return [(x - c(ins[3])) / torch.sqrt(c(ins[4]) + a("epsilon", 1e-5)) * c(ins[1]) + c(ins[2])]
    if op == "Gemm":
        A = ins[0].t() if a("transA", 0) else ins[0]
        B = ins[1].t() if a("transB", 0) else ins[1]
        y = a("alpha", 1.0) * (A @ B)
        if len(ins) > 2 and ins[2] is not None:
            y = y + a("beta", 1.0) * ins[2]
        return [y]
    if op == "MatMul":
        return [torch.matmul(ins[0], ins[1])]
    if op == "MaxPool":
        return [pool(node, x, "max")]
    if op == "AveragePool":
        return [pool(node, x, "avg")]
    if op == "GlobalAveragePool":
        return [x.mean(list(range(2, x.dim())), keepdim=True)]
    if op == "GlobalMaxPool":
        return [x.amax(list(range(2, x.dim())), keepdim=True)]
    if op == "Flatten":
        ax = a("axis", 1) % max(x.dim(), 1)
        return [x.reshape(int(np.prod(x.shape[:ax])), -1)]
    if op == "Reshape":
        shape = ints(ins[1])
        shape = [x.shape[i] if s == 0 and not a("allowzero", 0) else s for i, s in enumerate(shape)]
        return [x.reshape(shape)]
    if op == "Transpose":
        return [x.permute(a("perm", list(reversed(range(x.dim())))))]
    if op in ("Squeeze", "Unsqueeze"):
        axes = ints(ins[1]) if opset >= 13 and len(ins) > 1 else a("axes")
        if op == "Squeeze":
            y = x
            for d in sorted((d % x.dim() for d in axes), reverse=True) if axes else []:
                y = y.squeeze(d)
            return [y if axes else x.squeeze()]
        y = x
        for d in sorted(d % (x.dim() + len(axes)) for d in axes):
            y = y.unsqueeze(d)
        return [y]
    if op == "Concat":
        return [torch.cat(ins, a("axis"))]
    if op == "Split":
        ax = a("axis", 0)
        sizes = ints(ins[1]) if opset >= 13 and len(ins) > 1 else a("split", None)
        if sizes is None:
            n = len(node.output)
            sizes = [x.shape[ax] // n] * n
        return list(torch.split(x, sizes, ax))
    if op == "Slice":
        return [slice_op(ins)]
    if op == "Gather":
        ax = a("axis", 0) % x.dim()
        idx = ins[1].long()
        idx = torch.where(idx < 0, idx + x.shape[ax], idx)
        return [torch.index_select(x, ax, idx.reshape(-1)).reshape(
            list(x.shape[:ax]) + list(idx.shape) + list(x.shape[ax + 1:]))]
    if op == "GatherElements":
        return [torch.gather(x, a("axis", 0), ins[1].long())]
    if op == "Expand":
        shape = torch.broadcast_shapes(tuple(x.shape), tuple(ints(ins[1])))
        return [x.expand(shape)]
    if op == "Tile":
        return [x.repeat(ints(ins[1]))]
    if op == "Pad":
        return [pad_op(node, ins, opset)]
    if op == "Softmax":
        return [softmax(node, x, opset, False)]
    if op == "LogSoftmax":
        return [softmax(node, x, opset, True)]
    if op == "LayerNormalization":
        ax = a("axis", -1) % x.dim()
        ns = list(x.shape[ax:])
        bias = ins[2] if len(ins) > 2 and ins[2] is not None else None
        return [F.layer_norm(x, ns, ins[1].expand(ns), None if bias is None else bias.expand(ns),
                             a("epsilon", 1e-5))]
    if op.startswith("Reduce"):
        return [reduce(node, ins, opset)]
    if op == "Constant":
        return [torch.from_numpy(numpy_helper.to_array(a("value")).copy()).to(
            torch.float64 if numpy_helper.to_array(a("value")).dtype.kind == "f" else torch.int64)]
    if op in ("Greater", "Less", "Equal"):
        return [{"Greater": torch.gt, "Less": torch.lt, "Equal": torch.eq}[op](ins[0], ins[1])]
    raise ValueError("the test interpreter does not know " + op)


def torch_eval(model, feeds):
    """Runs `model` on `feeds` (name -> float64 numpy); returns (outputs, leaves, values) with
    every float input, initializer and Constant output a leaf that requires grad and every
    other float value keeping its grad."""
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    env, leaves = {}, {}
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        t = torch.from_numpy(arr.astype(np.float64) if arr.dtype.kind == "f" else arr.astype(np.int64))
        if t.is_floating_point():
            t.requires_grad_(True)
            leaves[init.name] = t
        env[init.name] = t
    for name, arr in feeds.items():
        t = torch.from_numpy(np.asarray(arr))
        if t.is_floating_point():
            t = t.to(torch.float64).requires_grad_(True)
            leaves[name] = t
        env[name] = t
    for node in model.graph.node:
        ins = [env[i] if i else None for i in node.input]
        outs = run_node(node, ins, opset)
        for name, t in zip(node.output, outs):
            if node.op_type == "Constant" and t.is_floating_point():
                t = t.detach().requires_grad_(True)
                leaves[name] = t
            elif t.is_floating_point() and t.requires_grad:
                t.retain_grad()
            env[name] = t
    return [env[o.name] for o in model.graph.output], leaves, env


# ---- comparison ----

FAILURES = []


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    return float(np.linalg.norm(got - want) / (np.linalg.norm(want) + 1e-30))


def check(label, got, want, rtol, atol=1e-6):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        FAILURES.append(f"{label}: shape {list(got.shape)} != {list(want.shape)}")
        return float("inf")
    err = float(np.linalg.norm(got - want))
    ref = float(np.linalg.norm(want))
    if not np.all(np.isfinite(got)) or err > rtol * ref + atol:
        FAILURES.append(f"{label}: |diff| {err:.3g} > {rtol:g} x |ref| {ref:.3g} + {atol:g}")
    return err / (ref + atol / rtol)  # relative, but not below the absolute floor


def run_tool(tool, model_path, inputs, out_dir, cotangent=None, labels=None, raw=False,
             threads=2):
    cmd = [tool, model_path, out_dir]
    for p in inputs:
        cmd += ["--input", p]
    if cotangent is not None:
        cmd += ["--cotangent", cotangent]
    if labels is not None:
        cmd += ["--labels", labels]
    if raw:
        cmd.append("--raw")
    cmd += ["--threads", str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    with open(os.path.join(out_dir, "manifest.json")) as f:
        man = json.load(f)
    grads = {k: np.load(os.path.join(out_dir, v)) for k, v in man["grads"].items()}
    outs = []
    k = 0
    while os.path.exists(os.path.join(out_dir, f"output_{k}.npy")):
        outs.append(np.load(os.path.join(out_dir, f"output_{k}.npy")))
        k += 1
    return {"grads": grads, "outputs": outs, "loss": man["loss"]}, None


# ---- one-op rows ----

def F32(*shape):
    return ("f", shape)


def POS(*shape):
    return ("p", shape)


def INT(*values, shape=None):
    return ("i", np.array(values, np.int64).reshape(shape if shape else (len(values),)))


def SCALAR(v):
    return ("s", np.array(v, np.float32))


def BOOL(*shape):
    return ("b", shape)


# (op, inputs, attributes, opset, rtol)
ROWS = [
    ("Relu", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("LeakyRelu", [F32(2, 3, 4)], {"alpha": 0.1}, 17, 1e-5),
    ("Clip", [F32(2, 3, 4), SCALAR(-0.5), SCALAR(0.7)], {}, 17, 1e-5),
    ("Clip", [F32(2, 3, 4), ("v", np.array(-0.4, np.float32)), ("v", np.array(0.6, np.float32))], {}, 17, 1e-5),
    ("Clip", [F32(2, 3, 4)], {"min": -0.3, "max": 0.4}, 6, 1e-5),
    ("HardSigmoid", [F32(2, 3, 4)], {"alpha": 0.3, "beta": 0.4}, 17, 1e-5),
    ("HardSwish", [F32(2, 3, 16)], {}, 17, 1e-5),
    ("Sigmoid", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Tanh", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Erf", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Gelu", [F32(2, 3, 4)], {}, 20, 1e-5),
    ("Gelu", [F32(2, 3, 4)], {"approximate": "tanh"}, 20, 1e-5),
    ("Sqrt", [POS(2, 3, 4)], {}, 17, 1e-5),
    ("Exp", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Log", [POS(2, 3, 4)], {}, 17, 1e-5),
    ("Neg", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Abs", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Reciprocal", [POS(2, 3, 4)], {}, 17, 1e-5),
    ("Elu", [F32(2, 3, 4)], {"alpha": 0.8}, 17, 1e-5),
    ("Selu", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Softplus", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Softsign", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Mish", [F32(2, 3, 4)], {}, 18, 1e-5),
    ("Floor", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Sign", [F32(2, 3, 4)], {}, 17, 1e-5),
    ("Add", [F32(2, 3, 4), F32(3, 1)], {}, 17, 1e-5),
    ("Sub", [F32(2, 3, 4), F32(4)], {}, 17, 1e-5),
    ("Mul", [F32(2, 1, 4), F32(3, 1)], {}, 17, 1e-5),
    ("Div", [F32(2, 3, 4), POS(2, 1, 4)], {}, 17, 1e-5),
    ("Pow", [POS(2, 3, 4), F32(4)], {}, 17, 1e-5),
    ("PRelu", [F32(2, 3, 4, 4), F32(3, 1, 1)], {}, 17, 1e-5),
    ("Max", [F32(2, 3, 4), F32(3, 4), F32(4)], {}, 17, 1e-5),
    ("Min", [F32(2, 3, 4), F32(2, 1, 4)], {}, 17, 1e-5),
    ("Sum", [F32(2, 3, 4), F32(3, 4), F32(1)], {}, 17, 1e-5),
    ("Mean", [F32(2, 3, 4), F32(3, 1)], {}, 17, 1e-5),
    ("Where", [BOOL(2, 3, 4), F32(2, 3, 4), F32(3, 1)], {}, 17, 1e-5),
    ("Conv", [F32(2, 3, 8, 8), F32(4, 3, 3, 3), F32(4)], {"pads": [1, 1, 1, 1]}, 17, 1e-5),
    ("Conv", [F32(2, 3, 9, 9), F32(5, 3, 3, 3)],
     {"strides": [2, 2], "dilations": [2, 2], "pads": [0, 1, 1, 0]}, 17, 1e-5),
    ("Conv", [F32(2, 4, 7, 7), F32(4, 1, 3, 3), F32(4)],
     {"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]}, 17, 1e-5),
    ("Conv", [F32(1, 6, 5, 5), F32(4, 3, 3, 3)], {"group": 2}, 17, 1e-5),
    ("Conv", [F32(2, 3, 10), F32(5, 3, 3), F32(5)], {"pads": [2, 0]}, 17, 1e-5),
    ("ConvTranspose", [F32(2, 4, 5, 5), F32(4, 3, 3, 3), F32(3)],
     {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}, 17, 1e-5),
    ("ConvTranspose", [F32(1, 4, 4, 4), F32(4, 2, 2, 2)], {"group": 2}, 17, 1e-5),
    ("Gemm", [F32(3, 5), F32(5, 4), F32(4)], {}, 17, 1e-5),
    ("Gemm", [F32(5, 3), F32(4, 5), F32(3, 4)],
     {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}, 17, 1e-5),
    ("MatMul", [F32(2, 3, 4, 5), F32(5, 6)], {}, 17, 1e-5),
    ("MatMul", [F32(3, 4), F32(2, 4, 5)], {}, 17, 1e-5),
    ("MatMul", [F32(4), F32(4, 3)], {}, 17, 1e-5),
    ("MatMul", [F32(2, 1, 3, 4), F32(3, 4, 2)], {}, 17, 1e-5),
    ("MaxPool", [F32(2, 3, 8, 8)], {"kernel_shape": [2, 2], "strides": [2, 2]}, 17, 1e-5),
    ("MaxPool", [F32(2, 3, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2],
                                    "pads": [1, 1, 1, 1]}, 17, 1e-5),
    ("AveragePool", [F32(2, 3, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2],
                                        "pads": [1, 1, 1, 1]}, 17, 1e-5),
    ("AveragePool", [F32(2, 3, 7, 7)], {"kernel_shape": [3, 3], "strides": [2, 2],
                                        "pads": [1, 1, 1, 1], "count_include_pad": 1}, 17, 1e-5),
    ("GlobalAveragePool", [F32(2, 3, 5, 5)], {}, 17, 1e-5),
    ("GlobalMaxPool", [F32(2, 3, 5, 5)], {}, 17, 1e-5),
    ("BatchNormalization", [F32(2, 3, 4, 4), F32(3), F32(3), F32(3), POS(3)], {}, 15, 1e-5),
    ("LayerNormalization", [F32(2, 5, 8), F32(8), F32(8)], {}, 17, 1e-5),
    ("LayerNormalization", [F32(2, 5, 8), F32(5, 8)], {"axis": 1, "epsilon": 1e-3}, 17, 1e-5),
    ("Softmax", [F32(2, 3, 6)], {}, 13, 1e-5),
    ("Softmax", [F32(2, 3, 6)], {"axis": 1}, 13, 1e-5),
    ("Softmax", [F32(2, 3, 6)], {"axis": 1}, 11, 1e-5),
    ("LogSoftmax", [F32(2, 3, 6)], {"axis": -1}, 13, 1e-5),
    ("ReduceMean", [F32(2, 3, 4)], {"axes": [1]}, 13, 1e-5),
    ("ReduceSum", [F32(2, 3, 4), INT(0, 2)], {"keepdims": 0}, 13, 1e-5),
    ("ReduceMax", [F32(2, 3, 4)], {"axes": [2]}, 13, 1e-5),
    ("ReduceMin", [F32(2, 3, 4)], {"axes": [0, 1], "keepdims": 0}, 13, 1e-5),
    ("ReduceProd", [POS(2, 3, 4)], {"axes": [1]}, 13, 1e-5),
    ("ReduceSumSquare", [F32(2, 3, 4)], {"axes": [2]}, 13, 1e-5),
    ("ReduceL1", [F32(2, 3, 4)], {"axes": [1]}, 13, 1e-5),
    ("ReduceL2", [F32(2, 3, 4)], {"axes": [1]}, 13, 1e-5),
    ("ReduceLogSum", [POS(2, 3, 4)], {"axes": [1]}, 13, 1e-5),
    ("ReduceLogSumExp", [F32(2, 3, 4)], {"axes": [2]}, 13, 1e-5),
    ("Transpose", [F32(2, 3, 4, 5)], {"perm": [0, 2, 3, 1]}, 17, 1e-5),
    ("Reshape", [F32(2, 3, 4), INT(0, 12)], {}, 17, 1e-5),
    ("Flatten", [F32(2, 3, 4, 5)], {"axis": 2}, 17, 1e-5),
    ("Squeeze", [F32(2, 1, 4), INT(1)], {}, 17, 1e-5),
    ("Unsqueeze", [F32(2, 4), INT(0, 3)], {}, 17, 1e-5),
    ("Identity", [F32(2, 4)], {}, 17, 1e-5),
    ("Concat", [F32(2, 3, 4), F32(2, 1, 4), F32(2, 2, 4)], {"axis": 1}, 17, 1e-5),
    ("Split", [F32(2, 6, 4), INT(2, 4)], {"axis": 1}, 17, 1e-5),
    ("Slice", [F32(4, 6, 5), INT(1, 0), INT(4, 6), INT(0, 1), INT(1, 2)], {}, 17, 1e-5),
    ("Slice", [F32(4, 6), INT(-1), INT(-5), INT(1), INT(-2)], {}, 17, 1e-5),
    ("Gather", [F32(3, 5, 2), INT(0, 2, 4, 2, shape=(2, 2))], {"axis": 1}, 17, 1e-5),
    ("GatherElements", [F32(3, 4), INT(0, 3, 1, 1, 2, 2, 0, 0, 3, shape=(3, 3))], {"axis": 1},
     17, 1e-5),
    ("Expand", [F32(3, 1), INT(2, 3, 4)], {}, 17, 1e-5),
    ("Tile", [F32(2, 3), INT(2, 3)], {}, 17, 1e-5),
    ("Pad", [F32(2, 3, 4), INT(0, 1, 2, 0, 2, 1), SCALAR(0.5)], {}, 17, 1e-5),
    ("Pad", [F32(1, 2, 5, 5), INT(0, 0, 1, 2, 0, 0, 2, 1)], {"mode": "reflect"}, 17, 1e-5),
    ("Pad", [F32(1, 2, 5, 5), INT(0, 0, 1, 2, 0, 0, 2, 1)], {"mode": "edge"}, 17, 1e-5),
]


def make_value(kind, spec, rng):
    if kind == "f":
        return rng.standard_normal(spec).astype(np.float32)
    if kind == "p":
        return rng.uniform(0.5, 2.0, spec).astype(np.float32)
    if kind == "b":
        return rng.integers(0, 2, spec).astype(bool)
    if kind == "v":  # this float value, as a model input
        return np.asarray(spec, np.float32)
    return spec


def row_model(op, inputs, attrs, opset, rng):
    """The one-node model, its float feeds (graph inputs) and every input's value."""
    names, graph_inputs, inits, feeds, values = [], [], [], {}, {}
    for k, (kind, spec) in enumerate(inputs):
        name = f"in{k}"
        names.append(name)
        v = make_value(kind, spec, rng)
        values[name] = v
        if kind in ("f", "p", "v"):
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(v.shape)))
            feeds[name] = v
        else:
            inits.append(numpy_helper.from_array(v, name))
    n_out = 2 if op == "Split" else 1
    outs = [f"out{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    graph = helper.make_graph([node], "row", graph_inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model, feeds, values


def check_row(tool, tmp, idx, row, rng):
    op, inputs, attrs, opset, rtol = row
    desc = [s.tolist() if isinstance(s, np.ndarray) else list(s) for _, s in inputs]
    label = f"{op} {desc} {attrs} opset {opset}"
    model, feeds, values = row_model(op, inputs, attrs, opset, rng)
    outs, leaves, env = torch_eval(model, {k: v.astype(np.float64) for k, v in values.items()
                                           if v.dtype == np.float32})
    y = outs[0]
    cot = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    if y.requires_grad:
        # Every output takes part (the others with a zero cotangent, as mpq seeds them).
        loss = (y * torch.from_numpy(cot.astype(np.float64))).sum()
        for o in outs[1:]:
            loss = loss + (o * 0).sum()
        loss.backward()
    d = os.path.join(tmp, f"row{idx}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    in_paths = []
    for name, v in feeds.items():
        p = os.path.join(d, name + ".npy")
        np.save(p, v)
        in_paths.append(p)
    cp = os.path.join(d, "cot.npy")
    np.save(cp, cot)
    res, err = run_tool(tool, path, in_paths, d, cotangent=cp)
    if res is None:
        FAILURES.append(f"{label}: mpq_grad_tool failed: {err}")
        print(f"FAIL {label}: {err}")
        return
    check(f"{label}: output", res["outputs"][0], y.detach().numpy(), 1e-5)
    worst = 0.0
    for name in feeds:
        want = leaves[name].grad
        want = np.zeros(feeds[name].shape) if want is None else want.numpy()
        got = res["grads"].get(name)
        got = np.zeros(feeds[name].shape, np.float32) if got is None else got
        worst = max(worst, check(f"{label}: d/d{name}", got, want, rtol))
    print(f"{'ok  ' if not any(f.startswith(label) for f in FAILURES) else 'FAIL'} {label}: "
          f"worst relative error {worst:.2e} (rtol {rtol:g})")


# ---- central differences of mpq's own forward pass ----

CD_ROWS = [
    ("LayerNormalization", [F32(2, 3, 8), F32(8), F32(8)], {}, 17),
    ("Softmax", [F32(2, 3, 6)], {}, 13),
    ("Conv", [F32(1, 2, 6, 6), F32(3, 2, 3, 3), F32(3)], {"pads": [1, 1, 1, 1], "strides": [2, 2]}, 17),
    ("Gelu", [F32(2, 8)], {}, 20),
    ("MatMul", [F32(2, 3, 4), F32(4, 5)], {}, 17),
]


def check_central(tool, tmp, idx, row, rng):
    op, inputs, attrs, opset = row
    label = f"central differences {op} {attrs}"
    model, feeds, values = row_model(op, inputs, attrs, opset, rng)
    d = os.path.join(tmp, f"cd{idx}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    eps = 1e-2
    dirs = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in feeds.items()}

    def run(sign, cot):
        paths = []
        for name, v in feeds.items():
            p = os.path.join(d, f"{name}.{sign}.npy")
            np.save(p, (v.astype(np.float64) + sign * eps * dirs[name]).astype(np.float32))
            paths.append(p)
        cp = os.path.join(d, "cot.npy")
        np.save(cp, cot)
        out = os.path.join(d, f"run{sign}")
        res, err = run_tool(tool, path, paths, out, cotangent=cp)
        if res is None:
            raise RuntimeError(err)
        return res

    try:
        shape = torch_eval(model, {k: x.astype(np.float64) for k, x in feeds.items()})[0][0].shape
        v = rng.standard_normal(tuple(shape)).astype(np.float32)
        center = run(0, v)
        plus, minus = run(1, v), run(-1, v)
    except RuntimeError as e:
        FAILURES.append(f"{label}: {e}")
        print(f"FAIL {label}: {e}")
        return
    numeric = float(((plus["outputs"][0].astype(np.float64) - minus["outputs"][0]) * v).sum() / (2 * eps))
    analytic = float(sum((center["grads"][k].astype(np.float64) * dirs[k]).sum() for k in feeds))
    rel = abs(numeric - analytic) / max(abs(numeric), 1e-6)
    ok = rel <= 2e-3
    if not ok:
        FAILURES.append(f"{label}: v.Ju {analytic:.6g} vs central difference {numeric:.6g}")
    print(f"{'ok  ' if ok else 'FAIL'} {label}: v.Ju {analytic:.6g}, central difference "
          f"{numeric:.6g}, relative error {rel:.1e}")


# ---- whole models ----

MODEL_RTOL = 1e-4


def check_model(tool, tmp, path, rng):
    name = os.path.basename(path)
    model = onnx.load(path)
    init_names = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in init_names]
    dims = [d.dim_value if d.dim_value > 0 else 8 for d in graph_inputs[0].type.tensor_type.shape.dim]
    x = rng.standard_normal(dims).astype(np.float32)
    labels = rng.integers(0, 10, dims[0]).astype(np.int64)
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    xp, lp = os.path.join(d, "x.npy"), os.path.join(d, "labels.npy")
    np.save(xp, x)
    np.save(lp, labels)
    outs, leaves, env = torch_eval(model, {graph_inputs[0].name: x.astype(np.float64)})
    loss = F.cross_entropy(outs[0], torch.from_numpy(labels), reduction="sum")
    loss.backward()
    for raw in (True, False):
        mode = "raw" if raw else "prepared"
        res, err = run_tool(tool, path, [xp], os.path.join(d, mode), labels=lp, raw=raw)
        if res is None:
            FAILURES.append(f"{name} ({mode}): mpq_grad_tool failed: {err}")
            print(f"FAIL {name} ({mode}): {err}")
            continue
        check(f"{name} ({mode}): logits", res["outputs"][0], outs[0].detach().numpy(), 1e-5)
        if raw:
            # Bit-identical whatever the thread count.
            other, err = run_tool(tool, path, [xp], os.path.join(d, "raw1"), labels=lp, raw=True,
                                  threads=1)
            same = other is not None and sorted(other["grads"]) == sorted(res["grads"]) and all(
                np.array_equal(other["grads"][k], res["grads"][k]) for k in res["grads"])
            if not same:
                FAILURES.append(f"{name} ({mode}): gradients differ between 1 and 2 threads {err or ''}")
        if abs(res["loss"] - float(loss)) > 1e-4 * abs(float(loss)):
            FAILURES.append(f"{name} ({mode}): loss {res['loss']} != PyTorch's {float(loss)}")
        names = [graph_inputs[0].name] + (sorted(res["grads"]) if raw else [])
        compared, skipped, worst = 0, 0, 0.0
        for n in dict.fromkeys(names):
            t = leaves.get(n, env.get(n))
            want = None if t is None else t.grad
            got = res["grads"].get(n)
            if want is None or got is None:
                if n == graph_inputs[0].name or (n in init_names and raw):
                    FAILURES.append(f"{name} ({mode}): no gradient for {n} from "
                                    f"{'PyTorch' if want is None else 'mpq'}")
                continue
            if not np.all(np.isfinite(want.numpy())):
                skipped += 1
                continue
            worst = max(worst, check(f"{name} ({mode}): d loss/d {n}", got, want.numpy(), MODEL_RTOL))
            compared += 1
        if raw:
            # Every weight of a MAC or normalization op must have been compared.
            for node in model.graph.node:
                if node.op_type in ("Conv", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization"):
                    for i in node.input[1:]:
                        if i in init_names and i not in res["grads"]:
                            FAILURES.append(f"{name} (raw): mpq gives no gradient for weight {i}")
        bad = any(f.startswith(f"{name} ({mode})") for f in FAILURES)
        print(f"{'FAIL' if bad else 'ok  '} {name} ({mode}): loss {res['loss']:.6g} "
              f"(PyTorch {float(loss):.6g}), {compared} gradients compared"
              f"{f', {skipped} non-finite in PyTorch left out' if skipped else ''}"
              f"{', bit-identical with 1 and 2 threads' if raw else ''}, "
              f"worst relative error {worst:.2e} (rtol {MODEL_RTOL:g})")


def check_no_rule(tool, tmp):
    """Mod has no backward rule: the tool must refuse the model before running it, naming the
    op and the node."""
    node = helper.make_node("Mod", ["a", "b"], ["y"], name="the_mod", fmod=1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(np.full((3,), 0.7, np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    d = os.path.join(tmp, "norule")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "m.onnx")
    onnx.save(model, path)
    np.save(os.path.join(d, "a.npy"), np.ones((2, 3), np.float32))
    np.save(os.path.join(d, "g.npy"), np.ones((2, 3), np.float32))
    p = subprocess.run([tool, path, d, "--input", os.path.join(d, "a.npy"), "--cotangent",
                        os.path.join(d, "g.npy")], capture_output=True, text=True)
    ok = p.returncode == 2 and "no backward rule for op Mod" in p.stderr and "the_mod" in p.stderr
    if not ok:
        FAILURES.append(f"no backward rule: exit {p.returncode}, stderr {p.stderr.strip()!r}")
    print(f"{'ok  ' if ok else 'FAIL'} a network with Mod is refused: {p.stderr.strip()}")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    tool, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    rng = np.random.default_rng(2026)
    with tempfile.TemporaryDirectory() as tmp:
        for k, row in enumerate(ROWS):
            check_row(tool, tmp, k, row, rng)
        for k, row in enumerate(CD_ROWS):
            check_central(tool, tmp, k, row, rng)
        check_no_rule(tool, tmp)
        models = sorted(os.path.join(src, "configs", "models", f) for f in
                        os.listdir(os.path.join(src, "configs", "models")) if f.endswith(".onnx"))
        foreign = os.path.join(src, "configs", "models", "foreign")
        models += sorted(os.path.join(foreign, f) for f in os.listdir(foreign) if f.endswith(".onnx"))
        for m in models:
            check_model(tool, tmp, m, rng)
    if FAILURES:
        print(f"\n{len(FAILURES)} failure(s):")
        for f in FAILURES:
            print("  " + f)
        return 1
    print(f"\nall passed: {len(ROWS)} op rows, {len(CD_ROWS)} central-difference cases, "
          f"{len(models)} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
