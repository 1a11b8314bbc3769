// Inference BatchNormalization, LayerNormalization, Softmax and LogSoftmax.
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "broadcast.hpp"
#include "eigen_arrays.hpp"
#include "grad_util.hpp"
#include "graph/network.hpp"
#include "kernel_util.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace mpq {
namespace {

using In = std::span<const Tensor* const>;
using Out = std::span<Tensor>;
using ops::ArrF;
using ops::CMapF;
using ops::MapF;

const Tensor& float_input(In in, std::size_t k, const char* what) {
  const Tensor& t = require(in, k, what);
  if (!t.is_float())
    throw OpError(std::string(what) + " must be float, got " + dtype_name(t.dtype));
  return t;
}

// Grain (in rows) so that a parallel chunk covers about kParallelGrain elements.
std::int64_t row_grain(std::int64_t row_len) {
  return std::max<std::int64_t>(1, ops::kParallelGrain / std::max<std::int64_t>(row_len, 1));
}

// ---- BatchNormalization (inference form) ----

void batch_norm(const OpContext& ctx, In in, Out out) {
  const Tensor& x = float_input(in, 0, "X");
  if (x.rank() < 2) throw OpError("X must have rank >= 2, got " + shape_str(x.shape));
  const std::int64_t n = x.shape[0], c = x.shape[1];
  const std::int64_t plane = x.size() / std::max<std::int64_t>(n * c, 1);
  const char* names[] = {"scale", "B", "mean", "var"};
  for (std::size_t k = 1; k <= 4; ++k)
    if (float_input(in, k, names[k - 1]).size() != c)
      throw OpError(std::string(names[k - 1]) + " must have " + std::to_string(c) +
                    " elements, got shape " + shape_str(in[k]->shape));
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  // y = x * a + b per channel with a = scale / sqrt(var + eps), b = B - mean * a.
  std::vector<float> a(static_cast<std::size_t>(c)), b(static_cast<std::size_t>(c));
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const auto u = static_cast<std::size_t>(ch);
    a[u] = in[1]->f[u] / std::sqrt(in[4]->f[u] + eps);
    b[u] = in[2]->f[u] - in[3]->f[u] * a[u];
  }
  Tensor& y = out[0];
  shape_float_output(y, x.shape);
  ops::parallel_chunks(
      n * c,
      [&](std::int64_t p0, std::int64_t p1) {
        for (std::int64_t p = p0; p < p1; ++p) {
          const auto ch = static_cast<std::size_t>(p % c);
          MapF(y.f.data() + p * plane, plane) =
              CMapF(x.f.data() + p * plane, plane) * a[ch] + b[ch];
        }
      },
      row_grain(plane));
}

std::optional<std::string> validate_batch_norm(const OpNode& n, std::int64_t) {
  if (n.attr_int("training_mode", 0) != 0)
    return std::string("training_mode=1 is not supported (inference only)");
  if (n.attr_int("spatial", 1) == 0) return std::string("spatial=0 is not supported");
  for (std::size_t k = 1; k < n.outputs.size(); ++k)
    if (!n.outputs[k].empty())
      return "output " + std::to_string(k) + " ('" + n.outputs[k] +
             "': running/saved statistics of training) is not supported (inference only)";
  return std::nullopt;
}

// ---- LayerNormalization ----

// Scale/bias expanded to the normalized shape X[axis:], flattened.
std::vector<float> expand_to(const Tensor& t, const Shape& norm_shape, const char* what) {
  if (!t.is_float()) throw OpError(std::string(what) + " must be float");
  if (ops::broadcast_shapes(t.shape, norm_shape) != norm_shape)
    throw OpError(std::string(what) + " shape " + shape_str(t.shape) +
                  " does not broadcast to the normalized shape " + shape_str(norm_shape));
  std::vector<float> v(static_cast<std::size_t>(numel(norm_shape)));
  const std::vector<float> zeros(v.size(), 0.0f);
  ops::broadcast_binary(t.f.data(), t.shape, zeros.data(), norm_shape, v.data(), norm_shape,
                        [](float s, float) { return s; });
  return v;
}

