#include "memoized_evaluator.hpp"

namespace mpq {

const Evaluation& MemoizedEvaluator::operator()(const MpConfig& config) {
  ++lookups_;
  if (auto it = cache_.find(config); it != cache_.end()) return it->second;
  return cache_.emplace(config, evaluate_(config)).first->second;
}

}  // namespace mpq
