#include "calibration.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "engine.hpp"

namespace mpq {
namespace {

struct Extremes {
  float lo = std::numeric_limits<float>::infinity();
  float hi = -std::numeric_limits<float>::infinity();
};

Status run_all(Engine& engine, const SampleSource& samples, std::int64_t batch, std::int64_t count,
               std::int64_t pass, const Progress& progress) {
  std::vector<Tensor> in(1);
  for (std::int64_t start = 0; start < count; start += batch) {
    const std::int64_t n = std::min(batch, count - start);
    auto x = samples.batch(start, n);
    if (!x) return x.error();
    in[0] = std::move(x).value();
    auto out = engine.run(in);
    if (!out) return make_error(samples.description + ": " + out.error().message);
    if (progress) progress(pass * count + start + n, 2 * count);
  }
  return Ok{};
}

}  // namespace

Result<ActivationStats> collect_activation_stats(const Network& net,
                                                 const QuantizerPlacement& placement,
                                                 const SampleSource& samples, std::int64_t batch,
                                                 std::int64_t limit, const Progress& progress) {
  const std::int64_t count = limit < 0 ? samples.count : std::min(limit, samples.count);
  if (count <= 0) return make_error(samples.description + ": no samples to calibrate on");
  auto engine = Engine::create(net);
  if (!engine) return engine.error();
  std::map<std::string, Extremes> ext;
  for (const auto& q : placement.quantizers) {
    if (q.kind != QuantizerKind::Activation) continue;
    Extremes* e = &ext[q.name];
    auto st = engine->set_hook(q.name, [e](Tensor& t) {
      for (float v : t.f) {
        if (std::isnan(v)) continue;
        e->lo = std::min(e->lo, v);
        e->hi = std::max(e->hi, v);
      }
    });
    if (!st) return st.error();
  }
  if (auto st = run_all(*engine, samples, batch, count, 0, progress); !st) return st.error();

  ActivationStats stats;
  stats.samples = count;
  // Second pass: every observer of a tensor under one hook (an engine has one per tensor).
  std::map<std::string, std::vector<std::function<void(const Tensor&)>>> observers;
  for (auto& [name, e] : ext) {
    if (!std::isfinite(e.lo) || !std::isfinite(e.hi))
      return make_error("activation '" + name + "' has no finite values on " + samples.description +
                        "; it cannot be calibrated");
    Histogram* h = &(stats.histograms[name] = Histogram(e.lo, e.hi));
    observers[name].push_back([h](const Tensor& t) { h->add(t.f); });
  }
  for (const auto& q : placement.quantizers) {
    if (q.kind != QuantizerKind::Weight || q.node == Quantizer::kNoNode) continue;
    const OpNode* op = &net.model.nodes[q.node];
    const Shape shape = net.model.initializers.at(q.name).shape;
    if (!supports_input_moments(*op, shape) || op->inputs.empty() ||
        net.model.is_constant(op->inputs[0]))
      continue;
    InputMoments* m = &stats.weight_inputs[q.name];
    auto seen = std::make_shared<std::int64_t>(0);
    observers[op->inputs[0]].push_back([op, shape, m, seen](const Tensor& t) {
      if ((*seen >= kMomentSamples && m->well_determined()) || t.shape.empty()) return;
      *seen += t.shape[0];
      accumulate_input_moments(*op, shape, t, *m);
    });
  }
  for (auto& [name, list] : observers)
    if (auto st = engine->set_hook(name,
                                   // Clang 14 (the fuzz build) cannot capture a binding.
                                   [list = list](Tensor& t) {
                                     for (const auto& observe : list) observe(t);
                                   });
        !st)
      return st.error();
  if (auto st = run_all(*engine, samples, batch, count, 1, progress); !st) return st.error();
  return stats;
}

std::map<std::string, NumberFormat> uniform_formats(const QuantizerPlacement& placement,
                                                    const Candidate& c) {
  std::map<std::string, NumberFormat> f;
  for (const auto& q : placement.quantizers)
    f[q.name] = q.kind == QuantizerKind::Weight ? c.weight : c.activation;
  return f;
}

RangeMethod range_method_for(const Quantizer& q, NumberFormat format,
                             const RangeSettings& settings) {
  RangeRequest r;
  r.format = format;
  r.method = q.kind == QuantizerKind::Weight ? settings.weight_method : settings.activation_method;
  return effective_method(r);
}

QuantizerSetting calibrate_quantizer(const Network& net, const Quantizer& q, NumberFormat format,
                                     const ActivationStats& stats, const RangeSettings& settings) {
  QuantizerSetting s;
  s.kind = q.kind;
  RangeRequest r;
  r.format = format;
  r.percentile = settings.percentile;
  if (q.kind == QuantizerKind::Weight) {
    const Tensor& w = net.model.initializers.at(q.name);
    const int axis = settings.per_channel_weights && !format.is_block() ? q.channel_axis : -1;
    s.scheme = settings.weight_scheme;
    r.scheme = s.scheme;
    r.method = settings.weight_method;
    auto moments = stats.weight_inputs.find(q.name);
    for (const Range& range :
         weight_ranges(w.f, w.shape, axis, r,
                       moments == stats.weight_inputs.end() ? nullptr : &moments->second)) {
      s.range_min.push_back(range.lo);
      s.range_max.push_back(range.hi);
    }
    s.params = params_from_range(format, s.scheme, false, axis, s.range_min, s.range_max);
    set_block_axes(s.params, q);
    return s;
  }
  s.scheme = settings.activation_scheme;
  r.scheme = s.scheme;
  r.non_negative = q.non_negative;
  r.method = settings.activation_method;
  const Range range = activation_range(stats.histograms.at(q.name), r);
  s.range_min = {range.lo};
  s.range_max = {range.hi};
  s.params = params_from_range(format, s.scheme, q.non_negative, -1, s.range_min, s.range_max);
  set_block_axes(s.params, q);
  return s;
}

Result<QuantConfig> calibrate_config(const Network& net, const QuantizerPlacement& placement,
                                     const std::map<std::string, NumberFormat>& formats,
                                     const ActivationStats& stats, const RangeSettings& settings) {
  QuantConfig cfg;
  cfg.model = net.model.path;
  cfg.placement = placement_fingerprint(placement);
  cfg.bias_mode = settings.bias;
  for (const auto& [name, format] : formats) {
    const Quantizer* q = placement.find(name);
    if (!q) return make_error("quantizer '" + name + "' does not exist in the model");
    if (format.is_identity()) continue;
    if (q->kind == QuantizerKind::Activation && !stats.histograms.count(name))
      return make_error("activation '" + name + "' was not observed during calibration");
    cfg.quantizers[name] = calibrate_quantizer(net, *q, format, stats, settings);
  }
  cfg.notes["activation_range"] = range_method_name(settings.activation_method);
  cfg.notes["weight_range"] = range_method_name(settings.weight_method);
  cfg.notes["calibration_samples"] = std::to_string(stats.samples);
  derive_biases(net, placement, cfg);
  return cfg;
}

}  // namespace mpq
