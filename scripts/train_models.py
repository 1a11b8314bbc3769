#!/usr/bin/python3
"""Train the bundled Fashion-MNIST models and export them to ONNX.

Run with the Debian interpreter (it has torch/onnx/numpy):

    /usr/bin/python3 scripts/train_models.py                 # all four models
    /usr/bin/python3 scripts/train_models.py --models cnn,vit --out configs/models

Data: the IDX files shipped by the Debian package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/*-idx?-ubyte.gz``), read with the small
numpy IDX reader below (plain or gzip-compressed files are both accepted).

Every model takes ``input`` of shape N x 1 x 28 x 28 (float32, dynamic N) and
returns ``logits`` of shape N x 10.  Preprocessing (stored in each ONNX file's
metadata_props):  x = pixel * (1/255);  x = (x - 0.2860) / 0.3530.

Speed: Debian's python3-torch runs nn.Linear/matmul through the libblas.so.3
alternative (reference BLAS unless OpenBLAS is installed); see
configs/models/README.md for running with OpenBLAS without changing the system.

The model classes are importable without running any training (see
``scripts/torch_reference.py``).
"""

import argparse
import gzip
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"

INPUT_SCALE = "0.00392156862745098"  # 1/255
INPUT_MEAN = "0.2860"
INPUT_STD = "0.3530"

METADATA = {
    "mpq.input.scale": INPUT_SCALE,
    "mpq.input.mean": INPUT_MEAN,
    "mpq.input.std": INPUT_STD,
    "mpq.input.layout": "NCHW",
    "mpq.dataset": "fashion-mnist",
}

