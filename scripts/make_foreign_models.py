#!/usr/bin/python3
"""Writes small hand-built ONNX models that imitate exports from frameworks other than
PyTorch (tf2onnx / keras2onnx / older converters), for cross-checking the mpq ONNX
importer and engine against onnxruntime.

Run with Debian's interpreter (needs python3-onnx and python3-numpy):

    /usr/bin/python3 scripts/make_foreign_models.py --out DIR

For each model NAME it writes
    DIR/NAME.onnx        the model (all weights as Constant nodes, no initializers)
    DIR/NAME.input.npy   float32 input, batch 2, seeded
    DIR/NAME.ref.npy     float32 output computed here with plain numpy
    DIR/NAME.ort.npy     the output computed by onnxruntime through tools/ort/ort_run.js
                         (skipped with --no-ort)
and checks that NAME.ref.npy and NAME.ort.npy agree.

Everything is deterministic: fixed seeds, fixed node/tensor names.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_RUN = os.path.join(REPO, "tools", "ort", "ort_run.js")
BATCH = 2
PRODUCER = "mpq.make_foreign_models"


# ---------------------------------------------------------------- graph helpers
class G:
    """Tiny graph builder: every weight becomes a Constant node."""

    def __init__(self):
        self.nodes = []

    def const(self, name, arr):
        arr = np.asarray(arr)
        self.nodes.append(helper.make_node(
            "Constant", [], [name], name=name + "/const",
            value=numpy_helper.from_array(arr, name)))
        return name

    def op(self, op_type, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output + "/op", **attrs))
        return output


def make_model(g, name, opset, ir_version, inp, inp_shape, out, out_shape, doc):
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info(inp, TensorProto.FLOAT, inp_shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)])
    model = helper.make_model(
        graph, producer_name=PRODUCER, producer_version="1",
        opset_imports=[helper.make_operatorsetid("", opset)], doc_string=doc)
    model.ir_version = ir_version
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(inferred)
    assert not model.graph.initializer, "foreign models must not use initializers"
    return model


# ------------------------------------------------------------ numpy references
def conv2d(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1):
    """ONNX Conv, NCHW; pads = (top, left, bottom, right)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    assert c == cg * group
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    eh, ew = (kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1
    oh = (x.shape[2] - eh) // strides[0] + 1
    ow = (x.shape[3] - ew) // strides[1] + 1
    out = np.zeros((n, m, oh, ow), np.float64)
    mg = m // group
    for gi in range(group):
        xs = x[:, gi * cg:(gi + 1) * cg].astype(np.float64)
        ws = w[gi * mg:(gi + 1) * mg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dilations[0]: i * dilations[0] + strides[0] * (oh - 1) + 1: strides[0],
                           j * dilations[1]: j * dilations[1] + strides[1] * (ow - 1) + 1: strides[1]]
                out[:, gi * mg:(gi + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, ws[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def conv_transpose2d(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), output_padding=(0, 0), group=1):
    """ONNX ConvTranspose, NCHW; w is (C_in, C_out/group, kH, kW); pads = (top, left, bottom, right)."""
    n, c, h, wd = x.shape
    cin, og, kh, kw = w.shape
    assert cin == c
    cg = c // group
    full_h = strides[0] * (h - 1) + kh + output_padding[0]
    full_w = strides[1] * (wd - 1) + kw + output_padding[1]
    full = np.zeros((n, og * group, full_h, full_w), np.float64)
    for gi in range(group):
        xs = x[:, gi * cg:(gi + 1) * cg].astype(np.float64)
        ws = w[gi * cg:(gi + 1) * cg].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nchw,co->nohw", xs, ws[:, :, i, j])
                full[:, gi * og:(gi + 1) * og,
                     i: i + strides[0] * (h - 1) + 1: strides[0],
                     j: j + strides[1] * (wd - 1) + 1: strides[1]] += contrib
    out = full[:, :, pads[0]: full_h - pads[2], pads[1]: full_w - pads[3]]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out.astype(np.float32)


def batchnorm(x, scale, bias, mean, var, eps):
    s = (scale / np.sqrt(var + eps)).reshape(1, -1, 1, 1)
    return ((x - mean.reshape(1, -1, 1, 1)) * s + bias.reshape(1, -1, 1, 1)).astype(np.float32)


def hard_sigmoid(x, alpha, beta):
    return np.clip(alpha * x + beta, 0.0, 1.0).astype(np.float32)


def resize_nearest_asymmetric_floor(x, out_hw):
    """Resize nearest, coordinate_transformation_mode=asymmetric, nearest_mode=floor
    (also what opset-9 Upsample 'nearest' computes)."""
    h, w = x.shape[2:]
    oh, ow = out_hw
    iy = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(int), h - 1)
    ix = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(int), w - 1)
    return x[:, :, iy][:, :, :, ix]


def resize_linear_half_pixel(x, scale_hw):
    """Resize linear (bilinear), coordinate_transformation_mode=half_pixel, given scales."""
    def axis_weights(n_in, scale):
        n_out = int(np.floor(n_in * scale))
        src = (np.arange(n_out) + 0.5) / scale - 0.5
        src = np.clip(src, 0, n_in - 1)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0
    y0, y1, wy = axis_weights(x.shape[2], scale_hw[0])
    x0, x1, wx = axis_weights(x.shape[3], scale_hw[1])
    xd = x.astype(np.float64)
    top = xd[:, :, y0] * (1 - wy)[:, None] + xd[:, :, y1] * wy[:, None]
    out = top[:, :, :, x0] * (1 - wx) + top[:, :, :, x1] * wx
    return out.astype(np.float32)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def same_upper_pads(in_size, k, stride, dilation):
    out = -(-in_size // stride)
    total = max(0, (out - 1) * stride + (k - 1) * dilation + 1 - in_size)
    return total // 2, total - total // 2


# ------------------------------------------------------------------ the models
def he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def small(rng, shape, s=0.1):
    return (rng.standard_normal(shape) * s).astype(np.float32)


def foreign_opset9(rng):
    """keras2onnx / early tf2onnx style, opset 9, IR 4."""
    g = G()
    inp, out = "input_1:0", "dense/BiasAdd:0"
    w1, b1 = he(rng, (8, 3, 3, 3), 27), small(rng, (8,))
    bn_s = (1.0 + small(rng, (8,))).astype(np.float32)
    bn_b, bn_m = small(rng, (8,)), small(rng, (8,))
    bn_v = (0.5 + rng.random(8)).astype(np.float32)
    eps = 1e-3
    up_scales = np.array([1, 1, 2, 2], np.float32)
    wt, bt = he(rng, (8, 6, 3, 3), 8 * 9), small(rng, (6,))
    hs_a, hs_b = 0.2, 0.5
    wg, bg = he(rng, (10, 6), 6), small(rng, (10,))

    g.const("conv2d/kernel", w1)
    g.const("conv2d/bias", b1)
    g.op("Conv", [inp, "conv2d/kernel", "conv2d/bias"], "conv2d/BiasAdd:0",
         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    for nm, arr in (("gamma", bn_s), ("beta", bn_b), ("moving_mean", bn_m), ("moving_variance", bn_v)):
        g.const("batch_normalization/" + nm, arr)
    g.op("BatchNormalization", ["conv2d/BiasAdd:0", "batch_normalization/gamma", "batch_normalization/beta",
                                "batch_normalization/moving_mean", "batch_normalization/moving_variance"],
         "batch_normalization/FusedBatchNorm:0", epsilon=eps)
    g.op("Relu", ["batch_normalization/FusedBatchNorm:0"], "re_lu/Relu:0")
    g.op("Clip", ["re_lu/Relu:0"], "re_lu/Relu6:0", min=0.0, max=6.0)
    g.const("up_sampling2d/scales", up_scales)
    g.op("Upsample", ["re_lu/Relu6:0", "up_sampling2d/scales"], "up_sampling2d/ResizeNearest:0", mode="nearest")
    g.const("conv2d_transpose/kernel", wt)
    g.const("conv2d_transpose/bias", bt)
    g.op("ConvTranspose", ["up_sampling2d/ResizeNearest:0", "conv2d_transpose/kernel", "conv2d_transpose/bias"],
         "conv2d_transpose/BiasAdd:0", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    g.op("HardSigmoid", ["conv2d_transpose/BiasAdd:0"], "activation/HardSigmoid:0", alpha=hs_a, beta=hs_b)
    g.op("Mul", ["conv2d_transpose/BiasAdd:0", "activation/HardSigmoid:0"], "multiply/mul:0")
    g.op("GlobalAveragePool", ["multiply/mul:0"], "global_average_pooling2d/Mean:0")
    g.op("Flatten", ["global_average_pooling2d/Mean:0"], "flatten/Reshape:0", axis=1)
    g.const("dense/kernel", wg)
    g.const("dense/bias", bg)
    g.op("Gemm", ["flatten/Reshape:0", "dense/kernel", "dense/bias"], out, transB=1, alpha=1.0, beta=1.0)
    model = make_model(g, "foreign_opset9", 9, 4, inp, ["N", 3, 16, 16], out, ["N", 10],
                       "imitates a keras2onnx-style opset-9 export: Constant weights, Clip attrs, Upsample")

    def ref(x):
        y = conv2d(x, w1, b1, pads=(1, 1, 1, 1))
        y = batchnorm(y, bn_s, bn_b, bn_m, bn_v, eps)
        y = np.clip(np.maximum(y, 0), 0, 6)
        y = resize_nearest_asymmetric_floor(y, (y.shape[2] * 2, y.shape[3] * 2))
        t = conv_transpose2d(y, wt, bt, strides=(2, 2), pads=(1, 1, 1, 1))
        y = t * hard_sigmoid(t, hs_a, hs_b)
        y = y.mean(axis=(2, 3))
        return (y @ wg.T + bg).astype(np.float32)

    ops = ("Conv, BatchNormalization, Relu, Clip(min/max attrs), Upsample(nearest, scales Constant), "
           "ConvTranspose(stride 2, pads 1 -> 63x63), HardSigmoid(0.2,0.5), Mul, GlobalAveragePool, "
           "Flatten, Gemm(transB=1)")
    return model, inp, ref, ops


def foreign_opset11(rng):
    """tf2onnx style, opset 11, IR 6."""
    g = G()
    inp, out = "input_1:0", "dense/BiasAdd:0"
    w1, b1 = he(rng, (8, 3, 3, 3), 27), small(rng, (8,))
    w2, b2 = he(rng, (8, 8, 2, 2), 32), small(rng, (8,))
    wt, bt = he(rng, (8, 3, 5, 5), 4 * 25), small(rng, (6,))  # group 2: 4 in-ch per group -> 3 out-ch per group
    hs_a, hs_b = 0.2, 0.5
    feat = (8 + 6) * 16 * 16
    wm, bm = he(rng, (feat, 10), feat), small(rng, (10,))

    # Conv #1: stride 2, dilation 2, explicit asymmetric pads (what tf2onnx writes for TF 'SAME'
    # with dilation; onnxruntime rejects auto_pad SAME_* together with dilations): 16x16 -> 8x8.
    pt, pb = same_upper_pads(16, 3, 2, 2)
    g.const("conv2d/kernel", w1)
    g.const("conv2d/bias", b1)
    g.op("Conv", [inp, "conv2d/kernel", "conv2d/bias"], "conv2d/BiasAdd:0",
         kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 2], pads=[pt, pt, pb, pb])
    # Conv #2: even 2x2 kernel with auto_pad SAME_UPPER (pads 0 before, 1 after): 8x8 -> 8x8.
    g.const("conv2d_1/kernel", w2)
    g.const("conv2d_1/bias", b2)
    g.op("Conv", ["conv2d/BiasAdd:0", "conv2d_1/kernel", "conv2d_1/bias"], "conv2d_1/BiasAdd:0",
         kernel_shape=[2, 2], auto_pad="SAME_UPPER")
    # Clip-11: min/max as inputs (scalars from Constant nodes).
    g.const("re_lu/min", np.array(0.0, np.float32))
    g.const("re_lu/max", np.array(6.0, np.float32))
    g.op("Clip", ["conv2d_1/BiasAdd:0", "re_lu/min", "re_lu/max"], "re_lu/Relu6:0")
    # Resize-11 #1: linear, half_pixel, scales given (sizes omitted).
    g.const("resize/roi", np.zeros((0,), np.float32))
    g.const("resize/scales", np.array([1, 1, 2, 2], np.float32))
    g.op("Resize", ["re_lu/Relu6:0", "resize/roi", "resize/scales"], "resize/ResizeBilinear:0",
         mode="linear", coordinate_transformation_mode="half_pixel")
    # Resize-11 #2: nearest (asymmetric/floor, TF style), sizes computed from the dynamic shape:
    # Shape -> Slice[0:2] -> Concat([N, C], [6, 6]).  8x8 -> 6x6 (scale 0.75).
    g.op("Shape", ["re_lu/Relu6:0"], "resize_1/Shape:0")
    g.const("resize_1/slice_starts", np.array([0], np.int64))
    g.const("resize_1/slice_ends", np.array([2], np.int64))
    g.op("Slice", ["resize_1/Shape:0", "resize_1/slice_starts", "resize_1/slice_ends"], "resize_1/NC:0")
    g.const("resize_1/size_hw", np.array([6, 6], np.int64))
    g.op("Concat", ["resize_1/NC:0", "resize_1/size_hw"], "resize_1/sizes:0", axis=0)
    g.const("resize_1/scales_empty", np.zeros((0,), np.float32))
    g.op("Resize", ["re_lu/Relu6:0", "resize/roi", "resize_1/scales_empty", "resize_1/sizes:0"],
         "resize_1/ResizeNearestNeighbor:0", mode="nearest",
         coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    # ConvTranspose: group 2, stride 2, kernel 5, output_padding 1: 6x6 -> 16x16.
    g.const("conv2d_transpose/kernel", wt)
    g.const("conv2d_transpose/bias", bt)
    g.op("ConvTranspose", ["resize_1/ResizeNearestNeighbor:0", "conv2d_transpose/kernel", "conv2d_transpose/bias"],
         "conv2d_transpose/BiasAdd:0", kernel_shape=[5, 5], strides=[2, 2], group=2,
         output_padding=[1, 1], pads=[0, 0, 0, 0])
    g.op("HardSigmoid", ["conv2d_transpose/BiasAdd:0"], "activation/HardSigmoid:0", alpha=hs_a, beta=hs_b)
    g.op("Concat", ["resize/ResizeBilinear:0", "activation/HardSigmoid:0"], "concatenate/concat:0", axis=1)
    # Flatten to (N, -1) through Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
    g.op("Shape", ["concatenate/concat:0"], "flatten/Shape:0")
    g.const("flatten/gather_index", np.array(0, np.int64))
    g.op("Gather", ["flatten/Shape:0", "flatten/gather_index"], "flatten/strided_slice:0", axis=0)
    g.op("Unsqueeze", ["flatten/strided_slice:0"], "flatten/Reshape/shape_Unsqueeze:0", axes=[0])
    g.const("flatten/minus_one", np.array([-1], np.int64))
    g.op("Concat", ["flatten/Reshape/shape_Unsqueeze:0", "flatten/minus_one"], "flatten/Reshape/shape:0", axis=0)
    g.op("Reshape", ["concatenate/concat:0", "flatten/Reshape/shape:0"], "flatten/Reshape:0")
    g.const("dense/kernel", wm)
    g.op("MatMul", ["flatten/Reshape:0", "dense/kernel"], "dense/MatMul:0")
    g.const("dense/bias", bm)
    g.op("Add", ["dense/MatMul:0", "dense/bias"], out)
    model = make_model(g, "foreign_opset11", 11, 6, inp, ["N", 3, 16, 16], out, ["N", 10],
                       "imitates a tf2onnx-style opset-11 export: Constant weights, Clip inputs, Resize-11, "
                       "shape-computed Reshape")

    def ref(x):
        y = conv2d(x, w1, b1, strides=(2, 2), dilations=(2, 2), pads=(pt, pt, pb, pb))
        qt, qb = same_upper_pads(y.shape[2], 2, 1, 1)
        y = conv2d(y, w2, b2, pads=(qt, qt, qb, qb))
        c = np.clip(y, 0, 6)
        r1 = resize_linear_half_pixel(c, (2.0, 2.0))
        r2 = resize_nearest_asymmetric_floor(c, (6, 6))
        t = conv_transpose2d(r2, wt, bt, strides=(2, 2), output_padding=(1, 1), group=2)
        h = hard_sigmoid(t, hs_a, hs_b)
        cat = np.concatenate([r1, h], axis=1)
        return (cat.reshape(cat.shape[0], -1).astype(np.float64) @ wm + bm).astype(np.float32)

    ops = ("Conv(stride 2, dilation 2, explicit asymmetric pads [1,1,2,2]), Conv(2x2, auto_pad SAME_UPPER), "
           "Clip(min/max inputs), "
           "Resize(linear, half_pixel, scales), Shape, Slice, Concat, "
           "Resize(nearest, asymmetric, floor, sizes 8x8->6x6), ConvTranspose(group 2, stride 2, "
           "output_padding 1), HardSigmoid(0.2,0.5), Concat, Shape, Gather, Unsqueeze(axes attr), "
           "Concat, Reshape, MatMul, Add")
    return model, inp, ref, ops


def foreign_opset13(rng):
    """tf2onnx style, opset 13, IR 7: a tiny attention block on conv features."""
    g = G()
    inp, out = "input", "probs"
    w1, b1 = he(rng, (12, 3, 3, 3), 27), small(rng, (12,))
    w2, b2 = he(rng, (10, 4, 1, 1), 4), small(rng, (10,))
    att_scale = np.float32(0.5)

    g.const("stem/W", w1)
    g.const("stem/B", b1)
    g.op("Conv", [inp, "stem/W", "stem/B"], "stem/conv", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    g.op("Relu", ["stem/conv"], "stem/relu")                                   # (N,12,8,8)
    g.const("tokens/shape", np.array([0, 12, -1], np.int64))                    # 0 = copy dim
    g.op("Reshape", ["stem/relu", "tokens/shape"], "tokens")                    # (N,12,64)
    g.const("qkv/split", np.array([4, 4, 4], np.int64))
    g.nodes.append(helper.make_node("Split", ["tokens", "qkv/split"], ["q", "k", "v"], name="qkv/Split", axis=1))
    g.op("Transpose", ["q"], "q_t", perm=[0, 2, 1])                            # (N,64,4)
    g.op("MatMul", ["q_t", "k"], "scores")                                      # (N,64,64)
    g.const("att/scale", np.array(att_scale, np.float32))
    g.op("Mul", ["scores", "att/scale"], "scores_scaled")
    g.op("Softmax", ["scores_scaled"], "att", axis=-1)
    g.op("Transpose", ["v"], "v_t", perm=[0, 2, 1])                            # (N,64,4)
    g.op("MatMul", ["att", "v_t"], "ctx")                                       # (N,64,4)
    g.op("ReduceMean", ["ctx"], "pooled", axes=[1], keepdims=1)                 # (N,1,4)
    g.const("squeeze/axes", np.array([1], np.int64))
    g.op("Squeeze", ["pooled", "squeeze/axes"], "pooled_sq")                   # (N,4)
    g.const("unsqueeze/axes", np.array([2, 3], np.int64))
    g.op("Unsqueeze", ["pooled_sq", "unsqueeze/axes"], "pooled_4d")            # (N,4,1,1)
    g.const("head/W", w2)
    g.const("head/B", b2)
    g.op("Conv", ["pooled_4d", "head/W", "head/B"], "head/conv", kernel_shape=[1, 1])  # (N,10,1,1)
    g.const("head/squeeze_axes", np.array([-1, -2], np.int64))
    g.op("Squeeze", ["head/conv", "head/squeeze_axes"], "logits")              # (N,10)
    g.op("Softmax", ["logits"], out, axis=-1)
    model = make_model(g, "foreign_opset13", 13, 7, inp, ["N", 3, 16, 16], out, ["N", 10],
                       "imitates a tf2onnx-style opset-13 export: Constant weights, Squeeze/Unsqueeze/Split "
                       "with axes/split inputs, Softmax-13, ReduceMean keepdims")

    def ref(x):
        y = np.maximum(conv2d(x, w1, b1, strides=(2, 2), pads=(1, 1, 1, 1)), 0)
        tok = y.reshape(y.shape[0], 12, -1).astype(np.float64)
        q, k, v = tok[:, 0:4], tok[:, 4:8], tok[:, 8:12]
        att = softmax(np.transpose(q, (0, 2, 1)) @ k * att_scale, -1)
        ctx = att @ np.transpose(v, (0, 2, 1))
        pooled = ctx.mean(axis=1)
        logits = pooled @ w2[:, :, 0, 0].T.astype(np.float64) + b2
        return softmax(logits, -1).astype(np.float32)

    ops = ("Conv, Relu, Reshape(shape with 0 and -1), Split(split input), Transpose, MatMul, Mul, "
           "Softmax(axis -1), MatMul, ReduceMean(axes [1], keepdims 1), Squeeze(axes input), "
           "Unsqueeze(axes input), Conv 1x1, Squeeze(negative axes input), Softmax(axis -1)")
    return model, inp, ref, ops


MODELS = [("foreign_opset9", foreign_opset9, 9),
          ("foreign_opset11", foreign_opset11, 11),
          ("foreign_opset13", foreign_opset13, 13)]


# --------------------------------------------------------------------- running
def safe_file_name(name):
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return s if s and s not in (".", "..") else "_" + s


def run_ort(node, model_path, inp_name, inp_path, out_name, threads):
    with tempfile.TemporaryDirectory(prefix="mpq_ort_") as tmp:
        cmd = [node, ORT_RUN, "--model", model_path, "--input", f"{inp_name}={inp_path}",
               "--output-dir", tmp, "--threads", str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"ort_run.js failed ({proc.returncode}): {proc.stderr.strip()}")
        return np.load(os.path.join(tmp, safe_file_name(out_name) + ".npy"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=1234, help="base seed (default 1234)")
    ap.add_argument("--no-ort", action="store_true", help="do not run onnxruntime (no NAME.ort.npy)")
    ap.add_argument("--node", default=shutil.which("node") or "node", help="node binary")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    ap.add_argument("--atol", type=float, default=1e-4, help="tolerance for ref vs ort")
    ap.add_argument("--rtol", type=float, default=1e-4)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    ok = True
    for idx, (name, build, opset) in enumerate(MODELS):
        rng = np.random.default_rng(args.seed + 100 * idx)
        model, inp_name, ref_fn, ops = build(rng)
        out_name = model.graph.output[0].name
        model_path = os.path.join(args.out, name + ".onnx")
        onnx.save(model, model_path)
        x = rng.standard_normal((BATCH, 3, 16, 16)).astype(np.float32)
        inp_path = os.path.join(args.out, name + ".input.npy")
        np.save(inp_path, x)
        ref = ref_fn(x)
        np.save(os.path.join(args.out, name + ".ref.npy"), ref)
        line = f"{name}: opset {opset}, {len(model.graph.node)} nodes, output {out_name} {list(ref.shape)}"
        if not args.no_ort:
            got = run_ort(args.node, model_path, inp_name, inp_path, out_name, args.threads)
            np.save(os.path.join(args.out, name + ".ort.npy"), got)
            diff = float(np.max(np.abs(got.astype(np.float64) - ref))) if got.shape == ref.shape else float("inf")
            good = got.shape == ref.shape and np.allclose(got, ref, atol=args.atol, rtol=args.rtol)
            ok &= bool(good)
            line += f", max|ort-ref| = {diff:.3g} {'OK' if good else 'MISMATCH'}"
        print(line)
        print(f"  ops: {ops}")
    if not ok:
        print("error: onnxruntime and the numpy reference disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
