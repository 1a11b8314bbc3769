#pragma once
// Dtype-generic data movement shared by the shape, movement and resize kernels. Float32 data
// lives in Tensor::f and Int64/Bool data in Tensor::i, so every kernel is written once as a
// template over the element type and dispatched with visit_data.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "graph/tensor.hpp"
#include "sim/op_registry.hpp"
#include "sim/ops/broadcast.hpp"

namespace mpq::ops {

// Calls fn(src, dst) with spans over the storage of `src`'s dtype; `dst` must already be
// allocated with the same dtype.
template <class Fn>
void visit_data(const Tensor& src, Tensor& dst, Fn&& fn) {
  if (src.is_float())
    fn(std::span<const float>(src.f), std::span<float>(dst.f));
  else
    fn(std::span<const std::int64_t>(src.i), std::span<std::int64_t>(dst.i));
}

// dst = src's data under a new shape (Reshape, Flatten, Identity...). Reuses dst's capacity
// instead of zero-filling through allocate(). When `reusable` is src (the engine says nothing
// reads src afterwards), the data is swapped over instead of copied: src keeps its shape and
// gets dst's old buffer, which its producer overwrites next run.
inline void copy_reshaped(const Tensor& src, Tensor& dst, Shape shape, Tensor* reusable = nullptr) {
  if (numel(shape) != src.size())
    throw OpError("cannot reshape " + shape_str(src.shape) + " to " + shape_str(shape));
  dst.dtype = src.dtype;
  dst.shape = std::move(shape);
  if (reusable == &src) {
    dst.f.swap(reusable->f);
    dst.i.swap(reusable->i);
    return;
  }
  if (src.is_float()) {
    dst.f.assign(src.f.begin(), src.f.end());
    dst.i.clear();
  } else {
    dst.i.assign(src.i.begin(), src.i.end());
    dst.f.clear();
  }
}

// Like Tensor::allocate but without zero-filling storage the kernel overwrites completely;
// outputs are reused across runs, so this is usually a no-op resize.
inline void allocate_for_overwrite(Tensor& t, DType dtype, Shape shape) {
  t.dtype = dtype;
  t.shape = std::move(shape);
  const auto n = static_cast<std::size_t>(numel(t.shape));
  if (dtype == DType::Float32) {
    t.f.resize(n);
    t.i.clear();
  } else {
    t.i.resize(n);
    t.f.clear();
  }
}

// Scalar value `v` converted to the element type T.
template <class T>
T cast_value(double v) {
  return static_cast<T>(v);
}

// Marks an output position that reads no input element (Pad's constant border).
inline constexpr std::int64_t kFill = -1;

// Separable gather: output element (o_0, ..., o_{r-1}) reads input offset
// tabs[0][o_0] + ... + tabs[r-1][o_{r-1}], or `fill` when any entry is kFill. Slice, Pad, Tile,
// Expand, Transpose and nearest Resize are all of this form. tabs[k].size() == out_shape[k].
template <class T>
void index_map_copy(std::span<const T> src, std::span<T> dst, const Shape& out_shape,
                    const std::vector<std::vector<std::int64_t>>& tabs, T fill) {
  const std::size_t r = out_shape.size();
  const std::int64_t total = numel(out_shape);
  if (total == 0) return;
  if (r == 0) {
    dst[0] = src[0];
    return;
  }
  const std::int64_t inner = out_shape[r - 1];
  const std::vector<std::int64_t>& last = tabs[r - 1];
  // A contiguous innermost table turns the row into one block copy.
  bool contiguous = last[0] != kFill;
  for (std::int64_t k = 1; k < inner && contiguous; ++k) contiguous = last[k] == last[0] + k;
  const std::int64_t rows = total / inner;
  const std::int64_t grain = std::max<std::int64_t>(1, kParallelGrain / inner);
  parallel_chunks(
      rows,
      [&](std::int64_t begin, std::int64_t end) {
        std::vector<std::int64_t> idx(r, 0);
        std::int64_t rem = begin;
        for (std::size_t d = r - 1; d-- > 0;) {
          idx[d] = rem % out_shape[d];
          rem /= out_shape[d];
        }
        for (std::int64_t row = begin; row < end; ++row) {
          std::int64_t base = 0;
          bool filled = false;
          for (std::size_t d = 0; d + 1 < r; ++d) {
            const std::int64_t t = tabs[d][static_cast<std::size_t>(idx[d])];
            if (t == kFill) filled = true;
            base += t;
          }
          T* o = dst.data() + row * inner;
          if (filled) {
            std::fill(o, o + inner, fill);
          } else if (contiguous) {
            std::copy_n(src.data() + base + last[0], inner, o);
          } else {
            for (std::int64_t k = 0; k < inner; ++k) {
              const std::int64_t t = last[static_cast<std::size_t>(k)];
              o[k] = t == kFill ? fill : src[static_cast<std::size_t>(base + t)];
            }
          }
          for (std::size_t d = r - 1; d-- > 0;) {
            if (++idx[d] < out_shape[d]) break;
            idx[d] = 0;
          }
        }
      },
      grain);
}

// Runs index_map_copy on x into `out` (allocated here with x's dtype and `out_shape`).
inline void index_map_tensor(const Tensor& x, Tensor& out, const Shape& out_shape,
                             const std::vector<std::vector<std::int64_t>>& tabs,
                             double fill = 0.0) {
  allocate_for_overwrite(out, x.dtype, out_shape);
  visit_data(x, out, [&](auto src, auto dst) {
    using T = std::remove_const_t<typename decltype(src)::element_type>;
    index_map_copy<T>(src, dst, out_shape, tabs, cast_value<T>(fill));
  });
}

// Reads a 1-D (or scalar) integer tensor such as a shape, axes or pads input.
inline std::vector<std::int64_t> ints_of(const Tensor& t) {
  return t.to_ints();
}

// Normalizes a list of axes against `rank` and rejects duplicates.
inline std::vector<std::int64_t> normalize_axes(std::vector<std::int64_t> axes, std::int64_t rank) {
  for (auto& a : axes) a = normalize_axis(a, rank);
  std::vector<std::int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    throw OpError("axes contain duplicates");
  return axes;
}

}  // namespace mpq::ops
