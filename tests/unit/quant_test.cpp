// The quantization simulator on real models: quantizer placement, fake quantization fast path
// against its element-wise reference, configuration JSON, calibration and quantized execution.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "sim/calibration.hpp"
#include "sim/prepare.hpp"
#include "sim/quant_metrics.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {

Network bundled(const std::string& name) {
  const std::string path = std::string(MPQ_SOURCE_DIR) + "/configs/models/" + name;
  auto m = load_onnx(path);
  EXPECT_TRUE(m.ok()) << path;
  auto net = prepare_network(std::move(m).value());
  EXPECT_TRUE(net.ok());
  return std::move(net).value();
}

TEST(QuantizerPlacement, CnnHasFusedConvReluAndPerChannelWeights) {
  const Network net = bundled("cnn.onnx");
  const QuantizerPlacement p = place_quantizers(net);
  int weights = 0, activations = 0;
  for (const auto& q : p.quantizers) {
    if (q.kind == QuantizerKind::Weight) {
      ++weights;
      EXPECT_EQ(q.channel_axis, 0) << q.name;  // Conv [Cout, ...] and Gemm with transB=1
      continue;
    }
    ++activations;
    if (q.node == Quantizer::kNoNode) continue;
    const std::string& op = net.node(q.node).op_type;
    // Conv and fc1 are followed by Relu: fused, the quantizer sits on the Relu.
    EXPECT_TRUE(op == "Relu" || (op == "Gemm" && q.model_output)) << q.name << " on " << op;
    EXPECT_EQ(q.non_negative, op == "Relu") << q.name;
  }
  EXPECT_EQ(weights, 5);      // 3 conv + 2 fc
  EXPECT_EQ(activations, 6);  // input, 3 conv+relu, fc1+relu, logits
  // MaxPool passes the Relu's format through to the next conv.
  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    if (n.op_type != "MaxPool") continue;
    const Quantizer* src = p.input_quantizer(net, k, 0);
    ASSERT_NE(src, nullptr);
    EXPECT_EQ(p.format_source.at(n.outputs[0]), p.by_name.at(src->name));
  }
}

TEST(QuantizerPlacement, ResidualAddOutputsAreQuantized) {
  const Network net = bundled("resnet.onnx");
  const QuantizerPlacement p = place_quantizers(net);
  int adds = 0;
  for (const auto& q : p.quantizers)
    if (q.kind == QuantizerKind::Activation && q.node != Quantizer::kNoNode &&
        net.node(q.node).op_type == "Relu") {
      // Relu after Add: fused as well, and non-negative.
      EXPECT_TRUE(q.non_negative);
    }
  for (std::size_t k : net.order)
    if (net.node(k).op_type == "Add") {
      ++adds;
      for (std::size_t i = 0; i < 2; ++i) EXPECT_NE(p.input_quantizer(net, k, i), nullptr);
    }
  EXPECT_GT(adds, 0);
}

TEST(FakeQuant, FastPathEqualsReferenceForEveryWidthAndThreadCount) {
  const auto values = test::random_values(6 * 5 * 7 * 3, 7, -3.0f, 3.0f);
  Tensor t = Tensor::zeros({6, 5, 7, 3});
  t.f.assign(values.begin(), values.end());
  for (int bits : {2, 3, 4, 8, 16})
    for (int axis : {-1, 0, 1}) {
      QuantParams p;
      p.format = NumberFormat::integer(bits);
      p.axis = axis;
      const IntGrid g = int_grid(bits, QuantScheme::Asymmetric, false);
      p.qmin = g.qmin;
      p.qmax = g.qmax;
      const std::int64_t channels = axis < 0 ? 1 : t.shape[static_cast<std::size_t>(axis)];
      for (std::int64_t c = 0; c < channels; ++c) {
        const ScaleZero sz = scale_from_range(-2.0f + 0.1f * static_cast<float>(c), 2.5f, g,
                                              QuantScheme::Asymmetric);
        p.scale.push_back(sz.scale);
        p.zero_point.push_back(sz.zero_point);
      }
      for (std::size_t threads : {1u, 4u}) {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
        Tensor out;
        fake_quantize(t, out, p);
        const std::int64_t inner = axis < 0 ? 1 : (axis == 0 ? 5 * 7 * 3 : 7 * 3);
        for (std::int64_t k = 0; k < t.size(); ++k) {
          const auto c = axis < 0 ? 0 : static_cast<std::size_t>((k / inner) % channels);
          const float want = fake_quantize_int_reference(
              t.f[static_cast<std::size_t>(k)], p.scale[c], p.zero_point[c], p.qmin, p.qmax);
          ASSERT_EQ(out.f[static_cast<std::size_t>(k)], want)
              << bits << " bits, axis " << axis << ", element " << k;
        }
      }
    }
}

