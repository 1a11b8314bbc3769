// Broadcasting multi-input elementwise ops: arithmetic on Float32 and Int64 (shape arithmetic in
// exported graphs runs on int64), comparisons and logic producing Bool, Where and PRelu.
#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "broadcast.hpp"
#include "elementwise.hpp"

namespace mpq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor>;

void check_same_dtype(const Tensor& a, const Tensor& b) {
  const bool int_like_a = a.dtype != DType::Float32, int_like_b = b.dtype != DType::Float32;
  if (int_like_a != int_like_b)
    throw OpError(std::string("input types differ: ") + dtype_name(a.dtype) + " and " +
                  dtype_name(b.dtype));
}

// y = f(a, b) elementwise with broadcasting; integer-like inputs (Int64, Bool) read `i`.
template <class F>
void apply_binary(const Tensor& a, const Tensor& b, Tensor& y, DType out_dtype, F f) {
  check_same_dtype(a, b);
  const Shape os = broadcast_shapes(a.shape, b.shape);
  y.dtype = out_dtype;
  y.allocate(os);
  if (a.is_float()) {
    if (out_dtype == DType::Float32)
      broadcast_binary(a.f.data(), a.shape, b.f.data(), b.shape, y.f.data(), os, f);
    else
      broadcast_binary(a.f.data(), a.shape, b.f.data(), b.shape, y.i.data(), os, f);
  } else {
    broadcast_binary(a.i.data(), a.shape, b.i.data(), b.shape, y.i.data(), os, f);
  }
}

void check_no_zero_divisor(const Tensor& b) {
  if (!b.is_float() && std::find(b.i.begin(), b.i.end(), 0) != b.i.end())
    throw OpError("integer division by zero");
}

struct AddOp { template <class T> T operator()(T x, T y) const { return x + y; } };
struct SubOp { template <class T> T operator()(T x, T y) const { return x - y; } };
struct MulOp { template <class T> T operator()(T x, T y) const { return x * y; } };
struct DivOp { template <class T> T operator()(T x, T y) const { return x / y; } };  // ints truncate
struct MinOp { template <class T> T operator()(T x, T y) const { return std::min(x, y); } };
struct MaxOp { template <class T> T operator()(T x, T y) const { return std::max(x, y); } };

template <class Op, bool kIntDivision = false>
void arith(const OpContext&, In in, Out out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  if (kIntDivision) check_no_zero_divisor(b);
  apply_binary(a, b, out[0], a.dtype == DType::Bool ? DType::Int64 : a.dtype, Op{});
}

// Variadic Min/Max: folds the inputs pairwise into the output.
template <class Op>
void min_max(const OpContext&, In in, Out out) {
  Tensor& y = out[0];
  const Tensor& first = require(in, 0, "data_0");
  if (in.size() == 1) {
    y = first;
    return;
  }
  apply_binary(first, require(in, 1, "data_1"), y, first.dtype, Op{});
  Tensor tmp;
  for (std::size_t k = 2; k < in.size(); ++k) {
    apply_binary(y, require(in, k, "data"), tmp, y.dtype, Op{});
    std::swap(y, tmp);
  }
}

template <class Cmp>
void compare(const OpContext&, In in, Out out) {
  apply_binary(require(in, 0, "A"), require(in, 1, "B"), out[0], DType::Bool,
               [](auto x, auto y) -> std::int64_t { return Cmp{}(x, y); });
}

template <class Logic>
void logical(const OpContext&, In in, Out out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  if (a.is_float() || b.is_float()) throw OpError("expects bool inputs");
  apply_binary(a, b, out[0], DType::Bool, [](std::int64_t x, std::int64_t y) -> std::int64_t {
    return Logic{}(x != 0, y != 0);
  });
}

std::int64_t int_pow(std::int64_t base, std::int64_t e) {
  if (e < 0) return base == 1 ? 1 : base == -1 ? (e % 2 ? -1 : 1) : 0;
  std::int64_t r = 1;
  for (; e; e >>= 1, base *= base)
    if (e & 1) r *= base;
  return r;
}

// Output type follows the base; the exponent may be float or integer.
void pow_op(const OpContext&, In in, Out out) {
  const Tensor& a = require(in, 0, "X");
  const Tensor& b = require(in, 1, "Y");
  Tensor& y = out[0];
  const Shape os = broadcast_shapes(a.shape, b.shape);
  y.dtype = a.is_float() ? DType::Float32 : DType::Int64;
  y.allocate(os);
  if (a.is_float() && b.is_float()) {
    if (b.size() == 1 && b.f[0] == 2.0f)  // x^2 is common (variance) and exact as x*x
      return broadcast_binary(a.f.data(), a.shape, b.f.data(), b.shape, y.f.data(), os,
                              [](float x, float) { return x * x; });
    return broadcast_binary(a.f.data(), a.shape, b.f.data(), b.shape, y.f.data(), os,
                            [](float x, float e) { return std::pow(x, e); });
  }
  if (a.is_float())
    return broadcast_binary(a.f.data(), a.shape, b.i.data(), b.shape, y.f.data(), os,
                            [](float x, std::int64_t e) {
                              return static_cast<float>(
                                  std::pow(static_cast<double>(x), static_cast<double>(e)));
                            });
  if (b.is_float())
    return broadcast_binary(a.i.data(), a.shape, b.f.data(), b.shape, y.i.data(), os,
                            [](std::int64_t x, float e) {
                              return static_cast<std::int64_t>(
                                  std::pow(static_cast<double>(x), static_cast<double>(e)));
                            });
  broadcast_binary(a.i.data(), a.shape, b.i.data(), b.shape, y.i.data(), os, int_pow);
}

