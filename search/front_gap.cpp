#include "front_gap.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <sstream>

namespace mpq {

std::vector<PointGap> front_gap(const MpFront& front, const std::vector<PricedConfig>& truth) {
  std::vector<PointGap> gaps;
  gaps.reserve(front.points.size());
  for (const FrontPoint& point : front.points) {
    // A running-sum cost may sit an ulp below the exact cost of the same configuration.
    const double tolerance = 1e-12 * std::max(1.0, std::abs(point.cost));
    const auto best = best_within(truth, point.cost + tolerance);
    assert(best.has_value());
    gaps.push_back({point.cost, point.loss, best ? best->loss : point.loss});
  }
  return gaps;
}

std::vector<PointGap> coverage_gap(const MpFront& front, const std::vector<PricedConfig>& truth) {
  std::vector<PointGap> gaps;
  gaps.reserve(truth.size());
  for (const PricedConfig& t : truth) {
    const double tolerance = 1e-12 * std::max(1.0, std::abs(t.cost));
    bool found = false;
    double best = 0;
    for (const FrontPoint& point : front.points)
      if (point.cost <= t.cost + tolerance && (!found || point.loss < best))
        best = point.loss, found = true;
    if (found) gaps.push_back({t.cost, best, t.loss});
  }
  return gaps;
}

GapSummary summarize_gap(const std::vector<PointGap>& gaps) {
  GapSummary s;
  s.points = gaps.size();
  double scale = 0;
  for (const PointGap& g : gaps) scale = std::max(scale, g.loss);
  double sum = 0;
  for (const PointGap& g : gaps) {
    const double gap = std::max(0.0, g.gap());
    if (gap <= 1e-12 * std::max(1.0, scale)) ++s.on_true_front;
    s.max_gap = std::max(s.max_gap, gap);
    if (g.loss > 0) s.max_relative_gap = std::max(s.max_relative_gap, gap / g.loss);
    sum += gap;
  }
  if (!gaps.empty()) s.mean_gap = sum / static_cast<double>(gaps.size());
  return s;
}

std::string describe_gap(const GapSummary& s) {
  std::ostringstream out;
  out << s.on_true_front << "/" << s.points << " points with zero gap, max gap " << s.max_gap
      << " (" << 100 * s.max_relative_gap << "% of the point's loss), mean gap " << s.mean_gap;
  return out.str();
}

}  // namespace mpq
