// Index-driven gathers: Gather, GatherElements, GatherND (registered by register_movement_ops).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graph/network.hpp"
#include "sim/op_registry.hpp"
#include "sim/ops/broadcast.hpp"
#include "sim/ops/grad_util.hpp"
#include "sim/ops/index_copy.hpp"

namespace mpq {
namespace {

using ops::allocate_for_overwrite;
using ops::visit_data;

// Index value `v` into an axis of size `dim`, with negative indices counting from the end.
std::int64_t checked_index(std::int64_t v, std::int64_t dim) {
  const std::int64_t k = v < 0 ? v + dim : v;
  if (k < 0 || k >= dim)
    throw OpError("index " + std::to_string(v) + " is out of range for axis size " +
                  std::to_string(dim));
  return k;
}

void run_gather(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const Tensor& ind = require(in, 1, "indices");
  if (x.rank() == 0) throw OpError("data must have rank >= 1");
  const std::int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), x.rank());
  const auto ax = static_cast<std::size_t>(axis);
  const std::int64_t dim = x.shape[ax];
  std::vector<std::int64_t> idx = ind.to_ints();
  for (auto& v : idx) v = checked_index(v, dim);

  Shape os(x.shape.begin(), x.shape.begin() + axis);
  os.insert(os.end(), ind.shape.begin(), ind.shape.end());
  os.insert(os.end(), x.shape.begin() + axis + 1, x.shape.end());
  allocate_for_overwrite(out[0], x.dtype, os);
  const std::int64_t outer = numel(std::span<const std::int64_t>(x.shape.data(), ax));
  const std::int64_t inner =
      numel(std::span<const std::int64_t>(x.shape.data() + ax + 1, x.shape.size() - ax - 1));
  const auto n = static_cast<std::int64_t>(idx.size());
  visit_data(x, out[0], [&](auto src, auto dst) {
    ops::parallel_chunks(
        outer * n,
        [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t t = begin; t < end; ++t) {
            const std::int64_t o = t / n, j = t % n;
            std::copy_n(src.data() + (o * dim + idx[static_cast<std::size_t>(j)]) * inner, inner,
                        dst.data() + t * inner);
          }
        },
        std::max<std::int64_t>(1, ops::kParallelGrain / std::max<std::int64_t>(inner, 1)));
  });
}

void run_gather_elements(const OpContext& ctx, std::span<const Tensor* const> in,
                         std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const Tensor& ind = require(in, 1, "indices");
  const std::int64_t r = x.rank();
  if (ind.rank() != r || r == 0) throw OpError("indices must have the same rank >= 1 as data");
  const auto ax = static_cast<std::size_t>(normalize_axis(ctx.node.attr_int("axis", 0), r));
  for (std::size_t k = 0; k < ind.shape.size(); ++k)
    if (k != ax && ind.shape[k] > x.shape[k])
      throw OpError("indices " + shape_str(ind.shape) + " exceed data " + shape_str(x.shape));
  const std::vector<std::int64_t> xst = strides_of(x.shape);
  const std::vector<std::int64_t> idx = ind.to_ints();
  allocate_for_overwrite(out[0], x.dtype, ind.shape);
  visit_data(x, out[0], [&](auto src, auto dst) {
    std::vector<std::int64_t> pos(static_cast<std::size_t>(r), 0);
    for (std::size_t t = 0; t < idx.size(); ++t) {
      std::int64_t off = 0;
      for (std::size_t d = 0; d < pos.size(); ++d)
        off += (d == ax ? checked_index(idx[t], x.shape[d]) : pos[d]) * xst[d];
      dst[t] = src[static_cast<std::size_t>(off)];
      for (std::size_t d = pos.size(); d-- > 0;) {
        if (++pos[d] < ind.shape[d]) break;
        pos[d] = 0;
      }
    }
  });
}

