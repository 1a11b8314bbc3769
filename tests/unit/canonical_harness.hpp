#pragma once
// Checks of the canonicalization pass: a small graph prepared with and without the pass, run
// on the same random input; outputs must agree within 1e-5 relative.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine_runs.hpp"
#include "graph/quantizer_placement.hpp"
#include "onnx_builder.hpp"
#include "prepared_network.hpp"

namespace mpq::test {

inline Tensor run_once(const Network& net, const Tensor& x) {
  return run(net, {x}, true).at(0);
}

inline int count_ops(const Network& net, const std::string& op) {
  return static_cast<int>(std::count_if(net.model.nodes.begin(), net.model.nodes.end(),
                                        [&](const OpNode& n) { return n.op_type == op; }));
}

inline std::size_t activation_quantizers(const Network& net) {
  const auto p = place_quantizers(net);
  return static_cast<std::size_t>(
      std::count_if(p.quantizers.begin(), p.quantizers.end(),
                    [](const Quantizer& q) { return q.kind == QuantizerKind::Activation; }));
}

// |a - b| <= 1e-5 (|b| + rms(b)) everywhere: relative, with the tensor's own scale for
// elements near zero.
inline void expect_equal_up_to_rounding(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape, b.shape);
  double sq = 0;
  for (float v : b.f) sq += static_cast<double>(v) * v;
  const double rms = std::sqrt(sq / std::max<std::size_t>(b.f.size(), 1));
  for (std::size_t k = 0; k < a.f.size(); ++k)
    ASSERT_LE(std::abs(static_cast<double>(a.f[k]) - b.f[k]), 1e-5 * (std::abs(b.f[k]) + rms))
        << "element " << k << ": " << a.f[k] << " vs " << b.f[k];
}

struct Canonicalized {
  Network before, after;
  CanonicalizationReport report;  // of `after`
};

// The model file prepared with the pass, and the pass's report.
inline Network prepared_canonical(const std::string& path, CanonicalizationReport& report) {
  auto m = load_onnx(path);
  EXPECT_TRUE(m.ok()) << path << ": " << m.error().message;
  auto n = prepare_network(std::move(m).value(), {}, &report);
  EXPECT_TRUE(n.ok()) << path << ": " << n.error().message;
  return std::move(n).value();
}

// The model prepared without and with the pass, and run on one random input (values in
// [-4, 4], so the activations' bends are all exercised).
inline Canonicalized check_canonical(const OnnxBuilder& b, const std::string& file,
                                     const Shape& input_shape) {
  const std::string path = b.save(file);
  PrepareOptions off;
  off.canonicalize = false;
  Canonicalized c;
  c.before = prepared(path, off);
  c.after = prepared_canonical(path, c.report);
  Tensor x = Tensor::zeros(input_shape);
  const auto v = random_values(static_cast<std::size_t>(x.size()), 7, -4.0f, 4.0f);
  std::copy(v.begin(), v.end(), x.f.begin());
  expect_equal_up_to_rounding(run_once(c.after, x), run_once(c.before, x));
  return c;
}

}  // namespace mpq::test
