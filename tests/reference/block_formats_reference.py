"""Block-scaled formats written from their definitions, in numpy, as the reference that mpq's
fake quantization (sim/block_quant.cpp) must match bit for bit.

OCP Microscaling Formats (MX) v1.0:
  * element formats (section 5.3): FP8 E4M3 (bias 7, largest 448) and E5M2 (bias 15, largest
    57344), FP6 E3M2 (bias 3, largest 28) and E2M3 (bias 1, largest 7.5), FP4 E2M1 (bias 1,
    largest 6; values 0, 0.5, 1, 1.5, 2, 3, 4, 6), INT8 (two's complement, implicit scale 2^-6);
  * the scale (section 5.4.1): E8M0, 2^(e - 127) for e = 0..254, 0xFF is NaN; a NaN scale makes
    every element of its block NaN;
  * conversion of a block V of k = 32 values (section 6.3):
      shared_exp = floor(log2(max_i |V_i|)) - emax_elem
      X = 2^shared_exp                       (shared_exp clamped to E8M0's [-127, 127])
      P_i = quantize_to_element_format(V_i / X)   round half to even, normal values beyond the
                                                  element's largest magnitude clamped to it
    where emax_elem is the exponent of the element format's largest normal number (E4M3 8,
    E5M2 15, E3M2 4, E2M3 2, E2M1 2, INT8 0). The value is X * P_i.
  The specification leaves open: an all-zero block (no log2): here the smallest scale 2^-127
  (every P_i is 0 whatever the scale); a block holding Inf or NaN: its maximum is not finite, so
  here it gets the NaN scale and every element is NaN; INT8's clamp: +-127 x 2^-6 (the largest
  magnitude, so -128 is never produced, as for the float elements' symmetric clamp).

NVFP4 (NVIDIA's recipe; here exactly as float32 operations): a per-tensor FP32 scale s; per
block of 16, d = e4m3(amax / (6 s)) (round half to even, saturating at 448), D = d * s,
P_i = e2m1(V_i * (1 / D)), value P_i * D; D == 0 gives 0.

Group-wise integers int<b>_g<g>: s = fp16(amax / qmax) (round half to even, saturated at
65504), qmax = 2^(b-1) - 1; q_i = clip(rint(V_i * (1 / s)), -qmax, qmax); value q_i * s; s == 0
gives 0.

Blocks run along `axes` [axis, axis + count) of the array flattened (row-major) to one axis R;
when R is not a multiple of the block size, the last block is shorter (zero padding).

This file shares no code with mpq: the float formats are rounded with frexp and rint in float64
(exact for these widths), not with mpq's bit manipulation.
"""

import numpy as np

# name: (element kind, exponent bits, mantissa bits, bias, largest magnitude, emax_elem, block)
MX = {
    "mxfp8_e4m3": ("fp", 4, 3, 7, 448.0, 8, 32),
    "mxfp8_e5m2": ("fp", 5, 2, 15, 57344.0, 15, 32),
    "mxfp6_e3m2": ("fp", 3, 2, 3, 28.0, 4, 32),
    "mxfp6_e2m3": ("fp", 2, 3, 1, 7.5, 2, 32),
    "mxfp4": ("fp", 2, 1, 1, 6.0, 2, 32),
    "mxint8": ("int", 0, 0, 0, 127.0 / 64.0, 0, 32),
}


def round_float(x, mbits, bias, largest):
    """x (float64, finite) rounded to a float format with `mbits` mantissa bits and exponent
    bias `bias`: round half to even, subnormals below 2^(1 - bias), magnitudes above `largest`
    clamped to it."""
    a = np.abs(x)
    _, ex = np.frexp(a)  # a = m 2^ex, m in [0.5, 1): floor(log2 a) = ex - 1
    e = np.maximum(ex - 1, 1 - bias)
    quantum = np.ldexp(1.0, e - mbits)
    r = np.minimum(np.rint(a / quantum) * quantum, largest)
    return np.copysign(r, x)


