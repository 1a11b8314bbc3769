#pragma once
// Evaluating a configuration (running the quantized network over the evaluation set) is the
// expensive part of phase 2, so every search goes through this cache: the same configuration is
// never evaluated twice, and evaluations() counts the real calls.
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "mp_problem.hpp"

namespace mpq {

// A configuration's evaluation, as Timeloop reports one: it either worked and has a value (the
// accuracy, or any score where larger is better), or it did not and says why.
struct Evaluation {
  bool ok = false;
  std::string reason;  // why not, when !ok
  double value = 0;    // when ok

  static Evaluation of(double value) { return {true, {}, value}; }
  static Evaluation failed(std::string reason) { return {false, std::move(reason), 0}; }
};

using ConfigEvaluator = std::function<Evaluation(const MpConfig& config)>;

class MemoizedEvaluator {
 public:
  explicit MemoizedEvaluator(ConfigEvaluator evaluate) : evaluate_(std::move(evaluate)) {}

  const Evaluation& operator()(const MpConfig& config);
  std::size_t evaluations() const { return cache_.size(); }  // real calls to the evaluator
  std::size_t lookups() const { return lookups_; }           // calls to operator()

 private:
  ConfigEvaluator evaluate_;
  std::map<MpConfig, Evaluation> cache_;
  std::size_t lookups_ = 0;
};

}  // namespace mpq
