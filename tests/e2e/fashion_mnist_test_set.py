"""The Fashion-MNIST test set as a bundled model sees it, read here independently of mpq's own
reader (sim/dataset.cpp), for the end-to-end tests that compare mpq with another engine."""
import gzip
import os

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load_test_set(model_path, count=None):
    """The first `count` test images (all 10,000 when None) as float32 NCHW, preprocessed per the
    model's mpq.input.* metadata ((pixel * scale - mean) / std), and their int64 labels."""
    import onnx
    meta = {p.key: p.value for p in onnx.load(model_path, load_external_data=False).metadata_props}
    scale = np.float32(float(meta.get("mpq.input.scale", 1.0)))
    mean = np.float32(float(meta.get("mpq.input.mean", 0.0)))
    std = np.float32(float(meta.get("mpq.input.std", 1.0)))
    with gzip.open(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[4 * k:4 * k + 4], "big") for k in (1, 2, 3))
    px = np.frombuffer(raw, np.uint8, offset=16).reshape(n, 1, rows, cols)[:count]
    x = px.astype(np.float32) * scale
    with gzip.open(os.path.join(DATA_DIR, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)[:count]
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32), labels
