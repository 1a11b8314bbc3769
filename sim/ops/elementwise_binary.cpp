// Broadcasting multi-input elementwise ops: arithmetic on Float32 and Int64 (shape arithmetic in
// exported graphs runs on int64), comparisons and logic producing Bool, Where and PRelu.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>
#include <utility>

#include "broadcast.hpp"
#include "eigen_arrays.hpp"
#include "elementwise.hpp"
#include "grad_util.hpp"
#include "kernel_util.hpp"

namespace mpq::ops {
namespace {

using ops::ChunkHook;
using In = std::span<const Tensor* const>;
using Out = std::span<Tensor>;

void check_same_dtype(const Tensor& a, const Tensor& b) {
  const bool int_like_a = a.dtype != DType::Float32, int_like_b = b.dtype != DType::Float32;
  if (int_like_a != int_like_b)
    throw OpError(std::string("input types differ: ") + dtype_name(a.dtype) + " and " +
                  dtype_name(b.dtype));
}

// B's shape for broadcasting. Before opset 7, broadcasting was opt-in (broadcast=1) and
// aligned B with A's dims starting at `axis` (default: A's trailing dims).
Shape b_shape(const OpNode& node, std::int64_t opset, const Tensor& a, const Tensor& b) {
  if (opset >= 7 || node.attr_int("broadcast", 0) == 0) return b.shape;
  const std::int64_t ra = a.rank(), rb = b.rank();
  const std::int64_t axis =
      node.has_attr("axis") ? normalize_axis(node.attr_int("axis", 0), ra) : ra - rb;
  if (axis < 0 || axis + rb > ra)
    throw OpError("legacy broadcast of " + shape_str(b.shape) + " to " + shape_str(a.shape) +
                  " at axis " + std::to_string(axis) + " is out of range");
  Shape s(static_cast<std::size_t>(ra), 1);
  std::copy(b.shape.begin(), b.shape.end(), s.begin() + axis);
  return s;
}
Shape b_shape(const OpContext& ctx, const Tensor& a, const Tensor& b) {
  return b_shape(ctx.node, ctx.opset, a, b);
}

// y = f(a, b) elementwise, B broadcast with shape `bs`; Int64 and Bool inputs read `i`.
template <class F>
void apply_binary(const Tensor& a, const Tensor& b, const Shape& bs, Tensor& y, DType out_dtype,
                  F f, const ChunkHook* after = nullptr) {
  check_same_dtype(a, b);
  const Shape os = broadcast_shapes(a.shape, bs);
  if (out_dtype == DType::Float32) {
    shape_float_output(y, os);
  } else {
    y.dtype = out_dtype;
    y.allocate(os);
  }
  if (a.is_float()) {
    if (out_dtype == DType::Float32)
      broadcast_binary(a.f.data(), a.shape, b.f.data(), bs, y.f.data(), os, f, after);
    else
      broadcast_binary(a.f.data(), a.shape, b.f.data(), bs, y.i.data(), os, f);
  } else {
    broadcast_binary(a.i.data(), a.shape, b.i.data(), bs, y.i.data(), os, f);
  }
}
template <class F>
void apply_binary(const Tensor& a, const Tensor& b, Tensor& y, DType out_dtype, F f) {
  apply_binary(a, b, b.shape, y, out_dtype, f);
}

void check_no_zero_divisor(const Tensor& b) {
  if (!b.is_float() && std::find(b.i.begin(), b.i.end(), 0) != b.i.end())
    throw OpError("integer division by zero");
}

struct MinOp {
  template <class T>
  T operator()(T x, T y) const {
    return std::min(x, y);
  }
};
struct MaxOp {
  template <class T>
  T operator()(T x, T y) const {
    return std::max(x, y);
  }
};

// Op is std::plus<> etc.; integer division truncates toward zero as in C.
template <class Op, bool kIntDivision = false>
void arith(const OpContext& ctx, In in, Out out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  if (kIntDivision) check_no_zero_divisor(b);
  const DType out_dtype = a.dtype == DType::Bool ? DType::Int64 : a.dtype;
  apply_binary(a, b, b_shape(ctx, a, b), out[0], out_dtype, Op{}, ctx.output_hook);
}

// Add, possibly with a Relu/Clip the engine folded into it (residual blocks: Add -> Relu):
// one pass instead of two.
void add_op(const OpContext& ctx, In in, Out out) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (ctx.folds.act_min == -kInf && ctx.folds.act_max == kInf)
    return arith<std::plus<>>(ctx, in, out);
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  // Integer bounds for Int64 sums (a Relu after an index computation).
  const auto to_int = [](float v) {
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    if (v >= 9.2e18f) return kMax;
    return v <= -9.2e18f ? std::numeric_limits<std::int64_t>::min() : static_cast<std::int64_t>(v);
  };
  const float lo = ctx.folds.act_min, hi = ctx.folds.act_max;
  const std::int64_t ilo = to_int(std::ceil(lo)), ihi = to_int(std::floor(hi));
  const DType out_dtype = a.dtype == DType::Bool ? DType::Int64 : a.dtype;
  apply_binary(
      a, b, b_shape(ctx, a, b), out[0], out_dtype,
      [=](auto p, auto q) {
        const auto v = p + q;
        if constexpr (std::is_floating_point_v<decltype(v)>)
          return std::min(std::max(v, lo), hi);
        else
          return std::min<decltype(v)>(std::max<decltype(v)>(v, ilo), ihi);
      },
      ctx.output_hook);
}

// Variadic Min/Max/Sum: folds the inputs pairwise into the output.
template <class Op>
void fold_inputs(const OpContext&, In in, Out out) {
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

void mean_op(const OpContext& ctx, In in, Out out) {
  if (!require(in, 0, "data_0").is_float()) throw OpError("Mean expects float inputs");
  fold_inputs<std::plus<>>(ctx, in, out);
  const float n = static_cast<float>(in.size());
  for (float& v : out[0].f) v /= n;
}

template <class Cmp>
void compare(const OpContext& ctx, In in, Out out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  apply_binary(a, b, b_shape(ctx, a, b), out[0], DType::Bool,
               [](auto x, auto y) -> std::int64_t { return Cmp{}(x, y); });
}

template <class Logic>
void logical(const OpContext& ctx, In in, Out out) {
  const Tensor& a = require(in, 0, "A");
  const Tensor& b = require(in, 1, "B");
  if (a.is_float() || b.is_float()) throw OpError("expects bool inputs");
  apply_binary(
      a, b, b_shape(ctx, a, b), out[0], DType::Bool,
      [](std::int64_t x, std::int64_t y) -> std::int64_t { return Logic{}(x != 0, y != 0); });
}

std::int64_t int_pow(std::int64_t base, std::int64_t e) {
  if (e < 0) return base == 1 ? 1 : base == -1 ? (e % 2 ? -1 : 1) : 0;
  std::int64_t r = 1;
  for (; e; e >>= 1, base *= base)
    if (e & 1) r *= base;
  return r;
}

// Output type follows the base; the exponent may be float or integer.
void pow_op(const OpContext& ctx, In in, Out out) {
  const Tensor& a = require(in, 0, "X");
  const Tensor& b = require(in, 1, "Y");
  Tensor& y = out[0];
  const Shape bs = b_shape(ctx, a, b);
  const Shape os = broadcast_shapes(a.shape, bs);
  if (a.is_float()) {
    shape_float_output(y, os);
  } else {
    y.dtype = DType::Int64;
    y.allocate(os);
  }
  if (a.is_float() && b.is_float()) {
    if (b.size() == 1 && b.f[0] == 2.0f)  // x^2 is common (variance) and exact as x*x
      return broadcast_binary(a.f.data(), a.shape, b.f.data(), bs, y.f.data(), os,
                              [](float x, float) { return x * x; });
    return broadcast_binary(a.f.data(), a.shape, b.f.data(), bs, y.f.data(), os,
                            [](float x, float e) { return std::pow(x, e); });
  }
  if (a.is_float())
    return broadcast_binary(
        a.f.data(), a.shape, b.i.data(), bs, y.f.data(), os, [](float x, std::int64_t e) {
          return static_cast<float>(std::pow(static_cast<double>(x), static_cast<double>(e)));
        });
  if (b.is_float())
    return broadcast_binary(a.i.data(), a.shape, b.f.data(), bs, y.i.data(), os,
                            [](std::int64_t x, float e) {
                              return static_cast<std::int64_t>(
                                  std::pow(static_cast<double>(x), static_cast<double>(e)));
                            });
  broadcast_binary(a.i.data(), a.shape, b.i.data(), bs, y.i.data(), os, int_pow);
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

// Slope broadcasts unidirectionally to X; before opset 7 a 1-D slope was per channel (axis 1).
void prelu(const OpContext& ctx, In in, Out out) {
  const Tensor& x = require(in, 0, "X");
  const Tensor& s = require(in, 1, "slope");
  Shape ss = s.shape;
  if (ctx.opset < 7 && s.rank() == 1 && x.rank() >= 2 && s.size() == x.shape[1] && s.size() != 1) {
    ss.assign(static_cast<std::size_t>(x.rank() - 1), 1);
    ss[0] = s.size();
  }
  if (broadcast_shapes(x.shape, ss) != x.shape)
    throw OpError("slope shape " + shape_str(s.shape) + " does not broadcast to X shape " +
                  shape_str(x.shape));
  apply_binary(x, s, ss, out[0], x.dtype,
               [](auto v, auto k) { return v < decltype(v){0} ? v * k : v; });
}

// mpq::GateMul (graph/canonicalize.hpp): X * gate(G), the gate Sigmoid or HardSigmoid(alpha,
// beta), broadcasting. The gate is computed apart first: it is small (a squeeze-excitation
// vector) or X itself.
void gate_mul(const OpContext& ctx, In in, Out out) {
  const Tensor& x = require(in, 0, "X");
  Tensor gate = require(in, 1, "G");
  if (!x.is_float() || !gate.is_float()) throw OpError("GateMul expects float inputs");
  MapF g(gate.f.data(), gate.size());
  if (ctx.node.attr_string("gate", "Sigmoid") == "HardSigmoid")
    g = (g * ctx.node.attr_float("alpha", 0.2f) + ctx.node.attr_float("beta", 0.5f))
            .max(0.0f)
            .min(1.0f);
  else
    g = g.logistic();
  apply_binary(x, gate, out[0], DType::Float32, std::multiplies<>());
}

std::optional<std::string> validate_gate_mul(const OpNode& n, std::int64_t) {
  const std::string gate = n.attr_string("gate", "Sigmoid");
  if (gate != "Sigmoid" && gate != "HardSigmoid") return "gate='" + gate + "' is not supported";
  return std::nullopt;
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
      plan.for_each_segment(
          s, e, [&](std::int64_t p, const std::array<std::int64_t, 3>& off, std::int64_t len) {
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

std::optional<std::string> validate_variadic(const OpNode& n, std::int64_t) {
  for (std::size_t k = 0; k < n.inputs.size(); ++k)
    if (!n.has_input(k)) return std::string("omitted inputs are not supported");
  if (n.inputs.empty()) return std::string("needs at least one input");
  return std::nullopt;
}

// ---- Backward rules ----

// Two-input arithmetic: partial(k, a, b, y).
template <class Partial>
void binary_grad(const GradContext& c, Partial partial) {
  const Tensor& a = grad_input(c, 0);
  const Tensor& b = grad_input(c, 1);
  broadcast_grad(c, {a.shape, b_shape(c.node, c.opset, a, b)},
                 [&](std::size_t k, const std::vector<float>& v, float y) {
                   return partial(k, v[0], v[1], y);
                 });
}
// Add and Sub read no input values: dy summed back to each input's (broadcast) shape.
void add_sub_grad(const GradContext& c, bool sub) {
  const Tensor& a = grad_input(c, 0);
  const Tensor& b = grad_input(c, 1);
  const Tensor& dy = out_grad(c);
  const Shape shapes[2] = {a.shape, b_shape(c.node, c.opset, a, b)};
  for (std::size_t k = 0; k < 2; ++k) {
    Tensor* dx = wanted(c, k);
    if (!dx) continue;
    unbroadcast(dy.f.data(), dy.shape, shapes[k], *dx);
    dx->shape = c.inputs[k]->shape;
    if (sub && k == 1)
      for (float& v : dx->f) v = -v;
  }
}
void add_grad(const GradContext& c) {
  add_sub_grad(c, false);
}
void sub_grad(const GradContext& c) {
  add_sub_grad(c, true);
}
void mul_grad(const GradContext& c) {
  binary_grad(c, [](std::size_t k, float a, float b, float) { return k == 0 ? b : a; });
}
void div_grad(const GradContext& c) {
  binary_grad(c, [](std::size_t k, float, float b, float y) { return k == 0 ? 1.0f / b : -y / b; });
}
// d/db a^b = y log a, taken as 0 where a <= 0 (PyTorch gives NaN for a < 0).
void pow_grad(const GradContext& c) {
  binary_grad(c, [](std::size_t k, float a, float b, float y) {
    if (k == 0) return b == 0.0f ? 0.0f : static_cast<float>(b * std::pow(double(a), b - 1.0));
    return a > 0.0f ? static_cast<float>(y * std::log(double(a))) : 0.0f;
  });
}
void prelu_grad(const GradContext& c) {
  const Tensor& x = grad_input(c, 0);
  const Tensor& s = grad_input(c, 1);
  Shape ss = s.shape;
  if (c.opset < 7 && s.rank() == 1 && x.rank() >= 2 && s.size() == x.shape[1] && s.size() != 1) {
    ss.assign(static_cast<std::size_t>(x.rank() - 1), 1);
    ss[0] = s.size();
  }
  broadcast_grad(c, {x.shape, ss}, [](std::size_t k, const std::vector<float>& v, float) {
    if (k == 0) return v[0] < 0.0f ? v[1] : 1.0f;
    return v[0] < 0.0f ? v[0] : 0.0f;
  });
}
void gate_mul_grad(const GradContext& c) {
  const bool hard = c.node.attr_string("gate", "Sigmoid") == "HardSigmoid";
  const float alpha = c.node.attr_float("alpha", 0.2f), beta = c.node.attr_float("beta", 0.5f);
  const auto gate = [=](float g) {
    return hard ? std::min(std::max(g * alpha + beta, 0.0f), 1.0f)
                : static_cast<float>(1.0 / (1.0 + std::exp(-double(g))));
  };
  const auto slope = [=](float g) {
    if (hard) return g * alpha + beta > 0.0f && g * alpha + beta < 1.0f ? alpha : 0.0f;
    const float s = gate(g);
    return s * (1.0f - s);
  };
  binary_grad(
      c, [&](std::size_t k, float x, float g, float) { return k == 0 ? gate(g) : x * slope(g); });
}
// Max / Min: the inputs equal to the result share its gradient (as PyTorch splits ties).
void select_grad(const GradContext& c) {
  std::vector<Shape> shapes;
  for (std::size_t k = 0; k < c.inputs.size(); ++k) shapes.push_back(grad_input(c, k).shape);
  broadcast_grad(c, shapes, [](std::size_t k, const std::vector<float>& v, float y) {
    if (v[k] != y) return 0.0f;
    return 1.0f / static_cast<float>(std::count(v.begin(), v.end(), y));
  });
}
void sum_grad(const GradContext& c) {
  std::vector<Shape> shapes;
  for (std::size_t k = 0; k < c.inputs.size(); ++k) shapes.push_back(grad_input(c, k).shape);
  const float w = c.node.op_type == "Mean" ? 1.0f / static_cast<float>(shapes.size()) : 1.0f;
  broadcast_grad(c, shapes, [=](std::size_t, const std::vector<float>&, float) { return w; });
}
void where_grad(const GradContext& c) {
  const Tensor& cond = require(c.inputs, 0, "condition");
  const Tensor& y = *c.outputs[0];
  const Tensor& dy = out_grad(c);
  const auto ic = broadcast_index(y.shape, cond.shape);
  FloatBuffer tmp(static_cast<std::size_t>(y.size()));
  for (std::size_t k = 1; k < 3; ++k) {
    Tensor* dx = wanted(c, k);
    if (!dx) continue;
    for (std::size_t e = 0; e < tmp.size(); ++e)
      tmp[e] = (cond.i[static_cast<std::size_t>(ic[e])] != 0) == (k == 1) ? dy.f[e] : 0.0f;
    unbroadcast(tmp.data(), y.shape, grad_input(c, k).shape, *dx);
  }
}

// Traits: Add, Sub, Mul, Div, Max, Min, Equal and Where also compute shapes (batch-size
// values in, batch-size values out).
constexpr OpTraits kElementwise{OpClass::Elementwise, PlacementRole::Compute};
constexpr OpTraits kShapeArithmetic{
    OpClass::Elementwise, PlacementRole::Compute, {}, {.arithmetic = true}};
constexpr OpTraits kActivation{OpClass::Activation, PlacementRole::Compute};
constexpr OpTraits kComparison = kElementwise.with_gradient({.none = true});
constexpr OpTraits kEqual = kShapeArithmetic.with_gradient({.none = true});
// A Max of values >= 0 is >= 0.
constexpr OpTraits kMaxTraits{OpClass::Elementwise,
                              PlacementRole::Compute,
                              {.output_non_negative = non_negative_if_inputs_are},
                              {.arithmetic = true}};

}  // namespace

void register_binary_ops(OpTable& t) {
  t.push_back({"Add", kShapeArithmetic, add_op, nullptr, true, false, false, true});
  t.back().backward = add_grad;
  t.push_back({"Sub", kShapeArithmetic, arith<std::minus<>>, nullptr, false, false, false, true});
  t.back().backward = sub_grad;
  t.push_back(
      {"Mul", kShapeArithmetic, arith<std::multiplies<>>, nullptr, false, false, false, true});
  t.back().backward = mul_grad;
  t.push_back(
      {"Div", kShapeArithmetic, arith<std::divides<>, true>, nullptr, false, false, false, true});
  t.back().backward = div_grad;
  t.push_back({"Pow", kElementwise, pow_op, nullptr});
  t.back().backward = pow_grad;
  t.push_back({"mpq::GateMul", kElementwise, gate_mul, validate_gate_mul});
  t.back().backward = gate_mul_grad;
  t.push_back({"Mod", kElementwise, mod_op, nullptr});
  t.push_back({"Min", kShapeArithmetic, fold_inputs<MinOp>, validate_variadic});
  t.back().backward = select_grad;
  t.push_back({"Max", kMaxTraits, fold_inputs<MaxOp>, validate_variadic});
  t.back().backward = select_grad;
  t.push_back({"Sum", kElementwise, fold_inputs<std::plus<>>, validate_variadic});
  t.back().backward = sum_grad;
  t.push_back({"Mean", kElementwise, mean_op, validate_variadic});
  t.back().backward = sum_grad;
  t.push_back({"Equal", kEqual, compare<std::equal_to<>>, nullptr});
  t.push_back({"Greater", kComparison, compare<std::greater<>>, nullptr});
  t.push_back({"Less", kComparison, compare<std::less<>>, nullptr});
  t.push_back({"GreaterOrEqual", kComparison, compare<std::greater_equal<>>, nullptr});
  t.push_back({"LessOrEqual", kComparison, compare<std::less_equal<>>, nullptr});
  t.push_back({"And", kComparison, logical<std::logical_and<>>, nullptr});
  t.push_back({"Or", kComparison, logical<std::logical_or<>>, nullptr});
  t.push_back({"Xor", kComparison, logical<std::not_equal_to<>>, nullptr});
  t.push_back({"Where", kShapeArithmetic.with_gradient({.inert_inputs = 0b1}), where, nullptr});
  t.back().backward = where_grad;
  t.push_back({"PRelu", kActivation, prelu, nullptr});
  t.back().backward = prelu_grad;
}

}  // namespace mpq::ops
