// One-input elementwise ops: activations, math functions, Clip and Cast. Float kernels run
// Eigen array expressions (vectorized exp/tanh/logistic) over chunks of the flat tensor.
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>

#include "broadcast.hpp"
#include "eigen_arrays.hpp"
#include "elementwise.hpp"
#include "erf.hpp"
#include "gelu_chain.hpp"
#include "grad_util.hpp"
#include "graph/network.hpp"
#include "kernel_util.hpp"

namespace mpq::ops {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor>;

const Tensor& float_input(In in) {
  const Tensor& x = require(in, 0, "X");
  if (!x.is_float())
    throw OpError(std::string("expects a float input, got ") + dtype_name(x.dtype));
  return x;
}

// y = f(x) where f(CMapF in, MapF out) assigns an Eigen expression over one chunk.
template <class F>
void map_float(const Tensor& x, Tensor& y, F f) {
  shape_float_output(y, x.shape);
  const float* src = x.f.data();
  float* dst = y.f.data();
  parallel_chunks(x.size(), [&](std::int64_t b, std::int64_t e) {
    f(CMapF(src + b, e - b), MapF(dst + b, e - b));
  });
}

// y = f(v) per element of an Int64 or Bool tensor; the output keeps the input dtype.
template <class F>
void map_int(const Tensor& x, Tensor& y, F f) {
  y.dtype = x.dtype;
  y.allocate(x.shape);
  const std::int64_t* src = x.i.data();
  std::int64_t* dst = y.i.data();
  parallel_chunks(x.size(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) dst[k] = f(src[k]);
  });
}

// Kernels for ops with no attributes, from an Eigen expression on a float chunk.
#define MPQ_FLOAT_UNARY(name, expr)                                                 \
  void name(const OpContext&, In in, Out out) {                                     \
    map_float(float_input(in), out[0], [](const CMapF& x, MapF y) { y = (expr); }); \
  }

MPQ_FLOAT_UNARY(sigmoid, x.logistic())
MPQ_FLOAT_UNARY(tanh_op, x.tanh())
MPQ_FLOAT_UNARY(sqrt_op, x.sqrt())
MPQ_FLOAT_UNARY(exp_op, x.exp())
MPQ_FLOAT_UNARY(log_op, x.log())
MPQ_FLOAT_UNARY(hard_swish, x*((x * (1.0f / 6.0f) + 0.5f).max(0.0f).min(1.0f)))
MPQ_FLOAT_UNARY(reciprocal, x.inverse())
MPQ_FLOAT_UNARY(floor_op, x.floor())
MPQ_FLOAT_UNARY(ceil_op, x.ceil())
MPQ_FLOAT_UNARY(round_op, x.rint())  // halves to even, as ONNX Round
MPQ_FLOAT_UNARY(softsign, x / (1.0f + x.abs()))
// log(1 + e^x) without overflow for large x.
MPQ_FLOAT_UNARY(softplus, x.max(0.0f) + (-x.abs()).exp().log1p())
MPQ_FLOAT_UNARY(silu, x* x.logistic())  // mpq::SiLU (graph/canonicalize.hpp)
MPQ_FLOAT_UNARY(mish, x*((x.max(0.0f) + (-x.abs()).exp().log1p()).tanh()))
#undef MPQ_FLOAT_UNARY

// Ops defined on both floats and integers.
void relu(const OpContext&, In in, Out out) {
  const Tensor& x = require(in, 0, "X");
  if (x.is_float()) return map_float(x, out[0], [](const CMapF& a, MapF b) { b = a.max(0.0f); });
  map_int(x, out[0], [](std::int64_t v) { return v > 0 ? v : 0; });
}

void neg(const OpContext&, In in, Out out) {
  const Tensor& x = require(in, 0, "X");
  if (x.is_float()) return map_float(x, out[0], [](const CMapF& a, MapF b) { b = -a; });
  map_int(x, out[0], [](std::int64_t v) { return -v; });
}

void abs_op(const OpContext&, In in, Out out) {
  const Tensor& x = require(in, 0, "X");
  if (x.is_float()) return map_float(x, out[0], [](const CMapF& a, MapF b) { b = a.abs(); });
  map_int(x, out[0], [](std::int64_t v) { return v < 0 ? -v : v; });
}

