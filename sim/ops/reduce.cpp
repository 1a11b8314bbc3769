// Reductions over a set of axes (ReduceSum/Mean/Max/Min and friends) and ArgMax/ArgMin.
// The input dims are collapsed into alternating runs of kept and reduced dims, so the common
// cases (mean over H*W, sum over the last axis) become one vectorized inner loop per row.
#include <cmath>
#include <limits>
#include <type_traits>

#include "broadcast.hpp"
#include "eigen_arrays.hpp"
#include "grad_util.hpp"

namespace mpq {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor>;

enum class Pre { None, Square, Abs, Exp };  // applied to each element before accumulating
enum class Acc { Sum, Prod, Max, Min };
enum class Post { None, Mean, Sqrt, Log };  // applied to each result

struct ReduceKind {
  Pre pre;
  Acc acc;
  Post post;
};

template <class T>
using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;

template <class T>
T acc_init(Acc a) {
  switch (a) {
    case Acc::Sum:
      return T(0);
    case Acc::Prod:
      return T(1);
    case Acc::Max:
      return std::is_floating_point_v<T> ? -std::numeric_limits<T>::infinity()
                                         : std::numeric_limits<T>::lowest();
    case Acc::Min:
      return std::is_floating_point_v<T> ? std::numeric_limits<T>::infinity()
                                         : std::numeric_limits<T>::max();
  }
  return T(0);
}

// Applies `pre` to a row as an Eigen expression and hands it to fn.
template <class T, class F>
auto with_pre(Eigen::Map<const Arr<T>> r, Pre pre, F fn) {
  switch (pre) {
    case Pre::Square:
      return fn(r.square());
    case Pre::Abs:
      return fn(r.abs());
    case Pre::Exp:
      if constexpr (std::is_floating_point_v<T>) return fn(r.exp());
      throw OpError("exponential reductions need a float input");
    case Pre::None:
      break;
  }
  return fn(r);
}

// Combines a whole contiguous row into one accumulator.
template <class T>
T reduce_row(const T* p, std::int64_t n, const ReduceKind& k, T acc) {
  const Eigen::Map<const Arr<T>> r(p, n);
  if (n == 0) return acc;
  return with_pre<T>(r, k.pre, [&](const auto& e) -> T {
    switch (k.acc) {
      case Acc::Sum:
        return acc + e.sum();
      case Acc::Prod:
        return acc * e.prod();
      case Acc::Max:
        return std::max(acc, static_cast<T>(e.maxCoeff()));
      case Acc::Min:
        return std::min(acc, static_cast<T>(e.minCoeff()));
    }
    return acc;
  });
}

// Folds a contiguous row elementwise into `o` (when the innermost dim is kept).
template <class T>
void accumulate_row(const T* p, T* o, std::int64_t n, const ReduceKind& k) {
  Eigen::Map<Arr<T>> out(o, n);
  with_pre<T>(Eigen::Map<const Arr<T>>(p, n), k.pre, [&](const auto& e) {
    switch (k.acc) {
      case Acc::Sum:
        out += e;
        break;
      case Acc::Prod:
        out *= e;
        break;
      case Acc::Max:
        out = out.max(e);
        break;
      case Acc::Min:
        out = out.min(e);
        break;
    }
    return 0;
  });
}

// Collapsed runs of input dims: size and whether the run is reduced.
struct Runs {
  std::vector<std::int64_t> size;
  std::vector<bool> reduced;
  std::vector<std::int64_t> out_stride;  // 0 for reduced runs
};

Runs collapse(const Shape& shape, const std::vector<bool>& reduce) {
  Runs r;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!r.size.empty() && r.reduced.back() == reduce[d]) {
      r.size.back() *= shape[d];
    } else {
      r.size.push_back(shape[d]);
      r.reduced.push_back(reduce[d]);
    }
  }
  if (r.size.empty()) {
    r.size.push_back(1);
    r.reduced.push_back(false);
  }
  r.out_stride.assign(r.size.size(), 0);
  std::int64_t st = 1;
  for (std::size_t d = r.size.size(); d-- > 0;)
    if (!r.reduced[d]) {
      r.out_stride[d] = st;
      st *= r.size[d];
    }
  return r;
}

