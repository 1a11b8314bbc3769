#pragma once
// What a run will hold before it runs: the engine keeps every value of the network (weights,
// and each activation at the batch size), so its peak is known from the shapes at batch 1 and
// is checked against the memory budget (core/memory_budget.hpp) before anything is allocated.
#include <cstdint>
#include <string>

#include "core/result.hpp"
#include "graph/network.hpp"

namespace mpq {

struct MemoryPlan {
  std::int64_t weight_bytes = 0;
  std::int64_t activation_bytes_per_sample = 0;  // every non-constant value at batch 1
  std::string largest;                           // the largest activation
  std::int64_t largest_bytes_per_sample = 0;
  std::int64_t io_bytes_per_sample = 0;  // the model's inputs and outputs at batch 1

  // Weights plus `batch` samples of activations; -1 when that overflows.
  std::int64_t bytes_at(std::int64_t batch) const;
};

// From the shapes the dry run recorded (Network::shapes).
MemoryPlan memory_plan(const Network& net);

// An error naming the batch, the bytes and the largest tensor when a run at `batch` would
// exceed the budget. `what` says whose batch ("--data fashion-mnist:test").
Status check_batch_memory(const Network& net, std::int64_t batch, const std::string& what);

// Phase 1's sweep holds the inputs and float outputs of all `samples`, the weights twice (float
// and quantized) and `engines` engines' activations at `batch`: an error when that exceeds the
// budget, saying which of threads, batch and samples to lower.
Status check_sweep_memory(const Network& net, std::int64_t batch, std::int64_t samples,
                          std::int64_t engines, const std::string& what);

// Before the dry run at batch 1: the inputs and every intermediate ONNX's shape inference
// sized (Model::value_info), dynamic dimensions counted as 1.
Status check_dry_run_memory(const Model& model);

}  // namespace mpq
