#!/usr/bin/python3
"""Bit-exactness of mpq's fake quantization against PyTorch's.

    /usr/bin/python3 tests/e2e/test_fake_quant_torch.py MPQ_FAKE_QUANT_TOOL

MPQ_FAKE_QUANT_TOOL is build/tests/mpq_fake_quant_tool: it applies one quantizer to a .npy
with mpq's fast path (fake_quantize) AND with the element-wise reference
(fake_quantize_int_reference / round_to_float_format), exits 1 if the two differ anywhere, and
writes the fast path's result. Every output below is compared with PyTorch's as float32 bit
patterns (two NaNs count as equal: PyTorch's own NaN payloads depend on its code path).

Integer formats, 2, 4, 6, 8 and 16 bits, each:
  * symmetric signed   qmin = -2^(b-1), qmax = 2^(b-1)-1, zero point 0
  * symmetric unsigned qmin = 0, qmax = 2^b-1, zero point 0
  * asymmetric         qmin = 0, qmax = 2^b-1, random zero points in the grid
  x per tensor (a power-of-two scale and an arbitrary one) and per channel along axes 0 and 1,
  against torch.fake_quantize_per_tensor_affine / torch.fake_quantize_per_channel_affine with
  the same scale, zero point, qmin and qmax. PyTorch 1.13 accepts the 16-bit grids
  (-32768..32767 and 0..65535) in both functions, so no substitute formula is needed.
  The tensors (8 x 6 x 4200, big enough for mpq's parallel path) hold, per element with its
  channel's scale s: uniform values over the grid and 3 steps beyond, exact ties (k + 0.5) * s
  and the floats 1 to 4 ulps either side of them (where x * (1/s), PyTorch's arithmetic, and
  x / s round differently: a few hundred such elements per non-power-of-two scale), exact grid points, values far outside the range (up
  to 1e18 * s), 0 and -0, tiny values (down to the smallest subnormal) and large values.
  Not compared with PyTorch: NaN, +-inf and |x / s| >= 2^63. PyTorch converts
  zero_point + nearbyint(x / s) to int64 unchecked, which is undefined for them (on x86 it
  yields INT64_MIN, so PyTorch returns qmin even for +inf). mpq defines them instead: NaN stays
  NaN, +inf and huge positives give qmax, -inf and huge negatives give qmin; checked here
  against those expected values, and the number of elements where PyTorch differs is printed.

Float formats: fp16 and bf16 against t.half().float() / t.bfloat16().float() on 200,000
random float32 bit patterns (NaN, inf, normals and subnormals of every exponent), every
halfway point between consecutive fp16 values (and the floats either side), bf16 ties
(low 16 bits 0x8000, 0x7fff, 0x8001) and hand-picked edges (largest finite, overflow
thresholds, smallest subnormals, +-0, +-inf, NaN). fp8e4m3 / fp8e5m2 have no PyTorch 1.13
counterpart: only the tool's fast-path-vs-reference check runs on them.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

BITS = (2, 4, 6, 8, 16)
SHAPE = (8, 6, 4200)
SEED = 20240603


def run_tool(tool, tmp, x, quantizer, tag):
    """mpq's output for x under quantizer, or raises with the tool's message."""
    xin = os.path.join(tmp, tag + ".in.npy")
    out = os.path.join(tmp, tag + ".out.npy")
    np.save(xin, np.ascontiguousarray(x, dtype=np.float32))
    p = subprocess.run([tool, xin, json.dumps(quantizer), out], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{tag}: mpq_fake_quant_tool exited {p.returncode} (fast path vs "
                           f"reference):\n{p.stderr.strip()}")
    y = np.load(out)
    os.remove(xin)
    os.remove(out)
    return y


def bit_mismatches(got, want):
    """Indices where the float32 bit patterns differ (NaN == NaN)."""
    g, w = got.view(np.uint32), want.view(np.uint32)
    bad = (g != w) & ~(np.isnan(got) & np.isnan(want))
    return np.flatnonzero(bad)


def describe(x, got, want, idx, limit=8):
    lines = []
    for k in idx[:limit]:
        lines.append(f"    [{k}] x={x.flat[k]!r} (0x{x.view(np.uint32).flat[k]:08x}) "
                     f"mpq={got.flat[k]!r} (0x{got.view(np.uint32).flat[k]:08x}) "
                     f"torch={want.flat[k]!r} (0x{want.view(np.uint32).flat[k]:08x})")
    return "\n".join(lines)


# ---------------------------------------------------------------- integer formats

def grids(bits, rng):
    """(scheme name, qmin, qmax, zero-point chooser) for one bit width."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    full = (1 << bits) - 1
    return [
        ("symmetric-signed", lo, hi, lambda n: np.zeros(n, np.int32)),
        ("symmetric-unsigned", 0, full, lambda n: np.zeros(n, np.int32)),
        ("asymmetric", 0, full, lambda n: rng.integers(0, full + 1, n).astype(np.int32)),
    ]


