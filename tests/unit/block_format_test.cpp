// Block-scaled formats (issue 25): names and candidates, bits per element, where the blocks of
// a bundled model's quantizers run, block quantization's rules on worked examples, and a
// configuration at a block candidate through calibration, JSON and quantized execution. The
// element-by-element comparison with the numpy reference is tests/e2e/test_block_formats.py.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/candidate.hpp"
#include "graph/onnx_import.hpp"
#include "sim/calibration.hpp"
#include "sim/prepare.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {

TEST(BlockFormats, NamesRoundTripAndCandidatesFollowTheRule) {
  for (const char* n : {"mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8",
                        "nvfp4", "int4_g32", "int8_g128", "int4_g64"}) {
    auto f = parse_format(n);
    ASSERT_TRUE(f.ok()) << n;
    EXPECT_TRUE(f->is_block()) << n;
    EXPECT_FALSE(f->is_int() || f->is_float()) << n;
    EXPECT_EQ(f->name(), n);
  }
  EXPECT_EQ(parse_format("mxfp4")->block, 32);
  EXPECT_EQ(parse_format("nvfp4")->block, 16);
  EXPECT_EQ(parse_format("int4_g128")->block, 128);
  EXPECT_EQ(parse_format("int4_g128")->bits, 4);
  auto c = parse_candidate("Wmxfp4Amxfp8_e4m3");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->weight.name(), "mxfp4");
  EXPECT_EQ(c->activation.name(), "mxfp8_e4m3");
  EXPECT_EQ(c->name(), "Wmxfp4Amxfp8_e4m3");
  // A plain integer keeps its bit count alone; a group-wise one its full name.
  EXPECT_EQ(parse_candidate("Wint4_g128A16")->name(), "Wint4_g128A16");
  EXPECT_EQ(parse_candidate("Wint4_g128Aint16")->name(), "Wint4_g128A16");
  EXPECT_EQ(parse_candidate("Wnvfp4Anvfp4")->activation.kind, FormatKind::NvFp4);
  EXPECT_FALSE(parse_candidate("mxfp4").ok());  // a lone name is a float format's shorthand only
}

TEST(BlockFormats, BadNamesSayWhy) {
  auto g = parse_format("int4_g48");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("power of two"), std::string::npos) << g.error().message;
  EXPECT_FALSE(parse_format("int1_g32").ok());
  EXPECT_FALSE(parse_format("int4_gx").ok());
  auto m = parse_format("mxfp5");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("mxfp8_e4m3"), std::string::npos) << m.error().message;
}

TEST(BlockFormats, BitsPerElementCountTheScales) {
  EXPECT_DOUBLE_EQ(parse_format("mxfp4")->storage_bits(), 4.25);
  EXPECT_DOUBLE_EQ(parse_format("mxfp8_e4m3")->storage_bits(), 8.25);
  EXPECT_DOUBLE_EQ(parse_format("mxint8")->storage_bits(), 8.25);
  EXPECT_DOUBLE_EQ(parse_format("nvfp4")->storage_bits(), 4.5);
  EXPECT_DOUBLE_EQ(parse_format("int4_g32")->storage_bits(), 4.5);
  EXPECT_DOUBLE_EQ(parse_format("int4_g128")->storage_bits(), 4.125);
  EXPECT_DOUBLE_EQ(parse_format("int8")->storage_bits(), 8.0);
  // BOPs: integer elements count their bits, float elements bits x sqrt(1.5), plus the scale.
  EXPECT_DOUBLE_EQ(parse_format("mxint8")->effective_bits(), 8.25);
  EXPECT_DOUBLE_EQ(parse_format("mxfp4")->effective_bits(), 4 * std::sqrt(1.5) + 0.25);
  // The ordering of candidates stays total: MXFP8 above MXFP4 above INT4 per tensor.
  EXPECT_TRUE(higher_precision(*parse_candidate("Wmxfp8_e4m3Amxfp8_e4m3"),
                               *parse_candidate("Wmxfp4Amxfp4")));
  EXPECT_TRUE(higher_precision(*parse_candidate("Wint4_g32A8"), *parse_candidate("W4A8")));
}

// One block along the last axis: the MX rules worked by hand (spec section 6.3).
TEST(BlockFormats, MxBlocksOnWorkedExamples) {
  QuantParams p;
  p.format = *parse_format("mxfp4");
  p.block_axis = 1;
  Tensor t;
  t.dtype = DType::Float32;
  t.shape = {2, 40};  // 40 = one block of 32 and a short one of 8
  t.f.assign(80, 0.0f);
  const float row0[] = {6.0f, 3.0f, 0.4f, 0.25f, -0.26f, 2.5f, 5.0f, 7.9f};
  std::copy(std::begin(row0), std::end(row0), t.f.begin());
  t.f[33] = 0.75f;  // the short block: amax 0.75, scale 2^-3
  t.f[34] = 0.1f;
  t.f[40] = std::numeric_limits<float>::quiet_NaN();  // row 1, first block: all NaN
  t.f[72] = 1.0f;                                     // row 1, short block: kept
  fake_quantize(t, p);
  // amax 7.9: floor(log2) = 2 = emax, X = 1; 7.9 clamps to 6; ties to even.
  const float want0[] = {6.0f, 3.0f, 0.5f, 0.0f, -0.5f, 2.0f, 4.0f, 6.0f};
  for (int k = 0; k < 8; ++k) EXPECT_EQ(t.f[k], want0[k]) << k;
  EXPECT_EQ(t.f[33], 0.75f);
  EXPECT_EQ(t.f[34], 0.125f);
  for (int k = 40; k < 72; ++k) EXPECT_TRUE(std::isnan(t.f[k])) << k;
  EXPECT_EQ(t.f[72], 1.0f);
}