// fmod=0: result takes the divisor's sign (Python %); fmod=1: the dividend's (C fmod).
void mod_op(const OpContext& ctx, In in, Out out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  const bool c_style = ctx.node.attr_int("fmod", 0) != 0;
  if (a.is_float())
    return apply_binary(a, b, out[0], DType::Float32, [c_style](float x, float d) {
      float r = std::fmod(x, d);
      if (!c_style && r != 0.0f && (r < 0.0f) != (d < 0.0f)) r += d;
      return r;
    });
  check_no_zero_divisor(b);
  apply_binary(a, b, out[0], DType::Int64, [c_style](std::int64_t x, std::int64_t d) {
    std::int64_t r = x % d;
    if (!c_style && r != 0 && (r < 0) != (d < 0)) r += d;
    return r;
  });
}

// Slope broadcasts unidirectionally to X.
void prelu(const OpContext&, In in, Out out) {
  const Tensor& x = require(in, 0, "X");
  const Tensor& s = require(in, 1, "slope");
  if (broadcast_shapes(x.shape, s.shape) != x.shape)
    throw OpError("slope shape " + shape_str(s.shape) + " does not broadcast to X shape " +
                  shape_str(x.shape));
  apply_binary(x, s, out[0], x.dtype,
               [](auto v, auto k) { return v < decltype(v){0} ? v * k : v; });
}

void where(const OpContext&, In in, Out out) {
  const Tensor& c = require(in, 0, "condition");
  const Tensor& a = require(in, 1, "X");
  const Tensor& b = require(in, 2, "Y");
  if (c.is_float()) throw OpError("condition must be bool");
  check_same_dtype(a, b);
  const std::array<const Shape*, 3> shapes{&c.shape, &a.shape, &b.shape};
  const Shape os = broadcast_shapes(shapes);
  Tensor& y = out[0];
  y.dtype = a.dtype;
  y.allocate(os);
  const std::int64_t* pc = c.i.data();
  auto run = [&](const auto* pa, const auto* pb, auto* po) {
    const std::int64_t n = numel(os);
    if (c.shape == os && a.shape == os && b.shape == os) {
      parallel_chunks(n, [&](std::int64_t s, std::int64_t e) {
        for (std::int64_t k = s; k < e; ++k) po[k] = pc[k] ? pa[k] : pb[k];
      });
      return;
    }
    const BroadcastPlan<3> plan(os, shapes);
    const std::int64_t sc = plan.inner_step(0), sa = plan.inner_step(1), sb = plan.inner_step(2);
    parallel_chunks(n, [&](std::int64_t s, std::int64_t e) {
      plan.for_each_segment(s, e, [&](std::int64_t p, const std::array<std::int64_t, 3>& off,
                                      std::int64_t len) {
        for (std::int64_t k = 0; k < len; ++k)
          po[p + k] = pc[off[0] + k * sc] ? pa[off[1] + k * sa] : pb[off[2] + k * sb];
      });
    });
  };
  if (a.is_float())
    run(a.f.data(), b.f.data(), y.f.data());
  else
    run(a.i.data(), b.i.data(), y.i.data());
}

// Opset < 7 broadcast attributes are not implemented.
std::optional<std::string> validate_legacy_broadcast(const OpNode& n, std::int64_t) {
  if (n.attr_int("broadcast", 0) != 0 || n.has_attr("axis"))
    return std::string("legacy (opset < 7) attributes broadcast/axis are not supported");
  return std::nullopt;
}

std::optional<std::string> validate_variadic(const OpNode& n, std::int64_t) {
  for (std::size_t k = 0; k < n.inputs.size(); ++k)
    if (!n.has_input(k)) return std::string("omitted inputs are not supported");
  if (n.inputs.empty()) return std::string("needs at least one input");
  return std::nullopt;
}

}  // namespace

void register_binary_ops(OpTable& t) {
  t.push_back({"Add", arith<AddOp>, validate_legacy_broadcast});
  t.push_back({"Sub", arith<SubOp>, validate_legacy_broadcast});
  t.push_back({"Mul", arith<MulOp>, validate_legacy_broadcast});
  t.push_back({"Div", arith<DivOp, true>, validate_legacy_broadcast});
  t.push_back({"Pow", pow_op, validate_legacy_broadcast});
  t.push_back({"Mod", mod_op, nullptr});
  t.push_back({"Min", min_max<MinOp>, validate_variadic});
  t.push_back({"Max", min_max<MaxOp>, validate_variadic});
  t.push_back({"Equal", compare<std::equal_to<>>, validate_legacy_broadcast});
  t.push_back({"Greater", compare<std::greater<>>, validate_legacy_broadcast});
  t.push_back({"Less", compare<std::less<>>, validate_legacy_broadcast});
  t.push_back({"GreaterOrEqual", compare<std::greater_equal<>>, nullptr});
  t.push_back({"LessOrEqual", compare<std::less_equal<>>, nullptr});
  t.push_back({"And", logical<std::logical_and<>>, validate_legacy_broadcast});
  t.push_back({"Or", logical<std::logical_or<>>, validate_legacy_broadcast});
  t.push_back({"Xor", logical<std::not_equal_to<>>, validate_legacy_broadcast});
  t.push_back({"Where", where, nullptr});
  t.push_back({"PRelu", prelu, nullptr});
}

}  // namespace mpq::ops