def int_values(rng, s, zp, qmin, qmax):
    """float32 values for elements whose scale is s and zero point zp (arrays of one shape)."""
    n = s.size
    s64 = s.astype(np.float64)
    lo_u, hi_u = float(qmin) - zp - 3, float(qmax) - zp + 3  # grid units, 3 steps beyond
    kind = rng.integers(0, 9, n)
    u = rng.uniform(0, 1, n) * (hi_u - lo_u) + lo_u  # 0: uniform over the grid and beyond
    k = np.floor(rng.uniform(lo_u, hi_u, n))
    x = (u * s64).astype(np.float32)
    tie = ((k + 0.5) * s64).astype(np.float32)
    x = np.where(kind == 1, tie, x)  # exact ties when s is a power of two
    # 1 to 4 floats above / below a tie: where x * (1/s) and x / s round differently
    up, down, steps = tie.copy(), tie.copy(), rng.integers(1, 5, n)
    for k_ulp in range(1, 5):
        up = np.where(steps >= k_ulp, np.nextafter(up, np.float32(np.inf)), up)
        down = np.where(steps >= k_ulp, np.nextafter(down, np.float32(-np.inf)), down)
    x = np.where(kind == 2, up, x)
    x = np.where(kind == 3, down, x)
    x = np.where(kind == 4, (k * s64).astype(np.float32), x)  # grid points
    sign = np.where(rng.integers(0, 2, n) == 0, -1.0, 1.0)
    far = sign * 10.0 ** rng.uniform(1, 18, n) * (hi_u - lo_u + 1)  # far outside, < 2^63 steps
    far = np.minimum(np.abs(far), 1e18) * sign
    x = np.where(kind == 5, (far * s64).astype(np.float32), x)
    specials = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-38, -1e-38, 1e-42, -1e-42, 1.4e-45,
                         -1.4e-45, 1e-7, -1e-7], np.float32)
    x = np.where(kind == 6, specials[rng.integers(0, specials.size, n)], x)
    x = np.where(kind == 7, (sign * 1e17 * s64).astype(np.float32), x)  # large, < 2^63 steps
    x = np.where(kind == 8, (sign * rng.uniform(0, 1e-3, n) * s64).astype(np.float32), x)
    return x.astype(np.float32)


def channel_scales(rng, n):
    """Half powers of two (exact ties), half arbitrary, log-uniform over 1e-4..10."""
    arb = 10.0 ** rng.uniform(-4, 1, n)
    pow2 = 2.0 ** rng.integers(-12, 3, n)
    return np.where(np.arange(n) % 2 == 0, pow2, arb).astype(np.float32)


