#include "memory_plan.hpp"

#include "core/memory_budget.hpp"

namespace mpq {
namespace {

std::int64_t element_size(DType t) {
  return t == DType::Float32 ? 4 : 8;
}

// Elements of `shape` with unknown dimensions as 1; -1 on overflow.
std::int64_t elements(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    const std::int64_t k = d < 0 ? 1 : d;
    if (k != 0 && n > (std::int64_t{1} << 62) / k) return -1;
    n *= k;
  }
  return n;
}

std::int64_t add(std::int64_t a, std::int64_t b) {
  return a < 0 || b < 0 || a > (std::int64_t{1} << 62) - b ? -1 : a + b;
}

}  // namespace

std::int64_t MemoryPlan::bytes_at(std::int64_t batch) const {
  return add(weight_bytes, checked_bytes(activation_bytes_per_sample, batch));
}

MemoryPlan memory_plan(const Network& net) {
  MemoryPlan p;
  for (const auto& [name, t] : net.model.initializers)
    p.weight_bytes = add(p.weight_bytes, checked_bytes(t.size(), element_size(t.dtype)));
  const auto io_bytes = [&](const ValueInfo& v) {
    const auto shape = net.shapes.find(v.name);
    if (shape == net.shapes.end()) return;
    p.io_bytes_per_sample =
        add(p.io_bytes_per_sample, checked_bytes(elements(shape->second), element_size(v.dtype)));
  };
  for (const auto& v : net.model.inputs) io_bytes(v);
  for (const auto& v : net.model.outputs) io_bytes(v);
  for (const auto& [name, shape] : net.shapes) {
    if (net.model.is_constant(name)) continue;
    const auto dt = net.dtypes.find(name);
    const std::int64_t bytes = checked_bytes(
        elements(shape), element_size(dt == net.dtypes.end() ? DType::Float32 : dt->second));
    p.activation_bytes_per_sample = add(p.activation_bytes_per_sample, bytes);
    if (bytes < 0 || bytes > p.largest_bytes_per_sample) {
      p.largest = name;
      p.largest_bytes_per_sample = bytes;
    }
  }
  return p;
}

Status check_batch_memory(const Network& net, std::int64_t batch, const std::string& what) {
  const MemoryPlan p = memory_plan(net);
  auto st =
      check_memory(p.bytes_at(batch), what + ": a run in batches of " + std::to_string(batch) +
                                          " (" + byte_size_text(p.weight_bytes) + " of weights, " +
                                          byte_size_text(p.activation_bytes_per_sample) +
                                          " of activations per sample, the largest '" + p.largest +
                                          "' " + byte_size_text(p.largest_bytes_per_sample) + ")");
  if (st) return st;
  return make_error(st.error().message + "; use a smaller batch (--batch)");
}

Status check_sweep_memory(const Network& net, std::int64_t batch, std::int64_t samples,
                          std::int64_t engines, const std::string& what) {
  const MemoryPlan p = memory_plan(net);
  const std::int64_t per_engine = checked_bytes(p.activation_bytes_per_sample, batch);
  const std::int64_t bytes =
      add(add(checked_bytes(p.weight_bytes, 2), checked_bytes(p.io_bytes_per_sample, samples)),
          checked_bytes(per_engine, engines));
  auto st = check_memory(
      bytes, what + ": phase 1 over " + std::to_string(samples) + " samples with " +
                 std::to_string(engines) + " engines in flight at batch " + std::to_string(batch) +
                 " (" + byte_size_text(per_engine) + " of activations each, the largest '" +
                 p.largest + "' " + byte_size_text(p.largest_bytes_per_sample) + " per sample)");
  if (st) return st;
  return make_error(st.error().message +
                    "; use fewer --threads, a smaller --batch or fewer --samples");
}

Status check_dry_run_memory(const Model& model) {
  std::int64_t total = 0, largest_bytes = 0;
  std::string largest;
  const auto count = [&](const ValueInfo& v) {
    if (!v.has_shape) return;
    const std::int64_t bytes = checked_bytes(elements(v.dims), element_size(v.dtype));
    total = add(total, bytes);
    if (bytes < 0 || bytes > largest_bytes) {
      largest = v.name;
      largest_bytes = bytes;
    }
  };
  for (const auto& v : model.inputs) count(v);
  for (const auto& v : model.outputs) count(v);
  for (const auto& [name, v] : model.value_info) count(v);
  auto st = check_memory(total, "the model at batch 1 (shape inference)");
  if (st) return st;
  return make_error(st.error().message + "; the largest tensor is '" + largest + "' (" +
                    byte_size_text(largest_bytes) + "): check the input shapes (--input-shape)");
}

}  // namespace mpq
