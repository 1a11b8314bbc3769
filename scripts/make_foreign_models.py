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
import math
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


def hard_swish_written(g, x, name):
    """Add(3) -> Clip(0, 6) -> Mul(x) -> Div(6), as converters write HardSwish."""
    g.const(name + "/three", np.array(3.0, np.float32))
    g.const(name + "/zero", np.array(0.0, np.float32))
    g.const(name + "/six", np.array(6.0, np.float32))
    g.op("Add", [x, name + "/three"], name + "/add")
    g.op("Clip", [name + "/add", name + "/zero", name + "/six"], name + "/relu6")
    g.op("Mul", [x, name + "/relu6"], name + "/mul")
    return g.op("Div", [name + "/mul", name + "/six"], name + "/out")


def affine_written(g, x, name, scale, shift, shape):
    """BatchNorm as a converter writes it: Mul and Add by per-channel constants."""
    g.const(name + "/scale", scale.reshape(shape))
    g.const(name + "/shift", shift.reshape(shape))
    g.op("Mul", [x, name + "/scale"], name + "/mul")
    return g.op("Add", [name + "/mul", name + "/shift"], name + "/add")


def np_hard_swish(x):
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def foreign_patterns_cnn(rng):
    """A MobileNetV3-style block as an opset-11 converter writes it: BatchNorm as Mul/Add,
    HardSwish and the squeeze-excitation HardSigmoid written out, SiLU and Mish decomposed."""
    g = G()
    inp, out = "image", "logits"
    w1 = he(rng, (8, 3, 3, 3), 27)
    s1, t1 = (1.0 + small(rng, (8,))).astype(np.float32), small(rng, (8,))
    wd = he(rng, (8, 1, 3, 3), 9)
    s2, t2 = (1.0 + small(rng, (8,))).astype(np.float32), small(rng, (8,))
    wse1, bse1 = he(rng, (4, 8, 1, 1), 8), small(rng, (4,))
    wse2, bse2 = he(rng, (8, 4, 1, 1), 4), small(rng, (8,))
    wp = he(rng, (12, 8, 1, 1), 8)
    s3, t3 = (1.0 + small(rng, (12,))).astype(np.float32), small(rng, (12,))
    wg, bg = he(rng, (10, 12), 12), small(rng, (10,))
    sg, tg = (1.0 + small(rng, (10,))).astype(np.float32), small(rng, (10,))

    g.const("stem/W", w1)
    g.op("Conv", [inp, "stem/W"], "stem/conv", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    y = affine_written(g, "stem/conv", "stem/bn", s1, t1, (1, 8, 1, 1))
    y = hard_swish_written(g, y, "stem/hswish")
    g.const("dw/W", wd)
    g.op("Conv", [y, "dw/W"], "dw/conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8)
    y = affine_written(g, "dw/conv", "dw/bn", s2, t2, (8, 1, 1))
    g.op("Relu", [y], "dw/relu")
    # Squeeze-excitation: pool -> Conv -> Relu -> Conv -> relu6(x + 3) / 6 -> scale.
    g.op("GlobalAveragePool", ["dw/relu"], "se/pool")
    g.const("se/W1", wse1)
    g.const("se/B1", bse1)
    g.op("Conv", ["se/pool", "se/W1", "se/B1"], "se/conv1", kernel_shape=[1, 1])
    g.op("Relu", ["se/conv1"], "se/relu")
    g.const("se/W2", wse2)
    g.const("se/B2", bse2)
    g.op("Conv", ["se/relu", "se/W2", "se/B2"], "se/conv2", kernel_shape=[1, 1])
    g.const("se/three", np.array(3.0, np.float32))
    g.const("se/zero", np.array(0.0, np.float32))
    g.const("se/six", np.array(6.0, np.float32))
    g.op("Add", ["se/conv2", "se/three"], "se/add")
    g.op("Clip", ["se/add", "se/zero", "se/six"], "se/relu6")
    g.op("Div", ["se/relu6", "se/six"], "se/gate")
    g.op("Mul", ["dw/relu", "se/gate"], "se/scaled")
    g.const("pw/W", wp)
    g.op("Conv", ["se/scaled", "pw/W"], "pw/conv", kernel_shape=[1, 1])
    y = affine_written(g, "pw/conv", "pw/bn", s3, t3, (1, 12, 1, 1))
    g.op("Sigmoid", [y], "silu/sigmoid")
    g.op("Mul", [y, "silu/sigmoid"], "silu/out")
    g.op("Exp", ["silu/out"], "mish/exp")
    g.const("mish/one", np.array(1.0, np.float32))
    g.op("Add", ["mish/exp", "mish/one"], "mish/add")
    g.op("Log", ["mish/add"], "mish/softplus")
    g.op("Tanh", ["mish/softplus"], "mish/tanh")
    g.op("Mul", ["silu/out", "mish/tanh"], "mish/out")
    g.op("GlobalAveragePool", ["mish/out"], "head/pool")
    g.op("Flatten", ["head/pool"], "head/flat", axis=1)
    g.const("head/W", wg)
    g.const("head/B", bg)
    g.op("Gemm", ["head/flat", "head/W", "head/B"], "head/gemm", transB=1)
    g.const("head/scale", sg)
    g.const("head/shift", tg.reshape(1, 10))
    g.op("Mul", ["head/scale", "head/gemm"], "head/mul")
    g.op("Add", ["head/mul", "head/shift"], out)
    model = make_model(g, "foreign_patterns_cnn", 11, 6, inp, ["N", 3, 16, 16], out, ["N", 10],
                       "an opset-11 converter's MobileNetV3 block: BatchNorm as Mul/Add, HardSwish, "
                       "SE HardSigmoid, SiLU and Mish written out")

    def ref(x):
        y = conv2d(x, w1, strides=(2, 2), pads=(1, 1, 1, 1)).astype(np.float64)
        y = np_hard_swish(y * s1.reshape(1, -1, 1, 1) + t1.reshape(1, -1, 1, 1))
        y = conv2d(y.astype(np.float32), wd, pads=(1, 1, 1, 1), group=8).astype(np.float64)
        y = np.maximum(y * s2.reshape(1, -1, 1, 1) + t2.reshape(1, -1, 1, 1), 0)
        p = y.mean(axis=(2, 3), keepdims=True).astype(np.float32)
        p = np.maximum(conv2d(p, wse1, bse1), 0)
        gate = np.clip(conv2d(p, wse2, bse2).astype(np.float64) + 3, 0, 6) / 6
        y = conv2d((y * gate).astype(np.float32), wp).astype(np.float64)
        y = y * s3.reshape(1, -1, 1, 1) + t3.reshape(1, -1, 1, 1)
        y = y / (1 + np.exp(-y))
        y = y * np.tanh(np.log1p(np.exp(y)))
        y = y.mean(axis=(2, 3)) @ wg.T.astype(np.float64) + bg
        return (y * sg + tg).astype(np.float32)

    ops = ("Conv, Mul/Add (BatchNorm), HardSwish written out, depthwise Conv, Mul/Add, Relu, "
           "SE (GlobalAveragePool, Conv, Relu, Conv, relu6(x+3)/6, Mul), Conv 1x1, Mul/Add, "
           "x*Sigmoid(x), x*Tanh(Log(1+Exp(x))), GlobalAveragePool, Flatten, Gemm, Mul/Add")
    return model, inp, ref, ops


def layer_norm_written(g, x, name, gamma=None, beta=None, reciprocal=False):
    """ReduceMean, Sub, Pow(2), ReduceMean, Add(eps), Sqrt, Div (or Reciprocal and Mul)."""
    g.op("ReduceMean", [x], name + "/mean", axes=[-1], keepdims=1)
    g.op("Sub", [x, name + "/mean"], name + "/sub")
    g.const(name + "/two", np.array(2.0, np.float32))
    g.op("Pow", [name + "/sub", name + "/two"], name + "/pow")
    g.op("ReduceMean", [name + "/pow"], name + "/var", axes=[-1], keepdims=1)
    g.const(name + "/eps", np.array(1e-5, np.float32))
    g.op("Add", [name + "/var", name + "/eps"], name + "/add_eps")
    g.op("Sqrt", [name + "/add_eps"], name + "/std")
    if reciprocal:
        g.op("Reciprocal", [name + "/std"], name + "/inv")
        y = g.op("Mul", [name + "/sub", name + "/inv"], name + "/norm")
    else:
        y = g.op("Div", [name + "/sub", name + "/std"], name + "/norm")
    if gamma is not None:
        g.const(name + "/gamma", gamma)
        g.const(name + "/beta", beta)
        g.op("Mul", [y, name + "/gamma"], name + "/scaled")
        y = g.op("Add", [name + "/scaled", name + "/beta"], name + "/out")
    return y


def np_layer_norm(x, gamma=None, beta=None):
    d = x - x.mean(axis=-1, keepdims=True)
    y = d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5)
    return y if gamma is None else y * gamma + beta


def foreign_patterns_transformer(rng):
    """A transformer block as PyTorch writes it at opset 13: LayerNorm, GELU (erf and tanh
    forms) and RMSNorm as arithmetic, a Linear's scale as a Mul after MatMul + Add."""
    g = G()
    inp, out = "image", "logits"
    wp, bp = he(rng, (16, 3, 4, 4), 48), small(rng, (16,))
    g1, b1 = (1.0 + small(rng, (16,))).astype(np.float32), small(rng, (16,))
    w1, c1 = he(rng, (16, 32), 16), small(rng, (32,))
    w2, c2 = he(rng, (32, 16), 32), small(rng, (16,))
    s2 = (1.0 + small(rng, (16,))).astype(np.float32)
    gr = (1.0 + small(rng, (16,))).astype(np.float32)
    wh, bh = he(rng, (10, 16), 16), small(rng, (10,))

    g.const("patch/W", wp)
    g.const("patch/B", bp)
    g.op("Conv", [inp, "patch/W", "patch/B"], "patch/conv", kernel_shape=[4, 4], strides=[4, 4])
    g.const("tokens/shape", np.array([0, 16, 16], np.int64))
    g.op("Reshape", ["patch/conv", "tokens/shape"], "tokens/nct")
    g.op("Transpose", ["tokens/nct"], "tokens", perm=[0, 2, 1])                # (N,16 tokens,16)
    y = layer_norm_written(g, "tokens", "ln1", g1, b1)
    g.const("mlp/W1", w1)
    g.op("MatMul", [y, "mlp/W1"], "mlp/fc1")
    g.const("mlp/B1", c1)
    g.op("Add", ["mlp/fc1", "mlp/B1"], "mlp/fc1_bias")
    # GELU as PyTorch exports it: Div(sqrt 2), Erf, Add(1), Mul(x), Mul(0.5).
    g.const("gelu/sqrt2", np.array(np.sqrt(2.0), np.float32))
    g.op("Div", ["mlp/fc1_bias", "gelu/sqrt2"], "gelu/div")
    g.op("Erf", ["gelu/div"], "gelu/erf")
    g.const("gelu/one", np.array(1.0, np.float32))
    g.op("Add", ["gelu/erf", "gelu/one"], "gelu/add")
    g.op("Mul", ["mlp/fc1_bias", "gelu/add"], "gelu/mul")
    g.const("gelu/half", np.array(0.5, np.float32))
    g.op("Mul", ["gelu/mul", "gelu/half"], "gelu/out")
    g.const("mlp/W2", w2)
    g.op("MatMul", ["gelu/out", "mlp/W2"], "mlp/fc2")
    g.const("mlp/B2", c2)
    g.op("Add", ["mlp/fc2", "mlp/B2"], "mlp/fc2_bias")
    g.const("mlp/layer_scale", s2)
    g.op("Mul", ["mlp/fc2_bias", "mlp/layer_scale"], "mlp/scaled")
    g.op("Add", ["tokens", "mlp/scaled"], "res")
    # RMSNorm: Pow, ReduceMean, Add(eps), Sqrt, Reciprocal, Mul, Mul(gamma).
    g.const("rms/two", np.array(2.0, np.float32))
    g.op("Pow", ["res", "rms/two"], "rms/pow")
    g.op("ReduceMean", ["rms/pow"], "rms/mean", axes=[-1], keepdims=1)
    g.const("rms/eps", np.array(1e-6, np.float32))
    g.op("Add", ["rms/mean", "rms/eps"], "rms/add")
    g.op("Sqrt", ["rms/add"], "rms/sqrt")
    g.op("Reciprocal", ["rms/sqrt"], "rms/inv")
    g.op("Mul", ["res", "rms/inv"], "rms/norm")
    g.const("rms/gamma", gr)
    g.op("Mul", ["rms/norm", "rms/gamma"], "rms/out")
    # GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    g.const("gelu_t/three", np.array(3.0, np.float32))
    g.op("Pow", ["rms/out", "gelu_t/three"], "gelu_t/cube")
    g.const("gelu_t/c", np.array(0.044715, np.float32))
    g.op("Mul", ["gelu_t/cube", "gelu_t/c"], "gelu_t/cubic")
    g.op("Add", ["rms/out", "gelu_t/cubic"], "gelu_t/inner")
    g.const("gelu_t/k", np.array(np.sqrt(2.0 / np.pi), np.float32))
    g.op("Mul", ["gelu_t/inner", "gelu_t/k"], "gelu_t/scaled")
    g.op("Tanh", ["gelu_t/scaled"], "gelu_t/tanh")
    g.const("gelu_t/one", np.array(1.0, np.float32))
    g.op("Add", ["gelu_t/tanh", "gelu_t/one"], "gelu_t/add")
    g.const("gelu_t/half", np.array(0.5, np.float32))
    g.op("Mul", ["rms/out", "gelu_t/half"], "gelu_t/halfx")
    g.op("Mul", ["gelu_t/halfx", "gelu_t/add"], "gelu_t/out")
    y = layer_norm_written(g, "gelu_t/out", "ln2", reciprocal=True)
    g.op("ReduceMean", [y], "pool", axes=[1], keepdims=0)                       # (N,16)
    g.const("head/W", wh)
    g.const("head/B", bh)
    g.op("Gemm", ["pool", "head/W", "head/B"], out, transB=1)
    model = make_model(g, "foreign_patterns_transformer", 13, 7, inp, ["N", 3, 16, 16], out, ["N", 10],
                       "an opset-13 export of a transformer block: LayerNorm, GELU (erf and tanh) and "
                       "RMSNorm written out")

    def ref(x):
        t = conv2d(x, wp, bp, strides=(4, 4)).astype(np.float64)
        t = t.reshape(t.shape[0], 16, 16).transpose(0, 2, 1)
        y = np_layer_norm(t, g1, b1) @ w1 + c1
        y = 0.5 * y * (1 + np.vectorize(math.erf)(y / np.sqrt(2.0)))
        r = t + (y @ w2 + c2) * s2
        r = r / np.sqrt((r * r).mean(axis=-1, keepdims=True) + 1e-6) * gr
        r = 0.5 * r * (1 + np.tanh(np.sqrt(2 / np.pi) * (r + 0.044715 * r ** 3)))
        y = np_layer_norm(r).mean(axis=1)
        return (y @ wh.T + bh).astype(np.float32)

    ops = ("Conv 4x4/4, Reshape, Transpose, LayerNorm written out (with Mul/Add affine), MatMul, Add, "
           "GELU erf form (PyTorch order), MatMul, Add, Mul (layer scale), Add (residual), RMSNorm "
           "(Pow, ReduceMean, Add, Sqrt, Reciprocal, Mul, Mul), GELU tanh form, LayerNorm (Reciprocal, "
           "no affine), ReduceMean over tokens, Gemm")
    return model, inp, ref, ops


MODELS = [("foreign_opset9", foreign_opset9, 9),
          ("foreign_opset11", foreign_opset11, 11),
          ("foreign_opset13", foreign_opset13, 13),
          ("foreign_patterns_cnn", foreign_patterns_cnn, 11),
          ("foreign_patterns_transformer", foreign_patterns_transformer, 13)]


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