// Reduces input rows whose first-run index lies in [b0, e0) (all of the other runs).
template <class T>
void reduce_block(const T* x, T* o, const Runs& r, const ReduceKind& k, std::int64_t b0,
                  std::int64_t e0) {
  const std::size_t nr = r.size.size();
  const std::int64_t inner = r.size[nr - 1];
  const bool inner_reduced = r.reduced[nr - 1];
  if (nr == 1) {
    if (inner_reduced)
      o[0] = reduce_row(x + b0, e0 - b0, k, o[0]);
    else
      accumulate_row(x + b0, o + b0, e0 - b0, k);
    return;
  }
  std::int64_t rows_per_first = 1;
  for (std::size_t d = 1; d + 1 < nr; ++d) rows_per_first *= r.size[d];
  std::vector<std::int64_t> idx(nr - 1, 0);
  idx[0] = b0;
  const std::int64_t rows = (e0 - b0) * rows_per_first;
  for (std::int64_t row = 0; row < rows; ++row) {
    std::int64_t in_off = 0, out_off = 0;
    for (std::size_t d = 0; d + 1 < nr; ++d) {
      in_off = in_off * r.size[d] + idx[d];
      out_off += idx[d] * r.out_stride[d];
    }
    const T* p = x + in_off * inner;
    if (inner_reduced)
      o[out_off] = reduce_row(p, inner, k, o[out_off]);
    else
      accumulate_row(p, o + out_off, inner, k);
    for (std::size_t d = nr - 1; d-- > 0;) {
      if (++idx[d] < r.size[d] || d == 0) break;
      idx[d] = 0;
    }
  }
}

template <class T>
void reduce_typed(const T* x, const Shape& xs, T* o, std::int64_t out_n, const Runs& r,
                  const ReduceKind& k, std::int64_t count) {
  std::fill(o, o + out_n, acc_init<T>(k.acc));
  if (numel(xs) > 0) {
    if (!r.reduced[0] && r.size.size() > 1) {
      // Slices along a kept leading run write disjoint outputs: run them in parallel.
      const std::int64_t slice = numel(xs) / r.size[0];
      ops::parallel_chunks(
          r.size[0], [&](std::int64_t b, std::int64_t e) { reduce_block(x, o, r, k, b, e); },
          std::max<std::int64_t>(1, ops::kParallelGrain / std::max<std::int64_t>(slice, 1)));
    } else {
      reduce_block(x, o, r, k, 0, r.size[0]);
    }
  }
  Eigen::Map<Arr<T>> out(o, out_n);
  if (k.post == Post::Mean) out /= static_cast<T>(count);
  if constexpr (std::is_floating_point_v<T>) {
    if (k.post == Post::Sqrt) out = out.sqrt();
    if (k.post == Post::Log) out = out.log();
  } else if (k.post == Post::Sqrt || k.post == Post::Log) {
    throw OpError("ReduceL2/ReduceLogSum need a float input");
  }
}

// Axes come from an input for ReduceSum since opset 13 and for every reduction since 18.
bool axes_from_input(const OpContext& ctx) {
  return ctx.opset >= 18 || (ctx.node.op_type == "ReduceSum" && ctx.opset >= 13);
}

template <Pre kPre, Acc kAcc, Post kPost>
void reduce(const OpContext& ctx, In in, Out out) {
  const Tensor& x = require(in, 0, "data");
  const ReduceKind k{kPre, kAcc, kPost};
  std::vector<std::int64_t> axes;
  if (axes_from_input(ctx)) {
    if (const Tensor* a = optional_input(in, 1)) axes = a->to_ints();
  } else {
    axes = ctx.node.attr_ints("axes");
  }
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  Tensor& y = out[0];
  if (axes.empty() && ctx.node.attr_int("noop_with_empty_axes", 0) != 0) {
    y = x;
    return;
  }
  const std::int64_t rank = x.rank();
  std::vector<bool> reduce(static_cast<std::size_t>(rank), axes.empty());
  for (std::int64_t a : axes) reduce[static_cast<std::size_t>(normalize_axis(a, rank))] = true;
  Shape ys;
  std::int64_t count = 1;
  for (std::int64_t d = 0; d < rank; ++d) {
    const auto du = static_cast<std::size_t>(d);
    if (!reduce[du])
      ys.push_back(x.shape[du]);
    else if (keepdims)
      ys.push_back(1);
    if (reduce[du]) count *= x.shape[du];
  }
  const Runs r = collapse(x.shape, reduce);
  y.dtype = x.dtype == DType::Bool ? DType::Int64 : x.dtype;
  y.allocate(ys);
  if (x.is_float())
    reduce_typed(x.f.data(), x.shape, y.f.data(), y.size(), r, k, count);
  else
    reduce_typed(x.i.data(), x.shape, y.i.data(), y.size(), r, k, count);
}

