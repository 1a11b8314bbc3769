#!/usr/bin/env bash
# Image folders as data (PNG and JPEG, decoded by libpng and libjpeg-turbo), written here:
#  - the first 300 Fashion-MNIST test images as PNGs (written by numpy + zlib, not by a PNG
#    library), flat with a labels CSV in the data set's order, give exactly the results of
#    fashion-mnist:test:300: `mpq run`'s correct count, `mpq quantize`'s metrics and the
#    sensitivity CSV of an experiment whose data.sensitivity is the folder (byte for byte);
#  - the same PNGs in one sub-folder per class (ImageNet's layout) give the same correct count;
#  - as JPEGs (written by PIL), they give exactly what PIL's own decoding of those files,
#    preprocessed by numpy and passed as .npy, gives;
#  - an experiment declaring resize and crop (the images written at 36 x 40) runs;
#  - errors: an unreadable image (its path), a labels CSV that does not match the files, an
#    RGB image in a gray model's folder, a folder with no images.
#
#   tests/e2e/test_image_folder.sh MPQ_BINARY SOURCE_DIR
set -uo pipefail
. "$(dirname "$0")/cli_test_lib.sh"
cli_test_init images "$@"

MODEL="$SRC/configs/models/cnn.onnx"
N=300
"$PY" - "$MODEL" "$TMP" "$N" <<'PYEOF' || bad "writing the image folders failed"
import gzip, os, struct, sys, zlib
import numpy as np
import onnx
from PIL import Image
model, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = "/usr/share/datasets/fashion-mnist"
with gzip.open(f"{d}/t10k-images-idx3-ubyte.gz") as f:
    px = np.frombuffer(f.read(), np.uint8, offset=16)[:n * 784].reshape(n, 28, 28)
