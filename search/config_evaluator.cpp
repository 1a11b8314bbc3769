#include "config_evaluator.hpp"

#include <cmath>
#include <limits>

#include "sim/evaluate.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {

std::string assignment_key(const FormatAssignment& formats) {
  std::string key;
  for (const auto& f : formats) {
    key += f.name();
    key += ',';
  }
  return key;
}

AssignmentEvaluator::AssignmentEvaluator(const Network& net, const QuantizerPlacement& placement,
                                         const ActivationStats& stats, RangeSettings ranges,
                                         const SampleSource& samples, std::int64_t batch,
                                         std::int64_t limit, const RoundedWeights* rounded)
    : net_(net),
      placement_(placement),
      stats_(stats),
      ranges_(ranges),
      samples_(samples),
      batch_(batch),
      count_(limit < 0 ? samples.count : std::min(limit, samples.count)),
      rounded_(rounded) {}

Status AssignmentEvaluator::prepare_reference() {
  if (!reference_.empty()) return Ok{};
  auto e = Engine::create(net_);
  if (!e) return e.error();
  std::int64_t correct = 0;
  for (std::int64_t start = 0; start < count_; start += batch_) {
    const std::int64_t n = std::min(batch_, count_ - start);
    auto b = samples_.batch(start, n);
    if (!b) return b.error();
    std::vector<Tensor> x{std::move(b).value()};
    auto y = e->run(x);
    if (!y) return make_error(samples_.description + ": " + y.error().message);
    if (labeled()) {
      const auto top = argmax_rows(y->at(0));
      for (std::int64_t k = 0; k < n; ++k)
        correct += top[static_cast<std::size_t>(k)] ==
                   samples_.labels[static_cast<std::size_t>(start + k)];
    }
    reference_.push_back(std::move(y->at(0)));
    inputs_.push_back(std::move(x[0]));
  }
  float_accuracy_ = labeled() ? 100.0 * static_cast<double>(correct) / static_cast<double>(count_)
                              : std::numeric_limits<double>::quiet_NaN();
  return Ok{};
}

QuantConfig AssignmentEvaluator::config_of(const FormatAssignment& formats) {
  QuantConfig cfg;
  cfg.model = net_.model.path;
  cfg.placement = placement_fingerprint(placement_);
  cfg.bias_mode = ranges_.bias;
  for (std::size_t q = 0; q < formats.size(); ++q) {
    if (formats[q].is_identity()) continue;
    const Quantizer& qz = placement_.quantizers[q];
    auto key = std::make_pair(q, formats[q].name());
    auto it = settings_.find(key);
    if (it == settings_.end())
      it = settings_.emplace(key, calibrate_quantizer(net_, qz, formats[q], stats_, ranges_)).first;
    cfg.quantizers[qz.name] = it->second;
  }
  if (rounded_) {
    rounded_->apply(cfg);
    cfg.notes["weight_rounding"] = "adaround (per weight and format, float-network inputs)";
  }
  derive_biases(net_, placement_, cfg);
  cfg.notes["activation_range"] = range_method_name(ranges_.activation_method);
  cfg.notes["weight_range"] = range_method_name(ranges_.weight_method);
  cfg.notes["calibration_samples"] = std::to_string(stats_.samples);
  return cfg;
}

Result<QuantMetrics> AssignmentEvaluator::evaluate(const FormatAssignment& formats) {
  const std::string key = assignment_key(formats);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  if (auto st = prepare_reference(); !st) return st.error();
  const QuantConfig cfg = config_of(formats);
  const QuantizedConstants constants = quantize_constants(net_, cfg);
  auto engine = Engine::create(net_);
  if (!engine) return engine.error();
  if (auto st = attach_config(*engine, cfg, constants); !st) return st.error();
  MetricSums sums;
  std::span<const std::int64_t> labels(samples_.labels);
  for (std::size_t b = 0; b < inputs_.size(); ++b) {
    auto y = engine->run(std::span<const Tensor>(&inputs_[b], 1));
    if (!y) return y.error();
    const std::int64_t n = reference_[b].shape[0];
    const auto start = static_cast<std::size_t>(b) * static_cast<std::size_t>(batch_);
    sums.add(reference_[b], y->at(0),
             labels.empty() ? labels : labels.subspan(start, static_cast<std::size_t>(n)));
  }
  const QuantMetrics m = sums.finish(labeled());
  cache_[key] = m;
  return m;
}

}  // namespace mpq
