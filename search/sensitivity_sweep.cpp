#include "sensitivity_sweep.hpp"

#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "fisher_sweep.hpp"
#include "sim/memory_plan.hpp"
#include "sim/nonfinite.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {

// The configuration of one task: the others (float, or baseline) plus group g at c.
QuantConfig sweep_task_config(const SweepInputs& in, const QuantConfig& others, const SweepGroup& g,
                              const Candidate& c, SettingCache* cache) {
  QuantConfig cfg = others;
  for (std::size_t qi : g.quantizers) {
    const Quantizer& q = in.placement->quantizers[qi];
    const NumberFormat f = q.kind == QuantizerKind::Weight ? c.weight : c.activation;
    if (f.is_identity()) {
      cfg.quantizers.erase(q.name);
    } else if (!cache) {
      cfg.quantizers[q.name] = calibrate_quantizer(*in.net, q, f, *in.stats, in.ranges);
    } else {
      auto [it, fresh] = cache->try_emplace({qi, f.name()});
      if (fresh) it->second = calibrate_quantizer(*in.net, q, f, *in.stats, in.ranges);
      cfg.quantizers[q.name] = it->second;
    }
  }
  if (in.rounded) in.rounded->apply(cfg);
  derive_biases(*in.net, *in.placement, cfg);
  return cfg;
}

namespace {

// The constants a task changes relative to `others`: the group's weights, and every bias
// (cheap, and a bias depends on its input activation's scale too).
QuantizedConstants task_constants(const SweepInputs& in, const QuantConfig& cfg,
                                  const SweepGroup& g, const QuantConfig& others) {
  QuantizedConstants qc;
  for (std::size_t qi : g.quantizers) {
    const Quantizer& q = in.placement->quantizers[qi];
    if (q.kind != QuantizerKind::Weight) continue;
    auto it = cfg.quantizers.find(q.name);
    const Tensor& w = in.net->model.initializers.at(q.name);
    if (it == cfg.quantizers.end())
      qc.tensors[q.name] = w;  // float in this task
    else if (!it->second.integer_weights.empty())
      dequantize(it->second.integer_weights, w.shape, it->second.params, qc.tensors[q.name]);
    else
      fake_quantize(w, qc.tensors[q.name], it->second.params);
  }
  add_bias_constants(*in.net, cfg, qc);
  // A bias of the others (integer or corrected) the task undoes.
  for (const auto& [name, b] : others.biases)
    if (!qc.tensors.count(name)) qc.tensors[name] = in.net->model.initializers.at(name);
  for (const auto& [name, b] : others.corrected_biases)
    if (!qc.tensors.count(name)) qc.tensors[name] = in.net->model.initializers.at(name);
  return qc;
}

// Points the engine at `others`, then overrides with the task's constants and hooks. Both sets
// of constants outlive the group's engine and never change, so the engine keeps what its
// kernels derive from them while the tasks take turns batch after batch.
Status attach_task(Engine& e, const QuantConfig& cfg, const QuantizedConstants& base,
                   const QuantizedConstants& task) {
  e.reset_constants();
  if (auto st = attach_config(e, cfg, base, /*values_fixed=*/true); !st) return st;
  for (const auto& [name, t] : task.tensors)
    if (auto st = e.set_constant(name, &t, /*values_fixed=*/true); !st) return st;
  return Ok{};
}

// The first engine step the group's quantizers affect; `input` when a model input is in it.
std::size_t first_affected_step(const Engine& e, const SweepInputs& in, const SweepGroup& g,
                                bool& input) {
  std::size_t first = e.num_steps();
  input = false;
  for (std::size_t qi : g.quantizers) {
    const Quantizer& q = in.placement->quantizers[qi];
    if (q.kind == QuantizerKind::Weight) {
      first = std::min(first, e.first_reader_step(q.name));
    } else if (q.node == Quantizer::kNoNode) {
      input = true;
      first = 0;
    } else {
      first = std::min(first, e.producer_step(q.name));
    }
  }
  return first;
}

}  // namespace

std::int64_t count_tasks(const std::vector<SweepGroup>& groups) {
  std::int64_t n = 0;
  for (const auto& g : groups) n += static_cast<std::int64_t>(g.candidates.size());
  return n;
}