// ArgMax/ArgMin along one axis, viewed as [outer, n, inner].
template <bool kMax>
void arg_reduce(const OpContext& ctx, In in, Out out) {
  const Tensor& x = require(in, 0, "data");
  const std::int64_t rank = x.rank();
  const std::int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), rank);
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  const bool last = ctx.node.attr_int("select_last_index", 0) != 0;
  const auto au = static_cast<std::size_t>(axis);
  const std::int64_t n = rank == 0 ? 1 : x.shape[au];
  if (n == 0) throw OpError("cannot take ArgMax/ArgMin over an empty axis");
  const std::int64_t outer = numel(std::span(x.shape).first(au));
  const std::int64_t inner = x.size() / std::max<std::int64_t>(outer * n, 1);
  Shape ys = x.shape;
  if (rank > 0) {
    if (keepdims)
      ys[au] = 1;
    else
      ys.erase(ys.begin() + axis);
  }
  Tensor& y = out[0];
  y.dtype = DType::Int64;
  y.allocate(ys);
  auto run = [&](const auto* p) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
    std::vector<T> best(static_cast<std::size_t>(inner));
    for (std::int64_t o = 0; o < outer; ++o) {
      const T* base = p + o * n * inner;
      std::int64_t* yi = y.i.data() + o * inner;
      std::copy(base, base + inner, best.begin());
      std::fill(yi, yi + inner, 0);
      for (std::int64_t j = 1; j < n; ++j)
        for (std::int64_t q = 0; q < inner; ++q) {
          const T v = base[j * inner + q];
          T& b = best[static_cast<std::size_t>(q)];
          const bool better = kMax ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
          if (better) {
            b = v;
            yi[q] = j;
          }
        }
    }
  };
  if (x.is_float())
    run(x.f.data());
  else
    run(x.i.data());
}

// ---- Backward rules ----

// dx[e] = dy[r] * d(result r)/dx[e], r the result element e is reduced into.
template <Pre kPre, Acc kAcc, Post kPost>
void reduce_grad(const GradContext& c) {
  const Tensor& x = ops::grad_input(c, 0);
  const Tensor& y = *c.outputs[0];
  const Tensor& dy = ops::out_grad(c);
  Tensor* dx = ops::wanted(c, 0);
  if (!dx) return;
  std::vector<std::int64_t> axes;
  const bool from_input = c.opset >= 18 || (c.node.op_type == "ReduceSum" && c.opset >= 13);
  if (from_input) {
    if (const Tensor* a = optional_input(c.inputs, 1)) axes = a->to_ints();
  } else {
    axes = c.node.attr_ints("axes");
  }
  ops::zero_grad(*dx, x.shape);
  if (axes.empty() && c.node.attr_int("noop_with_empty_axes", 0) != 0) {
    std::copy(dy.f.begin(), dy.f.end(), dx->f.begin());
    return;
  }
  const std::int64_t rank = x.rank();
  Shape kept = x.shape;
  std::int64_t count = 1;
  for (std::int64_t d = 0; d < rank; ++d) {
    const bool reduced = axes.empty() || std::any_of(axes.begin(), axes.end(), [&](auto a) {
                           return normalize_axis(a, rank) == d;
                         });
    if (!reduced) continue;
    count *= x.shape[static_cast<std::size_t>(d)];
    kept[static_cast<std::size_t>(d)] = 1;
  }
  const auto r = ops::broadcast_index(x.shape, kept);
  std::vector<float> ties;
  if constexpr (kAcc == Acc::Max || kAcc == Acc::Min) {
    ties.assign(static_cast<std::size_t>(y.size()), 0.0f);
    for (std::size_t e = 0; e < r.size(); ++e)
      if (x.f[e] == y.f[static_cast<std::size_t>(r[e])]) ties[static_cast<std::size_t>(r[e])] += 1;
  }
  for (std::size_t e = 0; e < r.size(); ++e) {
    const auto k = static_cast<std::size_t>(r[e]);
    const double xv = x.f[e], yv = y.f[k];
    double d = 1;
    if constexpr (kAcc == Acc::Max || kAcc == Acc::Min) d = xv == yv ? 1.0 / ties[k] : 0.0;
    if constexpr (kAcc == Acc::Prod) d = yv / xv;
    if constexpr (kPre == Pre::Square && kPost == Post::Sqrt) d = yv == 0 ? 0 : xv / yv;
    if constexpr (kPre == Pre::Square && kPost == Post::None) d = 2 * xv;
    if constexpr (kPre == Pre::Abs) d = xv > 0 ? 1 : xv < 0 ? -1 : 0;
    if constexpr (kPre == Pre::Exp) d = std::exp(xv - yv);
    if constexpr (kPre == Pre::None && kPost == Post::Log) d = std::exp(-yv);
    if constexpr (kPost == Post::Mean) d /= static_cast<double>(count);
    dx->f[e] = static_cast<float>(dy.f[k] * d);
  }
}

