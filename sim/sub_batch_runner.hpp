#pragma once
// FP32 inference of a batch as independent sub-batches, one engine per worker thread. Each
// thread then keeps its images' activations in its own cache, instead of every op of a large
// batch being split across the threads (and its data moving between cores from op to op).
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "engine.hpp"

namespace mpq {

class SubBatchRunner {
 public:
  // Fixed, whatever the thread count, so that the results are too (kernels may take another
  // path, and so round differently, at another batch size).
  static constexpr std::int64_t kSubBatch = 8;

  // Fails when the network mixes the images of a batch (check_images_independent's reason).
  // `net` must outlive the runner.
  static Result<SubBatchRunner> create(const Network& net);

  // As Engine::run: inputs in net.model.inputs order, each with the batch in axis 0.
  Result<std::vector<Tensor>> run(std::span<const Tensor> inputs);

 private:
  Result<Engine*> take_engine();
  // Runs on an idle engine (a new one when none is), which is idle again afterwards.
  Result<std::vector<Tensor>> run_on_idle_engine(std::span<const Tensor> inputs);
  const Network* net_ = nullptr;
  std::vector<std::unique_ptr<Engine>> engines_;  // created as threads need them
  std::vector<Engine*> idle_;
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
};

}  // namespace mpq
