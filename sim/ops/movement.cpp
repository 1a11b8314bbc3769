// Data movement: Transpose, Concat, Split, Slice. Gather* live in gather.cpp, Pad and Tile in
// pad_tile.cpp; all three register through register_movement_ops.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "graph/network.hpp"
#include "sim/op_registry.hpp"
#include "sim/ops/broadcast.hpp"
#include "sim/ops/grad_util.hpp"
#include "sim/ops/index_copy.hpp"

namespace mpq {

void register_gather_ops(OpTable& t);    // gather.cpp
void register_pad_tile_ops(OpTable& t);  // pad_tile.cpp

namespace {

using ops::allocate_for_overwrite;
using ops::visit_data;

// Transpose whose innermost output axis is not contiguous in the input: copies 2-D tiles
// spanning output axis `j` (input stride 1) and the innermost output axis, so both reads and
// writes stay within cache lines. dims/st are output dims and their input strides.
template <class T>
void tiled_transpose(const T* src, T* dst, const std::vector<std::int64_t>& dims,
                     const std::vector<std::int64_t>& st, std::size_t j) {
  constexpr std::int64_t kTile = 32;
  const std::size_t n = dims.size();
  const std::vector<std::int64_t> ost = strides_of(dims);
  std::vector<std::size_t> outer_axes;
  for (std::size_t k = 0; k + 1 < n; ++k)
    if (k != j) outer_axes.push_back(k);
  std::int64_t outer = 1;
  for (std::size_t k : outer_axes) outer *= dims[k];
  const std::int64_t rows = dims[j], cols = dims[n - 1];
  const std::int64_t row_stride = ost[j], col_stride = st[n - 1];
  const std::int64_t row_tiles = (rows + kTile - 1) / kTile;
  const std::int64_t grain = std::max<std::int64_t>(1, ops::kParallelGrain / (kTile * cols));
  ops::parallel_chunks(
      outer * row_tiles,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t t = begin; t < end; ++t) {
          std::int64_t rem = t / row_tiles, sbase = 0, dbase = 0;
          for (std::size_t q = outer_axes.size(); q-- > 0;) {
            const std::size_t k = outer_axes[q];
            const std::int64_t i = rem % dims[k];
            rem /= dims[k];
            sbase += i * st[k];
            dbase += i * ost[k];
          }
          const std::int64_t r0 = (t % row_tiles) * kTile, r1 = std::min(rows, r0 + kTile);
          for (std::int64_t c0 = 0; c0 < cols; c0 += kTile) {
            const std::int64_t c1 = std::min(cols, c0 + kTile);
            for (std::int64_t r = r0; r < r1; ++r) {
              const T* s = src + sbase + r;
              T* d = dst + dbase + r * row_stride;
              for (std::int64_t c = c0; c < c1; ++c) d[c] = s[c * col_stride];
            }
          }
        }
      },
      grain);
}

void run_transpose(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const std::size_t r = x.shape.size();
  std::string why;
  const auto normalized = transpose_perm(ctx.node, static_cast<std::int64_t>(r), &why);
  if (!normalized) throw OpError(why);
  const std::vector<std::int64_t>& perm = *normalized;
  Shape os(r);
  for (std::size_t k = 0; k < r; ++k) os[k] = x.shape[static_cast<std::size_t>(perm[k])];
  allocate_for_overwrite(out[0], x.dtype, os);
  if (x.size() == 0) return;

  // Coalesce: drop size-1 dims and merge output-adjacent dims that are also input-adjacent, so
  // NCHW<->NHWC and friends reduce to a batched 2-D transpose. The input's innermost axis
  // (stride 1) always survives since only size-1 dims follow it.
  const std::vector<std::int64_t> ist = strides_of(x.shape);
  std::vector<std::int64_t> dims, st;
  for (std::size_t k = 0; k < r; ++k) {
    if (os[k] == 1) continue;
    const std::int64_t s = ist[static_cast<std::size_t>(perm[k])];
    if (!dims.empty() && st.back() == s * os[k]) {
      dims.back() *= os[k];
      st.back() = s;
    } else {
      dims.push_back(os[k]);
      st.push_back(s);
    }
  }
  const std::size_t n = dims.size();
  visit_data(x, out[0], [&](auto src, auto dst) {
    using T = std::remove_const_t<typename decltype(src)::element_type>;
    if (n <= 1) {
      std::copy(src.begin(), src.end(), dst.begin());
    } else if (st[n - 1] != 1) {
      const auto j = static_cast<std::size_t>(std::find(st.begin(), st.end(), 1) - st.begin());
      tiled_transpose<T>(src.data(), dst.data(), dims, st, j);
    } else {
      std::vector<std::vector<std::int64_t>> tabs(n);
      for (std::size_t k = 0; k < n; ++k) {
        tabs[k].resize(static_cast<std::size_t>(dims[k]));
        for (std::int64_t o = 0; o < dims[k]; ++o) tabs[k][static_cast<std::size_t>(o)] = o * st[k];
      }
      ops::index_map_copy<T>(src, dst, Shape(dims.begin(), dims.end()), tabs, T{});
    }
  });
}