void sign(const OpContext&, In in, Out out) {
  const Tensor& x = require(in, 0, "X");
  if (x.is_float())
    return map_float(x, out[0], [](const CMapF& a, MapF b) {
      b = (a > 0.0f).cast<float>() - (a < 0.0f).cast<float>();
    });
  map_int(x, out[0], [](std::int64_t v) { return std::int64_t{v > 0} - std::int64_t{v < 0}; });
}

void not_op(const OpContext&, In in, Out out) {
  const Tensor& x = require(in, 0, "X");
  if (x.dtype != DType::Bool) throw OpError("Not expects a bool input");
  map_int(x, out[0], [](std::int64_t v) -> std::int64_t { return v == 0; });
}

void leaky_relu(const OpContext& ctx, In in, Out out) {
  const float alpha = ctx.node.attr_float("alpha", 0.01f);
  map_float(float_input(in), out[0],
            [=](const CMapF& x, MapF y) { y = x.max(0.0f) + alpha * x.min(0.0f); });
}

void hard_sigmoid(const OpContext& ctx, In in, Out out) {
  const float alpha = ctx.node.attr_float("alpha", 0.2f);
  const float beta = ctx.node.attr_float("beta", 0.5f);
  map_float(float_input(in), out[0],
            [=](const CMapF& x, MapF y) { y = (x * alpha + beta).max(0.0f).min(1.0f); });
}

void elu(const OpContext& ctx, In in, Out out) {
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  map_float(float_input(in), out[0],
            [=](const CMapF& x, MapF y) { y = (x > 0.0f).select(x, alpha * x.min(0.0f).expm1()); });
}

void selu(const OpContext& ctx, In in, Out out) {
  const float alpha = ctx.node.attr_float("alpha", 1.67326319217681884765625f);
  const float gamma = ctx.node.attr_float("gamma", 1.05070102214813232421875f);
  map_float(float_input(in), out[0], [=](const CMapF& x, MapF y) {
    y = gamma * (x > 0.0f).select(x, alpha * x.min(0.0f).expm1());
  });
}

void erf_op(const OpContext&, In in, Out out) {
  map_float(float_input(in), out[0],
            [](const CMapF& x, MapF y) { erf_float(x.data(), y.data(), x.size()); });
}

void gelu(const OpContext& ctx, In in, Out out) {
  if (ctx.node.attr_string("approximate", "none") == "tanh") {
    const float k = 0.7978845608028654f;  // sqrt(2 / pi)
    return map_float(float_input(in), out[0], [=](const CMapF& x, MapF y) {
      y = 0.5f * x * (1.0f + (k * (x + 0.044715f * x.cube())).tanh());
    });
  }
  // The arithmetic of PyTorch's exported chain (x * (erf(x / sqrt 2) + 1)) * 0.5, blocked in
  // L1: a chain the canonicalization pass turned into this op computes what it did before.
  gelu_erf_chain(float_input(in), std::numbers::sqrt2_v<float>, 1.0f, 0.5f, out[0]);
}

std::optional<std::string> validate_gelu(const OpNode& n, std::int64_t) {
  const std::string a = n.attr_string("approximate", "none");
  if (a != "none" && a != "tanh") return "approximate='" + a + "' is not supported";
  return std::nullopt;
}

// Scalar bound from an optional Clip input (opset >= 11); empty tensors count as omitted.
const Tensor* clip_bound(In in, std::size_t k) {
  const Tensor* t = optional_input(in, k);
  if (!t || t->size() == 0) return nullptr;
  if (t->size() != 1) throw OpError("Clip min/max must be scalars, got " + shape_str(t->shape));
  return t;
}

