#include "adaround.hpp"

#include <tbb/parallel_for.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

namespace mpq {
namespace {

constexpr float kZeta = 1.1f, kGamma = -0.1f;
// Rows optimised together: one GEMM per iteration. Fixed, so that neither the split nor Eigen's
// blocking (which depends on the matrix sizes) depends on the thread count.
constexpr std::int64_t kBlockRows = 16;

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

float floor_of(float w, float scale) {
  return std::floor(w * (1.0f / scale));
}

// Row r's integers from the block's state: floor + hard rounding (V >= 0 <=> h(V) >= 0.5).
std::int32_t hard_code(float fl, float v, std::int32_t zp, std::int32_t qmin, std::int32_t qmax) {
  const float q = fl + (v >= 0.0f ? 1.0f : 0.0f) + static_cast<float>(zp);
  return static_cast<std::int32_t>(
      std::clamp(q, static_cast<float>(qmin), static_cast<float>(qmax)));
}

struct Adam {
  MatF m, v;
  float b1t = 1.0f, b2t = 1.0f;  // beta1^t, beta2^t
};

// Rows [r0, r0 + n) of group p: Adam on V for o.iterations steps; writes their codes.
void optimise_block(const RoundingRows& p, const Eigen::MatrixXf& a, std::int64_t r0,
                    std::int64_t n, const AdaRoundOptions& o, std::int32_t* codes) {
  const std::int64_t f = p.fan_in;
  MatF fl(n, f), v(n, f), t(n, f), wq(n, f), g(n, f);
  for (std::int64_t r = 0; r < n; ++r) {
    const float s = p.scale[static_cast<std::size_t>(r0 + r)];
    for (std::int64_t k = 0; k < f; ++k) {
      const auto i = static_cast<std::size_t>((r0 + r) * f + k);
      const float x = p.weights[i] * (1.0f / s);
      fl(r, k) = floor_of(p.weights[i], s);
      // h(V) starts at the fractional part: sigmoid(V) = (rest - gamma) / (zeta - gamma).
      const float rest = std::clamp(x - fl(r, k), 0.0f, 1.0f);
      const float sg = (rest - kGamma) / (kZeta - kGamma);
      v(r, k) = std::log(sg / (1.0f - sg));
      t(r, k) = static_cast<float>(p.target[i]);
    }
  }
  Adam adam{MatF::Zero(n, f), MatF::Zero(n, f)};
  const float qmin = static_cast<float>(p.qmin), qmax = static_cast<float>(p.qmax);
  const auto warm = static_cast<std::int64_t>(o.warmup * static_cast<float>(o.iterations));
  MatF dh(n, f);  // dL/dV before the reconstruction term is added
  for (std::int64_t it = 0; it < o.iterations; ++it) {
    const bool regularize = it >= warm;
    const float progress =
        regularize ? static_cast<float>(it - warm) /
                         static_cast<float>(std::max<std::int64_t>(1, o.iterations - warm))
                   : 0.0f;
    const float beta = o.beta_end + (o.beta_start - o.beta_end) * (1.0f - progress);
    for (std::int64_t r = 0; r < n; ++r) {
      const float s = p.scale[static_cast<std::size_t>(r0 + r)];
      const float zp = static_cast<float>(p.zero_point[static_cast<std::size_t>(r0 + r)]);
      for (std::int64_t k = 0; k < f; ++k) {
        const float sig = 1.0f / (1.0f + std::exp(-v(r, k)));
        const float raw = sig * (kZeta - kGamma) + kGamma;
        const float h = std::clamp(raw, 0.0f, 1.0f);
        const float q = fl(r, k) + h + zp;
        const float qc = std::clamp(q, qmin, qmax);
        wq(r, k) = (qc - zp) * s;
        // dh/dV where the clip and the grid's clamp pass the gradient, times s (dw_q/dh).
        const float pass = raw > 0.0f && raw < 1.0f && q >= qmin && q <= qmax;
        dh(r, k) = pass * (kZeta - kGamma) * sig * (1.0f - sig);
        // The regularizer's own gradient is taken before the grid's clamp (it acts on h).
        float reg = 0.0f;
        if (regularize && raw > 0.0f && raw < 1.0f) {
          const float c = 2.0f * h - 1.0f, ac = std::fabs(c);
          reg = ac > 0.0f ? -o.lambda * beta * std::pow(ac, beta - 1.0f) * (c > 0 ? 2.0f : -2.0f)
                          : 0.0f;
          reg *= (kZeta - kGamma) * sig * (1.0f - sig);
        }
        g(r, k) = reg;
        dh(r, k) *= 2.0f * s;
      }
    }
    // Reconstruction: dL/dw_q = 2 (w_q A - t); A is symmetric.
    g.noalias() += (dh.array() * ((wq * a) - t).array()).matrix();
    adam.b1t *= 0.9f;
    adam.b2t *= 0.999f;
    adam.m = 0.9f * adam.m + 0.1f * g;
    adam.v = 0.999f * adam.v + 0.001f * g.cwiseProduct(g);
    const float lr = o.learning_rate * std::sqrt(1.0f - adam.b2t) / (1.0f - adam.b1t);
    v.array() -= lr * adam.m.array() / (adam.v.array().sqrt() + 1e-8f);
  }
  for (std::int64_t r = 0; r < n; ++r) {
    const auto row = static_cast<std::size_t>(r0 + r);
    for (std::int64_t k = 0; k < f; ++k)
      codes[r * f + k] = hard_code(fl(r, k), v(r, k), p.zero_point[row], p.qmin, p.qmax);
  }
}

}  // namespace

std::vector<std::int32_t> nearest_codes(const RoundingRows& p) {
  std::vector<std::int32_t> q(static_cast<std::size_t>(p.rows * p.fan_in));
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const auto row = static_cast<std::size_t>(r);
    const float inv = 1.0f / p.scale[row], zp = static_cast<float>(p.zero_point[row]);
    for (std::int64_t k = 0; k < p.fan_in; ++k) {
      const auto i = static_cast<std::size_t>(r * p.fan_in + k);
      const float v = std::nearbyint(p.weights[i] * inv) + zp;
      q[i] = static_cast<std::int32_t>(
          std::clamp(v, static_cast<float>(p.qmin), static_cast<float>(p.qmax)));
    }
  }
  return q;
}