void run_gather_nd(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const Tensor& ind = require(in, 1, "indices");
  const std::int64_t b = ctx.node.attr_int("batch_dims", 0);
  const std::int64_t r = x.rank(), q = ind.rank();
  if (q < 1 || b < 0 || b >= std::min(r, q)) throw OpError("invalid batch_dims or ranks");
  const std::int64_t m = ind.shape.back();
  if (m < 1 || m > r - b) throw OpError("indices last dim must be in [1, rank - batch_dims]");
  for (std::int64_t k = 0; k < b; ++k)
    if (x.shape[static_cast<std::size_t>(k)] != ind.shape[static_cast<std::size_t>(k)])
      throw OpError("batch dims of data and indices differ");

  Shape os(ind.shape.begin(), ind.shape.end() - 1);
  os.insert(os.end(), x.shape.begin() + b + m, x.shape.end());
  allocate_for_overwrite(out[0], x.dtype, os);
  const std::vector<std::int64_t> xst = strides_of(x.shape);
  const std::int64_t slice = numel(
      std::span<const std::int64_t>(x.shape.data() + b + m, static_cast<std::size_t>(r - b - m)));
  const std::int64_t batches = numel(std::span<const std::int64_t>(x.shape.data(), b));
  const std::int64_t tuples = numel(ind.shape) / m;
  const std::int64_t per_batch = batches > 0 ? tuples / batches : 0;
  const std::int64_t batch_stride = b > 0 ? xst[static_cast<std::size_t>(b - 1)] : 0;
  const std::vector<std::int64_t> idx = ind.to_ints();
  visit_data(x, out[0], [&](auto src, auto dst) {
    for (std::int64_t t = 0; t < tuples; ++t) {
      std::int64_t off = per_batch > 0 ? (t / per_batch) * batch_stride : 0;
      for (std::int64_t k = 0; k < m; ++k) {
        const auto d = static_cast<std::size_t>(b + k);
        off += checked_index(idx[static_cast<std::size_t>(t * m + k)], x.shape[d]) * xst[d];
      }
      std::copy_n(src.data() + off, slice, dst.data() + t * slice);
    }
  });
}

// Traits. Along axis 0 of the images a gather picks rows of other images; of a constant table
// (an embedding lookup of each image's ids) it keeps each image's rows with its indices. Gather
// also computes shapes (picks from a Shape).
std::optional<std::string> gather_mixes(const Network&, const OpNode& n, std::size_t rank,
                                        bool data_per_image) {
  if (data_per_image && unwrapped_axis(n.attr_int("axis", 0), rank) == 0)
    return std::string("gathers along axis 0, the batch");
  return std::nullopt;
}

std::optional<std::string> gather_nd_mixes(const Network&, const OpNode& n, std::size_t,
                                           bool data_per_image) {
  if (data_per_image && n.attr_int("batch_dims", 0) < 1)
    return std::string("indexes axis 0, the batch");
  return std::nullopt;
}

constexpr OpTraits kGatherTraits{OpClass::DataMovement,
                                 PlacementRole::DataMovement,
                                 {.mixes_images = gather_mixes},
                                 {.arithmetic = true}};
constexpr OpTraits kGatherElementsTraits{
    OpClass::Other, PlacementRole::Compute, {.mixes_images = gather_mixes}};
constexpr OpTraits kGatherNDTraits{
    OpClass::Other, PlacementRole::Compute, {.mixes_images = gather_nd_mixes}};

}  // namespace

void register_gather_ops(OpTable& t) {
  t.push_back({"Gather", kGatherTraits.with_gradient({.inert_inputs = 0b10}), run_gather, nullptr});
  t.back().backward = ops::copy_grad;
  t.push_back({"GatherElements", kGatherElementsTraits.with_gradient({.inert_inputs = 0b10}),
               run_gather_elements, nullptr});
  t.back().backward = ops::copy_grad;
  t.push_back(
      {"GatherND", kGatherNDTraits.with_gradient({.inert_inputs = 0b10}), run_gather_nd, nullptr});
  t.back().backward = ops::copy_grad;
}

}  // namespace mpq
