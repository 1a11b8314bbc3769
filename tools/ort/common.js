'use strict';
// Shared helpers for the onnxruntime-node reference tools.

class UsageError extends Error {}

// Parses "--key value" and "--key=value" options. `spec` maps option name to
// 'string' | 'int' | 'list' (repeatable string) | 'flag' (no value). Unknown options are errors.
function parseArgs(argv, spec) {
  const out = {};
  for (const [k, t] of Object.entries(spec)) if (t === 'list') out[k] = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '-h' || a === '--help') {
      out.help = true;
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}'`);
    a = a.slice(2);
    let val;
    const eq = a.indexOf('=');
    // Only split "--key=value" when key is a known option; "--input name=x.npy" keeps its '='.
    if (eq > 0 && spec[a.slice(0, eq)] !== undefined) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const t = spec[a];
    if (t === undefined) throw new UsageError(`unknown option '--${a}'`);
    if (t === 'flag') {  // takes no value
      if (val !== undefined) throw new UsageError(`option '--${a}' takes no value`);
      out[a.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = true;
      continue;
    }
    if (val === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`option '--${a}' needs a value`);
      val = argv[++i];
    }
    const key = a.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (t === 'int') {
      const n = Number(val);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`option '--${a}' needs a non-negative integer, got '${val}'`);
      out[key] = n;
    } else if (t === 'list') {
      out[key].push(val);
    } else {
      out[key] = val;
    }
  }
  return out;
}

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    throw new UsageError(
      `cannot load onnxruntime-node (${e.message.split('\n')[0]}). ` +
      `Install it with: cd tools/ort && npm install --ignore-scripts`);
  }
}

function sessionOptions(threads) {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Errors are reported by the tools themselves; keep onnxruntime's own log quiet.
    logSeverityLevel: 3,
  };
}

// Runs main(); exits 2 with a one-line message on any error.
function runMain(main, usage) {
  Promise.resolve()
    .then(main)
    .catch((e) => {
      const msg = e && e.message ? e.message : String(e);
      process.stderr.write(`error: ${msg}\n`);
      if (e instanceof UsageError && usage) process.stderr.write(`${usage.split('\n')[0]}\n(--help for details)\n`);
      process.exit(2);
    });
}

module.exports = { UsageError, parseArgs, loadOrt, sessionOptions, runMain };