TEST(FakeQuant, GridsAndScales) {
  EXPECT_EQ(int_grid(4, QuantScheme::Symmetric, false).qmin, -8);
  EXPECT_EQ(int_grid(4, QuantScheme::Symmetric, false).qmax, 7);
  EXPECT_EQ(int_grid(4, QuantScheme::Symmetric, true).qmax, 15);  // unsigned on ReLU outputs
  EXPECT_EQ(int_grid(16, QuantScheme::Asymmetric, false).qmax, 65535);
  // Asymmetric [-1, 3] on 8 bits: scale 4/255, zero point round(255/4) = 64.
  const ScaleZero a = scale_from_range(-1.0f, 3.0f, int_grid(8, QuantScheme::Asymmetric, false),
                                       QuantScheme::Asymmetric);
  EXPECT_FLOAT_EQ(a.scale, 4.0f / 255.0f);
  EXPECT_EQ(a.zero_point, 64);
  // Symmetric [-1, 3] on 8 bits: scale 3/127; a positive-only range still includes 0.
  EXPECT_FLOAT_EQ(scale_from_range(-1.0f, 3.0f, int_grid(8, QuantScheme::Symmetric, false),
                                   QuantScheme::Symmetric)
                      .scale,
                  3.0f / 127.0f);
  EXPECT_EQ(scale_from_range(0.5f, 3.0f, int_grid(8, QuantScheme::Asymmetric, false),
                             QuantScheme::Asymmetric)
                .zero_point,
            0);
}

struct Calibrated {
  Network net;
  QuantizerPlacement placement;
  ActivationStats stats;
};

Calibrated calibrate(const std::string& model, std::int64_t samples) {
  Calibrated c{bundled(model), {}, {}};
  c.placement = place_quantizers(c.net);
  auto src = open_samples("fashion-mnist:train:" + std::to_string(samples), c.net);
  EXPECT_TRUE(src.ok()) << src.error().message;
  auto stats = collect_activation_stats(c.net, c.placement, *src, 32);
  EXPECT_TRUE(stats.ok()) << stats.error().message;
  c.stats = std::move(stats).value();
  return c;
}

QuantMetrics evaluate(const Calibrated& c, const QuantConfig& cfg, const std::string& data) {
  auto src = open_samples(data, c.net);
  EXPECT_TRUE(src.ok());
  auto fp = Engine::create(c.net);
  auto q = Engine::create(c.net);
  const QuantizedConstants qc = quantize_constants(c.net, cfg);
  EXPECT_TRUE(attach_config(*q, cfg, qc).ok());
  auto m = compare_with_float(*fp, *q, *src, 64);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return *m;
}

TEST(QuantConfig, JsonRoundTripGivesIdenticalOutputs) {
  const Calibrated c = calibrate("cnn.onnx", 64);
  auto cfg = calibrate_config(c.net, c.placement,
                              uniform_formats(c.placement, *parse_candidate("W4A8")), c.stats, {});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_FALSE(cfg->biases.empty());
  const nlohmann::json j = nlohmann::json::parse(config_to_json(*cfg).dump());
  auto back = config_from_json(j, c.net, c.placement, "roundtrip.json");
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->quantizers.size(), cfg->quantizers.size());
  for (const auto& [name, s] : cfg->quantizers) {
    const auto& b = back->quantizers.at(name);
    EXPECT_EQ(b.params.scale, s.params.scale) << name;
    EXPECT_EQ(b.params.zero_point, s.params.zero_point) << name;
    EXPECT_EQ(b.params.format, s.params.format) << name;
  }
  for (const auto& [name, b] : cfg->biases) EXPECT_EQ(back->biases.at(name).scale, b.scale);
}

