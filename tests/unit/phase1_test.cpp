// Phase 1 pieces: the prefix-reusing sweep gives exactly what a from-scratch run of each task's
// configuration gives, Kendall's tau on hand-checked rankings, and EAGL on histograms of weight
// codes worked by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "graph/onnx_import.hpp"
#include "search/phase1.hpp"
#include "search/rank_correlation.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {

TEST(KendallTau, HandCheckedRankings) {
  const std::vector<double> a = {1, 2, 3, 4};
  const auto tau = [&](std::vector<double> b) { return kendall_tau_b(a, b).value_or(-99); };
  EXPECT_DOUBLE_EQ(tau({10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(tau({4, 3, 2, 1}), -1.0);
  // One swapped pair of 6: (5 - 1) / 6.
  EXPECT_DOUBLE_EQ(tau({1, 3, 2, 4}), 4.0 / 6.0);
  // Ties in b: pairs (1,2) tied in b only; C = 5, D = 0, T_b = 1: 5 / sqrt(6 * 5).
  EXPECT_DOUBLE_EQ(tau({1, 1, 2, 3}), 5.0 / std::sqrt(30.0));
}

// Lossless tasks (+inf dB) tie with each other and rank above every finite one; a constant
// ranking (every task keeps the float accuracy) or a NaN gives no tau at all, never nan.
TEST(KendallTau, InfinitiesTieAndUndefinedIsNoNumber) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> sqnr = {inf, inf, 20, 10};
  EXPECT_DOUBLE_EQ(kendall_tau_b(sqnr, std::vector<double>{90, 90, 80, 70}).value_or(-99), 1.0);
  // The tied pair as in HandCheckedRankings: 5 / sqrt(5 * 6).
  EXPECT_DOUBLE_EQ(kendall_tau_b(sqnr, std::vector<double>{91, 90, 80, 70}).value_or(-99),
                   5.0 / std::sqrt(30.0));
  EXPECT_FALSE(kendall_tau_b(sqnr, std::vector<double>{2, 2, 2, 2}).has_value());
  EXPECT_FALSE(kendall_tau_b(sqnr, std::vector<double>{1, std::nan(""), 2, 3}).has_value());
  EXPECT_FALSE(kendall_tau_b(std::vector<double>{1}, std::vector<double>{1}).has_value());
}

// Every task of a CNN sweep (others float) equals the metrics of a full fake-quantized run of
// that task's configuration: the prefix reuse changes nothing.
TEST(SensitivitySweep, PrefixReuseMatchesFromScratchRuns) {
  ExperimentSpec x;
  x.model = std::string(MPQ_SOURCE_DIR) + "/configs/models/cnn.onnx";
  x.calibration = SampleSpec{"fashion-mnist:train:64", {}};
  x.candidates = {"W8A8", "W4A8", "W4A4"};
  x.samples = 64;
  x.batch = 32;
  auto ctx = prepare_phase1(x, false);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  const Phase1Context& c = **ctx;
  SweepInputs in;
  in.net = &c.net;
  in.placement = &c.placement;
  in.groups = c.groups;
  in.ranges = c.ranges;
  in.samples = &c.scoring;
  in.limit = 64;
  in.batch = 32;
  in.stats = &c.stats;
  auto results = run_sweep(in, {}, {});
  ASSERT_TRUE(results.ok()) << results.error().message;
  ASSERT_EQ(static_cast<std::int64_t>(results->size()), count_tasks(c.groups));
  QuantConfig none;
  for (const auto& r : *results) {
    const SweepGroup& g = c.groups[r.group];
    const QuantConfig cfg = sweep_task_config(in, none, g, r.candidate);
    auto fp = Engine::create(c.net);
    auto q = Engine::create(c.net);
    const QuantizedConstants qc = quantize_constants(c.net, cfg);
    ASSERT_TRUE(attach_config(*q, cfg, qc).ok());
    auto m = compare_with_float(*fp, *q, c.scoring, 32, 64);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->sqnr_db, r.metrics.sqnr_db) << g.name << " " << r.candidate.name();
    EXPECT_EQ(m->kl, r.metrics.kl) << g.name << " " << r.candidate.name();
    EXPECT_EQ(*m->accuracy, *r.metrics.accuracy) << g.name << " " << r.candidate.name();
  }
}

// EAGL on histograms of weight codes worked out by hand (ALGORITHMS.md, Bablani et al.):
// H = -sum_k p_k log2 p_k over the codes of the group's weights, score = bits - H.
struct EaglCase {
  Network net;
  QuantizerPlacement placement;
  SweepGroup group;
  QuantConfig cfg;
};

// One weight tensor `w` (and an activation quantizer the score must ignore) in one group.
EaglCase eagl_case(Shape shape, std::vector<float> w, QuantParams qp) {
  EaglCase c;
  Tensor t;
  t.shape = std::move(shape);
  t.f.assign(w.begin(), w.end());
  c.net.model.initializers["w"] = std::move(t);
  Quantizer act;
  act.name = "x";
  act.kind = QuantizerKind::Activation;
  act.node = Quantizer::kNoNode;
  Quantizer wq;
  wq.name = "w";
  wq.kind = QuantizerKind::Weight;
  wq.channel_axis = qp.axis;
  c.placement.quantizers = {act, wq};
  c.placement.by_name = {{"x", 0}, {"w", 1}};
  c.group.name = "g";
  c.group.quantizers = {0, 1};
  QuantizerSetting s;
  s.kind = QuantizerKind::Weight;
  s.params = std::move(qp);
  c.cfg.quantizers["w"] = s;
  return c;
}

TEST(Eagl, SymmetricPerChannelHistogram) {
  // int4 symmetric, grid [-8, 7], per output channel (axis 0): scales 1 and 0.5.
  QuantParams qp;
  qp.format = NumberFormat::integer(4);
  qp.axis = 0;
  qp.scale = {1.0f, 0.5f};
  qp.zero_point = {0, 0};
  qp.qmin = -8;
  qp.qmax = 7;
  // Channel 0 (scale 1):   0, 1, 2.5 -> 2 (half to even), 9 -> 7 (saturated).
  // Channel 1 (scale 0.5): 0, 0.5 -> 1, 1 -> 2, -1.4 -> -2.8 -> -3.
  // Codes {0: 2, 1: 2, 2: 2, 7: 1, -3: 1} of 8: H = 3 x 1/4 x 2 + 2 x 1/8 x 3 = 2.25 bits.
  const EaglCase c = eagl_case({2, 4}, {0, 1, 2.5f, 9, 0, 0.5f, 1, -1.4f}, qp);
  const Candidate w4a8 = *parse_candidate("W4A8");
  EXPECT_DOUBLE_EQ(eagl_score(c.net, c.placement, c.group, w4a8, c.cfg), 4.0 - 2.25);
}

TEST(Eagl, AsymmetricPerTensorHistogram) {
  // int4 asymmetric, grid [0, 15], per tensor: scale 0.25, zero point 3.
  QuantParams qp;
  qp.format = NumberFormat::integer(4);
  qp.scale = {0.25f};
  qp.zero_point = {3};
  qp.qmin = 0;
  qp.qmax = 15;
  // w / 0.25 + 3: -1 -> -1 -> 0 (saturated), -0.75 -> 0, 0 -> 3, 0.25 -> 4, 3 -> 15, 3 -> 15,
  // 0.1 -> 0.4 + 3 -> 3, 10 -> 43 -> 15. Codes {0: 2, 3: 2, 4: 1, 15: 3} of 8:
  // H = 2 x 1/4 x 2 + 1/8 x 3 + 3/8 x log2(8/3) = 2.5 - 0.375 log2(3).
  const EaglCase c = eagl_case({8}, {-1, -0.75f, 0, 0.25f, 3, 3, 0.1f, 10}, qp);
  const Candidate w4a8 = *parse_candidate("W4A8");
  EXPECT_DOUBLE_EQ(eagl_score(c.net, c.placement, c.group, w4a8, c.cfg),
                   4.0 - (2.5 - 0.375 * std::log2(3.0)));
}

TEST(Eagl, NoScoreWithoutIntegerWeights) {
  QuantParams qp;
  qp.format = NumberFormat::integer(4);
  qp.scale = {1.0f};
  qp.zero_point = {0};
  qp.qmin = -8;
  qp.qmax = 7;
  EaglCase c = eagl_case({2}, {0, 1}, qp);
  // A float weight format has no codes; a group of activation quantizers only has no weights.
  EXPECT_TRUE(
      std::isnan(eagl_score(c.net, c.placement, c.group, *parse_candidate("Wfp16Afp16"), c.cfg)));
  c.group.quantizers = {0};
  EXPECT_TRUE(std::isnan(eagl_score(c.net, c.placement, c.group, *parse_candidate("W4A8"), c.cfg)));
}

}  // namespace
}  // namespace mpq
