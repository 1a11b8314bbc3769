#include "sensitivity_sweep.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "sim/nonfinite.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {}  // namespace

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
    if (it == cfg.quantizers.end())
      qc.tensors[q.name] = in.net->model.initializers.at(q.name);  // float in this task
    else
      fake_quantize(in.net->model.initializers.at(q.name), qc.tensors[q.name], it->second.params);
  }
  for (const auto& [name, b] : cfg.biases)
    quantize_bias(in.net->model.initializers.at(name), b, qc.tensors[name]);
  for (const auto& [name, b] : others.biases)  // an int32 bias of the others the task undoes
    if (!cfg.biases.count(name)) qc.tensors[name] = in.net->model.initializers.at(name);
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

Result<std::vector<TaskResult>> run_sweep(const SweepInputs& in, const TaskKeys& done,
                                          const SweepCallbacks& cb) {
  const Network& net = *in.net;
  const std::int64_t count =
      std::min(in.limit < 0 ? in.samples->count : in.limit, in.samples->count);
  if (count <= 0) return make_error(in.samples->description + ": no samples");

  // The others' configuration (and its constants), shared read-only by every task.
  QuantConfig others;
  others.bias_mode = in.ranges.bias;
  if (in.mode == SweepMode::OthersBaseline) {
    std::map<std::string, NumberFormat> formats;
    for (const auto& g : in.groups)
      for (std::size_t qi : g.quantizers) {
        const Quantizer& q = in.placement->quantizers[qi];
        formats[q.name] =
            q.kind == QuantizerKind::Weight ? g.baseline.weight : g.baseline.activation;
      }
    auto cfg = calibrate_config(net, *in.placement, formats, *in.stats, in.ranges);
    if (!cfg) return cfg.error();
    others = std::move(cfg).value();
  }
  const QuantizedConstants base = quantize_constants(net, others);

  // Float reference outputs, once.
  std::vector<Tensor> reference;
  std::vector<Tensor>
      inputs_of_batch;  // kept: re-reading samples costs little, but this is simpler
  {
    auto e = Engine::create(net);
    if (!e) return e.error();
    for (std::int64_t start = 0; start < count; start += in.batch) {
      const std::int64_t n = std::min(in.batch, count - start);
      std::vector<Tensor> x{in.samples->batch(start, n)};
      auto y = e->run(x);
      if (!y) return make_error(in.samples->description + ": " + y.error().message);
      reference.push_back(std::move(y->at(0)));
      inputs_of_batch.push_back(std::move(x[0]));
    }
  }

  std::vector<std::vector<TaskResult>> per_group(in.groups.size());
  std::vector<std::string> errors(in.groups.size());
  std::mutex report;
  tbb::parallel_for(std::size_t{0}, in.groups.size(), [&](std::size_t gi) {
    const SweepGroup& g = in.groups[gi];
    std::vector<const Candidate*> todo;
    for (const auto& c : g.candidates)
      if (!done.count({gi, c})) todo.push_back(&c);
    if (todo.empty()) return;
    std::vector<QuantConfig> cfgs;
    std::vector<QuantizedConstants> consts;
    SettingCache settings;
    for (const Candidate* c : todo) {
      cfgs.push_back(sweep_task_config(in, others, g, *c, &settings));
      consts.push_back(task_constants(in, cfgs.back(), g, others));
    }
    // Created after the task constants, so it never outlives them (attach_task).
    auto engine = Engine::create(net);
    if (!engine) {
      errors[gi] = engine.error().message;
      return;
    }
    bool input_group = false;
    const std::size_t first = first_affected_step(*engine, in, g, input_group);
    std::vector<MetricSums> sums(todo.size());
    std::span<const std::int64_t> all_labels(in.samples->labels);
    for (std::size_t b = 0; b < reference.size(); ++b) {
      const std::int64_t start = static_cast<std::int64_t>(b) * in.batch;
      const std::int64_t n = reference[b].shape[0];
      std::span<const Tensor> x(&inputs_of_batch[b], 1);
      // The prefix: steps before the group's first quantizer, identical for every candidate.
      if (!input_group) {
        if (auto st = attach_task(*engine, cfgs[0], base, consts[0]); !st) {
          errors[gi] = st.error().message;
          return;
        }
        if (auto st = engine->set_inputs(x); !st) return void(errors[gi] = st.error().message);
        if (auto st = engine->run_steps(0, first); !st)
          return void(errors[gi] = st.error().message);
      }
      for (std::size_t t = 0; t < todo.size(); ++t) {
        if (auto st = attach_task(*engine, cfgs[t], base, consts[t]); !st)
          return void(errors[gi] = st.error().message);
        if (input_group)
          if (auto st = engine->set_inputs(x); !st) return void(errors[gi] = st.error().message);
        if (auto st = engine->run_steps(first, engine->num_steps()); !st)
          return void(errors[gi] = st.error().message);
        const auto out = engine->outputs();
        std::span<const std::int64_t> labels;
        if (!all_labels.empty())
          labels = all_labels.subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(n));
        sums[t].add(reference[b], out.at(0), labels);
      }
    }
    for (std::size_t t = 0; t < todo.size(); ++t) {
      TaskResult r;
      r.group = gi;
      r.candidate = *todo[t];
      r.metrics = sums[t].finish(!all_labels.empty());
      if (r.metrics.failed()) {
        // A broken task is recorded with its reason (it sorts as the most sensitive).
        const auto b = static_cast<std::size_t>(r.metrics.failed_batch_start / in.batch);
        r.metrics.failure =
            explain_nonfinite(net, r.metrics.float_output_broken ? nullptr : &cfgs[t],
                              std::span<const Tensor>(&inputs_of_batch[b], 1), r.metrics.failure);
      }
      r.eagl = eagl_score(net, *in.placement, g, *todo[t], cfgs[t]);
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