// A float Clip's bounds, from its attributes (opset < 11) or inputs.
std::pair<float, float> float_clip_bounds(const OpNode& node, std::int64_t opset, In in) {
  const Tensor* lo_t = opset >= 11 ? clip_bound(in, 1) : nullptr;
  const Tensor* hi_t = opset >= 11 ? clip_bound(in, 2) : nullptr;
  float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
  if (opset < 11) {
    lo = node.attr_float("min", lo);
    hi = node.attr_float("max", hi);
  }
  if (lo_t) lo = static_cast<float>(lo_t->at_f(0));
  if (hi_t) hi = static_cast<float>(hi_t->at_f(0));
  return {lo, hi};
}

void clip(const OpContext& ctx, In in, Out out) {
  const Tensor& x = require(in, 0, "input");
  const Tensor* lo_t = ctx.opset >= 11 ? clip_bound(in, 1) : nullptr;
  const Tensor* hi_t = ctx.opset >= 11 ? clip_bound(in, 2) : nullptr;
  if (x.is_float()) {
    // Not a structured binding: Clang 14 (the fuzz build) cannot capture one.
    const auto bounds = float_clip_bounds(ctx.node, ctx.opset, in);
    const float lo = bounds.first, hi = bounds.second;
    return map_float(x, out[0], [=](const CMapF& a, MapF b) { b = a.max(lo).min(hi); });
  }
  const std::int64_t lo = lo_t ? lo_t->at_i(0) : std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = hi_t ? hi_t->at_i(0) : std::numeric_limits<std::int64_t>::max();
  map_int(x, out[0], [=](std::int64_t v) { return std::min(std::max(v, lo), hi); });
}

// ---- Cast ----

// A float format narrower than float32, whose rounding a Cast to it must reproduce.
enum class NarrowFloat { None, Half, BFloat16 };

// What a target ONNX element type becomes in mpq's three storage types.
struct CastTarget {
  DType dtype = DType::Float32;
  NarrowFloat narrow = NarrowFloat::None;
  int int_bits = 64;  // integer width to wrap to
  bool is_unsigned = false;
};

std::optional<CastTarget> cast_target(std::int64_t to) {
  CastTarget t;
  switch (to) {
    case 1:
    case 11:
      return t;  // FLOAT, DOUBLE
    case 10:
      t.narrow = NarrowFloat::Half;
      return t;
    case 16:
      t.narrow = NarrowFloat::BFloat16;
      return t;
    case 9:
      t.dtype = DType::Bool;
      return t;
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 12:
    case 13:
      break;
    default:
      return std::nullopt;
  }
  t.dtype = DType::Int64;
  t.int_bits = to == 2 || to == 3 ? 8 : to == 4 || to == 5 ? 16 : to == 6 || to == 12 ? 32 : 64;
  t.is_unsigned = to == 2 || to == 4 || to == 12;
  return t;
}

const char* onnx_type_name(std::int64_t to) {
  static const char* names[] = {
      "UNDEFINED",      "FLOAT",      "UINT8",          "INT8",       "UINT16",   "INT16",
      "INT32",          "INT64",      "STRING",         "BOOL",       "FLOAT16",  "DOUBLE",
      "UINT32",         "UINT64",     "COMPLEX64",      "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
      "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4",      "INT4"};
  return to >= 0 && to < static_cast<std::int64_t>(std::size(names)) ? names[to] : "unknown";
}

// The value a narrower float format stores for v, kept in a float.
float round_to_format(float v, const CastTarget& t) {
  if (t.narrow == NarrowFloat::None || v == 0.0f || !std::isfinite(v)) return v;
  if (t.narrow == NarrowFloat::BFloat16)  // the upper 16 bits, as ONNX's reference truncates
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(v) & 0xFFFF0000u);
  // IEEE half: 11 significant bits, steps of 2^-24 below 2^-14, nearest with ties to even.
  int e = 0;
  std::frexp(v, &e);
  const int q = std::max(e - 11, -24);
  const double r = std::ldexp(std::nearbyint(std::ldexp(static_cast<double>(v), -q)), q);
  if (std::fabs(r) > 65504.0) return std::copysign(std::numeric_limits<float>::infinity(), v);
  return static_cast<float>(r);
}

std::int64_t wrap_int(std::int64_t v, const CastTarget& t) {
  if (t.int_bits >= 64) return v;
  const int s = 64 - t.int_bits;
  if (t.is_unsigned) return static_cast<std::int64_t>(static_cast<std::uint64_t>(v) << s >> s);
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(v) << s) >> s;
}

