#include "front_search.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

namespace mpq {
namespace {

// Evaluates each index at most once and counts the distinct ones.
class CountingProbe {
 public:
  explicit CountingProbe(const PointAccuracy& accuracy_of) : accuracy_of_(accuracy_of) {}
  double operator()(std::size_t i) {
    auto it = seen_.find(i);
    if (it == seen_.end()) it = seen_.emplace(i, accuracy_of_(i)).first;
    return it->second;
  }
  std::size_t count() const { return seen_.size(); }

 private:
  const PointAccuracy& accuracy_of_;
  std::map<std::size_t, double> seen_;
};

enum class Probe : bool { Bisect, Interpolate };

// Brackets the boundary between the last point meeting the bound and the first one that does not,
// then narrows it with bisection or interpolation.
BoundSearchResult bracket_search(std::size_t n, const PointAccuracy& accuracy_of, double bound,
                                 Probe mode) {
  assert(n >= 1);
  CountingProbe probe(accuracy_of);
  auto result = [&](bool met, std::size_t point) {
    return BoundSearchResult{met, point, probe(point), probe.count()};
  };
  if (probe(n - 1) >= bound) return result(true, n - 1);
  if (n == 1 || !(probe(0) >= bound)) return result(false, 0);
  std::size_t lo = 0, hi = n - 1;  // probe(lo) meets the bound, probe(hi) does not
  bool bisect_next = mode == Probe::Bisect;
  while (hi - lo > 1) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (!bisect_next) {
      const double a_lo = probe(lo), a_hi = probe(hi);
      const double t = (a_lo - bound) / (a_lo - a_hi);  // where the line crosses the bound
      if (std::isfinite(t)) {
        const double at = static_cast<double>(lo) + std::floor(t * static_cast<double>(hi - lo));
        mid = static_cast<std::size_t>(
            std::clamp(at, static_cast<double>(lo + 1), static_cast<double>(hi - 1)));
      }
    }
    const std::size_t before = hi - lo;
    if (probe(mid) >= bound)
      lo = mid;
    else
      hi = mid;
    if (mode == Probe::Interpolate) bisect_next = 2 * (hi - lo) > before;
  }
  return result(true, lo);
}

// A front's points for the index searches: a failed evaluation reads as missing the bound (NaN),
// and the first failure becomes the search's error.
class FrontProbe {
 public:
  FrontProbe(const MpFront& front, MemoizedEvaluator& evaluate)
      : front_(front), evaluate_(evaluate) {}
  double operator()(std::size_t i) {
    const Evaluation& e = evaluate_(front_config(front_, i));
    if (e.ok) return e.value;
    if (!failed_) failed_ = e;
    return std::numeric_limits<double>::quiet_NaN();
  }
  Result<BoundSearchResult> outcome(const BoundSearchResult& r) const {
    if (failed_) return make_error(failed_->reason);
    return r;
  }

 private:
  const MpFront& front_;
  MemoizedEvaluator& evaluate_;
  std::optional<Evaluation> failed_;
};

Result<BoundSearchResult> search_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                       double bound, Probe mode) {
  FrontProbe probe(front, evaluate);
  const BoundSearchResult r = bracket_search(
      front.points.size(), [&](std::size_t i) { return probe(i); }, bound, mode);
  return probe.outcome(r);
}

}  // namespace

BoundSearchResult binary_search_bound(std::size_t n, const PointAccuracy& accuracy_of,
                                      double bound) {
  return bracket_search(n, accuracy_of, bound, Probe::Bisect);
}

BoundSearchResult interpolation_search_bound(std::size_t n, const PointAccuracy& accuracy_of,
                                             double bound) {
  return bracket_search(n, accuracy_of, bound, Probe::Interpolate);
}

Result<BoundSearchResult> binary_search_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                              double bound) {
  return search_front(front, evaluate, bound, Probe::Bisect);
}

Result<BoundSearchResult> interpolation_search_front(const MpFront& front,
                                                     MemoizedEvaluator& evaluate, double bound) {
  return search_front(front, evaluate, bound, Probe::Interpolate);
}

Result<BoundSearchResult> brute_force_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                            double bound) {
  const std::size_t n = front.points.size();
  assert(n >= 1);
  BoundSearchResult best{false, 0, 0.0, n};
  for (std::size_t i = 0; i < n; ++i) {
    const Evaluation& e = evaluate(front_config(front, i));
    if (!e.ok) return make_error(e.reason);
    if (i == 0) best.accuracy = e.value;
    if (!(e.value >= bound)) continue;
    const double cost = front.points[i].cost, best_cost = front.points[best.point].cost;
    if (!best.met || cost < best_cost || (cost == best_cost && e.value > best.accuracy))
      best = {true, i, e.value, n};
  }
  return best;
}

Result<BoundSearchResult> first_meeting_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                              double bound) {
  const std::size_t n = front.points.size();
  assert(n >= 1);
  for (std::size_t i = 0; i < n; ++i) {
    const Evaluation& e = evaluate(front_config(front, i));
    if (!e.ok) return make_error(e.reason);
    if (e.value >= bound) return BoundSearchResult{true, i, e.value, i + 1};
  }
  return BoundSearchResult{false, n - 1, evaluate(front_config(front, n - 1)).value, n};
}

}  // namespace mpq
