// AdaRound inside the mixed-precision flow (search/adaround_cache.hpp): phase 1 learns each
// (weight, integer format) pair once and caches it beside its journal; a second run learns
// nothing; other inputs set the cache aside and say which changed; the cached integers are
// AdaRound's per-layer results; every task scores them, and phase 2's configurations carry them.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <filesystem>

#include "search/adaround_cache.hpp"
#include "search/config_evaluator.hpp"
#include "search/phase1.hpp"
#include "sim/adaround_layers.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {

constexpr std::int64_t kIters = 40;

ExperimentSpec cnn_spec(const std::string& out, const std::string& calib) {
  ExperimentSpec x;
  x.model = std::string(MPQ_SOURCE_DIR) + "/configs/models/cnn.onnx";
  x.calibration = SampleSpec{calib, {}};
  x.candidates = {"W8A8", "W4A8", "W2A8"};
  x.samples = 64;
  x.batch = 32;
  x.weight_rounding = "adaround";
  x.adaround_iters = kIters;
  x.output = out;
  return x;
}

std::string fresh_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() / ("mpq_adaround_flow_" + name);
  std::filesystem::remove_all(d);
  return d.string();
}

Phase1Result run(const ExperimentSpec& x, std::unique_ptr<Phase1Context>* keep = nullptr) {
  auto ctx = prepare_phase1(x, false);
  EXPECT_TRUE(ctx.ok()) << ctx.error().message;
  auto r = run_phase1(**ctx, x.output, false);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (keep) *keep = std::move(ctx).value();
  return std::move(r).value();
}

// Every weight of the CNN at every format of the sweep is learned once; the second run reads
// them all back and learns none, with the same integers.
TEST(AdaRoundFlow, SecondRunLearnsNothingAndReusesTheCache) {
  const ExperimentSpec x = cnn_spec(fresh_dir("reuse"), "fashion-mnist:train:64");
  const Phase1Result first = run(x);
  ASSERT_TRUE(first.rounded);
  EXPECT_GT(first.adaround_computed, 0);
  EXPECT_EQ(first.adaround_reused, 0);
  EXPECT_TRUE(std::filesystem::exists(x.output + "/adaround.journal"));
  const Phase1Result second = run(x);
  EXPECT_EQ(second.adaround_computed, 0);
  EXPECT_EQ(second.adaround_reused, first.adaround_computed);
  EXPECT_EQ(second.rounded->integers, first.rounded->integers);
  EXPECT_EQ(second.computed, 0);  // the phase-1 tasks resumed too
  EXPECT_TRUE(second.notice.empty()) << second.notice;
}

// Other calibration data or other AdaRound settings: the cache is set aside (kept as .stale)
// with a message naming what changed, and learned again.
TEST(AdaRoundFlow, ChangedInputsSetTheCacheAside) {
  ExperimentSpec x = cnn_spec(fresh_dir("stale"), "fashion-mnist:train:64");
  const Phase1Result first = run(x);
  x.calibration = SampleSpec{"fashion-mnist:train:64+64", {}};
  const Phase1Result other_data = run(x);
  EXPECT_NE(other_data.notice.find("cached AdaRound weights"), std::string::npos)
      << other_data.notice;
  EXPECT_NE(other_data.notice.find("calibration data"), std::string::npos) << other_data.notice;
  EXPECT_TRUE(std::filesystem::exists(x.output + "/adaround.journal.stale"));
  EXPECT_EQ(other_data.adaround_computed, first.adaround_computed);
  EXPECT_NE(other_data.rounded->integers, first.rounded->integers);
  x.adaround_iters = kIters + 1;
  const Phase1Result other_iters = run(x);
  EXPECT_NE(other_iters.notice.find("weight rounding"), std::string::npos) << other_iters.notice;
  EXPECT_EQ(other_iters.adaround_reused, 0);
}

