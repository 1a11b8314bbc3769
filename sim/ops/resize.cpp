// Resize and Upsample: nearest (separable index copy) and N-linear (one 1-D pass per resized
// axis). Coordinates follow the ONNX reference implementation exactly, including its use of
// scale * input_size (not the floored output size) as "length_resized".
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/op_registry.hpp"
#include "sim/ops/broadcast.hpp"
#include "sim/ops/index_copy.hpp"

namespace mpq {
namespace {

enum class Coord { HalfPixel, Asymmetric, AlignCorners, PytorchHalfPixel, TfHalfPixelForNN };
// Simple is the pre-opset-11 rule (Upsample, Resize-10): truncate when upsampling, ceil when
// downsampling, as onnxruntime implements it.
enum class Rounding { PreferFloor, PreferCeil, Floor, Ceil, Simple };

std::optional<Coord> parse_coord(const std::string& s) {
  if (s == "half_pixel") return Coord::HalfPixel;
  if (s == "asymmetric") return Coord::Asymmetric;
  if (s == "align_corners") return Coord::AlignCorners;
  if (s == "pytorch_half_pixel") return Coord::PytorchHalfPixel;
  if (s == "tf_half_pixel_for_nn") return Coord::TfHalfPixelForNN;
  return std::nullopt;
}

std::optional<Rounding> parse_rounding(const std::string& s) {
  if (s == "round_prefer_floor") return Rounding::PreferFloor;
  if (s == "round_prefer_ceil") return Rounding::PreferCeil;
  if (s == "floor") return Rounding::Floor;
  if (s == "ceil") return Rounding::Ceil;
  return std::nullopt;
}

// Upsample-7 knew "bilinear" as an alias of linear.
bool is_linear(const std::string& mode) {
  return mode == "linear" || mode == "bilinear";
}

std::optional<std::string> validate_resize(const OpNode& node, std::int64_t opset) {
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear")
    return "Resize mode \"" + mode + "\" is not supported (nearest and linear are)";
  if (opset < 11) return std::nullopt;
  const std::string coord = node.attr_string("coordinate_transformation_mode", "half_pixel");
  if (!parse_coord(coord))
    return "Resize coordinate_transformation_mode \"" + coord +
           "\" is not supported (half_pixel, asymmetric, align_corners, pytorch_half_pixel, "
           "tf_half_pixel_for_nn are)";
  const std::string nearest = node.attr_string("nearest_mode", "round_prefer_floor");
  if (!parse_rounding(nearest)) return "Resize nearest_mode \"" + nearest + "\" is not supported";
  if (node.attr_int("antialias", 0) != 0) return std::string("Resize antialias=1 is not supported");
  if (node.has_attr("axes")) return std::string("Resize attribute axes is not supported");
  const std::string policy = node.attr_string("keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch")
    return "Resize keep_aspect_ratio_policy \"" + policy + "\" is not supported (stretch is)";
  return std::nullopt;
}

std::optional<std::string> validate_upsample(const OpNode& node, std::int64_t) {
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode != "nearest" && !is_linear(mode))
    return "Upsample mode \"" + mode + "\" is not supported (nearest and linear are)";
  return std::nullopt;
}

struct Plan {
  bool linear = false;
  Coord coord = Coord::Asymmetric;
  Rounding rounding = Rounding::Simple;
  Shape out_shape;
  std::vector<double> scales;
};

// Original (input) coordinate of output position x along an axis.
double source_coord(const Plan& p, double x, double scale, std::int64_t in_len) {
  const double out_len = scale * static_cast<double>(in_len);
  switch (p.coord) {
    case Coord::HalfPixel:
      return (x + 0.5) / scale - 0.5;
    case Coord::Asymmetric:
      return x / scale;
    case Coord::AlignCorners:
      return out_len == 1.0 ? 0.0 : x * static_cast<double>(in_len - 1) / (out_len - 1.0);
    case Coord::PytorchHalfPixel:
      return out_len == 1.0 ? -0.5 : (x + 0.5) / scale - 0.5;
    case Coord::TfHalfPixelForNN:
      return (x + 0.5) / scale;
  }
  return x;
}

std::int64_t round_nearest(double x, double scale, Rounding r) {
  const double fl = std::floor(x);
  if (x == fl) return static_cast<std::int64_t>(fl);
  const double frac = x - fl;
  switch (r) {
    case Rounding::PreferFloor:
      return static_cast<std::int64_t>(frac <= 0.5 ? fl : fl + 1);
    case Rounding::PreferCeil:
      return static_cast<std::int64_t>(frac < 0.5 ? fl : fl + 1);
    case Rounding::Floor:
      return static_cast<std::int64_t>(fl);
    case Rounding::Ceil:
      return static_cast<std::int64_t>(fl + 1);
    case Rounding::Simple:
      return static_cast<std::int64_t>(scale < 1.0 ? std::ceil(x) : std::trunc(x));
  }
  return static_cast<std::int64_t>(fl);
}

// Output shape and per-axis scales from either scales or sizes.
void set_shape(Plan& p, const Tensor& x, const Tensor* scales, const Tensor* sizes) {
  const auto r = x.shape.size();
  const bool has_scales = scales && scales->size() > 0;
  const bool has_sizes = sizes && sizes->size() > 0;
  if (has_scales == has_sizes) throw OpError("exactly one of scales and sizes must be given");
  const Tensor& t = has_scales ? *scales : *sizes;
  if (static_cast<std::size_t>(t.size()) != r)
    throw OpError((has_scales ? std::string("scales") : std::string("sizes")) +
                  " must have one entry per input dim (" + std::to_string(r) + ")");
  p.out_shape.resize(r);
  p.scales.resize(r);
  for (std::size_t k = 0; k < r; ++k) {
    const auto in_len = static_cast<double>(x.shape[k]);
    if (has_scales) {
      p.scales[k] = t.at_f(static_cast<std::int64_t>(k));
      if (!(p.scales[k] > 0.0)) throw OpError("scales must be positive");
      p.out_shape[k] = static_cast<std::int64_t>(std::floor(p.scales[k] * in_len));
    } else {
      p.out_shape[k] = t.at_i(static_cast<std::int64_t>(k));
      if (p.out_shape[k] < 0) throw OpError("sizes must be non-negative");
      p.scales[k] = in_len > 0 ? static_cast<double>(p.out_shape[k]) / in_len : 1.0;
    }
  }
}

template <class T>
T from_double(double v) {
  if constexpr (std::is_floating_point_v<T>)
    return static_cast<T>(v);
  else
    return static_cast<T>(std::llround(v));
}

// Source taps and weights of one linear pass: out[j] = wa[j] * in[i0[j]] + wb[j] * in[i1[j]].
struct Pass {
  std::size_t axis = 0;
  std::vector<std::int64_t> i0, i1;
  std::vector<float> wa, wb;
};

// One linear pass along ps.axis of a tensor shaped `shape` (row-major) into `dst`.
template <class T>
void linear_pass(const T* src, T* dst, const Shape& shape, const Pass& ps) {
  const std::size_t axis = ps.axis;
  const std::int64_t n = shape[axis], m = static_cast<std::int64_t>(ps.i0.size());
  const std::int64_t outer = numel(std::span<const std::int64_t>(shape.data(), axis));
  const std::int64_t inner =
      numel(std::span<const std::int64_t>(shape.data() + axis + 1, shape.size() - axis - 1));
  const auto mix = [](float wa, T a, float wb, T b) {
    if constexpr (std::is_floating_point_v<T>)
      return wa * a + wb * b;
    else
      return from_double<T>(static_cast<double>(wa) * static_cast<double>(a) +
                            static_cast<double>(wb) * static_cast<double>(b));
  };
  ops::parallel_chunks(
      outer,
      [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t o = begin; o < end; ++o) {
          const T* s = src + o * n * inner;
          T* d = dst + o * m * inner;
          for (std::int64_t j = 0; j < m; ++j) {
            const auto q = static_cast<std::size_t>(j);
            const T* a = s + ps.i0[q] * inner;
            const T* b = s + ps.i1[q] * inner;
            const float wa = ps.wa[q], wb = ps.wb[q];
            for (std::int64_t k = 0; k < inner; ++k) d[j * inner + k] = mix(wa, a[k], wb, b[k]);
          }
        }
      },
      std::max<std::int64_t>(1, ops::kParallelGrain / std::max<std::int64_t>(m * inner, 1)));
}

