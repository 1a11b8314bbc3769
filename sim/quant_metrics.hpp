#pragma once
// How good a quantized network is, against the float network on the same samples, all metrics
// from one streaming pass: top-1 accuracy (with labels), SQNR of the output, top-1 agreement,
// KL divergence of the softmax outputs and MSE.
#include <cmath>
#include <optional>
#include <string>

#include "calibration.hpp"
#include "engine.hpp"

namespace mpq {

struct QuantMetrics {
  std::int64_t samples = 0;
  std::optional<double> float_accuracy, accuracy;  // percent, when labels are given
  double sqnr_db = 0;    // 10 log10(sum ||y||^2 / sum ||y - y_q||^2) over the first output
  double agreement = 0;  // percent of samples whose top-1 class equals the float model's
  double kl = 0;         // mean over samples of KL(softmax(y) || softmax(y_q)), in nats
  double mse = 0;        // mean squared difference per output element
  // Why the run is broken (its output held NaN or inf), else empty. The numbers above are then
  // NaN: a broken run has no SQNR, and must never read as a lossless one (+inf dB).
  std::string failure;
  // Samples [start, start + count) of the first batch whose output was not finite.
  std::int64_t failed_batch_start = -1, failed_batch_count = 0;
  bool float_output_broken = false;  // the float network itself, not the quantization

  bool failed() const { return !failure.empty(); }
  // Quantization changed no output value (e.g. an identity or 16-bit lossless configuration).
  bool lossless() const { return !failed() && std::isinf(sqnr_db) && sqnr_db > 0; }
};

// Sums from which the metrics follow; adding batches in order gives the same result however
// the work inside each batch is split.
struct MetricSums {
  std::int64_t samples = 0, correct_float = 0, correct = 0, agree = 0, elements = 0;
  double signal = 0, noise = 0, kl = 0;
  // Batches whose float or quantized output held a non-finite value: counted, not summed.
  std::int64_t broken_float = 0, broken_quantized = 0;
  std::int64_t first_broken_start = -1, first_broken_count = 0;

  void add(const Tensor& y, const Tensor& yq, std::span<const std::int64_t> labels);
  QuantMetrics finish(bool labeled) const;
};

// Runs both engines over the first `limit` samples (all when < 0).
Result<QuantMetrics> compare_with_float(Engine& fp, Engine& quantized, const SampleSource& samples,
                                        std::int64_t batch, std::int64_t limit = -1,
                                        const Progress& progress = {});

}  // namespace mpq