// Truncates toward zero like a C cast; NaN becomes 0 and out-of-range values saturate
// instead of being undefined.
std::int64_t float_to_int(float v) {
  if (std::isnan(v)) return 0;
  if (v >= 9.2233720368547758e18f) return std::numeric_limits<std::int64_t>::max();
  if (v <= -9.2233720368547758e18f) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}

void cast(const OpContext& ctx, In in, Out out) {
  const Tensor& x = require(in, 0, "input");
  const std::int64_t to = ctx.node.attr_int("to", 0);
  const auto target = cast_target(to);
  if (!target) throw OpError(std::string("cannot cast to ") + onnx_type_name(to));
  const CastTarget t = *target;
  Tensor& y = out[0];
  y.dtype = t.dtype;
  y.allocate(x.shape);
  const std::int64_t n = x.size();
  if (t.dtype == DType::Float32) {
    float* dst = y.f.data();
    if (x.is_float()) {
      const float* src = x.f.data();
      parallel_chunks(n, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t k = b; k < e; ++k) dst[k] = round_to_format(src[k], t);
      });
    } else {
      const std::int64_t* src = x.i.data();
      parallel_chunks(n, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t k = b; k < e; ++k)
          dst[k] = round_to_format(static_cast<float>(src[k]), t);
      });
    }
    return;
  }
  std::int64_t* dst = y.i.data();
  const bool to_bool = t.dtype == DType::Bool;
  if (x.is_float()) {
    const float* src = x.f.data();
    parallel_chunks(n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t k = b; k < e; ++k)
        dst[k] = to_bool ? std::int64_t{src[k] != 0.0f} : wrap_int(float_to_int(src[k]), t);
    });
  } else {
    const std::int64_t* src = x.i.data();
    parallel_chunks(n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t k = b; k < e; ++k)
        dst[k] = to_bool ? std::int64_t{src[k] != 0} : wrap_int(src[k], t);
    });
  }
}

std::optional<std::string> validate_cast(const OpNode& n, std::int64_t) {
  if (!n.has_attr("to")) return std::string("attribute 'to' is missing");
  const std::int64_t to = n.attr_int("to", 0);
  if (!cast_target(to))
    return "to=" + std::to_string(to) + " (" + onnx_type_name(to) + ") is not supported";
  return std::nullopt;
}

// ---- Backward rules (dx = dy * f'(x), written with x and y) ----