void run_plan(const Plan& p, const Tensor& x, Tensor& out) {
  const std::size_t r = x.shape.size();
  if (numel(p.out_shape) == 0 || x.size() == 0) {
    if (numel(p.out_shape) != 0) throw OpError("cannot resize an empty tensor to a non-empty one");
    out.dtype = x.dtype;
    out.allocate(p.out_shape);
    return;
  }
  if (!p.linear) {
    const std::vector<std::int64_t> ist = strides_of(x.shape);
    std::vector<std::vector<std::int64_t>> tabs(r);
    for (std::size_t k = 0; k < r; ++k) {
      tabs[k].resize(static_cast<std::size_t>(p.out_shape[k]));
      for (std::int64_t o = 0; o < p.out_shape[k]; ++o) {
        const double c = source_coord(p, static_cast<double>(o), p.scales[k], x.shape[k]);
        const std::int64_t i =
            std::clamp<std::int64_t>(round_nearest(c, p.scales[k], p.rounding), 0, x.shape[k] - 1);
        tabs[k][static_cast<std::size_t>(o)] = i * ist[k];
      }
    }
    ops::index_map_tensor(x, out, p.out_shape, tabs);
    return;
  }
  // N-linear is separable: interpolate one axis at a time, skipping axes mapped identically.
  std::vector<Pass> passes;
  for (std::size_t k = 0; k < r; ++k) {
    const std::int64_t n = x.shape[k], m = p.out_shape[k];
    const auto mz = static_cast<std::size_t>(m);
    Pass ps{k, std::vector<std::int64_t>(mz), std::vector<std::int64_t>(mz), std::vector<float>(mz),
            std::vector<float>(mz)};
    bool identity = m == n;
    for (std::size_t j = 0; j < mz; ++j) {
      const double c = source_coord(p, static_cast<double>(j), p.scales[k], n);
      const double fl = std::floor(c);
      ps.i0[j] = std::clamp<std::int64_t>(static_cast<std::int64_t>(fl), 0, n - 1);
      ps.i1[j] = std::clamp<std::int64_t>(static_cast<std::int64_t>(fl) + 1, 0, n - 1);
      ps.wb[j] = static_cast<float>(c - fl);
      ps.wa[j] = static_cast<float>(1.0 - (c - fl));
      identity = identity && c == static_cast<double>(j);
    }
    if (!identity) passes.push_back(std::move(ps));
  }
  if (passes.empty()) {
    ops::copy_reshaped(x, out, p.out_shape);
    return;
  }
  const Tensor* cur = &x;
  Tensor scratch[2];
  for (std::size_t q = 0; q < passes.size(); ++q) {
    const Pass& ps = passes[q];
    Tensor& dst = q + 1 == passes.size() ? out : scratch[q % 2];
    Shape s = cur->shape;
    s[ps.axis] = p.out_shape[ps.axis];
    ops::allocate_for_overwrite(dst, x.dtype, s);
    ops::visit_data(*cur, dst, [&](auto src, auto d) {
      using T = std::remove_const_t<typename decltype(src)::element_type>;
      linear_pass<T>(src.data(), d.data(), cur->shape, ps);
    });
    cur = &dst;
  }
}

