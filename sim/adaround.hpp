#pragma once
// AdaRound (Nagel et al., ICML 2020): learn, for every weight of one layer, whether it rounds
// down or up, so that the layer's output moves least. Per output channel (row) r with float
// weights w, scale s, zero point z and grid [qmin, qmax]:
//   q = clamp(floor(w / s) + h(V) + z, qmin, qmax),  w_q = (q - z) s,
//   h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1),  zeta = 1.1, gamma = -0.1,
// minimising E ||w . x - w_q . x'||^2 + lambda sum (1 - |2h - 1|^beta), x the layer's float input
// and x' the input it is given (x itself, or the one the network quantized up to it produces).
// The expectation over the calibration vectors is exact from second moments:
//   E (w.x - w_q.x')^2 = w^T E[x x^T] w - 2 w_q^T E[x' x^T] w + w_q^T E[x' x'^T] w_q,
// so the gradient with respect to w_q is 2 (A w_q - t), A = E[x' x'^T], t = E[x' x^T] w: one
// fan_in x fan_in product per row and iteration, over the whole calibration set (no sampled
// mini-batches, no backward pass). Rows are independent problems.
#include <cstdint>
#include <span>
#include <vector>

namespace mpq {

struct AdaRoundOptions {
  std::int64_t iterations = 10000;
  float lambda = 0.01f;         // weight of the rounding regularizer
  float beta_start = 20.0f;     // regularizer exponent, annealed linearly ...
  float beta_end = 2.0f;        // ... to this at the last iteration
  float warmup = 0.2f;          // share of iterations without the regularizer
  float learning_rate = 1e-3f;  // Adam, betas 0.9 / 0.999, epsilon 1e-8
};

// One group of rows sharing input moments (a Conv group, or the whole layer).
struct RoundingRows {
  std::int64_t rows = 0, fan_in = 0;
  std::span<const float> weights;            // rows x fan_in, row-major
  std::span<const float> scale;              // per row
  std::span<const std::int32_t> zero_point;  // per row
  std::int32_t qmin = 0, qmax = 0;
  std::span<const double> input_moments;  // A: fan_in x fan_in (symmetric)
  std::span<const double> target;         // t: rows x fan_in, row r = E[x' x^T] w_r
};

struct RoundingResult {
  std::vector<std::int32_t> codes;  // rows x fan_in integers q
  // Mean squared output error summed over the rows (E ||w.x - w_q.x'||^2 minus the constant
  // w^T E[x x^T] w, which the caller adds), at round-to-nearest and at the learned rounding.
  double nearest_loss = 0, adaround_loss = 0;
  // Rows whose learned rounding did worse than nearest on the objective, which keep nearest.
  std::int64_t rows_kept_nearest = 0;
};

// The integers round-to-nearest gives (fake_quantize's arithmetic), rows x fan_in.
std::vector<std::int32_t> nearest_codes(const RoundingRows& p);

// Learns the rounding of every row of every group (a row whose result does worse than nearest
// on the objective keeps nearest); parallel over blocks of rows whose split does
// not depend on the thread count, so the result is the same for any number of threads.
std::vector<RoundingResult> adaround(std::span<const RoundingRows> groups,
                                     const AdaRoundOptions& o);

// sum over rows of (w_q^T A w_q - 2 w_q . t_r) for the integers `codes` (the variable part of the
// output error; see RoundingResult).
double rounding_loss(const RoundingRows& p, std::span<const std::int32_t> codes);

}  // namespace mpq
