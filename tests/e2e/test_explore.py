#!/usr/bin/env python3
"""End-to-end checks of `mpq explore` (issue 6) on the bundled CNN and two accelerators.

- The mixed-precision front dominates or matches every homogeneous configuration: for each
  homogeneous point there is a front point costing no more on that accelerator whose evaluated
  accuracy is at least the homogeneous point's (within TOL points: accuracies are measured on
  1,000 images, one image is 0.1 point).
- Binary search needs at most ceil(log2 N) + 2 evaluations on every front; interpolation's
  count is printed next to it.
- The results directory holds fronts (CSV, JSON), configurations, plots and report.md.
- Bad input exits 2 with a message naming the problem and leaves no results directory behind:
  an infeasible budget (the message states the cheapest cost), an unknown key, a wrong type, a
  missing model file.
- An accuracy bound no configuration meets is reported and the baseline returned.

    test_explore.py MPQ_BINARY SOURCE_DIR
"""
import json
import math
import os
import subprocess
import sys
import tempfile

from e2e_args import mpq_and_source, write_experiment

TOL = 0.3
mpq, src, _ = mpq_and_source(__doc__)
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def experiment(tmp, name, extra_search="", extra_top=""):
    return write_experiment(os.path.join(tmp, name + ".yaml"), f"{src}/configs/models/cnn.onnx",
                            [f"{src}/configs/hw/edge_npu.yaml", f"{src}/configs/hw/bitfusion.yaml"],
                            ["W8A8", "W4A8", "W4A4"], f"{tmp}/{name}", 128, 1000, extra_search,
                            extra_top)


def run(args):
    return subprocess.run([mpq] + args, capture_output=True, text=True)


