// No silent NaN (issue 22, item 3): a configuration that breaks the network is found, named at
// the first non-finite tensor, and recorded by phase 1 as a failed task; and a decomposed
// LayerNorm's variance chain carries no quantizer that could round it to zero.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "prepared_network.hpp"
#include "search/sensitivity_list.hpp"
#include "sim/calibration.hpp"
#include "sim/nonfinite.hpp"
#include "sim/quant_metrics.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {

constexpr std::int64_t kWidth = 64;

// y = x / |x| + |x|: finite in float for x != 0, but an 8-bit |x| rounds its small values to
// zero, and the Div then yields inf or NaN.
std::string sign_model() {
  test::OnnxBuilder b;
  b.input("x", {-1, kWidth});
  b.node("Abs", {"x"}, {"mag"}, "abs");
  b.node("Div", {"x", "mag"}, {"sign"}, "divide");
  b.node("Add", {"sign", "mag"}, {"y"}, "add");
  b.output("y", {-1, kWidth});
  return b.save("nonfinite_sign.onnx");
}

// The decomposed LayerNorm of opset-9 exports: ReduceMean, Sub, Pow, ReduceMean, Add(eps),
// Sqrt, Div, then a MatMul so the normalized values have a consumer with weights.
std::string layer_norm_model() {
  test::OnnxBuilder b(11);
  b.input("x", {-1, kWidth});
  b.initializer("two", {}, {2.0f});
  b.initializer("eps", {}, {1e-6f});
  b.initializer("w", {kWidth, 8}, test::random_values(kWidth * 8, 5));
  auto* m1 = b.node("ReduceMean", {"x"}, {"mean"}, "mean");
  test::OnnxBuilder::attr_ints(m1, "axes", {-1});
  b.node("Sub", {"x", "mean"}, {"centered"}, "sub");
  b.node("Pow", {"centered", "two"}, {"squared"}, "pow");
  auto* m2 = b.node("ReduceMean", {"squared"}, {"variance"}, "variance");
  test::OnnxBuilder::attr_ints(m2, "axes", {-1});
  b.node("Add", {"variance", "eps"}, {"variance_eps"}, "add_eps");
  b.node("Sqrt", {"variance_eps"}, {"stddev"}, "sqrt");
  b.node("Div", {"centered", "stddev"}, {"normalized"}, "div");
  b.node("MatMul", {"normalized", "w"}, {"y"}, "matmul");
  b.output("y", {-1, 8});
  return b.save("nonfinite_layer_norm.onnx");
}

// Rows of two scales: a small row's variance (3e-4) is below half an 8-bit step of the
// variance's range (about 0.002), its centered values (up to 0.03) are not.
Tensor mixed_scale_rows(std::int64_t rows) {
  Tensor t = Tensor::zeros({rows, kWidth});
  const auto v = test::random_values(static_cast<std::size_t>(rows * kWidth), 9);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t k = 0; k < kWidth; ++k) {
      const auto i = static_cast<std::size_t>(r * kWidth + k);
      t.f[i] = v[i] * (r % 2 ? 1.0f : 0.03f);
    }
  return t;
}

SampleSource samples_of(const Tensor& t) {
  SampleSource s;
  s.description = "mixed-scale rows";
  s.count = t.shape[0];
  s.batch = [t](std::int64_t start, std::int64_t n) -> Result<Tensor> {
    Tensor b = Tensor::zeros({n, kWidth});
    std::copy_n(t.f.begin() + start * kWidth, n * kWidth, b.f.begin());
    return b;
  };
  return s;
}

struct Quantized {
  Network net;
  QuantizerPlacement placement;
  QuantConfig cfg;
  SampleSource samples;
};

// The decomposed chain as it runs under --no-canonicalize (canonicalization would fuse it into one
// LayerNormalization, which has no internal tensor to quantize).
PrepareOptions uncanonicalized() {
  PrepareOptions o;
  o.canonicalize = false;
  return o;
}

// `extra`: activations to quantize beyond mpq's placement.
Quantized quantize_w8a8(const std::string& path, const std::vector<std::string>& extra = {},
                        const PrepareOptions& opts = {}) {
  Quantized q{test::prepared(path, opts), {}, {}, samples_of(mixed_scale_rows(32))};
  q.placement = place_quantizers(q.net);
  for (const auto& name : extra) {
    Quantizer a;
    a.name = name;
    a.kind = QuantizerKind::Activation;
    a.node = 0;
    a.non_negative = true;
    q.placement.by_name[name] = q.placement.quantizers.size();
    q.placement.quantizers.push_back(a);
  }
  auto stats = collect_activation_stats(q.net, q.placement, q.samples, 16);
  EXPECT_TRUE(stats.ok()) << stats.error().message;
  auto cfg = calibrate_config(q.net, q.placement,
                              uniform_formats(q.placement, *parse_candidate("W8A8")), *stats, {});
  EXPECT_TRUE(cfg.ok()) << cfg.error().message;
  q.cfg = std::move(cfg).value();
  return q;
}

QuantMetrics metrics_of(const Quantized& q) {
  auto fp = Engine::create(q.net);
  auto e = Engine::create(q.net);
  const QuantizedConstants qc = quantize_constants(q.net, q.cfg);
  EXPECT_TRUE(attach_config(*e, q.cfg, qc).ok());
  auto m = compare_with_float(*fp, *e, q.samples, 16);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return *m;
}