TEST(QuantConfig, ErrorsNameTheOffendingItem) {
  const Calibrated c = calibrate("cnn.onnx", 32);
  auto cfg = calibrate_config(c.net, c.placement,
                              uniform_formats(c.placement, *parse_candidate("W8A8")), c.stats, {});
  ASSERT_TRUE(cfg.ok());
  const nlohmann::json good = config_to_json(*cfg);
  auto expect_error = [&](const nlohmann::json& j, const std::string& needle) {
    auto r = config_from_json(j, c.net, c.placement, "cfg.json");
    ASSERT_FALSE(r.ok()) << needle;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  nlohmann::json absent = good;
  absent["quantizers"]["no_such_tensor"] = good["quantizers"]["input"];
  expect_error(absent, "quantizer 'no_such_tensor' does not exist");
  nlohmann::json bad_format = good;
  bad_format["quantizers"]["input"]["format"] = "int17";
  expect_error(bad_format, "outside 2..16");
  nlohmann::json short_scale = good;
  short_scale["quantizers"]["fc1.weight"]["scale"] = {0.1};
  expect_error(short_scale, "fc1.weight");
  nlohmann::json wrong_kind = good;
  wrong_kind["quantizers"]["fc1.weight"]["kind"] = "activation";
  expect_error(wrong_kind, "is a weight quantizer");
  expect_error(nlohmann::json::object(), "not an mpq quantization configuration");
}

TEST(QuantizedRun, OutputsIdenticalWithOneTwoAndFourThreads) {
  const Calibrated c = calibrate("resnet.onnx", 64);
  auto cfg = calibrate_config(c.net, c.placement,
                              uniform_formats(c.placement, *parse_candidate("W4A8")), c.stats, {});
  ASSERT_TRUE(cfg.ok());
  const QuantizedConstants qc = quantize_constants(c.net, *cfg);
  auto src = open_samples("fashion-mnist:test:64", c.net);
  ASSERT_TRUE(src.ok());
  std::vector<Tensor> in{src->batch(0, 64).value()};
  std::vector<float> first;
  for (std::size_t threads : {1u, 2u, 4u}) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    auto e = Engine::create(c.net);
    ASSERT_TRUE(attach_config(*e, *cfg, qc).ok());
    auto out = e->run(in);
    ASSERT_TRUE(out.ok());
    if (first.empty())
      first.assign(out->at(0).f.begin(), out->at(0).f.end());
    else
      EXPECT_TRUE(std::equal(first.begin(), first.end(), out->at(0).f.begin())) << threads;
  }
}

TEST(RangeSetting, MseBeatsMinMaxAtFourBitsOnTheCnn) {
  const Calibrated c = calibrate("cnn.onnx", 256);
  const auto formats = uniform_formats(c.placement, *parse_candidate("W4A4"));
  RangeSettings minmax, mse_settings;
  minmax.activation_method = minmax.weight_method = RangeMethod::MinMax;
  mse_settings.activation_method = mse_settings.weight_method = RangeMethod::Mse;
  auto cfg_mse = calibrate_config(c.net, c.placement, formats, c.stats, mse_settings);
  auto cfg_minmax = calibrate_config(c.net, c.placement, formats, c.stats, minmax);
  ASSERT_TRUE(cfg_mse.ok() && cfg_minmax.ok());
  const QuantMetrics mse = evaluate(c, *cfg_mse, "fashion-mnist:test:1000");
  const QuantMetrics mm = evaluate(c, *cfg_minmax, "fashion-mnist:test:1000");
  EXPECT_GT(mse.sqnr_db, mm.sqnr_db + 0.5)
      << "MSE " << mse.sqnr_db << " dB, min-max " << mm.sqnr_db << " dB";
}

class BundledW8A8 : public ::testing::TestWithParam<std::string> {};

TEST_P(BundledW8A8, WithinOnePointOfFloatOnTheTestSet) {
  const Calibrated c = calibrate(GetParam(), 512);
  auto cfg = calibrate_config(c.net, c.placement,
                              uniform_formats(c.placement, *parse_candidate("W8A8")), c.stats, {});
  ASSERT_TRUE(cfg.ok());
  const QuantMetrics m = evaluate(c, *cfg, "fashion-mnist:test");
  ASSERT_TRUE(m.accuracy && m.float_accuracy);
  EXPECT_EQ(m.samples, 10000);
  EXPECT_NEAR(*m.accuracy, *m.float_accuracy, 1.0) << GetParam();
  EXPECT_GT(m.sqnr_db, 25.0) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Models, BundledW8A8,
                         ::testing::Values("cnn.onnx", "mobilenet.onnx", "resnet.onnx", "vit.onnx"),
                         [](const auto& info) {
                           return info.param.substr(0, info.param.find('.'));
                         });

}  // namespace
}  // namespace mpq

