'use strict';
// Minimal .npy (NumPy array file) reader/writer.
// Supports format versions 1.0 (written) and 1.0/2.0/3.0 (read), little-endian,
// C-order arrays of dtypes: float32 '<f4', float64 '<f8', int64 '<i8',
// int32 '<i4', int8 '|i1', uint8 '|u1', bool '|b1'.

const fs = require('fs');

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// descr -> { type: ORT tensor type, ctor: TypedArray constructor, size: bytes }
const DTYPES = {
  '<f4': { type: 'float32', ctor: Float32Array, size: 4 },
  '<f8': { type: 'float64', ctor: Float64Array, size: 8 },
  '<i8': { type: 'int64', ctor: BigInt64Array, size: 8 },
  '<i4': { type: 'int32', ctor: Int32Array, size: 4 },
  '|i1': { type: 'int8', ctor: Int8Array, size: 1 },
  '|u1': { type: 'uint8', ctor: Uint8Array, size: 1 },
  '|b1': { type: 'bool', ctor: Uint8Array, size: 1 },
};
// Aliases numpy may emit for 1-byte types.
DTYPES['<i1'] = DTYPES['|i1'];
DTYPES['<u1'] = DTYPES['|u1'];
DTYPES['<b1'] = DTYPES['|b1'];

const TYPE_TO_DESCR = {
  float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4',
  int8: '|i1', uint8: '|u1', bool: '|b1',
};

class NpyError extends Error {}

function parseHeaderDict(text, file) {
  // Header is a Python dict literal, e.g.
  // {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) {
    throw new NpyError(`${file}: cannot parse .npy header: ${text.trim()}`);
  }
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(v) || v < 0) throw new NpyError(`${file}: bad shape entry '${s}'`);
      return v;
    });
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims };
}

// Returns { type, dims, data } where data is a TypedArray (Uint8Array for bool).
function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new NpyError(`cannot read ${file}: ${e.message}`);
  }
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    throw new NpyError(`${file}: not a .npy file (bad magic)`);
  }
  const major = buf[6];
  let headerLen;
  let offset;
  let encoding = 'latin1';
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    offset = 12;
    if (major === 3) encoding = 'utf8';
  } else {
    throw new NpyError(`${file}: unsupported .npy version ${major}.${buf[7]}`);
  }
  const header = parseHeaderDict(buf.toString(encoding, offset, offset + headerLen), file);
  const dt = DTYPES[header.descr];
  if (!dt) {
    throw new NpyError(`${file}: unsupported dtype '${header.descr}' ` +
      `(supported: ${Object.keys(DTYPES).join(', ')})`);
  }
  if (header.fortranOrder) {
    throw new NpyError(`${file}: Fortran-order arrays are not supported (use np.ascontiguousarray)`);
  }
  const count = header.shape.reduce((a, b) => a * b, 1);
  const dataStart = offset + headerLen;
  const nbytes = count * dt.size;
  if (buf.length - dataStart < nbytes) {
    throw new NpyError(`${file}: truncated data (need ${nbytes} bytes, have ${buf.length - dataStart})`);
  }
  // Copy into a fresh, aligned ArrayBuffer.
  const ab = new ArrayBuffer(nbytes);
  new Uint8Array(ab).set(buf.subarray(dataStart, dataStart + nbytes));
  const data = new dt.ctor(ab);
  return { type: dt.type, dims: header.shape, data };
}

function encodeNpy(type, dims, data) {
  const descr = TYPE_TO_DESCR[type];
  if (!descr) throw new NpyError(`cannot write tensor of type '${type}' to .npy`);
  const shapeStr = dims.length === 0 ? '()'
    : dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Total preamble (10 bytes) + header + '\n' must be a multiple of 64.
  const unpadded = 10 + header.length + 1;
  const pad = (64 - (unpadded % 64)) % 64;
  header = header + ' '.repeat(pad) + '\n';
  if (header.length > 65535) throw new NpyError('header too long for .npy v1.0');
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  let bytes;
  if (type === 'bool') {
    bytes = Buffer.from(Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]);
}

function writeNpy(file, type, dims, data) {
  fs.writeFileSync(file, encodeNpy(type, dims, data));
}

module.exports = { readNpy, writeNpy, encodeNpy, NpyError, DTYPES };