double rounding_loss(const RoundingRows& p, std::span<const std::int32_t> codes) {
  const std::int64_t f = p.fan_in;
  const Eigen::Map<const Eigen::MatrixXd> a(p.input_moments.data(), f, f);
  double loss = 0;
  Eigen::VectorXd wq(f);
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const auto row = static_cast<std::size_t>(r);
    for (std::int64_t k = 0; k < f; ++k)
      wq(k) = static_cast<double>(codes[static_cast<std::size_t>(r * f + k)] - p.zero_point[row]) *
              p.scale[row];
    const Eigen::Map<const Eigen::VectorXd> t(p.target.data() + r * f, f);
    loss += wq.dot(a * wq) - 2.0 * wq.dot(t);
  }
  return loss;
}

std::vector<RoundingResult> adaround(std::span<const RoundingRows> groups,
                                     const AdaRoundOptions& o) {
  struct Task {
    std::size_t group;
    std::int64_t r0, n;
  };
  std::vector<Task> tasks;
  std::vector<RoundingResult> out(groups.size());
  std::vector<Eigen::MatrixXf> moments(groups.size());
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const RoundingRows& p = groups[gi];
    out[gi].codes.resize(static_cast<std::size_t>(p.rows * p.fan_in));
    moments[gi] =
        Eigen::Map<const Eigen::MatrixXd>(p.input_moments.data(), p.fan_in, p.fan_in).cast<float>();
    for (std::int64_t r0 = 0; r0 < p.rows; r0 += kBlockRows)
      tasks.push_back({gi, r0, std::min(kBlockRows, p.rows - r0)});
  }
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, tasks.size(), 1),
                    [&](const tbb::blocked_range<std::size_t>& range) {
                      for (std::size_t i = range.begin(); i != range.end(); ++i) {
                        const Task& t = tasks[i];
                        const RoundingRows& p = groups[t.group];
                        optimise_block(p, moments[t.group], t.r0, t.n, o,
                                       out[t.group].codes.data() + t.r0 * p.fan_in);
                      }
                    });
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    out[gi].nearest_loss = rounding_loss(groups[gi], nearest_codes(groups[gi]));
    out[gi].adaround_loss = rounding_loss(groups[gi], out[gi].codes);
  }
  return out;
}

}  // namespace mpq