# IDX element type codes -> numpy big-endian dtypes
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path):
    """Read an IDX file (optionally gzip-compressed) into a numpy array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError("%s: not an IDX file (bad magic)" % path)
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError("%s: unknown IDX element type 0x%02x" % (path, type_code))
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    dtype = _IDX_DTYPES[type_code]
    count = int(np.prod(dims)) if ndim else 1
    offset = 4 + 4 * ndim
    expected = offset + count * dtype.itemsize
    if len(raw) < expected:
        raise ValueError("%s: truncated IDX file (%d < %d bytes)" % (path, len(raw), expected))
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    return arr.reshape(dims).astype(dtype.newbyteorder("="))


def find_idx(data_dir, stem):
    """Locate ``stem`` (e.g. 't10k-images-idx3-ubyte') plain or gzipped."""
    for name in (stem, stem + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError("no %s[.gz] in %s" % (stem, data_dir))


def load_split(data_dir, split):
    """Return (uint8 images [N,28,28], int64 labels [N], (image_path, label_path))."""
    prefix = "train" if split == "train" else "t10k"
    ip = find_idx(data_dir, prefix + "-images-idx3-ubyte")
    lp = find_idx(data_dir, prefix + "-labels-idx1-ubyte")
    images = read_idx(ip)
    labels = read_idx(lp).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise ValueError("image/label count mismatch for %s" % split)
    return images, labels, (ip, lp)


def preprocess(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], same arithmetic as the metadata says."""
    scale = np.float32(float(INPUT_SCALE))
    mean = np.float32(float(INPUT_MEAN))
    std = np.float32(float(INPUT_STD))
    x = images_u8.astype(np.float32) * scale
    x = (x - mean) / std
    return np.ascontiguousarray(x[:, None, :, :], dtype=np.float32)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def conv_bn(cin, cout, k=3, stride=1, groups=1, act="relu"):
    layers = [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act == "relu6":
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class SimpleCNN(nn.Module):
    """3 x (conv3x3-BN-ReLU-maxpool2) with 32/64/128 channels, then FC 1152-128-10."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 32), nn.MaxPool2d(2),     # 28 -> 14
            conv_bn(32, 64), nn.MaxPool2d(2),    # 14 -> 7
            conv_bn(64, 128), nn.MaxPool2d(2),   # 7 -> 3
        )
        self.fc1 = nn.Linear(128 * 3 * 3, 128)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.drop(x)
        return self.fc2(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (ReLU6) -> 3x3 depthwise (ReLU6) -> 1x1 project (linear)."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.expand = conv_bn(cin, hidden, k=1, act="relu6")
        self.dw = conv_bn(hidden, hidden, k=3, stride=stride, groups=hidden, act="relu6")
        self.project = conv_bn(hidden, cout, k=1, act=None)

    def forward(self, x):
        y = self.project(self.dw(self.expand(x)))
        return x + y if self.use_res else y


class MobileNetSmall(nn.Module):
    """MobileNetV2-style: stem conv 16ch, 4 inverted residual blocks, GAP, linear."""

    # (cin, cout, stride, expand)
    CFG = [
        (16, 24, 2, 4),   # 28 -> 14
        (24, 24, 1, 3),   # residual
        (24, 48, 2, 3),   # 14 -> 7
        (48, 48, 1, 2),   # residual
    ]

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = conv_bn(1, 16, k=3, stride=1, act="relu6")
        self.blocks = nn.Sequential(*[InvertedResidual(*c) for c in self.CFG])
        self.head = conv_bn(48, 64, k=1, act="relu6")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


class BasicBlock(nn.Module):
    """ResNet basic block; 1x1-conv+BN shortcut when shape changes."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + sc)


class SmallResNet(nn.Module):
    """Stem 3x3 conv 16ch, stages 16@28, 32@14, 64@7 (one basic block each), GAP, linear."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = conv_bn(1, 16)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.layer3 = BasicBlock(32, 64, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


class Attention(nn.Module):
    """Multi-head self-attention written with plain matmul/softmax.

    Token count and dims are Python ints, so every Reshape in the ONNX export
    has a constant target shape with -1 only in the batch position.
    """

    def __init__(self, dim, heads, tokens):
        super().__init__()
        self.dim, self.heads, self.tokens = dim, heads, tokens
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _split(self, t):  # [B, N, D] -> [B, H, N, hd]
        return t.reshape(-1, self.tokens, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x):
        q = self._split(self.q(x))
        k = self._split(self.k(x))
        v = self._split(self.v(x))
        att = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        att = torch.softmax(att, dim=-1)
        out = torch.matmul(att, v)                                 # [B, H, N, hd]
        out = out.transpose(1, 2).reshape(-1, self.tokens, self.dim)
        return self.proj(out)


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, tokens, mlp_ratio=2):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, tokens)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class TinyViT(nn.Module):
    """ViT: 4x4 patches (7x7=49 tokens), dim 64, 4 heads, 3 pre-norm blocks, mean pooling."""

    def __init__(self, num_classes=10, dim=64, depth=3, heads=4, patch=4, mlp_ratio=2):
        super().__init__()
        self.dim = dim
        self.grid = 28 // patch
        self.tokens = self.grid * self.grid
        self.patch_embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, self.tokens, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.Sequential(
            *[TransformerBlock(dim, heads, self.tokens, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x)                                    # [B, D, 7, 7]
        x = x.reshape(-1, self.dim, self.tokens).transpose(1, 2)   # [B, 49, D]
        x = x + self.pos
        x = self.blocks(x)
        x = self.norm(x.mean(dim=1))                               # mean pooling
        return self.head(x)


# name -> constructor, training hyper-parameters, keep BatchNorm unfused in ONNX, seed
MODELS = {
    "cnn": dict(cls=SimpleCNN, epochs=3, lr=3e-3, wd=1e-4, augment="flip", keep_bn=True, seed=0),
    "resnet": dict(cls=SmallResNet, epochs=3, lr=4e-3, wd=1e-4, augment="flip", keep_bn=False, seed=0),
    "mobilenet": dict(cls=MobileNetSmall, epochs=3, lr=5e-3, wd=1e-4, augment="flip", keep_bn=False,
                      seed=1000),
    "vit": dict(cls=TinyViT, epochs=4, lr=2e-3, wd=5e-2, augment="flip", keep_bn=False, seed=2000),
}
# seed: per-model seed (added to --seed), independent of which subset is trained.
# augment: "none", "flip" (random horizontal flip) or "shift+flip" (also random
# +-2 px translation).  With only 3-4 epochs, flips alone work best.


def build_model(name):
    if name not in MODELS:
        raise KeyError("unknown model %r (known: %s)" % (name, ", ".join(MODELS)))
    return MODELS[name]["cls"]()


def count_params(model):
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


def augment_batch(x, gen, mode="flip", pad=2):
    """Random horizontal flip; with mode "shift+flip" also a random translation
    by up to +-pad pixels (filled with the normalized background value)."""
    if mode == "none":
        return x
    b = x.shape[0]
    out = x
    if mode == "shift+flip":
        bg = (0.0 - float(INPUT_MEAN)) / float(INPUT_STD)
        xp = F.pad(x, (pad, pad, pad, pad), value=bg)
        offs = torch.randint(0, 2 * pad + 1, (b, 2), generator=gen)
        out = torch.empty_like(x)
        for i in range(b):
            dy, dx = int(offs[i, 0]), int(offs[i, 1])
            out[i] = xp[i, :, dy:dy + 28, dx:dx + 28]
    else:
        out = x.clone()
    flip = torch.rand(b, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            logits = model(x[i:i + batch])
            correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    return 100.0 * correct / x.shape[0], correct


def train(name, model, xtr, ytr, xte, yte, cfg, batch=128, seed=0, log=print):
    gen = torch.Generator().manual_seed(seed)
    epochs = cfg["epochs"]
    steps_per_epoch = math.ceil(xtr.shape[0] / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg["lr"], total_steps=epochs * steps_per_epoch, pct_start=0.25)
    crit = nn.CrossEntropyLoss(label_smoothing=0.05)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(xtr.shape[0], generator=gen)
        run_loss, run_n, run_ok = 0.0, 0, 0
        for s in range(steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            xb, yb = xtr[idx], ytr[idx]
            xb = augment_batch(xb, gen, cfg["augment"])
            logits = model(xb)
            loss = crit(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            run_loss += float(loss) * yb.shape[0]
            run_n += yb.shape[0]
            run_ok += int((logits.argmax(1) == yb).sum())
            if (s + 1) % 100 == 0 or s + 1 == steps_per_epoch:
                log("[%s] epoch %d/%d step %d/%d loss %.4f train-acc %.2f%% (%.0fs)" % (
                    name, ep + 1, epochs, s + 1, steps_per_epoch, run_loss / run_n,
                    100.0 * run_ok / run_n, time.time() - t0))
        acc, _ = evaluate(model, xte, yte)
        log("[%s] epoch %d done: test-acc %.2f%% (%.0fs)" % (name, ep + 1, acc, time.time() - t0))
    return acc


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------


def export_onnx(model, path, keep_bn=False, opset=17):
    import onnx

    model.eval()
    dummy = torch.zeros(2, 1, 28, 28, dtype=torch.float32)
    # TrainingMode.EVAL makes the exporter fuse BatchNorm into the preceding
    # Conv (eval peephole pass).  TrainingMode.PRESERVE with the model already
    # in eval mode skips that pass and keeps BatchNormalization nodes
    # (inference form, one output).
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(
        model, dummy, path,
        export_params=True,
        opset_version=opset,
        do_constant_folding=True,
        training=mode,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    m = onnx.load(path)
    del m.metadata_props[:]
    onnx.helper.set_model_props(m, METADATA)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return m


def op_histogram(onnx_model):
    counts = {}
    for n in onnx_model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return dict(sorted(counts.items()))


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of: %s" % ", ".join(MODELS))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "configs", "models"))
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--epochs", type=int, default=None, help="override epochs for every model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-limit", type=int, default=None,
                    help="use only the first N training images (smoke tests)")
    args = ap.parse_args(argv)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        if n not in MODELS:
            ap.error("unknown model %r" % n)
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)

    torch.set_num_threads(args.threads)

    def log(msg):
        print(msg, flush=True)

    tr_img, tr_lab, tr_paths = load_split(args.data_dir, "train")
    if args.train_limit is not None:
        tr_img, tr_lab = tr_img[:args.train_limit], tr_lab[:args.train_limit]
    te_img, te_lab, te_paths = load_split(args.data_dir, "test")
    log("data: %s %s (%d train), %s %s (%d test)" % (
        tr_paths[0], tr_paths[1], len(tr_lab), te_paths[0], te_paths[1], len(te_lab)))
    xtr = torch.from_numpy(preprocess(tr_img))
    ytr = torch.from_numpy(tr_lab)
    xte = torch.from_numpy(preprocess(te_img))
    yte = torch.from_numpy(te_lab)

    t_all = time.time()
    summary = []
    for name in names:
        cfg = dict(MODELS[name])
        if args.epochs is not None:
            cfg["epochs"] = args.epochs
        seed = args.seed + cfg["seed"]
        torch.manual_seed(seed)
        np.random.seed(seed)
        model = build_model(name)
        log("== %s: %d parameters, %d epochs" % (name, count_params(model), cfg["epochs"]))
        t0 = time.time()
        acc = train(name, model, xtr, ytr, xte, yte, cfg, seed=seed, log=log)
        model.eval()
        pt_path = os.path.join(out_dir, name + ".pt")
        torch.save(model.state_dict(), pt_path)
        onnx_path = os.path.join(out_dir, name + ".onnx")
        m = export_onnx(model, onnx_path, keep_bn=cfg["keep_bn"])
        size = os.path.getsize(onnx_path)
        log("== %s: test-acc %.2f%%, %.0fs, wrote %s (%d bytes) and %s" % (
            name, acc, time.time() - t0, onnx_path, size, pt_path))
        log("   ops: %s" % op_histogram(m))
        summary.append((name, acc, count_params(model), size))
    log("== all done in %.0fs" % (time.time() - t_all))
    for name, acc, params, size in summary:
        log("   %-10s acc %.2f%%  params %d  onnx %d bytes" % (name, acc, params, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