void run_concat(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& first = require(in, 0, "inputs");
  const std::int64_t r = first.rank();
  if (r == 0) throw OpError("inputs must have rank >= 1");
  const std::int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), r);
  const auto ax = static_cast<std::size_t>(axis);
  Shape os = first.shape;
  os[ax] = 0;
  for (std::size_t j = 0; j < in.size(); ++j) {
    const Tensor& t = require(in, j, "inputs");
    bool ok = t.rank() == r && t.is_float() == first.is_float();
    for (std::size_t k = 0; k < os.size() && ok; ++k) ok = k == ax || t.shape[k] == os[k];
    if (!ok)
      throw OpError("input " + std::to_string(j) + " " + shape_str(t.shape) + " (" +
                    dtype_name(t.dtype) + ") does not match " + shape_str(first.shape) + " (" +
                    dtype_name(first.dtype) + ") outside axis " + std::to_string(axis));
    os[ax] += t.shape[ax];
  }
  allocate_for_overwrite(out[0], first.dtype, os);
  const std::int64_t outer = numel(std::span<const std::int64_t>(os.data(), ax));
  const std::int64_t inner = numel(std::span<const std::int64_t>(os.data() + ax + 1, r - axis - 1));
  const std::int64_t row = os[ax] * inner;
  std::int64_t offset = 0;
  for (const Tensor* t : in) {
    const std::int64_t chunk = t->shape[ax] * inner;
    visit_data(*t, out[0], [&](auto src, auto dst) {
      for (std::int64_t o = 0; o < outer; ++o)
        std::copy_n(src.data() + o * chunk, chunk, dst.data() + o * row + offset);
    });
    offset += chunk;
  }
}

void run_split(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "input");
  if (x.rank() == 0) throw OpError("input must have rank >= 1");
  const std::int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), x.rank());
  const auto ax = static_cast<std::size_t>(axis);
  const std::int64_t dim = x.shape[ax];
  const auto n_out = static_cast<std::int64_t>(out.size());
  // Sizes: `split` attribute before opset 13, optional input from 13; else equal parts.
  std::vector<std::int64_t> sizes;
  if (const Tensor* s = optional_input(in, 1))
    sizes = s->to_ints();
  else
    sizes = ctx.node.attr_ints("split");
  if (sizes.empty()) {
    const std::int64_t parts = ctx.node.attr_int("num_outputs", n_out);
    if (parts != n_out || parts <= 0) throw OpError("num_outputs does not match the outputs");
    // Opset 18 num_outputs allows a smaller last chunk; before that dim must divide evenly.
    if (dim % parts != 0 && !ctx.node.has_attr("num_outputs"))
      throw OpError("axis size " + std::to_string(dim) + " is not divisible into " +
                    std::to_string(parts) + " outputs");
    const std::int64_t chunk = (dim + parts - 1) / parts;
    for (std::int64_t k = 0; k < parts; ++k)
      sizes.push_back(std::clamp<std::int64_t>(dim - k * chunk, 0, chunk));
  }
  std::int64_t sum = 0;
  for (std::int64_t s : sizes) {
    if (s < 0) throw OpError("negative split size");
    sum += s;
  }
  if (static_cast<std::int64_t>(sizes.size()) != n_out || sum != dim)
    throw OpError("split sizes do not cover axis size " + std::to_string(dim) + " with " +
                  std::to_string(n_out) + " outputs");
  const std::int64_t outer = numel(std::span<const std::int64_t>(x.shape.data(), ax));
  const std::int64_t inner =
      numel(std::span<const std::int64_t>(x.shape.data() + ax + 1, x.shape.size() - ax - 1));
  std::int64_t offset = 0;
  for (std::size_t j = 0; j < out.size(); ++j) {
    Shape os = x.shape;
    os[ax] = sizes[j];
    allocate_for_overwrite(out[j], x.dtype, os);
    const std::int64_t chunk = sizes[j] * inner;
    visit_data(x, out[j], [&](auto src, auto dst) {
      for (std::int64_t o = 0; o < outer; ++o)
        std::copy_n(src.data() + o * dim * inner + offset, chunk, dst.data() + o * chunk);
    });
    offset += chunk;
  }
}

