#!/usr/bin/python3
"""PyTorch reference for the bundled models.

    /usr/bin/python3 scripts/torch_reference.py --model cnn --models-dir configs/models \
        --count 256 --logits-out /tmp/cnn_ref.npy --json

Rebuilds the model class from train_models.py, loads ``<models-dir>/<model>.pt``,
evaluates it (eval mode, float32) on the full 10,000-image Fashion-MNIST test set
with the same preprocessing as training / the ONNX metadata
(x = pixel * (1/255); x = (x - 0.2860) / 0.3530), prints the accuracy and
optionally writes the logits of the first ``--count`` test images as a float32
.npy of shape [count, 10].
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_models as tm  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="one of: %s" % ", ".join(tm.MODELS))
    ap.add_argument("--models-dir", default="configs/models")
    ap.add_argument("--data-dir", default=tm.DEFAULT_DATA_DIR)
    ap.add_argument("--count", type=int, default=256,
                    help="number of leading test images whose logits are written")
    ap.add_argument("--logits-out", default=None, help="write logits [count,10] float32 .npy here")
    ap.add_argument("--inputs-out", default=None,
                    help="optionally write the preprocessed inputs [count,1,28,28] float32 .npy here")
    ap.add_argument("--json", action="store_true", help="print a JSON line instead of text")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    if args.model not in tm.MODELS:
        ap.error("unknown model %r (known: %s)" % (args.model, ", ".join(tm.MODELS)))
    torch.set_num_threads(args.threads)

    model = tm.build_model(args.model)
    state = torch.load(os.path.join(args.models_dir, args.model + ".pt"), map_location="cpu")
    model.load_state_dict(state)
    model.eval()

    images, labels, _ = tm.load_split(args.data_dir, "test")
    x = torch.from_numpy(tm.preprocess(images))
    y = torch.from_numpy(labels)
    count = max(0, min(args.count, x.shape[0]))

    chunks = []
    with torch.no_grad():
        for i in range(0, x.shape[0], 500):
            chunks.append(model(x[i:i + 500]).float())
    logits = torch.cat(chunks, 0)
    correct = int((logits.argmax(1) == y).sum())
    total = int(y.shape[0])
    accuracy = round(100.0 * correct / total, 2)

    if args.logits_out:
        d = os.path.dirname(os.path.abspath(args.logits_out))
        os.makedirs(d, exist_ok=True)
        np.save(args.logits_out, np.ascontiguousarray(logits[:count].numpy(), dtype=np.float32))
    if args.inputs_out:
        np.save(args.inputs_out, np.ascontiguousarray(x[:count].numpy(), dtype=np.float32))

    result = {"model": args.model, "accuracy": accuracy, "correct": correct, "total": total}
    if args.json:
        print(json.dumps(result))
    else:
        print("%s: accuracy %.2f%% (%d/%d)" % (args.model, accuracy, correct, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
