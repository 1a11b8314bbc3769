#include "quant_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "evaluate.hpp"
#include "nonfinite.hpp"

namespace mpq {
namespace {

// log softmax of one row, in double.
void log_softmax(const float* x, std::int64_t c, std::vector<double>& out) {
  out.resize(static_cast<std::size_t>(c));
  const double mx = *std::max_element(x, x + c);
  double sum = 0;
  for (std::int64_t k = 0; k < c; ++k) sum += std::exp(x[k] - mx);
  const double lse = mx + std::log(sum);
  for (std::int64_t k = 0; k < c; ++k) out[static_cast<std::size_t>(k)] = x[k] - lse;
}

}  // namespace

void MetricSums::add(const Tensor& y, const Tensor& yq, std::span<const std::int64_t> labels) {
  const std::int64_t n = y.shape.empty() ? 1 : y.shape[0];
  const bool float_ok = all_finite(y.f), quantized_ok = all_finite(yq.f);
  if (!float_ok || !quantized_ok) {
    broken_float += !float_ok;
    broken_quantized += !quantized_ok;
    if (first_broken_start < 0) first_broken_start = samples, first_broken_count = n;
    samples += n;
    return;
  }
  const std::int64_t c = n ? y.size() / n : 0;
  for (std::size_t k = 0; k < y.f.size(); ++k) {
    const double a = y.f[k], d = a - yq.f[k];
    signal += a * a;
    noise += d * d;
  }
  elements += y.size();
  const auto top = argmax_rows(y), top_q = argmax_rows(yq);
  std::vector<double> lp, lq;
  for (std::int64_t r = 0; r < n; ++r) {
    const auto i = static_cast<std::size_t>(r);
    agree += top[i] == top_q[i];
    if (!labels.empty()) {
      correct_float += top[i] == labels[i];
      correct += top_q[i] == labels[i];
    }
    log_softmax(y.f.data() + r * c, c, lp);
    log_softmax(yq.f.data() + r * c, c, lq);
    double kl_row = 0;
    for (std::size_t k = 0; k < lp.size(); ++k) kl_row += std::exp(lp[k]) * (lp[k] - lq[k]);
    kl += kl_row;
  }
  samples += n;
}

QuantMetrics MetricSums::finish(bool labeled) const {
  QuantMetrics m;
  m.samples = samples;
  if (broken_float + broken_quantized > 0) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    m.sqnr_db = m.agreement = m.kl = m.mse = nan;
    m.failure = std::string(broken_float ? "the float" : "the quantized") +
                " network's output holds NaN or infinite values on " +
                std::to_string(broken_float ? broken_float : broken_quantized) + " batch(es)";
    m.failed_batch_start = first_broken_start;
    m.failed_batch_count = first_broken_count;
    m.float_output_broken = broken_float > 0;
    return m;
  }
  const double s = std::max<double>(1, static_cast<double>(samples));
  if (labeled) {
    m.float_accuracy = 100.0 * static_cast<double>(correct_float) / s;
    m.accuracy = 100.0 * static_cast<double>(correct) / s;
  }
  m.sqnr_db =
      noise > 0 ? 10.0 * std::log10(signal / noise) : std::numeric_limits<double>::infinity();
  m.agreement = 100.0 * static_cast<double>(agree) / s;
  m.kl = kl / s;
  m.mse = elements ? noise / static_cast<double>(elements) : 0.0;
  return m;
}

Result<QuantMetrics> compare_with_float(Engine& fp, Engine& quantized, const SampleSource& samples,
                                        std::int64_t batch, std::int64_t limit,
                                        const Progress& progress) {
  const std::int64_t count = limit < 0 ? samples.count : std::min(limit, samples.count);
  MetricSums sums;
  std::vector<Tensor> in(1);
  for (std::int64_t start = 0; start < count; start += batch) {
    const std::int64_t n = std::min(batch, count - start);
    auto x = samples.batch(start, n);
    if (!x) return x.error();
    in[0] = std::move(x).value();
    auto y = fp.run(in);
    if (!y) return make_error(samples.description + ": " + y.error().message);
    auto yq = quantized.run(in);
    if (!yq) return make_error(samples.description + ": " + yq.error().message);
    const Tensor& out = y->at(0);
    if (!out.is_float() || out.shape.empty() || out.shape[0] != n)
      return make_error("the model's first output has shape " + shape_str(out.shape) +
                        "; the metrics need [batch, ...] float outputs");
    std::span<const std::int64_t> labels;
    if (!samples.labels.empty())
      labels = std::span<const std::int64_t>(samples.labels)
                   .subspan(static_cast<std::size_t>(start), static_cast<std::size_t>(n));
    sums.add(out, yq->at(0), labels);
    if (progress) progress(start + n, count);
  }
  return sums.finish(!samples.labels.empty());
}

}  // namespace mpq