Network bundled(const std::string& name) {
  const std::string path = std::string(MPQ_SOURCE_DIR) + "/configs/models/" + name;
  auto m = load_onnx(path);
  EXPECT_TRUE(m.ok()) << path;
  auto net = prepare_network(std::move(m).value());
  EXPECT_TRUE(net.ok());
  return std::move(net).value();
}

TEST(BlockFormats, BlocksRunAlongTheReductionAxes) {
  const Network net = bundled("cnn.onnx");
  const QuantizerPlacement pl = place_quantizers(net);
  int weights = 0;
  for (const auto& q : pl.quantizers) {
    if (q.kind != QuantizerKind::Weight) continue;
    ++weights;
    const Shape& w = net.model.initializers.at(q.name).shape;
    if (w.size() == 4 && w[1] == 1) {  // depthwise: the whole kernel window
      EXPECT_EQ(q.reduction_axis, 1) << q.name;
      EXPECT_EQ(q.reduction_axes, 3) << q.name;
    } else {
      EXPECT_NE(q.reduction_axis, q.channel_axis) << q.name;
      EXPECT_EQ(q.reduction_axes, 1) << q.name;
    }
  }
  EXPECT_GT(weights, 0);
}

// A whole configuration at Wmxfp4Amxfp8_e4m3: calibrated, written and read back, and run.
TEST(BlockFormats, ConfigurationRoundTripsAndRuns) {
  const Network net = bundled("cnn.onnx");
  const QuantizerPlacement pl = place_quantizers(net);
  ActivationStats stats;
  stats.samples = 1;
  for (const auto& q : pl.quantizers)
    if (q.kind == QuantizerKind::Activation) stats.histograms[q.name] = Histogram(-4.0f, 4.0f);
  const Candidate c = *parse_candidate("Wmxfp4Amxfp8_e4m3");
  auto cfg = calibrate_config(net, pl, uniform_formats(pl, c), stats, RangeSettings{});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  for (const auto& [name, s] : cfg->quantizers) {
    EXPECT_TRUE(s.params.format.is_block()) << name;
    EXPECT_FALSE(s.params.elementwise()) << name;
    EXPECT_GE(s.params.block_axis, 0) << name;
  }
  EXPECT_TRUE(cfg->biases.empty());  // biases of block-format layers stay float
  const nlohmann::json j = config_to_json(*cfg);
  auto back = config_from_json(j, net, pl, "test");
  ASSERT_TRUE(back.ok()) << back.error().message;
  for (const auto& [name, s] : cfg->quantizers) {
    const auto& b = back->quantizers.at(name).params;
    EXPECT_EQ(b.format, s.params.format) << name;
    EXPECT_EQ(b.block_axis, s.params.block_axis) << name;
    EXPECT_EQ(b.block_axes, s.params.block_axes) << name;
  }
  auto engine = Engine::create(net);
  ASSERT_TRUE(engine.ok());
  const QuantizedConstants qc = quantize_constants(net, *cfg);
  ASSERT_TRUE(attach_config(*engine, *cfg, qc).ok());
  Tensor x;
  x.dtype = DType::Float32;
  x.shape = net.shapes.at(net.model.inputs[0].name);
  x.f.resize(static_cast<std::size_t>(numel(x.shape)));
  for (std::size_t k = 0; k < x.f.size(); ++k) x.f[k] = std::sin(0.37f * static_cast<float>(k));
  const std::vector<Tensor> in_batch{x};
  auto out = engine->run(in_batch);
  ASSERT_TRUE(out.ok()) << out.error().message;
  auto fe = Engine::create(net);
  auto ref = fe->run(in_batch);
  ASSERT_TRUE(ref.ok());
  double num = 0, den = 0;
  for (std::size_t k = 0; k < ref->at(0).f.size(); ++k) {
    const double d = ref->at(0).f[k] - out->at(0).f[k];
    num += ref->at(0).f[k] * ref->at(0).f[k];
    den += d * d;
  }
  // Quantized, so different from float, but close: MXFP4 weights keep the logits' direction.
  EXPECT_GT(den, 0.0);
  EXPECT_GT(10 * std::log10(num / den), 5.0);
}

}  // namespace
}  // namespace mpq
