#!/usr/bin/env node
'use strict';
// Runs a single-input model with onnxruntime (CPU EP) over a large float32 .npy input in
// batches along dim 0 and writes the first output of all batches, concatenated, as one .npy.
// Used by tests/e2e/test_qdq_onnxruntime.py to evaluate exported QDQ models on a data set.

const { readNpy, writeNpy } = require('./npy');
const { UsageError, parseArgs, loadOrt, sessionOptions, runMain } = require('./common');

const USAGE = `usage: node tools/ort/ort_logits.js --model M.onnx --input X.npy --output Y.npy
                                   [--batch 500] [--threads N] [--opt-level all|extended|basic|disabled]
Runs the model on X (float32, batched along dim 0) and writes the first output of every batch,
concatenated, to Y (float32). Prints one JSON line: {"rows": N, "seconds": S, "opt_level": L}.
`;

async function main() {
  const args = parseArgs(process.argv.slice(2), {
    model: 'string', input: 'string', output: 'string', batch: 'int', threads: 'int',
    'opt-level': 'string',
  });
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  for (const k of ['model', 'input', 'output'])
    if (!args[k]) throw new UsageError(`--${k} is required`);
  const level = args.optLevel || 'all';
  if (!['all', 'extended', 'basic', 'disabled'].includes(level))
    throw new UsageError(`--opt-level must be all, extended, basic or disabled, not '${level}'`);
  const batch = args.batch || 500;
  const ort = loadOrt();
  const opts = sessionOptions(args.threads === undefined ? 1 : args.threads);
  opts.graphOptimizationLevel = level;
  const session = await ort.InferenceSession.create(args.model, opts);
  const x = readNpy(args.input);
  if (x.type !== 'float32') throw new Error(`${args.input}: expected float32, got ${x.type}`);
  const n = x.dims[0];
  const per = x.data.length / n;
  const t0 = process.hrtime.bigint();
  let out = null;
  let outDims = null;
  for (let s = 0; s < n; s += batch) {
    const b = Math.min(batch, n - s);
    const feed = new ort.Tensor('float32', x.data.subarray(s * per, (s + b) * per), [b, ...x.dims.slice(1)]);
    const r = await session.run({ [session.inputNames[0]]: feed });
    const y = r[session.outputNames[0]];
    if (y.type !== 'float32') throw new Error(`output is ${y.type}, expected float32`);
    if (out === null) {
      outDims = [n, ...y.dims.slice(1)];
      out = new Float32Array((y.data.length / b) * n);
    }
    out.set(y.data, (s * out.length) / n);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  writeNpy(args.output, 'float32', outDims, out);
  process.stdout.write(`${JSON.stringify({ rows: n, seconds, opt_level: level })}\n`);
  if (session.release) await session.release();
}

runMain(main, USAGE);