void layer_norm(const OpContext& ctx, In in, Out out) {
  const Tensor& x = float_input(in, 0, "X");
  const std::int64_t rank = x.rank();
  const std::int64_t axis = normalize_axis(ctx.node.attr_int("axis", -1), rank);
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  const Shape norm_shape(x.shape.begin() + axis, x.shape.end());
  const std::int64_t inner = numel(norm_shape);
  const std::int64_t outer = inner == 0 ? 0 : x.size() / inner;
  const std::vector<float> scale = expand_to(require(in, 1, "Scale"), norm_shape, "Scale");
  const Tensor* bias_t = optional_input(in, 2);
  const std::vector<float> bias =
      bias_t ? expand_to(*bias_t, norm_shape, "B") : std::vector<float>(scale.size(), 0.0f);

  Tensor& y = out[0];
  shape_float_output(y, x.shape);
  Shape stat_shape(x.shape.begin(), x.shape.begin() + axis);
  stat_shape.resize(static_cast<std::size_t>(rank), 1);
  float* mean_out = nullptr;
  float* inv_out = nullptr;
  // Mean and InvStdDev only when the node names them.
  if (out.size() > 1 && !ctx.node.outputs[1].empty()) {
    out[1].dtype = DType::Float32;
    out[1].allocate(stat_shape);
    mean_out = out[1].f.data();
  }
  if (out.size() > 2 && !ctx.node.outputs[2].empty()) {
    out[2].dtype = DType::Float32;
    out[2].allocate(stat_shape);
    inv_out = out[2].f.data();
  }
  const CMapF s(scale.data(), inner), b(bias.data(), inner);
  ops::parallel_chunks(
      outer,
      [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {
          const CMapF row(x.f.data() + r * inner, inner);
          const float mean = row.sum() / static_cast<float>(inner);
          const float var = (row - mean).square().sum() / static_cast<float>(inner);
          const float inv = 1.0f / std::sqrt(var + eps);
          MapF(y.f.data() + r * inner, inner) = (row - mean) * inv * s + b;
          if (mean_out) mean_out[r] = mean;
          if (inv_out) inv_out[r] = inv;
        }
        if (ctx.output_hook)  // once per chunk of rows: calls per row cost more than the work
          (*ctx.output_hook)(std::span<float>(y.f.data() + r0 * inner,
                                              static_cast<std::size_t>((r1 - r0) * inner)));
      },
      row_grain(inner));
}

// ---- mpq::RMSNormalization (graph/canonicalize.hpp) ----

// Y = X / sqrt(mean(X^2 over the axes from `axis`) + epsilon) * Scale (optional, of the
// normalized shape).
void rms_norm(const OpContext& ctx, In in, Out out) {
  const Tensor& x = float_input(in, 0, "X");
  const std::int64_t axis = normalize_axis(ctx.node.attr_int("axis", -1), x.rank());
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  const Shape norm_shape(x.shape.begin() + axis, x.shape.end());
  const std::int64_t inner = numel(norm_shape);
  const std::int64_t outer = inner == 0 ? 0 : x.size() / inner;
  const Tensor* scale = optional_input(in, 1);
  if (scale && (!scale->is_float() || scale->shape != norm_shape))
    throw OpError("Scale shape " + shape_str(scale->shape) + " is not the normalized shape " +
                  shape_str(norm_shape));
  Tensor& y = out[0];
  shape_float_output(y, x.shape);
  ops::parallel_chunks(
      outer,
      [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {
          const CMapF row(x.f.data() + r * inner, inner);
          const float inv = 1.0f / std::sqrt(row.square().sum() / static_cast<float>(inner) + eps);
          MapF yr(y.f.data() + r * inner, inner);
          if (scale)
            yr = row * inv * CMapF(scale->f.data(), inner);
          else
            yr = row * inv;
        }
      },
      row_grain(inner));
}

// ---- Softmax / LogSoftmax ----

// Softmax over n elements spaced `inner` apart, for `cols` adjacent columns starting at p.
template <bool kLog>
void softmax_columns(const float* x, float* y, std::int64_t n, std::int64_t inner,
                     std::int64_t cols, ArrF& mx, ArrF& sum) {
  const auto xr = [&](std::int64_t j) { return CMapF(x + j * inner, cols); };
  const auto yr = [&](std::int64_t j) { return MapF(y + j * inner, cols); };
  mx = xr(0);
  for (std::int64_t j = 1; j < n; ++j) mx = mx.max(xr(j));
  sum.setZero(cols);
  for (std::int64_t j = 0; j < n; ++j) {
    if (kLog) {
      sum += (xr(j) - mx).exp();
    } else {
      yr(j) = (xr(j) - mx).exp();
      sum += yr(j);
    }
  }
  if (kLog) {
    mx += sum.log();
    for (std::int64_t j = 0; j < n; ++j) yr(j) = xr(j) - mx;
  } else {
    sum = sum.inverse();
    for (std::int64_t j = 0; j < n; ++j) yr(j) *= sum;
  }
}

