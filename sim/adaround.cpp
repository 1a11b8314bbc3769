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

using ArrF = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The block's fixed data: floor(w / s) and the reconstruction target, per row s and z.
struct Block {
  ArrF floor, target;
  Eigen::ArrayXf scale, zero;
};

// V such that h(V) is the fractional part of w / s: sigmoid(V) = (rest - gamma) / (zeta - gamma).
ArrF initial_v(const RoundingRows& p, std::int64_t r0, Block& b) {
  const std::int64_t n = b.floor.rows(), f = b.floor.cols();
  ArrF v(n, f);
  for (std::int64_t r = 0; r < n; ++r) {
    const auto row = static_cast<std::size_t>(r0 + r);
    b.scale(r) = p.scale[row];
    b.zero(r) = static_cast<float>(p.zero_point[row]);
    for (std::int64_t k = 0; k < f; ++k) {
      const auto i = row * static_cast<std::size_t>(f) + static_cast<std::size_t>(k);
      b.floor(r, k) = floor_of(p.weights[i], b.scale(r));
      const float rest = std::clamp(p.weights[i] * (1.0f / b.scale(r)) - b.floor(r, k), 0.0f, 1.0f);
      const float sg = (rest - kGamma) / (kZeta - kGamma);
      v(r, k) = std::log(sg / (1.0f - sg));
      b.target(r, k) = static_cast<float>(p.target[i]);
    }
  }
  return v;
}

// dL/dV at V: the reconstruction term 2 (w_q A - t) s dh/dV where neither the clip of h nor
// the grid's clamp holds the value, plus (with beta > 0) the regularizer's
// lambda d(1 - |2h - 1|^beta)/dV.
ArrF gradient(const ArrF& v, const Block& b, const Eigen::MatrixXf& a, float qmin, float qmax,
              float lambda, float beta) {
  const ArrF sig = (1.0f + (-v).exp()).inverse();
  const ArrF raw = sig * (kZeta - kGamma) + kGamma;
  const ArrF h = raw.max(0.0f).min(1.0f);
  ArrF q = b.floor + h;
  q.colwise() += b.zero;
  ArrF wq = q.max(qmin).min(qmax);
  wq.colwise() -= b.zero;
  wq.colwise() *= b.scale;
  const ArrF dsig = (raw > 0.0f && raw < 1.0f).select(sig * (1.0f - sig) * (kZeta - kGamma), 0.0f);
  ArrF rec = (wq.matrix() * a).array() - b.target;
  rec.colwise() *= 2.0f * b.scale;
  ArrF g = (q >= qmin && q <= qmax).select(rec, 0.0f) * dsig;
  if (beta > 0.0f) {
    const ArrF c = 2.0f * h - 1.0f, ac = c.abs();
    const ArrF pw = (ac > 0.0f).select(((beta - 1.0f) * ac.log()).exp(), 0.0f);
    g -= (2.0f * lambda * beta) * c.sign() * pw * dsig;
  }
  return g;
}

// Rows [r0, r0 + n) of group p: Adam on V for o.iterations steps; writes their codes.
void optimise_block(const RoundingRows& p, const Eigen::MatrixXf& a, std::int64_t r0,
                    std::int64_t n, const AdaRoundOptions& o, std::int32_t* codes) {
  const std::int64_t f = p.fan_in;
  Block b{ArrF(n, f), ArrF(n, f), Eigen::ArrayXf(n), Eigen::ArrayXf(n)};
  ArrF v = initial_v(p, r0, b);
  ArrF m = ArrF::Zero(n, f), s = ArrF::Zero(n, f);
  float b1t = 1.0f, b2t = 1.0f;  // beta1^t, beta2^t of Adam
  const auto warm = static_cast<std::int64_t>(o.warmup * static_cast<float>(o.iterations));
  const float span = static_cast<float>(std::max<std::int64_t>(1, o.iterations - warm));
  for (std::int64_t it = 0; it < o.iterations; ++it) {
    // beta anneals linearly from beta_start (end of the warm-up) to beta_end; 0: no regularizer.
    const float beta = it < warm ? 0.0f
                                 : o.beta_end + (o.beta_start - o.beta_end) *
                                                    (1.0f - static_cast<float>(it - warm) / span);
    const ArrF g =
        gradient(v, b, a, static_cast<float>(p.qmin), static_cast<float>(p.qmax), o.lambda, beta);
    b1t *= 0.9f;
    b2t *= 0.999f;
    m = 0.9f * m + 0.1f * g;
    s = 0.999f * s + 0.001f * g.square();
    const float lr = o.learning_rate * std::sqrt(1.0f - b2t) / (1.0f - b1t);
    v -= lr * m / (s.sqrt() + 1e-8f);
  }
  for (std::int64_t r = 0; r < n; ++r) {
    const auto row = static_cast<std::size_t>(r0 + r);
    for (std::int64_t k = 0; k < f; ++k)
      codes[r * f + k] = hard_code(b.floor(r, k), v(r, k), p.zero_point[row], p.qmin, p.qmax);
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

namespace {

// Row r's part of rounding_loss.
double row_loss(const RoundingRows& p, std::span<const std::int32_t> codes, std::int64_t r) {
  const std::int64_t f = p.fan_in;
  const Eigen::Map<const Eigen::MatrixXd> a(p.input_moments.data(), f, f);
  const auto row = static_cast<std::size_t>(r);
  Eigen::VectorXd wq(f);
  for (std::int64_t k = 0; k < f; ++k)
    wq(k) = static_cast<double>(codes[static_cast<std::size_t>(r * f + k)] - p.zero_point[row]) *
            p.scale[row];
  const Eigen::Map<const Eigen::VectorXd> t(p.target.data() + r * f, f);
  return wq.dot(a * wq) - 2.0 * wq.dot(t);
}

// Rows are independent terms of the objective: a row whose learned rounding does worse than
// round-to-nearest on it (a few weights over strongly correlated inputs can end there when the
// annealing forces the relaxed solution to integers) keeps nearest.
void keep_better_rows(const RoundingRows& p, RoundingResult& res) {
  const std::vector<std::int32_t> nearest = nearest_codes(p);
  const auto f = static_cast<std::size_t>(p.fan_in);
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const double ln = row_loss(p, nearest, r), la = row_loss(p, res.codes, r);
    res.nearest_loss += ln;
    if (la > ln) {
      std::copy_n(nearest.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(r) * f), f,
                  res.codes.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(r) * f));
      ++res.rows_kept_nearest;
    }
    res.adaround_loss += std::min(la, ln);
  }
}

}  // namespace

double rounding_loss(const RoundingRows& p, std::span<const std::int32_t> codes) {
  double loss = 0;
  for (std::int64_t r = 0; r < p.rows; ++r) loss += row_loss(p, codes, r);
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
    keep_better_rows(groups[gi], out[gi]);
  }
  return out;
}

}  // namespace mpq
