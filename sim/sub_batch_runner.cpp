#include "sub_batch_runner.hpp"

#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cassert>

#include "image_independence.hpp"

namespace mpq {
namespace {

// Rows [begin, begin + n) of a tensor whose axis 0 is the batch.
Tensor rows_of(const Tensor& t, std::int64_t begin, std::int64_t n) {
  Tensor r;
  r.dtype = t.dtype;
  r.shape = t.shape;
  r.shape[0] = n;
  const std::int64_t row = t.shape[0] ? t.size() / t.shape[0] : 0;
  if (t.is_float())
    r.f.assign(t.f.begin() + begin * row, t.f.begin() + (begin + n) * row);
  else
    r.i.assign(t.i.begin() + begin * row, t.i.begin() + (begin + n) * row);
  return r;
}

}  // namespace

Result<SubBatchRunner> SubBatchRunner::create(const Network& net) {
  if (auto st = check_images_independent(net); !st) return st.error();
  SubBatchRunner r;
  r.net_ = &net;
  return r;
}

Result<Engine*> SubBatchRunner::take_engine() {
  const std::lock_guard lock(*mu_);
  if (idle_.empty()) {
    auto e = Engine::create(*net_);
    if (!e) return e.error();
    engines_.push_back(std::make_unique<Engine>(std::move(e).value()));
    return engines_.back().get();
  }
  Engine* e = idle_.back();
  idle_.pop_back();
  return e;
}

Result<std::vector<Tensor>> SubBatchRunner::run_on_idle_engine(std::span<const Tensor> inputs) {
  auto engine = take_engine();
  if (!engine) return engine.error();
  auto out = (*engine)->run(inputs);
  const std::lock_guard lock(*mu_);
  idle_.push_back(*engine);
  return out;
}

Result<std::vector<Tensor>> SubBatchRunner::run(std::span<const Tensor> inputs) {
  if (inputs.empty() || inputs[0].shape.empty())
    return make_error("the inputs have no batch dimension");
  const std::int64_t batch = inputs[0].shape[0];
  for (const Tensor& t : inputs)
    if (t.shape.empty() || t.shape[0] != batch)
      return make_error("the inputs' batch sizes differ (" + shape_str(inputs[0].shape) + ", " +
                        shape_str(t.shape) + ")");
  const std::int64_t parts = std::max<std::int64_t>(1, (batch + kSubBatch - 1) / kSubBatch);
  if (parts == 1) return run_on_idle_engine(inputs);  // as they are, no copies in or out
  std::vector<Result<std::vector<Tensor>>> outs(static_cast<std::size_t>(parts),
                                                make_error("not run"));
  tbb::parallel_for(
      std::int64_t{0}, parts,
      [&](std::int64_t p) {
        // Isolated: a thread waiting inside this part's kernels runs only this part's tasks,
        // never another part on top of it.
        tbb::this_task_arena::isolate([&] {
          const std::int64_t begin = p * kSubBatch;
          const std::int64_t n = std::min(kSubBatch, batch - begin);
          std::vector<Tensor> part;
          part.reserve(inputs.size());
          for (const Tensor& t : inputs) part.push_back(rows_of(t, begin, n));
          outs[static_cast<std::size_t>(p)] = run_on_idle_engine(part);
        });
      },
      tbb::simple_partitioner());
  for (auto& o : outs)
    if (!o) return o.error();  // the first failing part, whatever the thread count
  std::vector<Tensor> joined;
  for (std::size_t k = 0; k < outs[0]->size(); ++k) {
    Tensor t;
    t.dtype = (*outs[0])[k].dtype;
    t.shape = (*outs[0])[k].shape;
    t.shape[0] = batch;
    for (const auto& o : outs) {
      const Tensor& part = (*o)[k];
      assert(!part.shape.empty());  // check_images_independent: every output per image
      t.f.insert(t.f.end(), part.f.begin(), part.f.end());
      t.i.insert(t.i.end(), part.i.begin(), part.i.end());
    }
    joined.push_back(std::move(t));
  }
  return joined;
}

}  // namespace mpq