// One row of n contiguous floats. With AVX-512 the row goes through Eigen's vectorized exp in
// 16-float packets with a masked tail: attention rows are short (50 tokens), and with Eigen
// array expressions their scalar tails (libm expf) cost more than the vector part.
template <bool kLog>
void softmax_row(const float* x, float* y, std::int64_t n) {
#if defined(__AVX512F__)
  using Eigen::internal::pexp;
  const auto tail = [n](std::int64_t j) { return lanes_below(n - j); };
  __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::int64_t j = 0; j < n; j += 16)
    mx = _mm512_mask_max_ps(mx, tail(j), mx, _mm512_maskz_loadu_ps(tail(j), x + j));
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  if (!kLog && n <= 64) {
    // Up to four vectors: the exponentials stay in registers until divided. Stored and loaded
    // back, each masked store stalled its reload (no store forwarding): ViT's attention
    // Softmax 0.044 -> 0.039 ms per layer at batch 8.
    __m512 e[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      if (16 * v >= n) break;
      const __mmask16 k = tail(16 * v);
      e[v] = _mm512_maskz_mov_ps(k, pexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + 16 * v), m)));
      sum = _mm512_add_ps(sum, e[v]);
    }
    const __m512 t = _mm512_set1_ps(_mm512_reduce_add_ps(sum));
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      if (16 * v >= n) break;
      _mm512_mask_storeu_ps(y + 16 * v, tail(16 * v), _mm512_div_ps(e[v], t));
    }
    return;
  }
  for (std::int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail(j);
    const __m512 e =
        _mm512_maskz_mov_ps(k, pexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), m)));
    if (!kLog) _mm512_mask_storeu_ps(y + j, k, e);
    sum = _mm512_add_ps(sum, e);
  }
  const float total = _mm512_reduce_add_ps(sum);
  if (kLog) {
    const __m512 shift = _mm512_set1_ps(std::log(total));
    for (std::int64_t j = 0; j < n; j += 16) {
      const __mmask16 k = tail(j);
      _mm512_mask_storeu_ps(
          y + j, k, _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), m), shift));
    }
  } else {
    const __m512 t = _mm512_set1_ps(total);
    for (std::int64_t j = 0; j < n; j += 16) {
      const __mmask16 k = tail(j);
      _mm512_mask_storeu_ps(y + j, k, _mm512_div_ps(_mm512_maskz_loadu_ps(k, y + j), t));
    }
  }
#else
  const CMapF r(x, n);
  MapF o(y, n);
  const float m = r.maxCoeff();
  if (kLog) {
    o = r - m;
    o -= std::log(o.exp().sum());
  } else {
    o = (r - m).exp();
    o /= o.sum();
  }
#endif
}