double eagl_score(const Network& net, const QuantizerPlacement& p, const SweepGroup& g,
                  const Candidate& c, const QuantConfig& cfg) {
  if (!c.weight.is_int()) return std::numeric_limits<double>::quiet_NaN();
  // Codes lie in [qmin, qmax] of the group's quantizers: one flat count per code.
  std::vector<double> counts;
  std::int64_t qmin = 0;
  double total = 0;
  for (std::size_t qi : g.quantizers) {
    const Quantizer& q = p.quantizers[qi];
    if (q.kind != QuantizerKind::Weight) continue;
    const Tensor& w = net.model.initializers.at(q.name);
    const QuantParams& qp = cfg.quantizers.at(q.name).params;
    if (counts.empty()) {
      qmin = qp.qmin;
      counts.assign(static_cast<std::size_t>(std::int64_t{qp.qmax} - qp.qmin + 1), 0.0);
    }
    assert(qp.qmin == qmin && qp.qmax - qp.qmin + 1 == static_cast<std::int64_t>(counts.size()));
    std::int64_t inner = w.size(), channels = 1;
    if (qp.per_channel()) {
      channels = w.shape[static_cast<std::size_t>(qp.axis)];
      inner = 1;
      for (std::size_t d = static_cast<std::size_t>(qp.axis) + 1; d < w.shape.size(); ++d)
        inner *= w.shape[d];
    }
    for (std::int64_t k = 0; k < w.size(); ++k) {
      const auto ch = static_cast<std::size_t>(qp.per_channel() ? (k / inner) % channels : 0);
      const float inv = 1.0f / qp.scale[ch];
      const auto code = std::clamp<std::int64_t>(
          static_cast<std::int64_t>(std::nearbyint(w.f[static_cast<std::size_t>(k)] * inv)) +
              qp.zero_point[ch],
          qp.qmin, qp.qmax);
      counts[static_cast<std::size_t>(code - qmin)] += 1;
      total += 1;
    }
  }
  if (total == 0) return std::numeric_limits<double>::quiet_NaN();
  double h = 0;
  for (const double n : counts)
    if (n > 0) h -= n / total * std::log2(n / total);
  return c.weight.bits - h;
}

namespace {

// What every task of a sweep shares, read-only: the others' configuration and constants, and the
// float model's inputs and outputs per batch.
struct SweepShared {
  QuantConfig others;
  QuantizedConstants base;
  std::vector<Tensor> inputs, reference;
};

Result<QuantConfig> others_config(const SweepInputs& in) {
  QuantConfig others;
  others.bias_mode = in.ranges.bias;
  if (in.mode != SweepMode::OthersBaseline) return others;
  std::map<std::string, NumberFormat> formats;
  for (const auto& g : in.groups)
    for (std::size_t qi : g.quantizers) {
      const Quantizer& q = in.placement->quantizers[qi];
      formats[q.name] = q.kind == QuantizerKind::Weight ? g.baseline.weight : g.baseline.activation;
    }
  auto cfg = calibrate_config(*in.net, *in.placement, formats, *in.stats, in.ranges);
  if (cfg && in.rounded) {  // the others at the baseline, AdaRounded too
    in.rounded->apply(*cfg);
    derive_biases(*in.net, *in.placement, *cfg);
  }
  return cfg;
}

Result<SweepShared> sweep_shared(const SweepInputs& in, std::int64_t count) {
  auto others = others_config(in);
  if (!others) return others.error();
  SweepShared sh;
  sh.others = std::move(others).value();
  sh.base = quantize_constants(*in.net, sh.others);
  auto e = Engine::create(*in.net);
  if (!e) return e.error();
  for (std::int64_t start = 0; start < count; start += in.batch) {
    auto b = in.samples->batch(start, std::min(in.batch, count - start));
    if (!b) return b.error();
    std::vector<Tensor> x{std::move(b).value()};
    auto y = e->run(x);
    if (!y) return make_error(in.samples->description + ": " + y.error().message);
    sh.reference.push_back(std::move(y->at(0)));
    sh.inputs.push_back(std::move(x[0]));
  }
  return sh;
}

// One group's tasks, prepared: their configurations and constants, and an engine to run them.
struct GroupTasks {
  std::vector<const Candidate*> candidates;
  std::vector<QuantConfig> cfgs;
  std::vector<QuantizedConstants> consts;
};

GroupTasks group_tasks(const SweepInputs& in, std::size_t gi, const TaskKeys& done,
                       const SweepShared& sh) {
  const SweepGroup& g = in.groups[gi];
  GroupTasks t;
  SettingCache settings;
  for (const auto& c : g.candidates)
    if (!done.count({gi, c})) {
      t.candidates.push_back(&c);
      t.cfgs.push_back(sweep_task_config(in, sh.others, g, c, &settings));
      t.consts.push_back(task_constants(in, t.cfgs.back(), g, sh.others));
    }
  return t;
}

// Runs every batch through the group's tasks, the prefix before the group's first quantizer once
// per batch, and sums each task's metrics.
Result<std::vector<MetricSums>> run_group(const SweepInputs& in, const SweepGroup& g,
                                          const GroupTasks& t, const SweepShared& sh) {
  // Created after the task constants, so it never outlives them (attach_task).
  auto engine = Engine::create(*in.net);
  if (!engine) return engine.error();
  bool input_group = false;
  const std::size_t first = first_affected_step(*engine, in, g, input_group);
  std::vector<MetricSums> sums(t.candidates.size());
  std::span<const std::int64_t> all_labels(in.samples->labels);
  for (std::size_t b = 0; b < sh.reference.size(); ++b) {
    const std::int64_t start = static_cast<std::int64_t>(b) * in.batch;
    const std::int64_t n = sh.reference[b].shape[0];
    std::span<const Tensor> x(&sh.inputs[b], 1);
    // The prefix: steps before the group's first quantizer, identical for every candidate.
    if (!input_group) {
      if (auto st = attach_task(*engine, t.cfgs[0], sh.base, t.consts[0]); !st) return st.error();
      if (auto st = engine->set_inputs(x); !st) return st.error();
      if (auto st = engine->run_steps(0, first); !st) return st.error();
    }
    for (std::size_t k = 0; k < t.candidates.size(); ++k) {
      if (auto st = attach_task(*engine, t.cfgs[k], sh.base, t.consts[k]); !st) return st.error();
      if (input_group)
        if (auto st = engine->set_inputs(x); !st) return st.error();
      if (auto st = engine->run_steps(first, engine->num_steps()); !st) return st.error();
      std::span<const std::int64_t> labels;
      if (!all_labels.empty())
        labels = all_labels.subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(n));
      sums[k].add(sh.reference[b], engine->outputs().at(0), labels);
    }
  }
  return sums;
}

