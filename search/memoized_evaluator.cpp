#include "memoized_evaluator.hpp"

namespace mpq {

double MemoizedEvaluator::operator()(const MpConfig& config) {
  ++lookups_;
  if (auto it = cache_.find(config); it != cache_.end()) return it->second;
  const double value = evaluate_(config);
  cache_.emplace(config, value);
  return value;
}

}  // namespace mpq
