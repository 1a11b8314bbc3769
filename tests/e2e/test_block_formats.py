#!/usr/bin/python3
"""Bit-exactness of mpq's block-scaled fake quantization against the numpy reference written
from the specifications (tests/reference/block_formats_reference.py).

    /usr/bin/python3 tests/e2e/test_block_formats.py MPQ_FAKE_QUANT_TOOL

First the reference itself is checked against values worked out by hand from the definitions.
Then, for every block format (mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8,
nvfp4, int4_g32, int8_g128, int4_g64) and four layouts (blocks contiguous in memory with a
short last block; blocks strided along axis 1 of a 3-D array; a depthwise kernel whose blocks
span three flattened axes; an array big enough for mpq's parallel path), mpq's output is
compared with the reference as float32 bit patterns (two NaNs count as equal; -0 and +0 do
not). The data hold, block by block: normal values over the whole float32 range, float32
subnormals, all-zero blocks (with -0), blocks with NaN, +Inf or -Inf, exact ties of the
element grids, blocks whose maximum rounds above the element's largest value (saturation),
elements that land in the element format's subnormals, and values near FLT_MAX. NVFP4 runs at
three per-tensor scales: that of the tensor's median magnitude, one 100x smaller (more block
scales saturate at 448) and one 1e6x larger (more block scales underflow to 0).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import block_formats_reference as ref  # noqa: E402

SEED = 20261207
FORMATS = ["mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8", "nvfp4",
           "int4_g32", "int8_g128", "int4_g64"]


def same_bits(a, b):
    a = np.ascontiguousarray(a, dtype=np.float32).ravel()
    b = np.ascontiguousarray(b, dtype=np.float32).ravel()
    both_nan = np.isnan(a) & np.isnan(b)
    return (a.view(np.uint32) == b.view(np.uint32)) | both_nan


def check_reference_by_hand():
    """Values worked out from the definitions, independently of any code."""
    def blk(vals, n=32):
        x = np.zeros(n, dtype=np.float32)
        x[:len(vals)] = vals
        return x.reshape(1, n)

    cases = [
        # MXFP4: amax 6 -> floor(log2 6) - 2 = 0, X = 1. 0.4 -> 0.5, 0.25 is a tie -> 0 (even),
        # -0.26 -> -0.5, 2.5 a tie between 2 and 3 -> 2 (even mantissa), 5 a tie -> 4.
        ("mxfp4", [6, 3, 0.4, 0.25, -0.26, 2.5, 5], [6, 3, 0.5, 0, -0.5, 2, 4]),
        # amax 7.9: X = 1 still (floor(log2 7.9) = 2); 7.9 rounds to 8, clamped to 6.
        ("mxfp4", [7.9, 1], [6, 1]),
        # amax 0.75: floor(log2) = -1, X = 2^-3; 0.75 / X = 6 exactly; 0.1 / X = 0.8 -> 1 -> 0.125.
        ("mxfp4", [0.75, 0.1], [0.75, 0.125]),
        # MXFP8 E4M3: amax 1 -> X = 2^-8, 1 -> 256 exactly; 1e-3 / X = 0.256 -> subnormal 0.25.
        ("mxfp8_e4m3", [1, 1e-3], [1, 0.25 * 2 ** -8]),
        # MXINT8: amax 1 -> X = 1; 0.3 x 64 = 19.2 -> 19; 1.999 x 64 -> 128, clamped to 127.
        ("mxint8", [1, 0.3], [1, 19 / 64]),
        ("mxint8", [1.999, -1.999], [127 / 64, -127 / 64]),
        # MXFP6 E2M3: amax 7.5 -> X = 1, 7.5 exact; 0.0625 a tie between 0 and 0.125 -> 0.
        ("mxfp6_e2m3", [7.5, 0.0625, 0.1875], [7.5, 0, 0.25]),
        # All-zero block: zeros (the smallest scale).
        ("mxfp4", [0, 0], [0, 0]),
        # int4_g32: amax 7 -> s = 1; 2.5 -> 2 (half to even); -3.5 -> -4.
        ("int4_g32", [7, 2.5, -3.5], [7, 2, -4]),
    ]
    for name, vals, want in cases:
        got = ref.quantize(blk(vals), name, axis=1).ravel()[:len(want)]
        assert np.array_equal(got, np.float32(want)), (name, vals, got, want)
    # NaN or Inf anywhere in a block: the NaN scale, every element NaN; the next block is kept.
    x = blk([1, np.nan], 64)
    got = ref.quantize(x, "mxfp4", axis=1).ravel()
    assert np.all(np.isnan(got[:32])) and np.array_equal(got[32:], np.zeros(32, np.float32))
    got = ref.quantize(blk([np.inf, 1]), "mxfp8_e4m3", axis=1).ravel()
    assert np.all(np.isnan(got))
    # NVFP4 at tensor scale 1: amax 12 -> d = e4m3(2) = 2, 12 / 2 = 6; 1 / 2 = 0.5.
    got = ref.quantize(blk([12, 1], 16), "nvfp4", axis=1, tensor_scale=1.0).ravel()[:2]
    assert np.array_equal(got, np.float32([12, 1])), got
    print("reference: 11 hand-worked blocks agree with the definitions")


def make_data(rng, shape, axis, count, block):
    """An array of `shape` whose blocks (along the flattened axes) are each of one kind."""
    x = np.zeros(shape, dtype=np.float32)
    v, back = ref._blocks(x, axis, count, block)
    outer, nb, b, inner = v.shape
    kinds = rng.integers(0, 10, size=(outer, nb, 1, inner))
    scale_exp = rng.integers(-140, 125, size=(outer, nb, 1, inner)).astype(np.float64)
    normal = rng.standard_normal(v.shape) * np.ldexp(1.0, scale_exp.astype(int))
    out = normal.copy()
    # 1: all zero, some -0
    out = np.where(kinds == 1, np.where(rng.random(v.shape) < 0.5, 0.0, -0.0), out)
    # 2: float32 subnormals
    sub = rng.integers(-(2 ** 23), 2 ** 23, size=v.shape) * 2.0 ** -149
    out = np.where(kinds == 2, sub, out)
    # 3: ties of the element grids: the block's maximum is 2^E, the others (k + 0.5) 2^(E - t)
    # with t in 1..12 and |k| < 40: half-way between two element values for some t and k in
    # every format (E4M3 needs 5 significant bits, an odd k + 0.5 of 8.5 or more)
    j = rng.integers(-12, 4, size=(outer, nb, 1, inner))
    t = rng.integers(1, 13, size=v.shape)
    ties = (rng.integers(-40, 40, size=v.shape) + 0.5) * np.ldexp(1.0, j - t)
    ties[..., 0:1, :] = np.ldexp(1.0, j)[..., 0:1, :]
    out = np.where(kinds == 3, ties, out)
    # 4: saturation: a maximum whose significand is just below 2
    j = rng.integers(-12, 4, size=(outer, nb, 1, inner))
    sat = rng.uniform(-1, 1, size=v.shape) * np.ldexp(1.0, j)
    sat[..., 0:1, :] = 1.999 * np.ldexp(1.0, j)[..., 0:1, :]
    out = np.where(kinds == 4, sat, out)
    # 5: wide spread inside a block (elements fall into the element subnormals and to 0)
    spread = rng.standard_normal(v.shape) * np.ldexp(1.0, rng.integers(-30, 1, size=v.shape))
    out = np.where(kinds == 5, spread, out)
    # 6: near FLT_MAX
    big = rng.uniform(-1, 1, size=v.shape) * 3.4e38
    out = np.where(kinds == 6, big, out)
    out = out.astype(np.float32)
    # 7, 8, 9: one NaN, +Inf or -Inf at a random place of the block
    pos = rng.integers(0, b, size=(outer, nb, 1, inner))
    at = np.arange(b).reshape(1, 1, b, 1) == pos
    for k, special in ((7, np.nan), (8, np.inf), (9, -np.inf)):
        out = np.where((kinds == k) & at, np.float32(special), out)
    # the padding of a short last block must stay zero for the layout to be the array's
    return back(out.astype(np.float32))


def run_tool(tool, tmp, x, quantizer, tag):
    xin = os.path.join(tmp, tag + ".in.npy")
    out = os.path.join(tmp, tag + ".out.npy")
    np.save(xin, np.ascontiguousarray(x, dtype=np.float32))
    p = subprocess.run([tool, xin, json.dumps(quantizer), out], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{tag}: mpq_fake_quant_tool exited {p.returncode}: {p.stderr}")
    return np.load(out)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    check_reference_by_hand()
    rng = np.random.default_rng(SEED)
    layouts = [  # (name, shape, axis, count)
        ("contiguous", (13, 100), 1, 1),
        ("strided", (3, 96, 37), 1, 1),
        ("depthwise", (24, 1, 3, 3), 1, 3),
        ("parallel", (8, 256, 400), 1, 1),
    ]
    total = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in FORMATS:
            block = 16 if name == "nvfp4" else int(name.split("_g")[1]) if "_g" in name else 32
            for lname, shape, axis, count in layouts:
                x = make_data(rng, shape, axis, count, block)
                scales = [None]
                if name == "nvfp4":
                    # The data span all of float32, so the tensor's own maximum would send
                    # nearly every block to 0: scales from its median magnitude instead (blocks
                    # above it saturate their E4M3 scale, blocks far below it underflow).
                    finite = np.abs(x[np.isfinite(x) & (x != 0)])
                    s = ref.nvfp4_tensor_scale(np.median(finite))
                    scales = [s, np.float32(s / 100), np.float32(min(s * 1e6, 1e38))]
                for s in scales:
                    q = {"format": name, "block_axis": axis, "block_axes": count}
                    if s is not None:
                        q["scale"] = [float(s)]
                    tag = f"{name}-{lname}" + ("" if s is None else f"-s{float(s):.3g}")
                    got = run_tool(tool, tmp, x, q, tag)
                    want = ref.quantize(x, name, axis, count, tensor_scale=s)
                    ok = same_bits(got, want)
                    total += ok.size
                    bad = int(ok.size - ok.sum())
                    failed += bad
                    kinds = {"nan": int(np.isnan(want).sum()),
                             "zero": int((want == 0).sum())}
                    print(f"{tag:40s} {ok.size:8d} elements, {bad} differ "
                          f"({kinds['nan']} NaN, {kinds['zero']} zero in the reference)")
                    if bad:
                        idx = np.flatnonzero(~ok)[:10]
                        for i in idx:
                            print(f"   element {i}: x = {x.ravel()[i]!r} mpq {got.ravel()[i]!r} "
                                  f"reference {want.ravel()[i]!r}")
    print(f"{total} elements compared, {failed} differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