TaskResult task_result(const SweepInputs& in, std::size_t gi, const GroupTasks& t, std::size_t k,
                       const MetricSums& sums, const SweepShared& sh) {
  TaskResult r;
  r.group = gi;
  r.candidate = *t.candidates[k];
  r.metrics = sums.finish(!in.samples->labels.empty());
  if (r.metrics.failed()) {
    // A broken task is recorded with its reason (it sorts as the most sensitive).
    const auto b = static_cast<std::size_t>(r.metrics.failed_batch_start / in.batch);
    r.metrics.failure =
        explain_nonfinite(*in.net, r.metrics.float_output_broken ? nullptr : &t.cfgs[k],
                          std::span<const Tensor>(&sh.inputs[b], 1), r.metrics.failure);
  }
  r.eagl = eagl_score(*in.net, *in.placement, in.groups[gi], r.candidate, t.cfgs[k]);
  return r;
}

}  // namespace

Result<std::vector<TaskResult>> run_sweep(const SweepInputs& in, const TaskKeys& done,
                                          const SweepCallbacks& cb) {
  if (in.fisher) return run_fisher_sweep(in, done, cb);
  const std::int64_t count =
      std::min(in.limit < 0 ? in.samples->count : in.limit, in.samples->count);
  if (count <= 0) return make_error(in.samples->description + ": no samples");
  // --threads sets a global_control, which the arena's concurrency does not reflect.
  const auto threads = std::min<std::size_t>(
      tbb::this_task_arena::max_concurrency(),
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
  const auto engines =
      static_cast<std::int64_t>(std::min(threads, std::max<std::size_t>(in.groups.size(), 1)));
  if (auto st = check_sweep_memory(*in.net, std::min(in.batch, count), count, engines,
                                   in.samples->description);
      !st)
    return st.error();
  const auto shared = sweep_shared(in, count);
  if (!shared) return shared.error();

  std::vector<std::vector<TaskResult>> per_group(in.groups.size());
  std::vector<std::string> errors(in.groups.size());
  std::mutex report;
  tbb::parallel_for(std::size_t{0}, in.groups.size(), [&](std::size_t gi) {
    const GroupTasks tasks = group_tasks(in, gi, done, *shared);
    if (tasks.candidates.empty()) return;
    const auto sums = run_group(in, in.groups[gi], tasks, *shared);
    if (!sums) return void(errors[gi] = sums.error().message);
    for (std::size_t k = 0; k < tasks.candidates.size(); ++k) {
      TaskResult r = task_result(in, gi, tasks, k, (*sums)[k], *shared);
      std::lock_guard lock(report);
      if (cb.task_done) cb.task_done(r);
      per_group[gi].push_back(std::move(r));
    }
  });
  for (std::size_t gi = 0; gi < errors.size(); ++gi)
    if (!errors[gi].empty())
      return make_error("sensitivity of group '" + in.groups[gi].name + "': " + errors[gi]);
  std::vector<TaskResult> all;
  for (auto& v : per_group)
    for (auto& r : v) all.push_back(std::move(r));
  return all;
}

}  // namespace mpq
