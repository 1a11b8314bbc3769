#include "evaluate.hpp"

namespace mpq {

std::vector<std::int64_t> argmax_rows(const Tensor& logits) {
  const std::int64_t n = logits.shape.empty() ? 1 : logits.shape[0];
  const std::int64_t c = n ? logits.size() / n : 0;
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n), 0);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t k = 1; k < c; ++k)
      if (logits.f[static_cast<std::size_t>(r * c + k)] >
          logits.f[static_cast<std::size_t>(r * c + idx[static_cast<std::size_t>(r)])])
        idx[static_cast<std::size_t>(r)] = k;
  return idx;
}

Result<Accuracy> evaluate_accuracy(
    const BatchRun& run, const SampleSource& samples, std::int64_t batch,
    const std::function<void(std::int64_t, std::int64_t)>& progress) {
  if (samples.labels.empty())
    return make_error("accuracy needs labels, and " + samples.description +
                      " has none (give them with --labels)");
  Accuracy acc;
  std::vector<Tensor> inputs(1);
  for (std::int64_t start = 0; start < samples.count; start += batch) {
    const std::int64_t n = std::min(batch, samples.count - start);
    auto x = samples.batch(start, n);
    if (!x) return x.error();
    inputs[0] = std::move(x).value();
    auto out = run(inputs);
    if (!out) return out.error();
    const Tensor& logits = out->at(0);
    if (!logits.is_float() || logits.shape.empty() || logits.shape[0] != n)
      return make_error("the model's first output has shape " + shape_str(logits.shape) +
                        "; accuracy needs [batch, classes] logits");
    const auto pred = argmax_rows(logits);
    for (std::int64_t k = 0; k < n; ++k)
      acc.correct +=
          pred[static_cast<std::size_t>(k)] == samples.labels[static_cast<std::size_t>(start + k)];
    acc.total += n;
    if (progress) progress(acc.total, samples.count);
  }
  return acc;
}

}  // namespace mpq
