#!/usr/bin/python3
"""Writes the foreign test-model suite (configs/models/foreign/): three Fashion-MNIST
classifiers written with ONNX's Python helper in the styles of three other exporters.

    /usr/bin/python3 scripts/make_foreign_suite.py [--out configs/models/foreign] [--no-train]

  mnv3_opset11  a converter-style MobileNetV3 (opset 11): BatchNorm as Conv -> Mul -> Add with
                per-channel constants, HardSwish as Add(3) -> Clip(0,6) -> Mul(x) -> Div(6),
                squeeze-excitation blocks (GlobalAveragePool -> Conv -> Relu -> Conv ->
                HardSigmoid -> Mul). Trained here: one epoch over the first 30,000 training images, seed
                3000, one torch thread (a few minutes on a busy machine).
  tf_opset12    a TensorFlow-style export (opset 12) of the bundled mobilenet.pt: NHWC input
                and NHWC Transposes (the stem runs in NHWC between Transposes, as tf2onnx writes
                it before its transpose optimizer; the head pools with ReduceMean over H, W in
                NHWC), Relu6 as Clip(0,6), BatchNorm as Mul/Add with [C,1,1] / [C] constants,
                dense layers as MatMul + Add. Not retrained: the weights are mobilenet.pt's.
  vit_opset13   a PyTorch-style export (opset 13) of the bundled vit.pt with LayerNorm written
                out (ReduceMean, Sub, Pow, ReduceMean, Add(eps), Sqrt, Div, Mul, Add) and GELU
                written out (Div(sqrt 2), Erf, Add(1), Mul(x), Mul(0.5)). Weights: vit.pt's.

The graphs are written node by node here from the PyTorch weights (not by torch.onnx.export).
For each model the script checks that onnxruntime (tools/ort/ort_run.js) reproduces the PyTorch
module's logits on the 10,000 test images (max abs difference printed, must be below 1e-3) and
prints both accuracies. --no-train reuses configs/models/foreign/mnv3.pt instead of training.
Fixed seeds and names; one torch thread.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import train_models as tm  # noqa: E402  (data reader, bundled model classes, trainer)

ORT_RUN = os.path.join(REPO, "tools", "ort", "ort_run.js")
MNV3_SEED = 3000
MNV3_CFG = dict(epochs=1, lr=5e-3, wd=1e-4, augment="flip")
MNV3_TRAIN_IMAGES = 30000


# ------------------------------------------------------------------ MobileNetV3 (trained)
class SqueezeExcite(nn.Module):
    def __init__(self, ch, squeeze):
        super().__init__()
        self.fc1 = nn.Conv2d(ch, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, ch, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


class V3Block(nn.Module):
    def __init__(self, cin, hidden, cout, stride, se):
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        self.expand = tm.conv_bn(cin, hidden, k=1, act=None)
        self.dw = tm.conv_bn(hidden, hidden, k=3, stride=stride, groups=hidden, act=None)
        self.se = SqueezeExcite(hidden, hidden // 4) if se else None
        self.project = tm.conv_bn(hidden, cout, k=1, act=None)

    def forward(self, x):
        y = F.hardswish(self.dw(F.hardswish(self.expand(x))))
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.use_res else y


class MobileNetV3Tiny(nn.Module):
    # (cin, hidden, cout, stride, se)
    CFG = [(16, 32, 16, 1, True), (16, 48, 24, 2, True), (24, 72, 24, 1, True)]

    def __init__(self):
        super().__init__()
        self.stem = tm.conv_bn(1, 16, k=3, stride=2, act=None)  # 28x28 -> 14x14; 7x7 after block 1
        self.blocks = nn.ModuleList([V3Block(*c) for c in self.CFG])
        self.head = tm.conv_bn(24, 64, k=1, act=None)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.hardswish(self.stem(x))
        for b in self.blocks:
            x = b(x)
        x = F.hardswish(self.head(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ------------------------------------------------------------------ graph writing
class Graph:
    """Nodes and initializers of one ONNX graph; names are given by the caller (exporter style)."""

    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, arr, dtype=np.float32):
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output.rsplit(":", 1)[0], **attrs))
        return output


def npf(t):
    return t.detach().cpu().numpy().astype(np.float32)


def bn_scale_shift(bn):
    scale = npf(bn.weight) / np.sqrt(npf(bn.running_var) + np.float32(bn.eps))
    return scale.astype(np.float32), (npf(bn.bias) - npf(bn.running_mean) * scale).astype(np.float32)


def finish(g, name, opset, ir, inp, inp_shape, out, layout, doc):
    graph = helper.make_graph(g.nodes, name,
                              [helper.make_tensor_value_info(inp, TensorProto.FLOAT, inp_shape)],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 10])],
                              initializer=g.inits)
    model = helper.make_model(graph, producer_name="mpq.make_foreign_suite", producer_version="1",
                              opset_imports=[helper.make_operatorsetid("", opset)], doc_string=doc)
    model.ir_version = ir
    meta = dict(tm.METADATA)
    meta["mpq.input.layout"] = layout
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    return model


# (a) converter style, opset 11
def write_mnv3(net):
    g = Graph()
    n = [0]

    def conv_mul_add(x, seq, tag):
        conv, bn = seq[0], seq[1]
        w = g.const(tag + ".w_0", npf(conv.weight))
        y = g.op("Conv", [x, w], tag + ".conv.tmp_0", kernel_shape=list(conv.kernel_size),
                 strides=list(conv.stride), pads=[conv.padding[0]] * 4, group=conv.groups,
                 dilations=[1, 1])
        s, b = bn_scale_shift(bn)
        c = s.shape[0]
        y = g.op("Mul", [y, g.const(tag + ".bn_scale", s.reshape(1, c, 1, 1))], tag + ".bn.tmp_0")
        return g.op("Add", [y, g.const(tag + ".bn_shift", b.reshape(1, c, 1, 1))], tag + ".bn.tmp_1")

    def hard_swish(x):
        n[0] += 1
        t = "hardswish_%d" % n[0]
        a = g.op("Add", [x, "const.three"], t + ".tmp_0")
        c = g.op("Clip", [a, "const.zero", "const.six"], t + ".tmp_1")
        m = g.op("Mul", [x, c], t + ".tmp_2")
        return g.op("Div", [m, "const.six"], t + ".tmp_3")

    g.const("const.three", np.float32(3.0))
    g.const("const.zero", np.float32(0.0))
    g.const("const.six", np.float32(6.0))
    x = hard_swish(conv_mul_add("image", net.stem, "stem"))
    for i, blk in enumerate(net.blocks):
        t = "block%d" % i
        y = hard_swish(conv_mul_add(x, blk.expand, t + ".expand"))
        y = hard_swish(conv_mul_add(y, blk.dw, t + ".dw"))
        if blk.se is not None:
            p = g.op("GlobalAveragePool", [y], t + ".se.pool.tmp_0")
            for j, fc in enumerate((blk.se.fc1, blk.se.fc2)):
                p = g.op("Conv", [p, g.const(t + ".se.fc%d.w_0" % j, npf(fc.weight)),
                                  g.const(t + ".se.fc%d.b_0" % j, npf(fc.bias))],
                         t + ".se.fc%d.tmp_0" % j, kernel_shape=[1, 1])
                if j == 0:
                    p = g.op("Relu", [p], t + ".se.relu.tmp_0")
            p = g.op("HardSigmoid", [p], t + ".se.hardsigmoid.tmp_0", alpha=1.0 / 6.0, beta=0.5)
            y = g.op("Mul", [y, p], t + ".se.scale.tmp_0")
        y = conv_mul_add(y, blk.project, t + ".project")
        x = g.op("Add", [x, y], t + ".add.tmp_0") if blk.use_res else y
    x = hard_swish(conv_mul_add(x, net.head, "head"))
    x = g.op("GlobalAveragePool", [x], "pool.tmp_0")
    x = g.op("Flatten", [x], "flatten.tmp_0", axis=1)
    g.op("Gemm", [x, g.const("fc.w_0", npf(net.fc.weight)), g.const("fc.b_0", npf(net.fc.bias))],
         "save_infer_model/scale_0.tmp_0", transB=1)
    return finish(g, "mnv3_opset11", 11, 6, "image", ["N", 1, 28, 28], "save_infer_model/scale_0.tmp_0",
                  "NCHW", "MobileNetV3-style, converter export: BatchNorm as Mul/Add, HardSwish decomposed, SE")


# (b) TensorFlow style, opset 12, NHWC
def write_tf(net):
    g = Graph()
    g.const("Const_relu6/min", np.float32(0.0))
    g.const("Const_relu6/max", np.float32(6.0))

    def conv(x, c, tag):
        w = g.const(tag + "/Conv2D/ReadVariableOp:0", npf(c.weight))
        return g.op("Conv", [x, w], tag + "/Conv2D:0", kernel_shape=list(c.kernel_size), strides=list(c.stride),
                    pads=[c.padding[0]] * 4, group=c.groups, dilations=[1, 1])

    def bn(x, b, tag, shape):
        s, t = bn_scale_shift(b)
        y = g.op("Mul", [x, g.const(tag + "/FusedBatchNormV3/mul:0_const", s.reshape(shape))],
                 tag + "/FusedBatchNormV3/mul:0")
        return g.op("Add", [y, g.const(tag + "/FusedBatchNormV3/add:0_const", t.reshape(shape))],
                    tag + "/FusedBatchNormV3:0")

    def relu6(x, tag):
        return g.op("Clip", [x, "Const_relu6/min", "Const_relu6/max"], tag + "/Relu6:0")

    def conv_bn(x, seq, tag, act):
        c = seq[0].out_channels
        y = bn(conv(x, seq[0], tag), seq[1], tag, (c, 1, 1))
        return relu6(y, tag) if act else y

    # Stem as tf2onnx writes it before its transpose optimizer: the conv in NCHW between
    # Transposes, BatchNorm and Relu6 in NHWC.
    x = g.op("Transpose", ["input_1"], "stem/Conv2D__6:0", perm=[0, 3, 1, 2])
    x = conv(x, net.stem[0], "stem")
    x = g.op("Transpose", [x], "stem/Conv2D__8:0", perm=[0, 2, 3, 1])
    x = relu6(bn(x, net.stem[1], "stem", (16,)), "stem")
    x = g.op("Transpose", [x], "block_0/expand/Conv2D__12:0", perm=[0, 3, 1, 2])
    for i, blk in enumerate(net.blocks):
        t = "block_%d" % i
        y = conv_bn(x, blk.expand, t + "/expand", True)
        y = conv_bn(y, blk.dw, t + "/depthwise", True)
        y = conv_bn(y, blk.project, t + "/project", False)
        x = g.op("Add", [x, y], t + "/add/add:0") if blk.use_res else y
    x = conv_bn(x, net.head, "head", True)
    x = g.op("Transpose", [x], "head/Relu6__30:0", perm=[0, 2, 3, 1])
    x = g.op("ReduceMean", [x], "global_average_pooling2d/Mean:0", axes=[1, 2], keepdims=0)
    x = g.op("MatMul", [x, g.const("dense/MatMul/ReadVariableOp:0", npf(net.fc.weight).T.copy())],
             "dense/MatMul:0")
    g.op("Add", [x, g.const("dense/BiasAdd/ReadVariableOp:0", npf(net.fc.bias))], "dense/BiasAdd:0")
    return finish(g, "tf_opset12", 12, 7, "input_1", ["N", 28, 28, 1], "dense/BiasAdd:0", "NHWC",
                  "TensorFlow-style export: NHWC, Transposes, Relu6 as Clip, BatchNorm as Mul/Add")


# (c) PyTorch style, opset 13, LayerNorm and GELU written out
def write_vit(net):
    g = Graph()
    dim, tokens, heads = net.dim, net.tokens, net.blocks[0].attn.heads
    hd = dim // heads
    for name, v in (("two", 2.0), ("one", 1.0), ("half", 0.5), ("sqrt2", 1.4142135381698608),
                    ("eps", 1e-5), ("scale", hd ** -0.5)):
        g.const("/Constant_" + name, np.float32(v))

    def layer_norm(x, ln, tag):
        m = g.op("ReduceMean", [x], tag + "/ReduceMean_output_0", axes=[-1], keepdims=1)
        d = g.op("Sub", [x, m], tag + "/Sub_output_0")
        p = g.op("Pow", [d, "/Constant_two"], tag + "/Pow_output_0")
        v = g.op("ReduceMean", [p], tag + "/ReduceMean_1_output_0", axes=[-1], keepdims=1)
        v = g.op("Add", [v, "/Constant_eps"], tag + "/Add_output_0")
        s = g.op("Sqrt", [v], tag + "/Sqrt_output_0")
        y = g.op("Div", [d, s], tag + "/Div_output_0")
        y = g.op("Mul", [y, g.const(tag + ".weight", npf(ln.weight))], tag + "/Mul_output_0")
        return g.op("Add", [y, g.const(tag + ".bias", npf(ln.bias))], tag + "/Add_1_output_0")

    def linear(x, lin, tag):
        y = g.op("MatMul", [x, g.const("onnx::MatMul_" + tag, npf(lin.weight).T.copy())],
                 tag + "/MatMul_output_0")
        return g.op("Add", [g.const(tag + ".bias", npf(lin.bias)), y], tag + "/Add_output_0")

    def reshape(x, shape, tag):
        return g.op("Reshape", [x, g.const(tag + "_shape", np.array(shape, np.int64), np.int64)], tag + "_output_0")

    x = g.op("Conv", ["input", g.const("patch_embed.weight", npf(net.patch_embed.weight)),
                      g.const("patch_embed.bias", npf(net.patch_embed.bias))],
             "/patch_embed/Conv_output_0", kernel_shape=[4, 4], strides=[4, 4], pads=[0, 0, 0, 0],
             dilations=[1, 1], group=1)
    x = reshape(x, [-1, dim, tokens], "/Reshape")
    x = g.op("Transpose", [x], "/Transpose_output_0", perm=[0, 2, 1])
    x = g.op("Add", [x, g.const("pos", npf(net.pos))], "/Add_output_0")
    for i, blk in enumerate(net.blocks):
        t = "/blocks.%d" % i
        h = layer_norm(x, blk.norm1, t + "/norm1")
        a = blk.attn
        qkv = []
        for nm in ("q", "k", "v"):
            y = linear(h, getattr(a, nm), "%s/attn/%s" % (t, nm))
            y = reshape(y, [-1, tokens, heads, hd], "%s/attn/Reshape_%s" % (t, nm))
            qkv.append(g.op("Transpose", [y], "%s/attn/Transpose_%s_output_0" % (t, nm), perm=[0, 2, 1, 3]))
        kt = g.op("Transpose", [qkv[1]], t + "/attn/Transpose_kT_output_0", perm=[0, 1, 3, 2])
        s = g.op("MatMul", [qkv[0], kt], t + "/attn/MatMul_output_0")
        s = g.op("Mul", [s, "/Constant_scale"], t + "/attn/Mul_output_0")
        s = g.op("Softmax", [s], t + "/attn/Softmax_output_0", axis=-1)
        o = g.op("MatMul", [s, qkv[2]], t + "/attn/MatMul_1_output_0")
        o = g.op("Transpose", [o], t + "/attn/Transpose_o_output_0", perm=[0, 2, 1, 3])
        o = reshape(o, [-1, tokens, dim], t + "/attn/Reshape_o")
        x = g.op("Add", [x, linear(o, a.proj, t + "/attn/proj")], t + "/Add_output_0")
        h = layer_norm(x, blk.norm2, t + "/norm2")
        h = linear(h, blk.mlp[0], t + "/mlp/mlp.0")
        e = g.op("Div", [h, "/Constant_sqrt2"], t + "/mlp/mlp.1/Div_output_0")
        e = g.op("Erf", [e], t + "/mlp/mlp.1/Erf_output_0")
        e = g.op("Add", [e, "/Constant_one"], t + "/mlp/mlp.1/Add_output_0")
        e = g.op("Mul", [h, e], t + "/mlp/mlp.1/Mul_output_0")
        e = g.op("Mul", [e, "/Constant_half"], t + "/mlp/mlp.1/Mul_1_output_0")
        x = g.op("Add", [x, linear(e, blk.mlp[2], t + "/mlp/mlp.2")], t + "/Add_1_output_0")
    x = g.op("ReduceMean", [x], "/ReduceMean_output_0", axes=[1], keepdims=0)
    x = layer_norm(x, net.norm, "/norm")
    g.op("Gemm", [x, g.const("head.weight", npf(net.head.weight)), g.const("head.bias", npf(net.head.bias))],
         "logits", alpha=1.0, beta=1.0, transB=1)
    return finish(g, "vit_opset13", 13, 7, "input", ["N", 1, 28, 28], "logits", "NCHW",
                  "PyTorch-style export: LayerNorm and GELU written out")


# ------------------------------------------------------------------ checks
def run_ort(model_path, inp_name, x):
    with tempfile.TemporaryDirectory(prefix="mpq_suite_") as tmp:
        xp = os.path.join(tmp, "x.npy")
        np.save(xp, x)
        out = os.path.join(tmp, "out")
        subprocess.run(["node", ORT_RUN, "--model", model_path, "--input", "%s=%s" % (inp_name, xp),
                        "--output-dir", out, "--threads", "2"], check=True, capture_output=True)
        (f,) = os.listdir(out)
        return np.load(os.path.join(out, f))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "configs", "models", "foreign"))
    ap.add_argument("--data-dir", default=tm.DEFAULT_DATA_DIR)
    ap.add_argument("--no-train", action="store_true", help="reuse OUT/mnv3.pt")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # deterministic and cheaper on a shared machine

    te_img, te_lab, _ = tm.load_split(args.data_dir, "test")
    xte = torch.from_numpy(tm.preprocess(te_img))
    yte = torch.from_numpy(te_lab)

    torch.manual_seed(MNV3_SEED)
    np.random.seed(MNV3_SEED)
    mnv3 = MobileNetV3Tiny()
    pt = os.path.join(args.out, "mnv3.pt")
    if args.no_train:
        mnv3.load_state_dict(torch.load(pt))
    else:
        tr_img, tr_lab, _ = tm.load_split(args.data_dir, "train")
        tr_img, tr_lab = tr_img[:MNV3_TRAIN_IMAGES], tr_lab[:MNV3_TRAIN_IMAGES]
        tm.train("mnv3", mnv3, torch.from_numpy(tm.preprocess(tr_img)), torch.from_numpy(tr_lab), xte, yte,
                 MNV3_CFG, seed=MNV3_SEED)
        torch.save(mnv3.state_dict(), pt)
    mob, vit = tm.MobileNetSmall(), tm.TinyViT()
    mob.load_state_dict(torch.load(os.path.join(REPO, "configs", "models", "mobilenet.pt")))
    vit.load_state_dict(torch.load(os.path.join(REPO, "configs", "models", "vit.pt")))

    ok = True
    for name, net, writer, nhwc in (("mnv3_opset11", mnv3, write_mnv3, False),
                                    ("tf_opset12", mob, write_tf, True),
                                    ("vit_opset13", vit, write_vit, False)):
        net.eval()
        model = writer(net)
        path = os.path.join(args.out, name + ".onnx")
        onnx.save(model, path)
        with torch.no_grad():
            ref = net(xte).numpy()
        x = xte.numpy().transpose(0, 2, 3, 1).copy() if nhwc else xte.numpy()
        got = run_ort(path, model.graph.input[0].name, x)
        diff = float(np.max(np.abs(got - ref)))
        acc_t = 100.0 * float(np.mean(ref.argmax(1) == te_lab))
        acc_o = 100.0 * float(np.mean(got.argmax(1) == te_lab))
        ops = {}
        for nd in model.graph.node:
            ops[nd.op_type] = ops.get(nd.op_type, 0) + 1
        good = diff < 1e-3
        ok &= good
        print("%s: opset %d, %d nodes, %d bytes; PyTorch %.2f %%, onnxruntime %.2f %%, max |ort - torch| %.3g %s"
              % (name, model.opset_import[0].version, len(model.graph.node), os.path.getsize(path), acc_t, acc_o,
                 diff, "ok" if good else "MISMATCH"))
        print("  ops: " + ", ".join("%s %d" % kv for kv in sorted(ops.items())))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
