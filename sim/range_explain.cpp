#include "range_explain.hpp"

#include <algorithm>

namespace mpq {
namespace {

// Share of the histogram's values outside [lo, hi], in percent (bins by their centers).
double clipped_percent(const Histogram& h, float lo, float hi) {
  const double total = h.total();
  if (total <= 0) return 0;
  double out = 0;
  for (int k = 0; k < Histogram::kBins; ++k) {
    const double x = h.bin_center(k);
    if (x < lo || x > hi) out += h.counts[static_cast<std::size_t>(k)];
  }
  return 100.0 * out / total;
}

void explain_weight(const Tensor& w, const QuantizerSetting& s, RangeChoice& c) {
  const auto [mn, mx] = std::minmax_element(w.f.begin(), w.f.end());
  c.observed_lo = w.f.empty() ? 0.0f : *mn;
  c.observed_hi = w.f.empty() ? 0.0f : *mx;
  c.lo = *std::min_element(s.range_min.begin(), s.range_min.end());
  c.hi = *std::max_element(s.range_max.begin(), s.range_max.end());
  c.channels = static_cast<int>(s.range_min.size());
  std::int64_t inner = w.size(), channels = 1;
  const int axis = s.params.axis;
  if (axis >= 0) {
    channels = w.shape[static_cast<std::size_t>(axis)];
    inner = 1;
    for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < w.shape.size(); ++d)
      inner *= w.shape[d];
  }
  std::vector<bool> narrowed(static_cast<std::size_t>(channels), false);
  std::int64_t clipped = 0;
  for (std::int64_t k = 0; k < w.size(); ++k) {
    const auto ch = static_cast<std::size_t>(axis >= 0 ? (k / inner) % channels : 0);
    const float v = w.f[static_cast<std::size_t>(k)];
    if (v < s.range_min[ch] || v > s.range_max[ch]) ++clipped, narrowed[ch] = true;
  }
  c.channels_clipped = static_cast<int>(std::count(narrowed.begin(), narrowed.end(), true));
  c.clipped_percent =
      w.size() ? 100.0 * static_cast<double>(clipped) / static_cast<double>(w.size()) : 0.0;
}

}  // namespace

std::vector<RangeChoice> explain_ranges(const Network& net, const QuantizerPlacement& placement,
                                        const QuantConfig& cfg, const ActivationStats& stats,
                                        const RangeSettings& settings) {
  std::vector<RangeChoice> rows;
  for (const Quantizer& q : placement.quantizers) {
    auto it = cfg.quantizers.find(q.name);
    if (it == cfg.quantizers.end()) continue;
    const QuantizerSetting& s = it->second;
    RangeChoice c;
    c.quantizer = q.name;
    c.kind = q.kind;
    c.format = s.params.format.name();
    c.method = range_method_for(q, s.params.format, settings);
    if (c.method == RangeMethod::Enhanced)
      c.basis = q.kind == QuantizerKind::Weight && stats.weight_inputs.count(q.name) &&
                        stats.weight_inputs.at(q.name).well_determined() &&
                        settings.per_channel_weights
                    ? "output error"
                    : "clip x3";
    if (q.kind == QuantizerKind::Weight) {
      explain_weight(net.model.initializers.at(q.name), s, c);
    } else {
      const Histogram& h = stats.histograms.at(q.name);
      c.lo = s.range_min.at(0);
      c.hi = s.range_max.at(0);
      c.observed_lo = h.lo;
      c.observed_hi = h.hi;
      c.clipped_percent = clipped_percent(h, c.lo, c.hi);
    }
    rows.push_back(std::move(c));
  }
  return rows;
}

}  // namespace mpq
