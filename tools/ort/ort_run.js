#!/usr/bin/env node
'use strict';
// Runs an ONNX model with onnxruntime (CPU EP) on .npy inputs and writes every
// output to DIR/<output_name>.npy. Reference for cross-checking the mpq engine.

const fs = require('fs');
const path = require('path');
const { readNpy, writeNpy } = require('./npy');
const { UsageError, parseArgs, loadOrt, sessionOptions, runMain } = require('./common');

const USAGE = `usage: node tools/ort/ort_run.js --model M.onnx --input NAME=X.npy [--input NAME2=Y.npy ...]
                                --output-dir DIR [--threads N]
       node tools/ort/ort_run.js --model M.onnx --input X.npy --output-dir DIR   (single-input model)
Writes each model output to DIR/<output_name>.npy ('/' and other unsafe characters in the
name become '_'). Prints one line per output: <name> <type> <shape> <file>.
Exit code 0 on success, 2 on any error.
`;

function safeFileName(name) {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return s.length > 0 && s !== '.' && s !== '..' ? s : `_${s}`;
}

function fmtShape(dims) {
  return `[${dims.join(',')}]`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2), {
    model: 'string', input: 'list', 'output-dir': 'string', threads: 'int',
  });
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!args.model) throw new UsageError('--model is required');
  if (!args.outputDir) throw new UsageError('--output-dir is required');
  if (args.input.length === 0) throw new UsageError('at least one --input is required');
  if (!fs.existsSync(args.model)) throw new UsageError(`model file not found: ${args.model}`);
  const threads = args.threads === undefined ? 1 : args.threads;

  const ort = loadOrt();
  let session;
  try {
    session = await ort.InferenceSession.create(args.model, sessionOptions(threads));
  } catch (e) {
    throw new Error(`onnxruntime failed to load ${args.model}: ${e.message}`);
  }
  const inputNames = session.inputNames;
  const meta = {};
  for (const m of session.inputMetadata || []) meta[m.name] = m;

  // Resolve --input specs to (name, file).
  const feedsFiles = {};
  for (const spec of args.input) {
    const eq = spec.indexOf('=');
    let name;
    let file;
    if (eq > 0 && inputNames.includes(spec.slice(0, eq))) {
      name = spec.slice(0, eq);
      file = spec.slice(eq + 1);
    } else if (eq > 0 && !fs.existsSync(spec)) {
      throw new UsageError(`--input '${spec}': model has no input named '${spec.slice(0, eq)}' ` +
        `(inputs: ${inputNames.join(', ')})`);
    } else {
      if (inputNames.length !== 1 || args.input.length !== 1) {
        throw new UsageError(`--input '${spec}' has no NAME= prefix; that is only allowed for a ` +
          `single-input model given one --input (model inputs: ${inputNames.join(', ')})`);
      }
      name = inputNames[0];
      file = spec;
    }
    if (feedsFiles[name] !== undefined) throw new UsageError(`input '${name}' given twice`);
    feedsFiles[name] = file;
  }
  const missing = inputNames.filter((n) => feedsFiles[n] === undefined);
  if (missing.length > 0) {
    throw new UsageError(`missing --input for model input(s): ${missing.join(', ')}`);
  }

  const feeds = {};
  for (const name of inputNames) {
    const file = feedsFiles[name];
    const arr = readNpy(file);
    const m = meta[name];
    if (m && m.isTensor) {
      if (m.type !== arr.type) {
        throw new Error(`input '${name}': model expects ${m.type} but ${file} holds ${arr.type}` +
          (m.type === 'float32' && arr.type === 'float64' ? ' (save it with .astype(np.float32))' : ''));
      }
      if (m.shape && m.shape.length > 0) {
        if (m.shape.length !== arr.dims.length) {
          throw new Error(`input '${name}': model expects rank ${m.shape.length} ${fmtShape(m.shape)}, ` +
            `${file} has shape ${fmtShape(arr.dims)}`);
        }
        m.shape.forEach((d, i) => {
          if (typeof d === 'number' && d >= 0 && d !== arr.dims[i]) {
            throw new Error(`input '${name}': dim ${i} must be ${d} (model shape ${fmtShape(m.shape)}), ` +
              `${file} has shape ${fmtShape(arr.dims)}`);
          }
        });
      }
    }
    feeds[name] = new ort.Tensor(arr.type, arr.data, arr.dims);
  }

  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    throw new Error(`onnxruntime run failed: ${e.message}`);
  }

  fs.mkdirSync(args.outputDir, { recursive: true });
  for (const name of session.outputNames) {
    const t = results[name];
    const file = path.join(args.outputDir, `${safeFileName(name)}.npy`);
    writeNpy(file, t.type, t.dims, t.data);
    process.stdout.write(`${name} ${t.type} ${fmtShape(t.dims)} ${file}\n`);
  }
  if (session.release) await session.release();
}

runMain(main, USAGE);