template <bool kLog>
void softmax(const OpContext& ctx, In in, Out out) {
  const Tensor& x = float_input(in, 0, "input");
  const std::int64_t rank = x.rank();
  const bool legacy = ctx.opset < 13;  // coerce to 2-D [prod(dims[:axis]), prod(dims[axis:])]
  const std::int64_t axis = normalize_axis(ctx.node.attr_int("axis", legacy ? 1 : -1), rank);
  const auto au = static_cast<std::size_t>(axis);
  const std::int64_t outer = numel(std::span(x.shape).first(au));
  const std::int64_t n =
      legacy ? numel(std::span(x.shape).subspan(au)) : (rank == 0 ? 1 : x.shape[au]);
  const std::int64_t inner = legacy ? 1 : numel(std::span(x.shape).subspan(au + 1));
  Tensor& y = out[0];
  shape_float_output(y, x.shape);
  if (x.size() == 0) return;
  if (inner == 1) {
    ops::parallel_chunks(
        outer,
        [&](std::int64_t r0, std::int64_t r1) {
          for (std::int64_t r = r0; r < r1; ++r)
            softmax_row<kLog>(x.f.data() + r * n, y.f.data() + r * n, n);
          if (ctx.output_hook)
            (*ctx.output_hook)(
                std::span<float>(y.f.data() + r0 * n, static_cast<std::size_t>((r1 - r0) * n)));
        },
        row_grain(n));
    return;
  }
  // Work units: (outer index, block of columns), so one large outer slice still splits.
  const std::int64_t block = std::min<std::int64_t>(inner, std::max<std::int64_t>(64, 4096 / n));
  const std::int64_t blocks = (inner + block - 1) / block;
  ops::parallel_chunks(
      outer * blocks,
      [&](std::int64_t u0, std::int64_t u1) {
        ArrF mx, sum;
        for (std::int64_t u = u0; u < u1; ++u) {
          const std::int64_t o = u / blocks, q0 = (u % blocks) * block;
          const std::int64_t off = o * n * inner + q0;
          const std::int64_t cols = std::min(block, inner - q0);
          softmax_columns<kLog>(x.f.data() + off, y.f.data() + off, n, inner, cols, mx, sum);
          if (ctx.output_hook)
            for (std::int64_t j = 0; j < n; ++j)
              (*ctx.output_hook)(
                  std::span<float>(y.f.data() + off + j * inner, static_cast<std::size_t>(cols)));
        }
      },
      row_grain(n * block));
}

// ---- Backward rules (double sums per row, rows in order: deterministic) ----

// Inference BatchNormalization, y = (x - mean) * scale / sqrt(var + eps) + B per channel.
void batch_norm_grad(const GradContext& c) {
  const Tensor& x = ops::grad_input(c, 0);
  const Tensor& dy = ops::out_grad(c);
  const std::int64_t n = x.shape[0], ch = x.shape[1];
  const std::int64_t plane = x.size() / std::max<std::int64_t>(n * ch, 1);
  const float eps = c.node.attr_float("epsilon", 1e-5f);
  const auto& scale = c.inputs[1]->f;
  const auto& mean = c.inputs[3]->f;
  const auto& var = c.inputs[4]->f;
  std::vector<double> sum_dy(static_cast<std::size_t>(ch)), sum_dy_xc(static_cast<std::size_t>(ch));
  for (std::int64_t p = 0; p < n * ch; ++p) {
    const auto k = static_cast<std::size_t>(p % ch);
    for (std::int64_t e = p * plane; e < (p + 1) * plane; ++e) {
      sum_dy[k] += dy.f[e];
      sum_dy_xc[k] += double(dy.f[e]) * (x.f[e] - mean[k]);
    }
  }
  if (Tensor* dx = ops::wanted(c, 0)) {
    ops::zero_grad(*dx, x.shape);
    for (std::int64_t p = 0; p < n * ch; ++p) {
      const auto k = static_cast<std::size_t>(p % ch);
      const float a = scale[k] / std::sqrt(var[k] + eps);
      for (std::int64_t e = p * plane; e < (p + 1) * plane; ++e) dx->f[e] = dy.f[e] * a;
    }
  }
  for (std::size_t in = 1; in <= 4; ++in) {
    Tensor* g = ops::wanted(c, in);
    if (!g) continue;
    ops::zero_grad(*g, c.inputs[in]->shape);
    for (std::size_t k = 0; k < static_cast<std::size_t>(ch); ++k) {
      const double inv = 1.0 / std::sqrt(double(var[k]) + eps);
      const double v = in == 1   ? sum_dy_xc[k] * inv
                       : in == 2 ? sum_dy[k]
                       : in == 3 ? -sum_dy[k] * scale[k] * inv
                                 : -0.5 * sum_dy_xc[k] * scale[k] * inv * inv * inv;
      g->f[k] = static_cast<float>(v);
    }
  }
}