namespace mpq {
namespace {

// Sum of (v - fake-quantized v)^2 over `values` for the quantizer that `range` defines.
double reference_squared_error(std::span<const float> values, Range range, IntGrid g,
                               QuantScheme scheme) {
  const ScaleZero sz = scale_from_range(range.lo, range.hi, g, scheme);
  double e = 0;
  for (float v : values) {
    const double d = v - fake_quantize_int_reference(v, sz.scale, sz.zero_point, g.qmin, g.qmax);
    e += d * d;
  }
  return e;
}

// On heavy-tailed data the MSE-chosen activation range has a lower true quantization MSE (on
// the values themselves, not the histogram model) than min-max, and never a higher one.
TEST(RangeSetting, MseRangeMinimisesTheTrueErrorOfTheTensor) {
  std::mt19937 rng(3);
  std::student_t_distribution<float> heavy(3.0f);
  std::vector<float> x(20000);
  for (auto& v : x) v = heavy(rng);
  const auto [mn, mx] = std::minmax_element(x.begin(), x.end());
  Histogram h(*mn, *mx);
  h.add(x);
  for (int bits : {4, 8})
    for (QuantScheme scheme : {QuantScheme::Symmetric, QuantScheme::Asymmetric}) {
      RangeRequest r;
      r.format = NumberFormat::integer(bits);
      r.scheme = scheme;
      auto true_mse = [&](RangeMethod m) {
        r.method = m;
        const Range range = activation_range(h, r);
        return reference_squared_error(x, range, int_grid(bits, scheme, false), scheme) /
               static_cast<double>(x.size());
      };
      const double mse = true_mse(RangeMethod::Mse), minmax = true_mse(RangeMethod::MinMax);
      EXPECT_LT(mse, minmax) << bits << " bits, scheme " << static_cast<int>(scheme);
      if (bits == 4) {
        EXPECT_LT(mse, 0.5 * minmax) << "heavy tails: clipping must pay off";
      }
    }
}

// The per-channel weight MSE search (vectorized in range_setting.cpp) picks the range a plain
// search with fake_quantize_int_reference picks: channel lengths around the 16-lane vectors,
// both schemes, 2 to 8 bits, heavy tails and a channel with a NaN.
TEST(RangeSetting, WeightMseSearchMatchesTheReferenceSearch) {
  std::mt19937 rng(11);
  std::student_t_distribution<float> heavy(3.0f);
  for (std::int64_t inner : {1, 7, 15, 16, 17, 33, 144}) {
    const std::int64_t channels = 3;
    std::vector<float> w(static_cast<std::size_t>(channels * inner));
    for (auto& v : w) v = 0.05f * heavy(rng) + (inner % 2 ? 0.02f : 0.0f);
    const std::vector<std::int64_t> shape{channels, inner};
    for (int bits : {2, 4, 8})
      for (QuantScheme scheme : {QuantScheme::Symmetric, QuantScheme::Asymmetric}) {
        RangeRequest r;
        r.format = NumberFormat::integer(bits);
        r.scheme = scheme;
        r.method = RangeMethod::Mse;
        const std::vector<Range> got = weight_ranges(w, shape, 0, r);
        ASSERT_EQ(got.size(), 3u);
        const IntGrid g = int_grid(bits, scheme, false);
        for (std::int64_t c = 0; c < channels; ++c) {
          const std::span<const float> v(w.data() + c * inner, static_cast<std::size_t>(inner));
          const auto err = [&](Range cand) { return reference_squared_error(v, cand, g, scheme); };
          // The chosen range's error is the smallest over the search grid (to rounding).
          const float lo = std::min(0.0f, *std::min_element(v.begin(), v.end()));
          const float hi = std::max(0.0f, *std::max_element(v.begin(), v.end()));
          double best = std::numeric_limits<double>::infinity();
          if (scheme == QuantScheme::Symmetric || lo == 0.0f) {
            const float amax = lo == 0.0f ? hi : std::max(-lo, hi);
            for (int i = 100; i >= 1; --i) {
              const float cc = amax * static_cast<float>(i) / 100;
              best = std::min(best, err(lo == 0.0f ? Range{0.0f, cc} : Range{-cc, cc}));
            }
          } else {
            for (int a = 25; a >= 1; --a)
              for (int b = 25; b >= 1; --b)
                best = std::min(
                    best, err({lo * static_cast<float>(a) / 25, hi * static_cast<float>(b) / 25}));
          }
          const double chosen = err(got[static_cast<std::size_t>(c)]);
          EXPECT_LE(chosen, best * (1 + 1e-12) + 1e-30)
              << "inner " << inner << ", channel " << c << ", " << bits << " bits";
        }
      }
  }
  std::vector<float> nan_channel{0.5f, std::nanf(""), -0.25f};
  RangeRequest r;
  r.format = NumberFormat::integer(4);
  r.method = RangeMethod::Mse;
  const std::vector<std::int64_t> shape{1, 3};
  EXPECT_EQ(weight_ranges(nan_channel, shape, 0, r).size(), 1u);
}

}  // namespace
}  // namespace mpq