void relu_grad(const GradContext& c) {
  unary_grad(c, [](float x, float) { return x > 0.0f ? 1.0f : 0.0f; });
}
void leaky_relu_grad(const GradContext& c) {
  const float alpha = c.node.attr_float("alpha", 0.01f);
  unary_grad(c, [=](float x, float) { return x > 0.0f ? 1.0f : alpha; });
}
// As PyTorch's clamp: the gradient passes to x where lo <= x <= hi, to the bound below lo
// or above hi.
void clip_grad(const GradContext& c) {
  const auto bounds = float_clip_bounds(c.node, c.opset, c.inputs);
  const float lo = bounds.first, hi = bounds.second;
  unary_grad(c, [=](float x, float) { return x >= lo && x <= hi ? 1.0f : 0.0f; });
  const Tensor& x = grad_input(c, 0);
  const Tensor& dy = out_grad(c);
  for (std::size_t k = 1; k <= 2; ++k) {
    Tensor* db = wanted(c, k);
    if (!db) continue;
    double s = 0;
    for (std::size_t e = 0; e < x.f.size(); ++e)
      if (k == 1 ? x.f[e] < lo : x.f[e] > hi) s += dy.f[e];
    zero_grad(*db, c.inputs[k]->shape);
    if (!db->f.empty()) db->f[0] = static_cast<float>(s);
  }
}
void hard_sigmoid_grad(const GradContext& c) {
  const float alpha = c.node.attr_float("alpha", 0.2f);
  const float beta = c.node.attr_float("beta", 0.5f);
  unary_grad(c, [=](float x, float) {
    const float v = alpha * x + beta;
    return v > 0.0f && v < 1.0f ? alpha : 0.0f;
  });
}
void hard_swish_grad(const GradContext& c) {
  unary_grad(c, [](float x, float) {
    return x < -3.0f ? 0.0f : x <= 3.0f ? x * (1.0f / 3.0f) + 0.5f : 1.0f;
  });
}
void sigmoid_grad(const GradContext& c) {
  unary_grad(c, [](float, float y) { return y * (1.0f - y); });
}
void tanh_grad(const GradContext& c) {
  unary_grad(c, [](float, float y) { return 1.0f - y * y; });
}
void erf_grad(const GradContext& c) {
  unary_grad(c, [](float x, float) {
    return static_cast<float>(2.0 / std::sqrt(std::numbers::pi) * std::exp(-double(x) * x));
  });
}
void gelu_grad(const GradContext& c) {
  if (c.node.attr_string("approximate", "none") == "tanh")
    return unary_grad(c, [](float xf, float) {
      const double x = xf, k = 0.7978845608028654, t = std::tanh(k * (x + 0.044715 * x * x * x));
      return static_cast<float>(0.5 * (1 + t) +
                                0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x));
    });
  unary_grad(c, [](float xf, float) {
    const double x = xf;
    return static_cast<float>(0.5 * (1 + std::erf(x / std::numbers::sqrt2)) +
                              x * std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi));
  });
}
void sqrt_grad(const GradContext& c) {
  unary_grad(c, [](float, float y) { return 0.5f / y; });
}
void exp_grad(const GradContext& c) {
  unary_grad(c, [](float, float y) { return y; });
}
void log_grad(const GradContext& c) {
  unary_grad(c, [](float x, float) { return 1.0f / x; });
}
void neg_grad(const GradContext& c) {
  unary_grad(c, [](float, float) { return -1.0f; });
}
void abs_grad(const GradContext& c) {
  unary_grad(c, [](float x, float) { return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f; });
}
void reciprocal_grad(const GradContext& c) {
  unary_grad(c, [](float, float y) { return -y * y; });
}
void elu_grad(const GradContext& c) {
  const float alpha = c.node.attr_float("alpha", 1.0f);
  unary_grad(c, [=](float x, float y) { return x > 0.0f ? 1.0f : y + alpha; });
}
void selu_grad(const GradContext& c) {
  const float alpha = c.node.attr_float("alpha", 1.67326319217681884765625f);
  const float gamma = c.node.attr_float("gamma", 1.05070102214813232421875f);
  unary_grad(c, [=](float x, float) {
    return x > 0.0f ? gamma : gamma * alpha * static_cast<float>(std::exp(double(x)));
  });
}
double logistic(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
void softplus_grad(const GradContext& c) {
  unary_grad(c, [](float x, float) { return static_cast<float>(logistic(x)); });
}
void softsign_grad(const GradContext& c) {
  unary_grad(c, [](float x, float) {
    const float d = 1.0f + std::fabs(x);
    return 1.0f / (d * d);
  });
}
void mish_grad(const GradContext& c) {
  unary_grad(c, [](float xf, float) {
    const double x = xf, sp = std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
    const double t = std::tanh(sp);
    return static_cast<float>(t + x * logistic(x) * (1 - t * t));
  });
}
void silu_grad(const GradContext& c) {
  unary_grad(c, [](float xf, float) {
    const double s = logistic(xf);
    return static_cast<float>(s + xf * s * (1 - s));
  });
}
// A float-to-float Cast rounds to a narrower format at most: straight through.
void cast_grad(const GradContext& c) {
  unary_grad(c, [](float, float) { return 1.0f; });
}

// Traits: Cast also computes shapes (batch-size values in, batch-size values out). A Clip's
// output is >= 0 when its lower bound is a known constant >= 0.
bool clip_non_negative(const Network& net, const OpNode& n, bool) {
  if (n.has_attr("min")) return n.attr_float("min", -1.0f) >= 0.0f;
  if (!n.has_input(1)) return false;
  auto it = net.model.initializers.find(n.inputs[1]);
  return it != net.model.initializers.end() && it->second.is_float() && it->second.size() == 1 &&
         it->second.f[0] >= 0.0f;
}

constexpr OpTraits kElementwise{OpClass::Elementwise, PlacementRole::Compute};
constexpr OpTraits kNonNegativeElementwise{
    OpClass::Elementwise, PlacementRole::Compute, {.output_non_negative = always_non_negative}};
constexpr OpTraits kActivation{OpClass::Activation, PlacementRole::Compute};
constexpr OpTraits kNonNegativeActivation{
    OpClass::Activation, PlacementRole::Compute, {.output_non_negative = always_non_negative}};
constexpr OpTraits kClipTraits{
    OpClass::Activation, PlacementRole::Compute, {.output_non_negative = clip_non_negative}};
// Sign, Floor, Round, Not: no gradient.
constexpr OpTraits kPiecewiseConstant = kElementwise.with_gradient({.none = true});
constexpr OpTraits kCastTraits{OpClass::Other, PlacementRole::Compute, {}, {.arithmetic = true}};

}  // namespace

