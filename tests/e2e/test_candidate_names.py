#!/usr/bin/env python3
"""Candidates have one spelling, the accelerator YAML's (issue 21): on every bundled accelerator
(configs/hw/*.yaml, the float candidates of gpu_t4 included), every file mpq writes names
candidates exactly as that YAML declares them:

- `mpq explore` (phase 1 and 2): sensitivity.csv and .json, phase1.journal, front_*.csv,
  fronts.json, configs/*.json and report.md. Every field that holds a candidate (candidate,
  baseline, candidates, the front's labels) is a declared name, and every W<w>A<a> token in any
  of these files is one.
- `mpq sensitivity --candidates Wfp16Afp16,W8A8` on gpu_t4 runs (it failed with "candidate fp16
  is not declared"), and so does the short input spelling `fp16,W8A8`, printed as Wfp16Afp16.

    test_candidate_names.py MPQ_BINARY SOURCE_DIR
"""
import csv
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

from e2e_args import mpq_and_source, write_experiment

mpq, src, _ = mpq_and_source(__doc__)
failures = []
# A candidate-like token: W<w>A<a> with integer bit counts or float format names.
TOKEN = re.compile(r"\bW(?:\d+|fp\w+?|bf16|int\d+)A(?:\d+|fp[a-z0-9]+|bf16|int\d+)\b")
FLOAT_ALONE = re.compile(r"^(fp16|bf16|fp8e4m3|fp8e5m2)$")


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(args):
    return subprocess.run([mpq] + args, capture_output=True, text=True)


def fields_named(node, keys, found):
    """Every value under a key in `keys`, anywhere in a JSON document."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in keys:
                found.extend(v if isinstance(v, list) else [v])
            fields_named(v, keys, found)
    elif isinstance(node, list):
        for v in node:
            fields_named(v, keys, found)
    return found


def front_labels(fronts):
    """The candidate inside "baseline (X)" and a homogeneous point's own label."""
    names = []
    for acc in fronts["accelerators"]:
        for p in acc["front"]:
            m = re.match(r"baseline \((.*)\)$", p["label"])
            if m:
                names.append(m.group(1))
        names.extend(p["label"].split(" ")[0] for p in acc["homogeneous"])
    return names


def check_names(where, names, declared, must_include=None):
    bad = sorted({n for n in names if n not in declared})
    check(names != [] and not bad, f"{where}: {len(names)} candidate fields, undeclared: {bad}")
    if must_include:
        check(must_include in names, f"{where} names {must_include}")


def check_tokens(path, declared):
    text = open(path).read()
    bad = sorted({t for t in TOKEN.findall(text) if t not in declared})
    check(not bad, f"{os.path.basename(path)}: every W<w>A<a> token is declared (not: {bad})")


def csv_column(path, columns):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [n for r in rows for c in columns if r.get(c) for n in r[c].split(";")]


def explore_on(tmp, hw, declared, baseline):
    name = os.path.splitext(os.path.basename(hw))[0]
    out = os.path.join(tmp, name)
    exp = write_experiment(os.path.join(tmp, name + ".yaml"), f"{src}/configs/models/cnn.onnx",
                           [hw], declared, out, 64, 200)
    r = run(["explore", exp, "--quiet", "--no-plots"])
    check(r.returncode == 0, f"explore on {name} exits 0 ({r.stderr.strip()[-300:]})")
    if r.returncode != 0:
        return
    keys = {"candidate", "baseline", "candidates"}
    check_names(f"{name} sensitivity.csv", csv_column(f"{out}/sensitivity.csv",
                                                      ["candidate", "baseline"]), declared,
                baseline)
    check_names(f"{name} sensitivity.json",
                fields_named(json.load(open(f"{out}/sensitivity.json")), keys, []), declared,
                baseline)
    journal = [json.loads(l) for l in open(f"{out}/phase1.journal").read().splitlines()[1:]]
    check_names(f"{name} phase1.journal", fields_named(journal, keys, []), declared)
    for front in glob.glob(f"{out}/front_*.csv"):
        check_names(f"{name} {os.path.basename(front)}", csv_column(front, ["candidates"]),
                    declared, baseline)
    fronts = json.load(open(f"{out}/fronts.json"))
    check_names(f"{name} fronts.json", fields_named(fronts, keys, []), declared, baseline)
    check_names(f"{name} fronts.json labels", front_labels(fronts), declared, baseline)
    configs = glob.glob(f"{out}/configs/*.json")
    check(configs != [], f"{name}: configurations written")
    report = f"{out}/report.md"
    chosen = re.findall(r"^\| `[^`]*` \| (\S+) \|$", open(report).read(), re.M)
    check_names(f"{name} report.md chosen table", chosen, declared)
    for path in [f"{out}/sensitivity.csv", f"{out}/sensitivity.json", f"{out}/phase1.journal",
                 f"{out}/fronts.json", report] + configs + glob.glob(f"{out}/front_*.csv"):
        check_tokens(path, declared)


def sensitivity_on_t4(tmp):
    hw = f"{src}/configs/hw/gpu_t4.yaml"
    for given in ["Wfp16Afp16,W8A8", "fp16,W8A8"]:
        out = os.path.join(tmp, "t4_" + given.replace(",", "_"))
        r = run(["sensitivity", "--model", f"{src}/configs/models/cnn.onnx", "--hw", hw,
                 "--candidates", given, "--calib", "fashion-mnist:train:32", "--samples", "32",
                 "--quiet", "--no-plots", "-o", out])
        check(r.returncode == 0, f"sensitivity on gpu_t4 --candidates {given} exits 0 "
              f"({r.stderr.strip()[-300:]})")
        if r.returncode != 0:
            continue
        rows = list(csv.DictReader(open(f"{out}/sensitivity.csv")))
        check({x["baseline"] for x in rows} == {"Wfp16Afp16"} and
              {x["candidate"] for x in rows} == {"W8A8"},
              f"--candidates {given}: every task W8A8 against baseline Wfp16Afp16")
        printed = TOKEN.findall(r.stdout)
        check("Wfp16Afp16" in printed and not any(FLOAT_ALONE.match(w) for w in r.stdout.split()),
              f"--candidates {given}: the table prints Wfp16Afp16, never fp16 alone")


with tempfile.TemporaryDirectory() as tmp:
    accelerators = sorted(glob.glob(f"{src}/configs/hw/*.yaml"))
    check(len(accelerators) == 4, f"four bundled accelerators ({len(accelerators)})")
    for hw in accelerators:
        spec = yaml.safe_load(open(hw))
        declared = list(spec["candidates"])
        g = run(["groups", f"{src}/configs/models/cnn.onnx", "--hw", hw, "--json"])
        check(g.returncode == 0, f"groups on {os.path.basename(hw)}")
        groups = json.loads(g.stdout)
        rows = groups["groups"] if isinstance(groups, dict) else groups
        baseline = rows[0]["baseline"]
        check_names(f"{os.path.basename(hw)} groups --json",
                    fields_named(groups, {"baseline", "candidates"}, []), declared)
        explore_on(tmp, hw, declared, baseline)
    float_declared = [c for c in yaml.safe_load(open(f"{src}/configs/hw/gpu_t4.yaml"))["candidates"]
                      if "fp" in c]
    check(float_declared == ["Wfp16Afp16"], f"gpu_t4 declares a float candidate {float_declared}")
    sensitivity_on_t4(tmp)

print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
