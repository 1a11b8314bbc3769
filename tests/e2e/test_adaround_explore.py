#!/usr/bin/env python3
"""End-to-end checks of AdaRound in the explorer (issue 24) on the bundled CNN and Bit Fusion
(2-bit weights):

- `mpq explore --weight-rounding adaround` learns every (weight, format) pair once; a second
  run learns none (all reused from OUTPUT/adaround.journal).
- The chosen configuration written out carries the AdaRounded integers of its weights, and
  `mpq run --config` of it gives the accuracy the explorer reports for that point.
- Another number of AdaRound iterations sets the cache aside with a message naming what changed.
- Bad input exits 2: an unknown --weight-rounding; a float weight candidate with AdaRound.
- `mpq quantize --bias-correction` writes corrected biases that `mpq run --config` reproduces.

    test_adaround_explore.py MPQ_BINARY SOURCE_DIR
"""
import json
import os
import re
import subprocess
import sys
import tempfile

from e2e_args import mpq_and_source, write_experiment

mpq, src, _ = mpq_and_source(__doc__)
failures = []
EVAL = 500


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(args):
    return subprocess.run([mpq] + args, capture_output=True, text=True)


def learned(stderr):
    m = re.search(r"AdaRound: (\d+) \(weight, format\) pairs learned, (\d+) reused", stderr)
    return (int(m.group(1)), int(m.group(2))) if m else None


with tempfile.TemporaryDirectory() as tmp:
    out = f"{tmp}/ada"
    exp = write_experiment(f"{tmp}/ada.yaml", f"{src}/configs/models/cnn.onnx",
                           [f"{src}/configs/hw/bitfusion.yaml"], ["W8A8", "W2A8"], out, 128, EVAL,
                           top_extra="candidates: [W8A8, W4A8, W2A8]\n"
                                     "ranges: {weight_rounding: adaround, adaround_iters: 60}\n")
    r = run(["explore", exp, "--quiet", "--no-plots", "--json"])
    check(r.returncode == 0, "explore with AdaRound runs: " + r.stderr.strip()[-300:])
    first = learned(r.stderr)
    check(first is not None and first[0] > 0 and first[1] == 0,
          f"the first run learns every pair and reuses none: {first}")
    if r.returncode == 0:
        x = json.loads(r.stdout)
        acc = x["accelerators"][0]
        chosen = acc["chosen"]
        with open(f"{out}/configs/bitfusion_chosen.json") as f:
            cfg = json.load(f)
        rounded = [n for n, q in cfg["quantizers"].items() if q["kind"] == "weight" and
                   q.get("rounding") == "adaround" and q.get("integer_weights")]
        weights = [n for n, q in cfg["quantizers"].items() if q["kind"] == "weight"]
        check(len(rounded) == len(weights) > 0,
              f"the chosen configuration carries AdaRound integers for {len(rounded)} of "
              f"{len(weights)} weights")
        rr = run(["run", f"{src}/configs/models/cnn.onnx", "--config",
                  f"{out}/configs/bitfusion_chosen.json", "--data", f"fashion-mnist:test:{EVAL}",
                  "--batch", "64", "--json"])
        check(rr.returncode == 0, "run --config of the chosen configuration: " + rr.stderr[-200:])
        if rr.returncode == 0:
            top1 = json.loads(rr.stdout)["top1_accuracy"]
            check(abs(top1 - chosen["score"]) < 1e-9,
                  f"run --config reproduces the explorer's accuracy ({top1:.2f} = "
                  f"{chosen['score']:.2f})")
    r2 = run(["explore", exp, "--quiet", "--no-plots"])
    second = learned(r2.stderr)
    check(r2.returncode == 0 and second == (0, first[0] if first else -1),
          f"a second run learns nothing and reuses every pair: {second}")
    r3 = run(["explore", exp, "--quiet", "--no-plots", "--adaround-iters", "61"])
    check(r3.returncode == 0 and "cached AdaRound weights" in r3.stderr and
          "weight rounding" in r3.stderr and os.path.exists(f"{out}/adaround.journal.stale"),
          "other iterations set the cache aside naming what changed: " +
          r3.stderr.strip()[:300])
    r4 = run(["explore", exp, "--quiet", "--no-plots", "--weight-rounding", "stochastic"])
    check(r4.returncode == 2 and "weight rounding must be nearest or adaround" in r4.stderr,
          "an unknown --weight-rounding exits 2: " + r4.stderr.strip()[:200])
    r5 = run(["sensitivity", "--model", f"{src}/configs/models/cnn.onnx", "--candidates",
              "W8A8,fp8e4m3", "--samples", "64", "--weight-rounding", "adaround",
              "--adaround-iters", "5", "--quiet", "--no-plots", "-o", f"{tmp}/fp"])
    check(r5.returncode == 2 and "AdaRound chooses between two integers" in r5.stderr,
          "AdaRound of a float weight candidate exits 2: " + r5.stderr.strip()[:200])

    # Bias correction alone in `mpq quantize`: the configuration carries the corrected biases,
    # `mpq run --config` reproduces quantize's accuracy, and it differs from nearest's.
    accs = {}
    for name, extra in (("nearest", []), ("corrected", ["--bias-correction"])):
        q = run(["quantize", f"{src}/configs/models/cnn.onnx", "--candidate", "W2A8",
                 "--calib", "fashion-mnist:train:128", "--data", f"fashion-mnist:test:{EVAL}",
                 "--batch", "64", "-o", f"{tmp}/{name}.json", "--json"] + extra)
        check(q.returncode == 0, f"quantize W2A8 {name}: " + q.stderr[-200:])
        if q.returncode == 0:
            accs[name] = json.loads(q.stdout)["metrics"]["top1_accuracy"]
    if len(accs) == 2:
        with open(f"{tmp}/corrected.json") as f:
            corrected = json.load(f).get("corrected_biases", {})
        check(len(corrected) > 0, f"the configuration carries {len(corrected)} corrected biases")
        rr = run(["run", f"{src}/configs/models/cnn.onnx", "--config", f"{tmp}/corrected.json",
                  "--data", f"fashion-mnist:test:{EVAL}", "--batch", "64", "--json"])
        top1 = json.loads(rr.stdout)["top1_accuracy"] if rr.returncode == 0 else None
        check(top1 == accs["corrected"],
              f"run --config reproduces the bias-corrected accuracy ({top1} = "
              f"{accs['corrected']}; nearest without correction {accs['nearest']})")
        check(accs["corrected"] != accs["nearest"], "bias correction changes the accuracy")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