TEST(NonFinite, BrokenRunIsAFailureNamingTheFirstBadTensor) {
  const Quantized q = quantize_w8a8(sign_model());
  const QuantMetrics m = metrics_of(q);
  ASSERT_TRUE(m.failed()) << "SQNR " << m.sqnr_db;
  EXPECT_FALSE(m.lossless());
  EXPECT_FALSE(m.float_output_broken);
  EXPECT_TRUE(std::isnan(m.sqnr_db)) << "a broken run has no SQNR, least of all +inf";
  EXPECT_EQ(m.failed_batch_start, 0);
  EXPECT_EQ(m.failed_batch_count, 16);
  const Tensor x = q.samples.batch(m.failed_batch_start, m.failed_batch_count).value();
  auto site = locate_nonfinite(q.net, &q.cfg, std::span<const Tensor>(&x, 1));
  ASSERT_TRUE(site.ok()) << site.error().message;
  ASSERT_TRUE(site->has_value());
  EXPECT_EQ((*site)->tensor, "sign");
  EXPECT_EQ((*site)->producer, "Div 'divide'");
  EXPECT_GT((*site)->nan + (*site)->inf, 0);
  // The float network is finite on the same batch.
  auto float_site = locate_nonfinite(q.net, nullptr, std::span<const Tensor>(&x, 1));
  ASSERT_TRUE(float_site.ok());
  EXPECT_FALSE(float_site->has_value());
}

TEST(NonFinite, FailedTaskSortsAsTheMostSensitive) {
  SensitivityList list;
  for (const double sqnr : {12.0, std::numeric_limits<double>::infinity(), -3.0}) {
    SensitivityEntry e;
    e.result.group = list.entries.size();
    e.result.metrics.sqnr_db = sqnr;
    list.entries.push_back(e);
  }
  SensitivityEntry broken;
  broken.result.group = 3;
  broken.result.metrics.sqnr_db = std::numeric_limits<double>::quiet_NaN();
  broken.result.metrics.failure = "the quantized network's output holds NaN";
  list.entries.insert(list.entries.begin(), broken);
  sort_sensitivity(list);
  ASSERT_EQ(list.entries.size(), 4u);
  EXPECT_EQ(list.entries[0].result.group, 1u) << "lossless first";
  EXPECT_EQ(list.entries.back().result.group, 3u) << "the failed task last";
  EXPECT_EQ(list.entries.back().score, -std::numeric_limits<double>::infinity());
}

TEST(NonFinite, DecomposedLayerNormVarianceIsNotQuantized) {
  const Network net = test::prepared(layer_norm_model(), uncanonicalized());
  const QuantizerPlacement p = place_quantizers(net);
  for (const char* internal : {"squared", "variance", "variance_eps", "stddev"})
    EXPECT_EQ(p.find(internal), nullptr) << internal << " feeds only the denominator";
  for (const char* quantized : {"x", "mean", "centered", "normalized", "y"})
    EXPECT_NE(p.find(quantized), nullptr) << quantized;
}

TEST(NonFinite, DecomposedLayerNormStaysFiniteAtW8A8) {
  const QuantMetrics m = metrics_of(quantize_w8a8(layer_norm_model(), {}, uncanonicalized()));
  EXPECT_FALSE(m.failed()) << m.failure;
  EXPECT_GT(m.sqnr_db, 10.0);
  // Canonicalized into one LayerNormalization, the same network is finite too.
  const QuantMetrics fused = metrics_of(quantize_w8a8(layer_norm_model()));
  EXPECT_FALSE(fused.failed()) << fused.failure;
  EXPECT_GT(fused.sqnr_db, 10.0);
  // What a quantizer on the variance would do: the small rows' variance + eps rounds to zero.
  const QuantMetrics broken =
      metrics_of(quantize_w8a8(layer_norm_model(), {"variance_eps"}, uncanonicalized()));
  EXPECT_TRUE(broken.failed()) << broken.sqnr_db << " dB";
}

// Inputs are checked when read (issue 26): the counts and the first index, row-major.
TEST(CheckFinite, CountsAndNamesTheFirstIndex) {
  std::vector<float> v(2 * 3 * 4, 1.0f);
  v[1 * 12 + 1 * 4 + 3] = std::numeric_limits<float>::infinity();
  v[23] = std::nanf("");
  const auto st = check_finite(v, Shape{2, 3, 4}, "x.npy");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("x.npy holds 1 NaN and 1 infinite values of 24 (the first at "
                                    "[1, 1, 3])"),
            std::string::npos)
      << st.error().message;
  v[23] = v[1 * 12 + 1 * 4 + 3] = 0.0f;
  EXPECT_TRUE(check_finite(v, Shape{2, 3, 4}, "x.npy"));
}

TEST(CheckFinite, WeightsNameTheReadingNode) {
  test::OnnxBuilder b;
  b.input("x", {-1, 4});
  std::vector<float> w(16, 0.5f);
  w[9] = -std::numeric_limits<float>::infinity();
  b.initializer("w", {4, 4}, w);
  b.node("MatMul", {"x", "w"}, {"y"}, "project");
  b.output("y", {-1, 4});
  auto model = load_onnx(b.save("nonfinite_weight.onnx"));
  ASSERT_TRUE(model) << model.error().message;
  const auto st = check_finite_weights(*model);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("initializer 'w' (read by MatMul 'project') holds 0 NaN and 1 "
                                    "infinite values of 16 (the first at [2, 1])"),
            std::string::npos)
      << st.error().message;
}

}  // namespace
}  // namespace mpq