with gzip.open(f"{d}/t10k-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)

def png(path, img):  # 8-bit gray or RGB, filter 0 on every row
    h, w = img.shape[:2]
    colour = 0 if img.ndim == 2 else 2
    raw = b"".join(b"\0" + img[r].tobytes() for r in range(h))
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

names = [f"img{k:05d}.png" for k in range(n)]
for sub in ("flat", "classes", "jpeg", "big", "rgb", "empty", "broken"):
    os.makedirs(f"{out}/{sub}", exist_ok=True)
with open(f"{out}/flat.csv", "w") as f:
    f.write("file,label\n")
    for k in range(n):
        png(f"{out}/flat/{names[k]}", px[k])
        f.write(f"{names[k]},{y[k]}\n")
        os.makedirs(f"{out}/classes/{y[k]}", exist_ok=True)
        png(f"{out}/classes/{y[k]}/{names[k]}", px[k])
        png(f"{out}/big/{names[k]}", np.pad(px[k], ((4, 4), (6, 6))))
with open(f"{out}/short.csv", "w") as f:
    for k in range(n - 1):
        f.write(f"{names[k]},{y[k]}\n")
# JPEGs, and PIL's decoding of them as the model sees it (mpq's preprocessing: one rounding of
# pixel * (scale / std) + (-mean / std), float32 constants).
meta = {p.key: p.value for p in onnx.load(model).metadata_props}
scale, mean, std = (np.float32(meta[f"mpq.input.{k}"]) for k in ("scale", "mean", "std"))
a, b = np.float32(scale / std), np.float32(-mean / std)
decoded = []
with open(f"{out}/jpeg.csv", "w") as f:
    for k in range(n):
        name = f"img{k:05d}.jpg"
        Image.fromarray(px[k], "L").save(f"{out}/jpeg/{name}", quality=75)
        decoded.append(np.asarray(Image.open(f"{out}/jpeg/{name}")))
        f.write(f"{name},{y[k]}\n")
x = np.stack(decoded).astype(np.float64)[:, None] * np.float64(a) + np.float64(b)
np.save(f"{out}/jpeg_x.npy", x.astype(np.float32))
np.save(f"{out}/jpeg_y.npy", y)
for k in range(3):
    png(f"{out}/rgb/{names[k]}", np.stack([px[k]] * 3, axis=-1))
for k in range(4):
    png(f"{out}/broken/{names[k]}", px[k])
with open(f"{out}/broken/{names[2]}", "r+b") as f:
    f.truncate(60)
PYEOF

json_field() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
correct() { "$MPQ" run "$MODEL" --data "$@" --json 2>"$TMP/stderr" >"$TMP/run.json" &&
  json_field "$TMP/run.json" 'd["correct"], d["total"]'; }

# ---------------------------------------------------------------- the data set's results
ds=$(correct "fashion-mnist:test:$N")
flat=$(correct "$TMP/flat" --labels "$TMP/flat.csv")
classes=$(correct "$TMP/classes")
[ -n "$ds" ] && [ "$flat" = "$ds" ] && ok "run: flat PNG folder + labels CSV gives fashion-mnist's ($ds)" ||
  bad "run: data set ($ds), flat PNG folder ($flat)"
[ -n "$ds" ] && [ "$classes" = "$ds" ] && ok "run: one sub-folder per class gives the same ($classes)" ||
  bad "run: data set ($ds), class sub-folders ($classes)"

Q=(quantize "$MODEL" --candidate W4A4 --calib fashion-mnist:train:256 --json)
"$MPQ" "${Q[@]}" --data "fashion-mnist:test:$N" >"$TMP/q_ds.json" 2>"$TMP/stderr" || bad "quantize on the data set failed"
"$MPQ" "${Q[@]}" --data "$TMP/flat" --labels "$TMP/flat.csv" >"$TMP/q_png.json" 2>"$TMP/stderr" ||
  bad "quantize on the PNG folder failed"
m_ds=$(json_field "$TMP/q_ds.json" 'json.dumps(d["metrics"], sort_keys=True)')
m_png=$(json_field "$TMP/q_png.json" 'json.dumps(d["metrics"], sort_keys=True)')
[ -n "$m_ds" ] && [ "$m_ds" = "$m_png" ] && ok "quantize: W4A4 metrics identical on the PNG folder" ||
  bad "quantize: metrics differ: data set $m_ds, PNG folder $m_png"

for src in "fashion-mnist:test:$N" "{source: flat, labels: flat.csv}"; do
  out=s_ds
  [ "$src" != "fashion-mnist:test:$N" ] && out=s_png
  cat >"$TMP/$out.yaml" <<YAML
model: $MODEL
data:
  calibration: fashion-mnist:train:128
  sensitivity: $src
candidates: [W8A8, W4A4, W2A8]
sensitivity: {metric: accuracy, samples: $N, batch: 50}
output: $out
YAML
  "$MPQ" sensitivity "$TMP/$out.yaml" --no-plots --quiet >/dev/null 2>"$TMP/stderr" ||
    bad "sensitivity on $src failed"
done
[ -s "$TMP/s_ds/sensitivity.csv" ] && cmp -s "$TMP/s_ds/sensitivity.csv" "$TMP/s_png/sensitivity.csv" &&
  ok "sensitivity: CSV byte-identical on the data set and the PNG folder ($(($(wc -l <"$TMP/s_ds/sensitivity.csv") - 1)) tasks)" ||
  bad "sensitivity CSVs differ between the data set and the PNG folder"

# ---------------------------------------------------------------- JPEG, and declared preprocessing
jpeg=$(correct "$TMP/jpeg" --labels "$TMP/jpeg.csv")
pil=$(correct "$TMP/jpeg_x.npy" --labels "$TMP/jpeg_y.npy")
[ -n "$pil" ] && [ "$jpeg" = "$pil" ] && ok "run: JPEG folder gives what PIL's decoding gives ($jpeg)" ||
  bad "run: JPEG folder ($jpeg), PIL's decoding ($pil)"
"$MPQ" "${Q[@]}" --data "$TMP/jpeg" --labels "$TMP/jpeg.csv" >"$TMP/q_jpeg.json" 2>"$TMP/stderr" || bad "quantize on JPEGs failed"
"$MPQ" "${Q[@]}" --data "$TMP/jpeg_x.npy" --labels "$TMP/jpeg_y.npy" >"$TMP/q_pil.json" 2>"$TMP/stderr" || bad "quantize on PIL's failed"
m_jpeg=$(json_field "$TMP/q_jpeg.json" 'json.dumps(d["metrics"], sort_keys=True)')
m_pil=$(json_field "$TMP/q_pil.json" 'json.dumps(d["metrics"], sort_keys=True)')
[ -n "$m_pil" ] && [ "$m_jpeg" = "$m_pil" ] && ok "quantize: W4A4 metrics identical on the JPEGs and PIL's decoding" ||
  bad "quantize: JPEG metrics $m_jpeg, PIL's $m_pil"

cat >"$TMP/big.yaml" <<YAML
model: $MODEL
data:
  calibration: {source: big, preprocess: {resize: 31, crop: 28}}
candidates: [W8A8, W4A4]
sensitivity: {samples: 64, batch: 32}
output: s_big
YAML
"$MPQ" sensitivity "$TMP/big.yaml" --no-plots --quiet >/dev/null 2>"$TMP/stderr" &&
  [ -s "$TMP/s_big/sensitivity.csv" ] && ok "36 x 40 images resized to 31 and cropped to 28 by the experiment's preprocess:" ||
  bad "resize and crop failed"
sed 's/resize: 31, crop: 28/resize: 31/; s/s_big/s_big2/' "$TMP/big.yaml" >"$TMP/big2.yaml"
expect_error "resize without the crop: the model's input shape" "samples have shape \[1x31x34\]" - -- \
  "$MPQ" sensitivity "$TMP/big2.yaml" --quiet

# ---------------------------------------------------------------- bad folders
expect_error "an unreadable image names its path" "broken/img00002.png" "$TMP/cfg.json" -- \
  "$MPQ" quantize "$MODEL" --candidate W8A8 --calib "$TMP/broken" -o "$TMP/cfg.json"
expect_error "a labels CSV without one of the images" "short.csv: image 'img00299.png'.*does not match" - -- \
  "$MPQ" run "$MODEL" --data "$TMP/flat" --labels "$TMP/short.csv"
expect_error "an RGB image for a gray model" "rgb/img00000.png: has 3 channels, but the model takes 1" - -- \
  "$MPQ" run "$MODEL" --data "$TMP/rgb"
expect_error "a folder with no images" "empty: holds no images" "$TMP/cfg.json" -- \
  "$MPQ" quantize "$MODEL" --candidate W8A8 --calib "$TMP/empty" -o "$TMP/cfg.json"
expect_error "an unlabeled folder has no accuracy" "has none" - -- \
  "$MPQ" run "$MODEL" --data "$TMP/flat"

cli_test_finish