// The cached integers of every weight at int4 are what AdaRound of the whole network at W4A8
// on the float network's inputs gives, layer by layer; phase 2 splices them into a mixed
// configuration, pair by pair; and the result does not depend on the thread count.
TEST(AdaRoundFlow, SplicedWeightsArePerLayerAdaRound) {
  const ExperimentSpec x = cnn_spec(fresh_dir("splice"), "fashion-mnist:train:64");
  std::unique_ptr<Phase1Context> ctx;
  Phase1Result r;
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    r = run(x, &ctx);
  }
  const Phase1Context& c = *ctx;
  auto cfg =
      calibrate_config(c.net, c.placement, uniform_formats(c.placement, *parse_candidate("W4A8")),
                       c.stats, c.ranges);
  ASSERT_TRUE(cfg.ok());
  AdaRoundSettings settings;
  settings.inputs = AdaRoundInputs::Float;
  settings.optimiser.iterations = kIters;
  auto report = adaround_config(c.net, c.placement, *cfg, c.calibration, x.batch, settings);
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_FALSE(report->layers.empty());
  for (const auto& l : report->layers) {
    const auto it = r.rounded->integers.find({l.quantizer, "int4"});
    ASSERT_NE(it, r.rounded->integers.end()) << l.quantizer;
    EXPECT_EQ(it->second, cfg->quantizers.at(l.quantizer).integer_weights) << l.quantizer;
  }
  // A mixed assignment: weights alternately at int2 and int8, activations at int8.
  FormatAssignment formats;
  std::size_t weights = 0;
  for (const auto& q : c.placement.quantizers)
    formats.push_back(q.kind == QuantizerKind::Weight ? NumberFormat::integer(weights++ % 2 ? 8 : 2)
                                                      : NumberFormat::integer(8));
  AssignmentEvaluator ev(c.net, c.placement, c.stats, c.ranges, c.scoring, x.batch, 64,
                         r.rounded.get());
  const QuantConfig mixed = ev.config_of(formats);
  std::size_t spliced = 0;
  for (const auto& [name, s] : mixed.quantizers) {
    if (s.kind != QuantizerKind::Weight) continue;
    const auto it = r.rounded->integers.find({name, s.params.format.name()});
    ASSERT_NE(it, r.rounded->integers.end()) << name;
    EXPECT_EQ(s.integer_weights, it->second) << name;
    spliced += 1;
  }
  EXPECT_EQ(spliced, weights);
  // Again with two threads, from scratch: the same integers.
  const Phase1Result two = run(cnn_spec(fresh_dir("splice2"), "fashion-mnist:train:64"));
  EXPECT_EQ(two.rounded->integers, r.rounded->integers);
}

// Each task scores its group's AdaRounded weights: its metrics are those of a full run of its
// configuration, which carries the cached integers (not nearest's).
TEST(AdaRoundFlow, TasksScoreTheAdaRoundedWeights) {
  const ExperimentSpec x = cnn_spec(fresh_dir("tasks"), "fashion-mnist:train:64");
  std::unique_ptr<Phase1Context> ctx;
  const Phase1Result r = run(x, &ctx);
  const Phase1Context& c = *ctx;
  SweepInputs in;
  in.net = &c.net;
  in.placement = &c.placement;
  in.groups = c.groups;
  in.ranges = c.ranges;
  in.samples = &c.scoring;
  in.stats = &c.stats;
  in.rounded = r.rounded.get();
  QuantConfig none;
  std::size_t differ_from_nearest = 0, with_weights = 0;
  for (const auto& e : r.list.entries) {
    const SweepGroup& g = c.groups[e.result.group];
    const QuantConfig cfg = sweep_task_config(in, none, g, e.result.candidate);
    bool has_integers = false;
    for (const auto& [name, s] : cfg.quantizers)
      if (s.kind == QuantizerKind::Weight) {
        has_integers = !s.integer_weights.empty();
        Tensor a, b;
        dequantize(s.integer_weights, c.net.model.initializers.at(name).shape, s.params, a);
        fake_quantize(c.net.model.initializers.at(name), b, s.params);
        differ_from_nearest += a.f != b.f;
      }
    if (!has_integers) continue;
    with_weights += 1;
    auto fp = Engine::create(c.net);
    auto q = Engine::create(c.net);
    const QuantizedConstants qc = quantize_constants(c.net, cfg);
    ASSERT_TRUE(attach_config(*q, cfg, qc).ok());
    auto m = compare_with_float(*fp, *q, c.scoring, 32, 64);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->sqnr_db, e.result.metrics.sqnr_db) << g.name << " " << e.result.candidate.name();
  }
  EXPECT_GT(with_weights, 0u);
  EXPECT_GT(differ_from_nearest, 0u);
}

// Bad input: a float weight format among the listed candidates; a layer no calibration vector
// reaches.
TEST(AdaRoundFlow, FloatCandidateAndMissingDataAreRefused) {
  ExperimentSpec x = cnn_spec(fresh_dir("bad"), "fashion-mnist:train:64");
  x.candidates = {"W8A8", "W4A8", "fp8e4m3"};
  auto ctx = prepare_phase1(x, false);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  auto r = run_phase1(**ctx, x.output, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("AdaRound chooses between two integers"), std::string::npos)
      << r.error().message;
  const Phase1Context& c = **ctx;
  for (const auto& q : c.placement.quantizers) {
    if (q.kind != QuantizerKind::Weight || !adaround_unsupported(c.net, q).empty()) continue;
    QuantizerSetting s = calibrate_quantizer(c.net, q, NumberFormat::integer(4), c.stats, c.ranges);
    LayerMoments none;  // no vector reached the layer
    auto w = adaround_weight(c.net, q, none, s, {}, "empty.npy");
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.error().message.find("no calibration data reaches the input of weight '" + q.name),
              std::string::npos)
        << w.error().message;
    break;
  }
}

}  // namespace
}  // namespace mpq