// dx = inv * (g - mean(g) - xhat * mean(g * xhat)) per row, g = dy * scale; the gradients of
// Scale and B are sums over rows of dy * xhat and dy. The Mean / InvStdDev outputs are taken
// as unused (no gradient flows back from them).
void layer_norm_grad(const GradContext& c) {
  const Tensor& x = ops::grad_input(c, 0);
  const Tensor& dy = ops::out_grad(c);
  const std::int64_t axis = normalize_axis(c.node.attr_int("axis", -1), x.rank());
  const float eps = c.node.attr_float("epsilon", 1e-5f);
  const Shape norm_shape(x.shape.begin() + axis, x.shape.end());
  const std::int64_t inner = numel(norm_shape);
  const std::int64_t outer = inner == 0 ? 0 : x.size() / inner;
  const std::vector<float> scale = expand_to(require(c.inputs, 1, "Scale"), norm_shape, "Scale");
  Tensor* dx = ops::wanted(c, 0);
  if (dx) ops::zero_grad(*dx, x.shape);
  std::vector<double> d_scale(static_cast<std::size_t>(inner)), d_bias(d_scale.size());
  std::vector<double> xhat(d_scale.size());
  for (std::int64_t r = 0; r < outer; ++r) {
    const float* xr = x.f.data() + r * inner;
    const float* gr = dy.f.data() + r * inner;
    double mean = 0, var = 0;
    for (std::int64_t k = 0; k < inner; ++k) mean += xr[k];
    mean /= static_cast<double>(inner);
    for (std::int64_t k = 0; k < inner; ++k) var += (xr[k] - mean) * (xr[k] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(inner) + eps);
    double mg = 0, mgx = 0;
    for (std::int64_t k = 0; k < inner; ++k) {
      const auto u = static_cast<std::size_t>(k);
      xhat[u] = (xr[k] - mean) * inv;
      const double g = double(gr[k]) * scale[u];
      mg += g;
      mgx += g * xhat[u];
      d_scale[u] += double(gr[k]) * xhat[u];
      d_bias[u] += gr[k];
    }
    mg /= static_cast<double>(inner);
    mgx /= static_cast<double>(inner);
    if (dx)
      for (std::int64_t k = 0; k < inner; ++k) {
        const auto u = static_cast<std::size_t>(k);
        dx->f[r * inner + k] =
            static_cast<float>(inv * (double(gr[k]) * scale[u] - mg - xhat[u] * mgx));
      }
  }
  for (std::size_t in = 1; in <= 2; ++in) {
    Tensor* g = ops::wanted(c, in);
    if (!g) continue;
    const std::vector<double>& src = in == 1 ? d_scale : d_bias;
    const std::vector<float> full(src.begin(), src.end());
    ops::unbroadcast(full.data(), norm_shape, c.inputs[in]->shape, *g);
  }
}

// y = x * r * s with r = 1 / sqrt(mean(x^2) + eps): dx = r * (g - x r^2 mean(g x)), g = dy s.
void rms_norm_grad(const GradContext& c) {
  const Tensor& x = ops::grad_input(c, 0);
  const Tensor& dy = ops::out_grad(c);
  const std::int64_t axis = normalize_axis(c.node.attr_int("axis", -1), x.rank());
  const float eps = c.node.attr_float("epsilon", 1e-5f);
  const std::int64_t inner = numel(std::span(x.shape).subspan(static_cast<std::size_t>(axis)));
  const std::int64_t outer = inner == 0 ? 0 : x.size() / inner;
  const Tensor* scale = optional_input(c.inputs, 1);
  Tensor* dx = ops::wanted(c, 0);
  Tensor* ds = ops::wanted(c, 1);
  if (dx) ops::zero_grad(*dx, x.shape);
  std::vector<double> d_scale(static_cast<std::size_t>(inner));
  for (std::int64_t r = 0; r < outer; ++r) {
    const float* xr = x.f.data() + r * inner;
    const float* gr = dy.f.data() + r * inner;
    double ms = 0, mgx = 0;
    for (std::int64_t k = 0; k < inner; ++k) ms += double(xr[k]) * xr[k];
    const double rinv = 1.0 / std::sqrt(ms / static_cast<double>(inner) + eps);
    for (std::int64_t k = 0; k < inner; ++k) {
      const double g = double(gr[k]) * (scale ? scale->f[static_cast<std::size_t>(k)] : 1.0f);
      mgx += g * xr[k];
      d_scale[static_cast<std::size_t>(k)] += double(gr[k]) * xr[k] * rinv;
    }
    mgx /= static_cast<double>(inner);
    if (dx)
      for (std::int64_t k = 0; k < inner; ++k) {
        const double g = double(gr[k]) * (scale ? scale->f[static_cast<std::size_t>(k)] : 1.0f);
        dx->f[r * inner + k] = static_cast<float>(rinv * (g - xr[k] * rinv * rinv * mgx));
      }
  }
  if (ds) {
    ops::zero_grad(*ds, scale->shape);
    for (std::size_t k = 0; k < d_scale.size(); ++k) ds->f[k] = static_cast<float>(d_scale[k]);
  }
}

