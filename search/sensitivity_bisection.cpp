#include "sensitivity_bisection.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "front_search.hpp"

namespace mpq {
namespace {

MpConfig lowered_prefix(const MpProblem& p, const std::vector<Lowering>& order, std::size_t k) {
  MpConfig config = baseline_options(p);
  for (std::size_t i = 0; i < k; ++i)
    config[static_cast<std::size_t>(order[i].group)] = order[i].option;
  return config;
}

}  // namespace

Result<BisectionResult> sensitivity_bisection(const MpProblem& p, std::vector<Lowering> lowerings,
                                              MemoizedEvaluator& evaluate, double bound) {
  if (auto s = validate_problem(p); !s) return s.error();
  std::vector<bool> seen(p.groups.size(), false);
  for (const Lowering& l : lowerings) {
    if (auto s = validate_change(p, {l.group, l.option}); !s) return s.error();
    const auto g = static_cast<std::size_t>(l.group);
    if (seen[g]) return make_error("bisection: group " + std::to_string(g) + " is lowered twice");
    if (!std::isfinite(l.sensitivity))
      return make_error("bisection: group " + std::to_string(g) + " has a non-finite sensitivity");
    seen[g] = true;
  }
  std::sort(lowerings.begin(), lowerings.end(), [](const Lowering& a, const Lowering& b) {
    return a.sensitivity != b.sensitivity ? a.sensitivity < b.sensitivity : a.group < b.group;
  });
  // Prefix k (k = 0..L) is point k; point 0 is the baseline, point L the cheapest. A failed
  // evaluation reads as missing the bound, and is the bisection's error.
  std::optional<Evaluation> failed;
  const BoundSearchResult found = binary_search_bound(
      lowerings.size() + 1,
      [&](std::size_t k) {
        const Evaluation& e = evaluate(lowered_prefix(p, lowerings, k));
        if (!e.ok && !failed) failed = e;
        return e.ok ? e.value : std::numeric_limits<double>::quiet_NaN();
      },
      bound);
  if (failed) return make_error(failed->reason);
  BisectionResult r;
  r.met = found.met;
  r.lowered = found.point;
  r.config = lowered_prefix(p, lowerings, found.point);
  r.accuracy = found.accuracy;
  r.evaluations = found.evaluations;
  r.order = std::move(lowerings);
  return r;
}

}  // namespace mpq