def check_int(tool, tmp, rng, bits, scheme, qmin, qmax, zp_of, gran, results):
    tag = f"int{bits}-{scheme}-{gran}"
    if gran.startswith("per-tensor"):
        scale = np.array([2.0 ** -5 if gran == "per-tensor-pow2" else 0.1], np.float32)
        zp = zp_of(1)
        axis = -1
        s_full = np.full(SHAPE, scale[0], np.float32)
        z_full = np.full(SHAPE, zp[0], np.int64)
    else:
        axis = 0 if gran == "per-channel-axis0" else 1
        c = SHAPE[axis]
        scale = channel_scales(rng, c)
        zp = zp_of(c)
        bshape = [1, 1, 1]
        bshape[axis] = c
        s_full = np.broadcast_to(scale.reshape(bshape), SHAPE).copy()
        z_full = np.broadcast_to(zp.reshape(bshape).astype(np.int64), SHAPE).copy()
    x = int_values(rng, s_full.ravel(), z_full.ravel(), qmin, qmax).reshape(SHAPE)

    quantizer = {"format": f"int{bits}", "scale": scale.tolist(), "zero_point": zp.tolist(),
                 "qmin": qmin, "qmax": qmax, "axis": axis}
    got = run_tool(tool, tmp, x, quantizer, tag)
    xt = torch.from_numpy(x)
    if axis < 0:
        want = torch.fake_quantize_per_tensor_affine(xt, float(scale[0]), int(zp[0]), qmin, qmax)
    else:
        want = torch.fake_quantize_per_channel_affine(
            xt, torch.from_numpy(scale), torch.from_numpy(zp), axis, qmin, qmax)
    want = want.numpy().astype(np.float32)
    bad = bit_mismatches(got, want)
    ties = int(np.sum(np.modf(np.abs(x.astype(np.float64) / s_full))[0] == 0.5))
    results.append((tag, x.size, ties, len(bad)))
    if len(bad):
        return [f"{tag}: {len(bad)}/{x.size} elements differ from PyTorch's\n"
                + describe(x, got, want, bad)]

    # Outside PyTorch's defined domain: mpq's own semantics.
    zp0, s0 = int(zp[0]), float(scale[0])
    odd = np.array([np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1e30, -1e30,
                    s0 * 2.0 ** 64, -s0 * 2.0 ** 64], np.float32)
    want_odd = np.array([qmax, qmin, np.nan, qmax, qmin, qmax, qmin, qmax, qmin], np.float64)
    want_odd = ((want_odd - zp0) * s0).astype(np.float32)
    q1 = dict(quantizer, scale=[s0], zero_point=[zp0], axis=-1)
    got_odd = run_tool(tool, tmp, odd, q1, tag + "-nonfinite")
    bad = bit_mismatches(got_odd, want_odd)
    if len(bad):
        return [f"{tag}: NaN/inf/huge inputs not handled as documented (NaN -> NaN, beyond the "
                f"grid -> qmin/qmax)\n" + describe(odd, got_odd, want_odd, bad)]
    t_odd = torch.fake_quantize_per_tensor_affine(torch.from_numpy(odd), s0, zp0, qmin, qmax)
    results[-1] += (len(bit_mismatches(got_odd, t_odd.numpy().astype(np.float32))),)
    return []


# ---------------------------------------------------------------- float formats

