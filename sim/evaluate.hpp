#pragma once
// Top-1 accuracy of a model over labeled samples, streamed in batches.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "engine.hpp"
#include "sample_source.hpp"

namespace mpq {

struct Accuracy {
  std::int64_t correct = 0, total = 0;
  double percent() const { return total ? 100.0 * static_cast<double>(correct) / total : 0.0; }
};

// Runs one batch of inputs: Engine::run or SubBatchRunner::run.
using BatchRun = std::function<Result<std::vector<Tensor>>(std::span<const Tensor>)>;

// `progress(done, total)` is called after each batch when given.
Result<Accuracy> evaluate_accuracy(
    const BatchRun& run, const SampleSource& samples, std::int64_t batch,
    const std::function<void(std::int64_t, std::int64_t)>& progress = {});

// Index of the largest value in each row of a [N, C] tensor (first on ties).
std::vector<std::int64_t> argmax_rows(const Tensor& logits);

}  // namespace mpq