def _blocks(x, axis, count, block):
    """x as [outer, blocks, block, inner] (zero padded) and a function putting a result of that
    shape back into x's shape."""
    shape = x.shape
    outer = int(np.prod(shape[:axis]))
    r = int(np.prod(shape[axis:axis + count]))
    inner = int(np.prod(shape[axis + count:]))
    nb = -(-r // block)
    v = np.zeros((outer, nb * block, inner), dtype=x.dtype)
    v[:, :r, :] = x.reshape(outer, r, inner)
    v = v.reshape(outer, nb, block, inner)

    def back(y):
        return y.reshape(outer, nb * block, inner)[:, :r, :].reshape(shape)

    return v, back


def _nonfinite_blocks(v):
    return ~np.all(np.isfinite(v), axis=2, keepdims=True)


def mx_quantize(x, name, axis, count=1):
    kind, _, mbits, bias, largest, emax, block = MX[name]
    x = np.asarray(x, dtype=np.float32)
    v32, back = _blocks(x, axis, count, block)
    bad = _nonfinite_blocks(v32)
    v = np.where(bad, 0.0, v32).astype(np.float64)
    amax = np.max(np.abs(v), axis=2, keepdims=True)
    _, ex = np.frexp(amax)
    shared = np.where(amax > 0, ex - 1 - emax, -127)
    shared = np.clip(shared, -127, 127)
    scale = np.ldexp(1.0, shared)
    p = v / scale  # exact: a power of two
    if kind == "fp":
        p = round_float(p, mbits, bias, largest)
    else:
        p = np.clip(np.rint(p * 64.0), -127.0, 127.0) / 64.0
    y = (p * scale).astype(np.float32)  # exact: few significant bits times a power of two
    y = np.where(bad, np.float32(np.nan), y)
    return back(y)


def e4m3(x32):
    return round_float(x32.astype(np.float64), 3, 7, 448.0).astype(np.float32)


def nvfp4_tensor_scale(amax):
    amax = np.float32(amax)
    if not (amax > 0) or not np.isfinite(amax):
        return np.float32(1.0)
    return np.float32(amax / np.float32(6.0 * 448.0))


def nvfp4_quantize(x, tensor_scale, axis, count=1):
    s = np.float32(tensor_scale)
    x = np.asarray(x, dtype=np.float32)
    v, back = _blocks(x, axis, count, 16)
    bad = _nonfinite_blocks(v)
    v = np.where(bad, np.float32(0), v)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        amax = np.max(np.abs(v), axis=2, keepdims=True)
        d = e4m3(amax / (np.float32(6.0) * s))
        denom = (d * s).astype(np.float32)
        inv = np.where(denom == 0, np.float32(0), np.float32(1.0) / denom).astype(np.float32)
        scaled = (v * inv).astype(np.float32)
        p = round_float(scaled.astype(np.float64), 1, 1, 6.0).astype(np.float32)
        y = (p * denom).astype(np.float32)
    y = np.where(denom == 0, np.copysign(np.float32(0), v), y)
    y = np.where(bad, np.float32(np.nan), y)
    return back(y)


def int_group_quantize(x, bits, group, axis, count=1):
    qmax = np.float32(2 ** (bits - 1) - 1)
    x = np.asarray(x, dtype=np.float32)
    v, back = _blocks(x, axis, count, group)
    bad = _nonfinite_blocks(v)
    v = np.where(bad, np.float32(0), v)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        amax = np.max(np.abs(v), axis=2, keepdims=True)
        s = round_float((amax / qmax).astype(np.float64), 10, 15, 65504.0).astype(np.float32)
        inv = np.where(s == 0, np.float32(0), np.float32(1.0) / s).astype(np.float32)
        q = np.clip(np.rint((v * inv).astype(np.float32)), -qmax, qmax).astype(np.float32)
        y = (q * s).astype(np.float32)
    y = np.where(s == 0, np.copysign(np.float32(0), v), y)
    y = np.where(bad, np.float32(np.nan), y)
    return back(y)


def quantize(x, name, axis, count=1, tensor_scale=None):
    """Any block format by mpq's name."""
    if name in MX:
        return mx_quantize(x, name, axis, count)
    if name == "nvfp4":
        return nvfp4_quantize(x, tensor_scale, axis, count)
    if name.startswith("int") and "_g" in name:
        bits, group = name[3:].split("_g")
        return int_group_quantize(x, int(bits), int(group), axis, count)
    raise ValueError("not a block format: " + name)
