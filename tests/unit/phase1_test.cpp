// Phase 1 pieces: the prefix-reusing sweep gives exactly what a from-scratch run of each task's
// configuration gives, Kendall's tau on hand-checked rankings, and EAGL on a known histogram.
#include <gtest/gtest.h>

#include <cmath>

#include "graph/onnx_import.hpp"
#include "search/phase1.hpp"
#include "search/rank_correlation.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {

TEST(KendallTau, HandCheckedRankings) {
  const std::vector<double> a = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(kendall_tau_b(a, std::vector<double>{10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau_b(a, std::vector<double>{4, 3, 2, 1}), -1.0);
  // One swapped pair of 6: (5 - 1) / 6.
  EXPECT_DOUBLE_EQ(kendall_tau_b(a, std::vector<double>{1, 3, 2, 4}), 4.0 / 6.0);
  // Ties in b: pairs (1,2) tied in b only; C = 5, D = 0, T_b = 1: 5 / sqrt(6 * 5).
  EXPECT_DOUBLE_EQ(kendall_tau_b(a, std::vector<double>{1, 1, 2, 3}), 5.0 / std::sqrt(30.0));
  EXPECT_TRUE(std::isnan(kendall_tau_b(a, std::vector<double>{2, 2, 2, 2})));
}

// Every task of a CNN sweep (others float) equals the metrics of a full fake-quantized run of
// that task's configuration: the prefix reuse changes nothing.
TEST(SensitivitySweep, PrefixReuseMatchesFromScratchRuns) {
  ExperimentSpec x;
  x.model = std::string(MPQ_SOURCE_DIR) + "/configs/models/cnn.onnx";
  x.calibration = "fashion-mnist:train:64";
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
    const QuantConfig cfg = sweep_task_config(in, none, g, *parse_candidate(r.candidate));
    auto fp = Engine::create(c.net);
    auto q = Engine::create(c.net);
    const QuantizedConstants qc = quantize_constants(c.net, cfg);
    ASSERT_TRUE(attach_config(*q, cfg, qc).ok());
    auto m = compare_with_float(*fp, *q, c.scoring, 32, 64);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->sqnr_db, r.metrics.sqnr_db) << g.name << " " << r.candidate;
    EXPECT_EQ(m->kl, r.metrics.kl) << g.name << " " << r.candidate;
    EXPECT_EQ(*m->accuracy, *r.metrics.accuracy) << g.name << " " << r.candidate;
  }
}

TEST(Eagl, EntropyOfTheWeightCodes) {
  // EAGL = bits - H: a 4-bit code histogram with H <= 4, so the score lies in [0, 4].
  ExperimentSpec x;
  x.model = std::string(MPQ_SOURCE_DIR) + "/configs/models/cnn.onnx";
  x.calibration = "fashion-mnist:train:32";
  x.candidates = {"W8A8", "W4A8", "W2A8"};
  x.samples = 32;
  x.batch = 32;
  auto ctx = prepare_phase1(x, false);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  const Phase1Context& c = **ctx;
  SweepInputs in;
  in.net = &c.net;
  in.placement = &c.placement;
  in.ranges = c.ranges;
  in.stats = &c.stats;
  const QuantConfig none;
  for (const auto& g : c.groups) {
    bool has_weights = false;
    for (std::size_t q : g.quantizers)
      has_weights |= c.placement.quantizers[q].kind == QuantizerKind::Weight;
    for (const char* cand : {"W4A8", "W2A8"}) {
      const Candidate cc = *parse_candidate(cand);
      const double e = eagl_score(c.net, c.placement, g, cc, sweep_task_config(in, none, g, cc));
      if (!has_weights) {
        EXPECT_TRUE(std::isnan(e)) << g.name;
        continue;
      }
      const double bits = cand[1] - '0';
      EXPECT_GE(e, 0.0) << g.name;
      EXPECT_LE(e, bits) << g.name;
    }
  }
}

}  // namespace
}  // namespace mpq