with tempfile.TemporaryDirectory() as tmp:
    good = experiment(tmp, "good", "  budgets: {metric: bops, accelerator: bitfusion, fractions: [0.3, 0.6]}")
    r = run(["explore", good, "--quiet", "--no-plots", "--json"])
    check(r.returncode == 0, "explore runs: " + r.stderr[-300:])
    if r.returncode == 0:
        x = json.loads(r.stdout)
        out = os.path.join(tmp, "good")
        for f in ["report.md", "fronts.json", "front_edge-npu.csv", "front_bitfusion.csv",
                  "sensitivity.csv", "command.txt", "configs/bitfusion_chosen.json",
                  "configs/bitfusion_budget_0.3_ilp.json"]:
            check(os.path.exists(os.path.join(out, f)), "results directory has " + f)
        for acc in x["accelerators"]:
            name = acc["accelerator"]
            front = acc["front"]
            for h in acc["homogeneous"]:
                hc = h["cost"][name]["bops"]
                best = max((p["score"] for p in front if p["cost"][name]["bops"] <= hc * (1 + 1e-12)),
                           default=-1)
                check(best >= h["score"] - TOL,
                      f"{name}: front at <= {h['label']}'s BOPs reaches {best:.2f}, "
                      f"homogeneous {h['score']:.2f}")
            n = len(front)
            by = {s["method"]: s for s in acc["searches"]}
            limit = math.ceil(math.log2(n)) + 2 if n > 1 else 1
            check(by["binary search"]["evaluations"] <= limit,
                  f"{name}: binary search {by['binary search']['evaluations']} evaluations "
                  f"<= ceil(log2 {n}) + 2 = {limit} (interpolation "
                  f"{by['interpolation search']['evaluations']}, brute force "
                  f"{by['brute force']['evaluations']})")
            chosen = acc["chosen"]
            check(chosen["score"] >= x["bound"], f"{name}: chosen point meets the bound "
                  f"({chosen['score']:.2f} >= {x['bound']:.2f})")
        for b in x["accelerators"][1]["budgets"]:
            check(b["ilp"]["cost"]["bitfusion"]["bops"] <= b["budget"] * (1 + 1e-9),
                  f"ILP within budget {b['fraction']}")
        # A second run resumes phase 1 from the journal.
        r2 = run(["explore", good, "--quiet", "--no-plots"])
        check(r2.returncode == 0 and "phase 1: 0 tasks computed" in r2.stderr,
              "a second run takes phase 1 from the journal: " + r2.stderr.strip()[-200:])

    # An accuracy bound no configuration can meet (a drop below zero is refused; a bound above
    # every point is what `accuracy_drop: 0` gives when quantization costs accuracy): the run
    # says so and returns the baseline.
    neg = experiment(tmp, "negative")
    with open(neg) as f:
        text = f.read().replace("accuracy_drop: 1.0", "accuracy_drop: -5.0")
    with open(neg, "w") as f:
        f.write(text)
    r = run(["explore", neg, "--quiet", "--no-plots"])
    check(r.returncode == 2 and "accuracy_drop" in r.stderr and not os.path.exists(os.path.join(tmp, "negative")),
          "negative accuracy_drop is rejected naming its key: " + r.stderr.strip()[:200])

    # No configuration meets the bound: on an accelerator that runs only 2-bit weights even its
    # baseline (W2A4) loses far more than 1 point, so every search fails and the explorer must
    # say so and return the baseline (front point 0), not the cheapest point it tried.
    with open(os.path.join(src, "configs/hw/edge_npu.yaml")) as f:
        npu = f.read()
    low = (npu.replace("name: edge-npu", "name: low-npu")
           .replace("""  W4A8: {weights: int4, activations: int8}
  W8A8: {weights: int8, activations: int8}
  W8A16: {weights: int8, activations: int16}
  W16A16: {weights: int16, activations: int16}""",
                    """  W2A4: {weights: int2, activations: int4}
  W2A2: {weights: int2, activations: int2}""")
           .replace("{W4A8: 10240, W8A8: 5120, W8A16: 2560, W16A16: 1280}", "{W2A4: 20480, W2A2: 40960}")
           .replace("{W4A8: 0.2, W8A8: 0.3, W8A16: 0.5, W16A16: 0.9}", "{W2A4: 0.12, W2A2: 0.11}"))
    check("W2A4: 20480" in low and "W4A8: {weights" not in low and "W4A8: 0.2" not in low,
          "the 2-bit accelerator replaces every candidate")
    low_hw = os.path.join(tmp, "low_npu.yaml")
    with open(low_hw, "w") as f:
        f.write(low)
    unmet = experiment(tmp, "unmet")
    with open(unmet) as f:
        text = f.read()
    text = text.replace(f"accelerators: [{src}/configs/hw/edge_npu.yaml, {src}/configs/hw/bitfusion.yaml]",
                        f"accelerators: [{low_hw}]").replace("[W8A8, W4A8, W4A4]", "[W2A4, W2A2]")
    with open(unmet, "w") as f:
        f.write(text)
    r = run(["explore", unmet, "--quiet", "--no-plots", "--json"])
    check(r.returncode == 0, "an unmet bound is no error: " + r.stderr[-300:])
    if r.returncode == 0:
        x = json.loads(r.stdout)
        acc = x["accelerators"][0]
        front, chosen = acc["front"], acc["chosen"]
        check(len(front) > 1 and all(p["score"] < x["bound"] for p in front),
              f"no front point reaches the bound {x['bound']:.2f}: "
              f"best {max(p['score'] for p in front):.2f} of {len(front)} points")
        check(all(not s["met"] for s in acc["searches"]), "every search reports the bound unmet")
        check("no configuration" in acc.get("note", "") and "baseline is returned" in acc.get("note", ""),
              "the run says no configuration meets the bound: " + acc.get("note", "(no note)"))
        check(chosen["candidates"] == front[0]["candidates"] and chosen["score"] == front[0]["score"],
              f"the chosen point is the baseline: {set(chosen['candidates'])} "
              f"scoring {chosen['score']:.2f}, baseline {set(front[0]['candidates'])}")
        with open(os.path.join(tmp, "unmet", "report.md")) as f:
            check("baseline is returned" in f.read(), "report.md says the baseline is returned")
        with open(os.path.join(tmp, "unmet", "configs", "low-npu_chosen.json")) as f:
            quantizers = json.load(f)["quantizers"].values()
        formats = {(q["kind"], q["format"]) for q in quantizers}
        check(formats == {("weight", "int2"), ("activation", "int4")},
              f"the chosen configuration file is the baseline W2A4: {sorted(formats)}")

    def expect_error(name, text, pattern):
        path = os.path.join(tmp, name + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        r = run(["explore", path, "--quiet", "--no-plots"])
        ok = r.returncode == 2 and pattern in r.stderr and not os.path.exists(os.path.join(tmp, name))
        check(ok, f"{name}: exit {r.returncode}, '{pattern}' in: {r.stderr.strip()[:300]}")

    base = open(experiment(tmp, "tmpl")).read()
    expect_error("infeasible", base.replace("output:", "  budgets: {metric: bops, accelerator: bitfusion, fractions: [0.01]}\noutput:")
                 .replace(f"{tmp}/tmpl", f"{tmp}/infeasible"), "below the cheapest configuration")
    expect_error("unknown_key", base.replace("output:", "colour: blue\noutput:").replace(f"{tmp}/tmpl", f"{tmp}/unknown_key"),
                 "colour: unknown key")
    expect_error("wrong_type", base.replace("samples: 128", "samples: many").replace(f"{tmp}/tmpl", f"{tmp}/wrong_type"),
                 "sensitivity.samples")
    expect_error("missing_model", base.replace("cnn.onnx", "nope.onnx").replace(f"{tmp}/tmpl", f"{tmp}/missing_model"),
                 "nope.onnx")

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