// Traits: reductions count as normalizations for accelerators (op class); ArgMax/ArgMin give
// indices.
constexpr OpTraits kReduce{
    OpClass::Normalization, PlacementRole::Compute, {}, {}, {.inert_inputs = 0b10}};
constexpr OpTraits kArgReduce =
    OpTraits{OpClass::Other, PlacementRole::Compute}.with_gradient({.none = true});

}  // namespace

void register_reduce_ops(OpTable& t) {
  t.push_back({"ReduceSum", kReduce, reduce<Pre::None, Acc::Sum, Post::None>, nullptr});
  t.back().backward = reduce_grad<Pre::None, Acc::Sum, Post::None>;
  t.push_back({"ReduceMean", kReduce, reduce<Pre::None, Acc::Sum, Post::Mean>, nullptr});
  t.back().backward = reduce_grad<Pre::None, Acc::Sum, Post::Mean>;
  t.push_back({"ReduceMax", kReduce, reduce<Pre::None, Acc::Max, Post::None>, nullptr});
  t.back().backward = reduce_grad<Pre::None, Acc::Max, Post::None>;
  t.push_back({"ReduceMin", kReduce, reduce<Pre::None, Acc::Min, Post::None>, nullptr});
  t.back().backward = reduce_grad<Pre::None, Acc::Min, Post::None>;
  t.push_back({"ReduceProd", kReduce, reduce<Pre::None, Acc::Prod, Post::None>, nullptr});
  t.back().backward = reduce_grad<Pre::None, Acc::Prod, Post::None>;
  t.push_back({"ReduceSumSquare", kReduce, reduce<Pre::Square, Acc::Sum, Post::None>, nullptr});
  t.back().backward = reduce_grad<Pre::Square, Acc::Sum, Post::None>;
  t.push_back({"ReduceL1", kReduce, reduce<Pre::Abs, Acc::Sum, Post::None>, nullptr});
  t.back().backward = reduce_grad<Pre::Abs, Acc::Sum, Post::None>;
  t.push_back({"ReduceL2", kReduce, reduce<Pre::Square, Acc::Sum, Post::Sqrt>, nullptr});
  t.back().backward = reduce_grad<Pre::Square, Acc::Sum, Post::Sqrt>;
  t.push_back({"ReduceLogSum", kReduce, reduce<Pre::None, Acc::Sum, Post::Log>, nullptr});
  t.back().backward = reduce_grad<Pre::None, Acc::Sum, Post::Log>;
  t.push_back({"ReduceLogSumExp", kReduce, reduce<Pre::Exp, Acc::Sum, Post::Log>, nullptr});
  t.back().backward = reduce_grad<Pre::Exp, Acc::Sum, Post::Log>;
  t.push_back({"ArgMax", kArgReduce, arg_reduce<true>, nullptr});
  t.push_back({"ArgMin", kArgReduce, arg_reduce<false>, nullptr});
}

}  // namespace mpq
