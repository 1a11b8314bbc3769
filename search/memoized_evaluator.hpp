#pragma once
// Evaluating a configuration (running the quantized network over the evaluation set) is the
// expensive part of phase 2, so every search goes through this cache: the same configuration is
// never evaluated twice, and evaluations() counts the real calls.
#include <cstddef>
#include <functional>
#include <map>

#include "mp_problem.hpp"

namespace mpq {

// The evaluated accuracy (or any score where larger is better) of a configuration.
using ConfigEvaluator = std::function<double(const MpConfig& config)>;

class MemoizedEvaluator {
 public:
  explicit MemoizedEvaluator(ConfigEvaluator evaluate) : evaluate_(std::move(evaluate)) {}

  double operator()(const MpConfig& config);
  std::size_t evaluations() const { return cache_.size(); }  // real calls to the evaluator
  std::size_t lookups() const { return lookups_; }           // calls to operator()

 private:
  ConfigEvaluator evaluate_;
  std::map<MpConfig, double> cache_;
  std::size_t lookups_ = 0;
};

}  // namespace mpq