void register_unary_ops(OpTable& t) {
  t.push_back({"Relu", kNonNegativeActivation, relu, nullptr});
  t.back().backward = relu_grad;
  t.push_back({"LeakyRelu", kActivation, leaky_relu, nullptr});
  t.back().backward = leaky_relu_grad;
  t.push_back({"Clip", kClipTraits, clip, nullptr});
  t.back().backward = clip_grad;
  t.push_back({"HardSigmoid", kNonNegativeActivation, hard_sigmoid, nullptr});
  t.back().backward = hard_sigmoid_grad;
  t.push_back({"HardSwish", kActivation, hard_swish, nullptr});
  t.back().backward = hard_swish_grad;
  t.push_back({"Sigmoid", kNonNegativeActivation, sigmoid, nullptr});
  t.back().backward = sigmoid_grad;
  t.push_back({"Tanh", kActivation, tanh_op, nullptr});
  t.back().backward = tanh_grad;
  t.push_back({"Erf", kActivation, erf_op, nullptr});
  t.back().backward = erf_grad;
  t.push_back({"Gelu", kActivation, gelu, validate_gelu});
  t.back().backward = gelu_grad;
  t.push_back({"Sqrt", kElementwise, sqrt_op, nullptr});
  t.back().backward = sqrt_grad;
  t.push_back({"Exp", kNonNegativeElementwise, exp_op, nullptr});
  t.back().backward = exp_grad;
  t.push_back({"Log", kElementwise, log_op, nullptr});
  t.back().backward = log_grad;
  t.push_back({"Neg", kElementwise, neg, nullptr});
  t.back().backward = neg_grad;
  t.push_back({"Abs", kNonNegativeElementwise, abs_op, nullptr});
  t.back().backward = abs_grad;
  t.push_back({"Sign", kPiecewiseConstant, sign, nullptr});
  t.push_back({"Not", kPiecewiseConstant, not_op, nullptr});
  t.push_back({"Reciprocal", kElementwise, reciprocal, nullptr});
  t.back().backward = reciprocal_grad;
  t.push_back({"Floor", kPiecewiseConstant, floor_op, nullptr});
  t.push_back({"Ceil", kPiecewiseConstant, ceil_op, nullptr});
  t.push_back({"Round", kPiecewiseConstant, round_op, nullptr});
  t.push_back({"Elu", kActivation, elu, nullptr});
  t.back().backward = elu_grad;
  t.push_back({"Selu", kActivation, selu, nullptr});
  t.back().backward = selu_grad;
  t.push_back({"Softplus", kActivation, softplus, nullptr});
  t.back().backward = softplus_grad;
  t.push_back({"Softsign", kActivation, softsign, nullptr});
  t.back().backward = softsign_grad;
  t.push_back({"Mish", kActivation, mish, nullptr});
  t.back().backward = mish_grad;
  t.push_back({"mpq::SiLU", kActivation, silu, nullptr});
  t.back().backward = silu_grad;
  t.push_back({"Cast", kCastTraits, cast, validate_cast});
  t.back().backward = cast_grad;
}

}  // namespace mpq::ops
