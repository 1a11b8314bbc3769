#pragma once
// Multidirectional (numpy) broadcasting and chunked parallel loops shared by the elementwise,
// reduce and normalization kernels.
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "graph/tensor.hpp"
#include "sim/op_registry.hpp"

namespace mpq::ops {

// Below this many elements a loop runs on the calling thread: TBB overhead would dominate.
inline constexpr std::int64_t kParallelGrain = std::int64_t{1} << 16;

// Calls fn(begin, end) on disjoint chunks covering [0, n), in parallel when n exceeds `grain`.
template <class F>
void parallel_chunks(std::int64_t n, F&& fn, std::int64_t grain = kParallelGrain) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  if (n <= grain) {
    fn(std::int64_t{0}, n);
    return;
  }
  const std::int64_t chunks = (n + grain - 1) / grain;
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, chunks, 1),
                    [&](const tbb::blocked_range<std::int64_t>& r) {
                      for (std::int64_t c = r.begin(); c != r.end(); ++c)
                        fn(c * grain, std::min(n, (c + 1) * grain));
                    });
}

// Broadcast result shape of several shapes; throws OpError when they are incompatible.
inline Shape broadcast_shapes(std::span<const Shape* const> shapes) {
  std::size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  Shape out(rank, 1);
  for (const Shape* s : shapes) {
    const std::size_t off = rank - s->size();
    for (std::size_t d = 0; d < s->size(); ++d) {
      const std::int64_t v = (*s)[d];
      std::int64_t& o = out[off + d];
      if (v == o || v == 1) continue;
      if (o != 1) {
        std::string msg = "shapes cannot be broadcast together:";
        for (const Shape* t : shapes) {
          msg += ' ';
          msg += shape_str(*t);
        }
        throw OpError(msg);
      }
      o = v;
    }
  }
  return out;
}
inline Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const std::array<const Shape*, 2> s{&a, &b};
  return broadcast_shapes(s);
}

// N operands broadcast to an output shape, with adjacent dims merged where every operand is
// either contiguous or broadcast across both, so the innermost loop is as long as possible.
// Innermost strides are 0 (broadcast) or 1 (contiguous).
template <std::size_t N>
struct BroadcastPlan {
  std::vector<std::int64_t> dims;                    // collapsed output dims, at least one
  std::array<std::vector<std::int64_t>, N> strides;  // element strides per operand, 0 = broadcast
  std::int64_t total = 0;

  BroadcastPlan(const Shape& out, const std::array<const Shape*, N>& in) {
    total = numel(out);
    const std::size_t rank = out.size();
    std::array<std::vector<std::int64_t>, N> full;
    for (std::size_t k = 0; k < N; ++k) {
      const Shape& s = *in[k];
      full[k].assign(rank, 0);
      std::int64_t st = 1;
      for (std::size_t d = s.size(); d-- > 0;) {
        full[k][rank - s.size() + d] = s[d] == 1 ? 0 : st;
        st *= s[d];
      }
    }
    for (std::size_t d = 0; d < rank; ++d) {
      if (out[d] == 1) continue;  // size-1 dims contribute nothing
      bool merge = !dims.empty();
      for (std::size_t k = 0; k < N && merge; ++k) merge = strides[k].back() == full[k][d] * out[d];
      if (merge) {
        dims.back() *= out[d];
        for (std::size_t k = 0; k < N; ++k) strides[k].back() = full[k][d];
      } else {
        dims.push_back(out[d]);
        for (std::size_t k = 0; k < N; ++k) strides[k].push_back(full[k][d]);
      }
    }
    if (dims.empty()) {
      dims.push_back(1);
      for (std::size_t k = 0; k < N; ++k) strides[k].push_back(0);
    }
  }

  std::int64_t inner() const { return dims.back(); }
  bool inner_step(std::size_t k) const { return strides[k].back() != 0; }

  // Calls seg(out_offset, in_offsets, len) for runs of the innermost dim covering output
  // elements [begin, end).
  template <class Seg>
  void for_each_segment(std::int64_t begin, std::int64_t end, Seg&& seg) const {
    const std::size_t r = dims.size();
    std::vector<std::int64_t> idx(r, 0);
    std::int64_t rem = begin;
    for (std::size_t d = r; d-- > 0;) {
      idx[d] = rem % dims[d];
      rem /= dims[d];
    }
    std::int64_t pos = begin;
    while (pos < end) {
      std::array<std::int64_t, N> off{};
      for (std::size_t k = 0; k < N; ++k)
        for (std::size_t d = 0; d < r; ++d) off[k] += idx[d] * strides[k][d];
      const std::int64_t len = std::min(end - pos, dims[r - 1] - idx[r - 1]);
      seg(pos, off, len);
      pos += len;
      idx[r - 1] = 0;
      for (std::size_t d = r - 1; d-- > 0;) {
        if (++idx[d] < dims[d]) break;
        idx[d] = 0;
      }
    }
  }
};

// o = f(a, b) with broadcasting; `os` must be broadcast_shapes(as, bs). Specialised inner loops
// (both contiguous, one operand constant along the run) let the compiler vectorize f.
// `after` (float outputs only; may be null) maps each finished chunk of o in place, element by
// element (an output quantizer applied while the chunk is in cache).
using ChunkHook = std::function<void(std::span<float>)>;
template <class A, class B, class O, class F>
void broadcast_binary(const A* a, const Shape& as, const B* b, const Shape& bs, O* o,
                      const Shape& os, F f, const ChunkHook* after = nullptr) {
  const std::int64_t n = numel(os);
  const auto finish = [&](std::int64_t s, std::int64_t e) {
    if constexpr (std::is_same_v<O, float>)
      if (after) (*after)(std::span<float>(o + s, static_cast<std::size_t>(e - s)));
  };
  if (as == bs) {
    parallel_chunks(n, [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t k = s; k < e; ++k) o[k] = f(a[k], b[k]);
      finish(s, e);
    });
    return;
  }
  if (numel(bs) == 1 && numel(as) == n) {
    const B bv = b[0];
    parallel_chunks(n, [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t k = s; k < e; ++k) o[k] = f(a[k], bv);
      finish(s, e);
    });
    return;
  }
  if (numel(as) == 1 && numel(bs) == n) {
    const A av = a[0];
    parallel_chunks(n, [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t k = s; k < e; ++k) o[k] = f(av, b[k]);
      finish(s, e);
    });
    return;
  }
  const BroadcastPlan<2> plan(os, {&as, &bs});
  const bool sa = plan.inner_step(0), sb = plan.inner_step(1);
  parallel_chunks(n, [&](std::int64_t s, std::int64_t e) {
    plan.for_each_segment(
        s, e, [&](std::int64_t p, const std::array<std::int64_t, 2>& off, std::int64_t len) {
          const A* pa = a + off[0];
          const B* pb = b + off[1];
          O* po = o + p;
          if (sa && sb) {
            for (std::int64_t k = 0; k < len; ++k) po[k] = f(pa[k], pb[k]);
          } else if (sa) {
            const B bv = *pb;
            for (std::int64_t k = 0; k < len; ++k) po[k] = f(pa[k], bv);
          } else if (sb) {
            const A av = *pa;
            for (std::int64_t k = 0; k < len; ++k) po[k] = f(av, pb[k]);
          } else {
            std::fill(po, po + len, f(*pa, *pb));
          }
        });
    finish(s, e);
  });
}

}  // namespace mpq::ops
