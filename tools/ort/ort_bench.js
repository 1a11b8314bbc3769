#!/usr/bin/env node
'use strict';
// Times onnxruntime (CPU EP) on a random float32 batch; prints one JSON line.
// Reference numbers for the mpq engine's benchmarks.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { UsageError, parseArgs, loadOrt, sessionOptions, runMain } = require('./common');

const USAGE = `usage: node tools/ort/ort_bench.js --model M.onnx [--batch B] [--threads T] [--iters N]
                                  [--warmup K] [--input-shape CxHxW] [--seed S] [--profile]
--profile: afterwards, a second session with onnxruntime's profiler runs the batch --iters
times more and prints the median kernel time per node to stderr (after graph optimization,
so nodes carry onnxruntime's fused names, e.g. '/layer1/Relu_output_0_nchwc').
Defaults: --batch 1 --threads 1 --iters 20 --warmup 3 --seed 0.
The input shape is B x INPUT_SHAPE; without --input-shape it is read from the model's
input metadata (dim 0 becomes B, other dims must be static).
Prints {"engine":"onnxruntime","version":...,"model":...,"batch":...,"threads":...,
        "ms_per_batch":<mean>,"images_per_s":...} plus extra timing fields.
Exit code 0 on success, 2 on any error.
`;

function parseShape(s) {
  const dims = s.split(/[x,]/).map((p) => p.trim()).filter((p) => p.length > 0).map(Number);
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new UsageError(`--input-shape must look like 1x28x28, got '${s}'`);
  }
  return dims;
}

// Deterministic uniform [-1, 1) floats (xorshift32).
function randomFloats(n, seed) {
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = (x / 4294967296) * 2 - 1;
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2), {
    model: 'string', batch: 'int', threads: 'int', iters: 'int', warmup: 'int',
    'input-shape': 'string', seed: 'int', profile: 'flag',
  });
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!args.model) throw new UsageError('--model is required');
  if (!fs.existsSync(args.model)) throw new UsageError(`model file not found: ${args.model}`);
  const batch = args.batch === undefined ? 1 : args.batch;
  const threads = args.threads === undefined ? 1 : args.threads;
  const iters = args.iters === undefined ? 20 : args.iters;
  const warmup = args.warmup === undefined ? 3 : args.warmup;
  const seed = args.seed === undefined ? 0 : args.seed;
  if (batch < 1) throw new UsageError('--batch must be >= 1');
  if (iters < 1) throw new UsageError('--iters must be >= 1');

  const ort = loadOrt();
  let session;
  try {
    session = await ort.InferenceSession.create(args.model, sessionOptions(threads));
  } catch (e) {
    throw new Error(`onnxruntime failed to load ${args.model}: ${e.message}`);
  }
  if (session.inputNames.length !== 1) {
    throw new Error(`ort_bench supports single-input models only; ${args.model} has inputs ` +
      `${session.inputNames.join(', ')}`);
  }
  const inputName = session.inputNames[0];
  const meta = (session.inputMetadata || [])[0];
  if (meta && meta.isTensor && meta.type !== 'float32') {
    throw new Error(`input '${inputName}' is ${meta.type}; ort_bench feeds float32 only`);
  }

  let dims;
  if (args.inputShape) {
    dims = [batch, ...parseShape(args.inputShape)];
    if (meta && meta.isTensor && meta.shape.length > 0 && meta.shape.length !== dims.length) {
      throw new Error(`--input-shape gives rank ${dims.length} (with batch) but the model input ` +
        `'${inputName}' has rank ${meta.shape.length} [${meta.shape.join(',')}]`);
    }
  } else {
    if (!meta || !meta.isTensor || meta.shape.length === 0) {
      throw new UsageError(`model input '${inputName}' has no shape metadata; pass --input-shape`);
    }
    dims = meta.shape.map((d, i) => {
      if (i === 0) {
        if (typeof d === 'number' && d > 0 && d !== batch) {
          throw new Error(`model input '${inputName}' has a fixed batch dim ${d} (shape ` +
            `[${meta.shape.join(',')}]); --batch ${batch} cannot be used`);
        }
        return batch;
      }
      if (typeof d !== 'number' || d <= 0) {
        throw new UsageError(`model input '${inputName}' dim ${i} is dynamic ('${d}'); pass --input-shape`);
      }
      return d;
    });
  }

  const n = dims.reduce((a, b) => a * b, 1);
  const feeds = { [inputName]: new ort.Tensor('float32', randomFloats(n, seed), dims) };

  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const sorted = [...times].sort((a, b) => a - b);
  const r = (v, k) => Number(v.toFixed(k));
  const out = {
    engine: 'onnxruntime',
    version: (ort.env.versions && (ort.env.versions.node || ort.env.versions.common)) || 'unknown',
    model: path.basename(args.model),
    batch,
    threads,
    ms_per_batch: r(mean, 4),
    images_per_s: r((batch * 1000) / mean, 2),
    ms_per_batch_median: r(median(times), 4),
    ms_per_batch_min: r(sorted[0], 4),
    iters,
    warmup,
    input_shape: dims,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  if (session.release) await session.release();
  if (args.profile) await profileNodes(ort, args.model, threads, feeds, iters);
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// Median kernel time per node over `iters` profiled runs, printed to stderr like
// mpq_bench_fp32 --profile. The profiler writes a JSON trace into a temporary directory.
async function profileNodes(ort, model, threads, feeds, iters) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ort-profile-'));
  try {
    const opts = { ...sessionOptions(threads), enableProfiling: true,
      profileFilePrefix: path.join(dir, 'p') };
    const session = await ort.InferenceSession.create(model, opts);
    for (let i = 0; i < iters; i++) await session.run(feeds);
    session.endProfiling();
    if (session.release) await session.release();
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`expected one profile in ${dir}, found ${files.length}`);
    const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
    const times = new Map();
    const ops = new Map();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const node = e.name.slice(0, -'_kernel_time'.length);
      if (!times.has(node)) times.set(node, []);
      times.get(node).push(e.dur / 1000);
      ops.set(node, (e.args && e.args.op_name) || '?');
    }
    const rows = [...times].map(([node, v]) => [median(v), node]).sort((a, b) => b[0] - a[0]);
    const total = rows.reduce((a, r) => a + r[0], 0);
    let text = '      ms      %  op                 node\n';
    for (const [ms, node] of rows) {
      text += `${ms.toFixed(3).padStart(8)} ${(100 * ms / total).toFixed(1).padStart(6)}  ` +
        `${ops.get(node).padEnd(18)} ${node}\n`;
    }
    process.stderr.write(text);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main, USAGE);