void run_resize(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "X");
  Plan p;
  p.linear = is_linear(ctx.node.attr_string("mode", "nearest"));
  if (ctx.opset < 11) {  // Resize-10: inputs X, scales; Upsample semantics
    set_shape(p, x, &require(in, 1, "scales"), nullptr);
  } else {
    p.coord = parse_coord(ctx.node.attr_string("coordinate_transformation_mode", "half_pixel"))
                  .value_or(Coord::HalfPixel);
    p.rounding = parse_rounding(ctx.node.attr_string("nearest_mode", "round_prefer_floor"))
                     .value_or(Rounding::PreferFloor);
    set_shape(p, x, optional_input(in, 2), optional_input(in, 3));
  }
  run_plan(p, x, out[0]);
}

void run_upsample(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "X");
  Plan p;
  p.linear = is_linear(ctx.node.attr_string("mode", "nearest"));
  // Upsample-7 takes scales as an attribute, Upsample-9 as an input.
  if (const Tensor* s = optional_input(in, 1)) {
    set_shape(p, x, s, nullptr);
  } else {
    const std::vector<float> sv = ctx.node.attr_floats("scales");
    Tensor st;
    st.shape = {static_cast<std::int64_t>(sv.size())};
    st.f.assign(sv.begin(), sv.end());
    set_shape(p, x, &st, nullptr);
  }
  run_plan(p, x, out[0]);
}

// Traits. Nearest resizing copies values (the input's format passes through); Resize takes
// sizes in input 3.
constexpr OpTraits kResizeTraits{
    OpClass::Resize, PlacementRole::PassThroughWhenNearest, {}, {.shape_inputs = 1 << 3}};
constexpr OpTraits kUpsampleTraits{OpClass::Resize, PlacementRole::PassThroughWhenNearest};

}  // namespace

void register_resize_ops(OpTable& t) {
  t.push_back({"Resize", kResizeTraits, run_resize, validate_resize});
  t.push_back({"Upsample", kUpsampleTraits, run_upsample, validate_upsample});
}

}  // namespace mpq