void run_slice(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const std::int64_t r = x.rank();
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (ctx.opset < 10) {  // Slice-1: attributes, no steps
    starts = ctx.node.attr_ints("starts");
    ends = ctx.node.attr_ints("ends");
    axes = ctx.node.attr_ints("axes");
  } else {
    starts = require(in, 1, "starts").to_ints();
    ends = require(in, 2, "ends").to_ints();
    if (const Tensor* a = optional_input(in, 3)) axes = a->to_ints();
    if (const Tensor* s = optional_input(in, 4)) steps = s->to_ints();
  }
  const std::size_t m = starts.size();
  if (axes.empty())
    for (std::size_t k = 0; k < m; ++k) axes.push_back(static_cast<std::int64_t>(k));
  if (steps.empty()) steps.assign(m, 1);
  if (ends.size() != m || axes.size() != m || steps.size() != m)
    throw OpError("starts, ends, axes and steps must have the same length");
  axes = ops::normalize_axes(axes, r);

  Shape os = x.shape;
  std::vector<std::int64_t> first(static_cast<std::size_t>(r), 0),
      step(static_cast<std::size_t>(r), 1);
  for (std::size_t k = 0; k < m; ++k) {
    const auto a = static_cast<std::size_t>(axes[k]);
    const std::int64_t dim = x.shape[a], st = steps[k];
    if (st == 0) throw OpError("slice step cannot be 0");
    // Clamping exactly as the ONNX spec: negative values count from the end, then positive
    // steps clamp to [0, dim] and negative steps to [0, dim-1] / [-1, dim-1]. Adding dim to a
    // huge negative INT64 cannot overflow.
    std::int64_t s = starts[k] < 0 ? starts[k] + dim : starts[k];
    std::int64_t e = ends[k] < 0 ? ends[k] + dim : ends[k];
    std::int64_t len = 0;
    if (st > 0) {
      s = std::clamp<std::int64_t>(s, 0, dim);
      e = std::clamp<std::int64_t>(e, 0, dim);
      if (e > s) len = (e - s - 1) / st + 1;
    } else if (dim > 0) {
      s = std::clamp<std::int64_t>(s, 0, dim - 1);
      e = std::clamp<std::int64_t>(e, -1, dim - 1);
      // -(st) cannot overflow meaningfully: steps of INT64_MIN still give len 1 below.
      if (s > e) len = st == std::numeric_limits<std::int64_t>::min() ? 1 : (s - e - 1) / -st + 1;
    }
    os[a] = len;
    first[a] = s;
    step[a] = st;
  }
  const std::vector<std::int64_t> ist = strides_of(x.shape);
  std::vector<std::vector<std::int64_t>> tabs(static_cast<std::size_t>(r));
  for (std::size_t a = 0; a < tabs.size(); ++a) {
    tabs[a].resize(static_cast<std::size_t>(os[a]));
    for (std::int64_t o = 0; o < os[a]; ++o)
      tabs[a][static_cast<std::size_t>(o)] = (first[a] + o * step[a]) * ist[a];
  }
  ops::index_map_tensor(x, out[0], os, tabs);
}

// Traits. A Slice keeps the images in order when it does not step through axis 0 (the shapes
// show whether it keeps every image); its starts and ends may hold the batch size. Concat and
// Slice also compute shapes.
std::optional<std::string> slice_mixes(const Network& net, const OpNode& n, std::size_t rank,
                                       bool) {
  std::vector<std::int64_t> axes, steps;
  if (n.has_input(3)) {
    auto it = net.model.initializers.find(n.inputs[3]);
    if (it == net.model.initializers.end()) return std::string("takes its axes from the data");
    axes = it->second.to_ints();
  } else {
    for (std::size_t a = 0; a < rank; ++a) axes.push_back(static_cast<std::int64_t>(a));
  }
  if (n.has_input(4)) {
    auto it = net.model.initializers.find(n.inputs[4]);
    if (it == net.model.initializers.end()) return std::string("takes its steps from the data");
    steps = it->second.to_ints();
  }
  for (std::size_t a = 0; a < axes.size(); ++a)
    if (unwrapped_axis(axes[a], rank) == 0 && a < steps.size() && steps[a] != 1)
      return "steps through axis 0, the batch, with step " + std::to_string(steps[a]);
  return std::nullopt;
}

constexpr OpTraits kMovement{OpClass::DataMovement, PlacementRole::DataMovement};
constexpr OpTraits kConcatTraits{OpClass::DataMovement,
                                 PlacementRole::DataMovement,
                                 {.output_non_negative = non_negative_if_inputs_are},
                                 {.arithmetic = true}};
constexpr OpTraits kSliceTraits{OpClass::DataMovement,
                                PlacementRole::DataMovement,
                                {.mixes_images = slice_mixes},
                                {.arithmetic = true, .shape_inputs = (1 << 1) | (1 << 2)}};

}  // namespace

void register_movement_ops(OpTable& t) {
  t.push_back({"Transpose", kMovement, run_transpose, nullptr});
  t.back().backward = ops::copy_grad;
  t.push_back({"Concat", kConcatTraits, run_concat, nullptr});
  t.back().backward = ops::copy_grad;
  t.push_back({"Split", kMovement.with_gradient({.inert_inputs = 0b10}), run_split, nullptr});
  t.back().backward = ops::copy_grad;
  t.push_back({"Slice", kSliceTraits.with_gradient({.inert_inputs = 0b11110}), run_slice, nullptr});
  t.back().backward = ops::copy_grad;
  register_gather_ops(t);
  register_pad_tile_ops(t);
}

}  // namespace mpq
