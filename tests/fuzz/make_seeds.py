#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/): the bundled small files
and minimal hand-made ones. Run with /usr/bin/python3 (numpy, onnx) from anywhere; the output is
committed, so this runs again only when a reader's format changes."""
import gzip
import io
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"


def target_dir(name):
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def tiny_models():
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(2, np.float32), "b")
    s = numpy_helper.from_array(np.full((1, 2, 1, 1), 0.5, np.float32), "s")
    conv = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Mul", ["c", "s"], ["m"]),
         helper.make_node("Relu", ["m"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["y"])],
        "conv", [x], [y], [w, b, s])
    g_in = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    gw = numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "gw")
    gemm = helper.make_graph(
        [helper.make_node("Gemm", ["x", "gw"], ["g"], transB=1),
         helper.make_node("Softmax", ["g"], ["y"], axis=1)],
        "gemm", [g_in], [y], [gw])
    ln_in = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4])
    eps = numpy_helper.from_array(np.array(1e-5, np.float32), "eps")
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    ln = helper.make_graph(
        [helper.make_node("ReduceMean", ["x"], ["mu"], axes=[-1]),
         helper.make_node("Sub", ["x", "mu"], ["d"]),
         helper.make_node("Pow", ["d", "two"], ["d2"]),
         helper.make_node("ReduceMean", ["d2"], ["v"], axes=[-1]),
         helper.make_node("Add", ["v", "eps"], ["ve"]),
         helper.make_node("Sqrt", ["ve"], ["sd"]),
         helper.make_node("Div", ["d", "sd"], ["y"])],
        "layernorm", [ln_in], [y], [eps, two])
    for name, graph, opset in (("conv", conv, 13), ("gemm", gemm, 11), ("layernorm", ln, 9)):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        yield name, model.SerializeToString()


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def idx_seed(count):
    base = Path("/usr/share/datasets/fashion-mnist")
    images = gzip.open(base / "t10k-images-idx3-ubyte.gz").read()
    labels = gzip.open(base / "t10k-labels-idx1-ubyte.gz").read()
    img = images[:4] + count.to_bytes(4, "big") + images[8:16] + images[16:16 + count * 784]
    lab = labels[:4] + count.to_bytes(4, "big") + labels[8:8 + count]
    # fuzz_idx: the first byte x 4 is the length of the images part.
    assert len(img) % 4 == 0 and len(img) // 4 < 256
    return bytes([len(img) // 4]) + img + lab


def main():
    for name, data in tiny_models():
        (target_dir("fuzz_onnx") / f"{name}.onnx").write_bytes(data)
    for src in sorted((ROOT / "configs/hw").glob("*.yaml")):
        shutil.copy(src, target_dir("fuzz_accelerator_yaml") / src.name)
    for src in sorted((ROOT / "configs/experiments").glob("*.yaml")):
        shutil.copy(src, target_dir("fuzz_experiment_yaml") / src.name)
    npy = target_dir("fuzz_npy")
    rng = np.random.default_rng(1)
    (npy / "f32.npy").write_bytes(npy_bytes(rng.standard_normal((2, 3)).astype(np.float32)))
    (npy / "f64_fortran.npy").write_bytes(npy_bytes(np.asfortranarray(np.eye(3))))
    (npy / "i64.npy").write_bytes(npy_bytes(np.arange(5, dtype=np.int64)))
    (npy / "u8_big_endian.npy").write_bytes(npy_bytes(np.arange(4, dtype=">u2")))
    (npy / "scalar.npy").write_bytes(npy_bytes(np.float32(1.5)))
    (target_dir("fuzz_idx") / "one_image.idx").write_bytes(idx_seed(1))
    topo = target_dir("fuzz_scalesim_csv")
    (topo / "alexnet_head.csv").write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,\nConv1, 227, 227, 11, 11, 3, 96, 4,\nConv2, 31, 31, 5, 5, 96, "
        "256, 1,\nFC1, 1, 1, 1, 1, 9216, 4096, 1,\n")
    (target_dir("fuzz_latency_csv") / "measured.csv").write_text(
        "# measured on a bench\nlayer,W8A8,W4A8,Wfp16Afp16\nconv1,12.5,,30\nfc,3,2,4.5\n")
    journal = target_dir("fuzz_journal")
    key = '{"inputs":{"candidates":"c0","model":"m0"},"mpq_phase1_journal":1}\n'
    task = ('{"candidate":"W4A8","eagl":0.5,"group":"conv1@aa","metrics":{"samples":256,'
            '"sqnr_db":21.5,"top1_agreement":0.98,"kl_divergence":0.01,"mse":0.001,'
            '"top1_accuracy":0.9,"float_top1_accuracy":0.91},"fisher":1e-3}\n')
    (journal / "two_tasks.journal").write_text(
        key + task + task.replace("conv1@aa", "fc@bb").replace("W4A8", "W2A8")
        + '{"candidate":"W8A8","group":"other@cc","metrics":{}}\n')


if __name__ == "__main__":
    main()