// Softmax: dx = y (dy - sum(dy y)); LogSoftmax: dx = dy - exp(y) sum(dy), per softmax row.
template <bool kLog>
void softmax_grad(const GradContext& c) {
  const Tensor& x = ops::grad_input(c, 0);
  const Tensor& y = *c.outputs[0];
  const Tensor& dy = ops::out_grad(c);
  const std::int64_t rank = x.rank();
  const bool legacy = c.opset < 13;
  const std::int64_t axis = normalize_axis(c.node.attr_int("axis", legacy ? 1 : -1), rank);
  const auto au = static_cast<std::size_t>(axis);
  const std::int64_t outer = numel(std::span(x.shape).first(au));
  const std::int64_t n =
      legacy ? numel(std::span(x.shape).subspan(au)) : (rank == 0 ? 1 : x.shape[au]);
  const std::int64_t inner = legacy ? 1 : numel(std::span(x.shape).subspan(au + 1));
  Tensor* dx = ops::wanted(c, 0);
  if (!dx) return;
  ops::zero_grad(*dx, x.shape);
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t q = 0; q < inner; ++q) {
      const std::int64_t base = o * n * inner + q;
      double s = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int64_t e = base + j * inner;
        s += kLog ? double(dy.f[e]) : double(dy.f[e]) * y.f[e];
      }
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int64_t e = base + j * inner;
        dx->f[e] = kLog ? static_cast<float>(dy.f[e] - std::exp(double(y.f[e])) * s)
                        : static_cast<float>(y.f[e] * (dy.f[e] - s));
      }
    }
}

// Traits. Each normalizes within an image unless its axis is the batch's.
std::optional<std::string> softmax_mixes(const Network& net, const OpNode& n, std::size_t rank,
                                         bool) {
  const std::int64_t dflt = net.model.opset >= 13 ? -1 : 1;
  if (unwrapped_axis(n.attr_int("axis", dflt), rank) == 0)
    return std::string("normalizes over axis 0, the batch");
  return std::nullopt;
}

std::optional<std::string> layer_norm_mixes(const Network&, const OpNode& n, std::size_t rank,
                                            bool) {
  if (unwrapped_axis(n.attr_int("axis", -1), rank) <= 0)
    return std::string("normalizes over axis 0, the batch");
  return std::nullopt;
}

constexpr OpTraits kBatchNormTraits{OpClass::Normalization, PlacementRole::Compute};
constexpr OpTraits kLayerNormTraits{
    OpClass::Normalization, PlacementRole::Compute, {.mixes_images = layer_norm_mixes}};
constexpr OpTraits kSoftmaxTraits{
    OpClass::Activation,
    PlacementRole::Compute,
    {.output_non_negative = always_non_negative, .mixes_images = softmax_mixes}};
constexpr OpTraits kLogSoftmaxTraits{
    OpClass::Activation, PlacementRole::Compute, {.mixes_images = softmax_mixes}};

}  // namespace

void register_normalization_ops(OpTable& t) {
  t.push_back({"BatchNormalization", kBatchNormTraits, batch_norm, validate_batch_norm});
  t.back().backward = batch_norm_grad;
  t.push_back(
      {"LayerNormalization", kLayerNormTraits, layer_norm, nullptr, false, false, false, true});
  t.back().backward = layer_norm_grad;
  t.push_back({"mpq::RMSNormalization", kLayerNormTraits, rms_norm, nullptr});
  t.back().backward = rms_norm_grad;
  t.push_back({"Softmax", kSoftmaxTraits, softmax<false>, nullptr, false, false, false, true});
  t.back().backward = softmax_grad<false>;
  t.push_back({"LogSoftmax", kLogSoftmaxTraits, softmax<true>, nullptr, false, false, false, true});
  t.back().backward = softmax_grad<true>;
}

}  // namespace mpq