def float_values(rng):
    bits = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64).astype(np.uint32)
    rand = bits.view(np.float32)
    # Every halfway point between consecutive finite fp16 values (and its neighbours).
    h = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    mids = ((h[:-1] + h[1:]) / 2).astype(np.float32)
    top = np.float32(65504.0 + 16.0)  # halfway to the first power of two beyond fp16's max
    mids = np.concatenate([mids, [top]]).astype(np.float32)
    fp16_ties = np.concatenate([mids, np.nextafter(mids, np.float32(np.inf)),
                                np.nextafter(mids, np.float32(-np.inf))])
    fp16_ties = np.concatenate([fp16_ties, -fp16_ties])
    # bf16 ties and their neighbours, across all exponents.
    hi = rng.integers(0, 1 << 16, 60_000, dtype=np.uint64).astype(np.uint32) << 16
    bf16_ties = np.concatenate([hi | 0x8000, hi | 0x7FFF, hi | 0x8001,
                                np.array([0x7F7F8000, 0x7F7F7FFF, 0xFF7F8000, 0x7F7FFFFF,
                                          0x00008000, 0x80008000, 0x00018000],
                                         np.uint64).astype(np.uint32)]).view(np.float32)
    edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan,
                      np.finfo(np.float32).max, -np.finfo(np.float32).max,
                      np.finfo(np.float32).tiny, 1.4e-45, -1.4e-45,
                      65504.0, 65519.996, 65520.0, 65536.0, -65520.0, 70000.0, 1e10,
                      2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -25, 2.0 ** -26,
                      3.0 * 2.0 ** -25, 2.0 ** -24 * 0.999, 6.1e-5, 5.96e-8, -5.96e-8,
                      3.3895314e38, 3.3961776e38, 1.0, -1.0, 0.1, 1.0 / 3.0],
                     np.float32)
    return np.concatenate([rand, fp16_ties, bf16_ties, edges]).astype(np.float32)


def check_float(tool, tmp, x, results):
    errors = []
    xt = torch.from_numpy(x)
    for fmt, ref in (("fp16", xt.half().float()), ("bf16", xt.bfloat16().float())):
        got = run_tool(tool, tmp, x, {"format": fmt}, fmt)
        want = ref.numpy().astype(np.float32)
        bad = bit_mismatches(got, want)
        results.append((fmt, x.size, int(np.sum(np.isnan(x))), len(bad)))
        if len(bad):
            errors.append(f"{fmt}: {len(bad)}/{x.size} elements differ from PyTorch's\n"
                          + describe(x, got, want, bad))
    # fp8: no PyTorch 1.13 reference; the tool still checks fast path == reference.
    finite = x[np.isfinite(x)]
    for fmt in ("fp8e4m3", "fp8e5m2"):
        run_tool(tool, tmp, x, {"format": fmt}, fmt)
        run_tool(tool, tmp, finite, {"format": fmt, "scale": [0.0371]}, fmt + "-scaled")
    return errors


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tool = os.path.abspath(sys.argv[1])
    if not os.access(tool, os.X_OK):
        print(f"FAIL: {tool} does not exist or is not executable", file=sys.stderr)
        return 1
    torch.set_num_threads(2)
    rng = np.random.default_rng(SEED)
    failures, int_rows, float_rows = [], [], []
    with tempfile.TemporaryDirectory(prefix="mpq_fq_torch_") as tmp:
        try:
            for bits in BITS:
                for scheme, qmin, qmax, zp_of in grids(bits, rng):
                    for gran in ("per-tensor-pow2", "per-tensor", "per-channel-axis0",
                                 "per-channel-axis1"):
                        failures += check_int(tool, tmp, rng, bits, scheme, qmin, qmax, zp_of,
                                              gran, int_rows)
            failures += check_float(tool, tmp, float_values(rng), float_rows)
        except RuntimeError as e:
            failures.append(str(e))

    print(f"{'quantizer':<44} {'elements':>9} {'ties':>7} {'!= torch':>8} {'torch UB differs':>16}")
    for r in int_rows:
        extra = f"{r[4]}/9" if len(r) > 4 else "-"
        print(f"{r[0]:<44} {r[1]:>9} {r[2]:>7} {r[3]:>8} {extra:>16}")
    print(f"\n{'format':<10} {'elements':>9} {'NaN in':>7} {'!= torch':>8}")
    for r in float_rows:
        print(f"{r[0]:<10} {r[1]:>9} {r[2]:>7} {r[3]:>8}")
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"\nall {len(int_rows)} integer quantizers and {len(float_rows)} float formats are "
          "bit-identical to PyTorch (NaN/inf/|x/s| >= 2^63 excluded for integers, see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
