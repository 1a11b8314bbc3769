#!/usr/bin/python3
"""Exports torchvision resnet18 (random init, seeded, eval mode) to ONNX opset 13 with a
dynamic batch dimension, for benchmarks. Input "input" [batch, 3, 224, 224], output "logits".

    /usr/bin/python3 scripts/export_resnet18.py --out /tmp/resnet18.onnx

The file is ~45 MB and is not committed: produce it on demand. No weights are downloaded
(weights=None); the same seed gives the same weights with the same torch version.
"""

import argparse
import os
import sys

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output .onnx file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=13)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    model = torchvision.models.resnet18(weights=None, num_classes=1000).eval()
    dummy = torch.randn(1, 3, 224, 224)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model, dummy, args.out,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=args.opset, do_constant_folding=True)
    try:
        import onnx
        m = onnx.load(args.out)
        onnx.checker.check_model(m)
        print(f"wrote {args.out}: opset {m.opset_import[0].version}, {len(m.graph.node)} nodes, "
              f"{os.path.getsize(args.out) / 1e6:.1f} MB")
    except ImportError:
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
