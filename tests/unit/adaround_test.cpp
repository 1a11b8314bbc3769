// AdaRound (sim/adaround*.hpp) on the bundled models and Fashion-MNIST: the learned rounding
// moves every layer's output less than round-to-nearest on images it was not fitted on; the
// result does not depend on the thread count; the integers survive the configuration's JSON and
// are what the quantized engine runs.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <nlohmann/json.hpp>

#include "graph/quantizer_placement.hpp"
#include "prepared_network.hpp"
#include "sim/adaround_layers.hpp"
#include "sim/engine.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {

struct Prepared {
  Network net;
  QuantizerPlacement placement;
  QuantConfig cfg;
};

Prepared calibrated(const std::string& model, const std::string& candidate,
                    const std::string& calib) {
  Prepared s{test::prepared(test::bundled_model(model)), {}, {}};
  s.placement = place_quantizers(s.net);
  auto src = open_samples(calib, s.net);
  EXPECT_TRUE(src.ok()) << src.error().message;
  auto stats = collect_activation_stats(s.net, s.placement, *src, 32);
  EXPECT_TRUE(stats.ok()) << stats.error().message;
  auto c = parse_candidate(candidate);
  EXPECT_TRUE(c.ok());
  auto cfg = calibrate_config(s.net, s.placement, uniform_formats(s.placement, *c), *stats, {});
  EXPECT_TRUE(cfg.ok()) << cfg.error().message;
  s.cfg = std::move(cfg).value();
  return s;
}

AdaRoundReport round_all(Prepared& s, const std::string& calib, std::int64_t iterations,
                         AdaRoundInputs inputs = AdaRoundInputs::Float) {
  auto src = open_samples(calib, s.net);
  EXPECT_TRUE(src.ok());
  AdaRoundSettings settings;
  settings.optimiser.iterations = iterations;
  settings.inputs = inputs;
  auto r = adaround_config(s.net, s.placement, s.cfg, *src, 32, settings);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return std::move(r).value();
}

// Per target weight: the input moments of its op over `data` (the float network's inputs).
std::map<std::string, InputMoments> held_out_moments(const Prepared& s, const std::string& data) {
  std::map<std::string, InputMoments> m;
  auto targets = adaround_targets(s.net, s.placement, s.cfg, nullptr);
  EXPECT_TRUE(targets.ok());
  auto e = Engine::create(s.net);
  std::map<std::string, std::vector<const Quantizer*>> readers;
  for (const Quantizer* q : *targets) readers[s.net.model.nodes[q->node].inputs[0]].push_back(q);
  for (const auto& [tensor, list] : readers)
    EXPECT_TRUE(e->set_hook(tensor, [&, list](Tensor& t) {
                   for (const Quantizer* q : list)
                     accumulate_input_moments(s.net.model.nodes[q->node],
                                              s.net.model.initializers.at(q->name).shape, t,
                                              m[q->name]);
                 }).ok());
  auto src = open_samples(data, s.net);
  EXPECT_TRUE(src.ok());
  for (std::int64_t b = 0; b < src->count; b += 32) {
    const Tensor x = src->batch(b, std::min<std::int64_t>(32, src->count - b)).value();
    EXPECT_TRUE(e->run(std::span<const Tensor>(&x, 1)).ok());
  }
  return m;
}

// Sum over output channels of the mean squared change of the op's output for weights `wq`.
double output_error(const Prepared& s, const std::string& weight, const InputMoments& m,
                    const Tensor& wq) {
  const Tensor& w = s.net.model.initializers.at(weight);
  const int axis = s.placement.find(weight)->channel_axis;
  const std::int64_t channels = w.shape[static_cast<std::size_t>(axis)];
  std::int64_t inner = 1;
  for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < w.shape.size(); ++d)
    inner *= w.shape[d];
  double sum = 0;
  for (std::int64_t c = 0; c < channels; ++c) {
    std::vector<double> dw;
    for (std::int64_t e = 0; e < w.size(); ++e)
      if ((e / inner) % channels == c)
        dw.push_back(static_cast<double>(wq.f[static_cast<std::size_t>(e)]) -
                     w.f[static_cast<std::size_t>(e)]);
    sum += m.output_error(dw, c, channels);
  }
  return sum;
}

TEST(AdaRound, EveryLayerMovesItsOutputLessThanNearestOnHeldOutImages) {
  for (const std::string model : {"resnet", "vit"}) {
    Prepared s = calibrated(model, "W4A8", "fashion-mnist:train:256");
    const QuantConfig nearest = s.cfg;
    const AdaRoundReport report = round_all(s, "fashion-mnist:train:256", 2000);
    ASSERT_FALSE(report.layers.empty());
    const QuantizedConstants qn = quantize_constants(s.net, nearest);
    const QuantizedConstants qa = quantize_constants(s.net, s.cfg);
    // Images 1,000-1,255 of the training split: not among the 256 it was fitted on.
    const auto held = held_out_moments(s, "fashion-mnist:train:1000+256");
    for (const LayerRounding& l : report.layers) {
      EXPECT_LT(l.adaround_error, l.nearest_error) << model << " " << l.quantizer;
      const InputMoments& m = held.at(l.quantizer);
      const double en = output_error(s, l.quantizer, m, qn.tensors.at(l.quantizer));
      const double ea = output_error(s, l.quantizer, m, qa.tensors.at(l.quantizer));
      EXPECT_LT(ea, en) << model << " " << l.quantizer << ": held-out output error " << ea
                        << " with AdaRound, " << en << " with nearest";
    }
  }
}

TEST(AdaRound, SameIntegersForOneAndTwoThreads) {
  std::vector<std::vector<std::int32_t>> runs;
  for (const int threads : {1, 2}) {
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                    static_cast<std::size_t>(threads));
    Prepared s = calibrated("cnn", "W3A8", "fashion-mnist:train:64");
    round_all(s, "fashion-mnist:train:64", 300);
    std::vector<std::int32_t> all;
    for (const auto& [name, q] : s.cfg.quantizers)
      all.insert(all.end(), q.integer_weights.begin(), q.integer_weights.end());
    ASSERT_FALSE(all.empty());
    runs.push_back(std::move(all));
  }
  EXPECT_EQ(runs[0], runs[1]);
}

// Against the float layer's output from the network quantized up to the layer (earlier layers
// already AdaRounded): no layer ends above nearest (a channel that would keeps nearest), and
// together the layers' error falls by more than a fifth.
TEST(AdaRound, QuantizedInputsCutTheErrorAgainstTheFloatOutput) {
  Prepared s = calibrated("resnet", "W3A8", "fashion-mnist:train:128");
  const AdaRoundReport report =
      round_all(s, "fashion-mnist:train:128", 2000, AdaRoundInputs::Quantized);
  ASSERT_EQ(report.layers.size(), 10u);
  double nearest = 0, ada = 0;
  std::int64_t kept = 0, channels = 0;
  for (const LayerRounding& l : report.layers) {
    EXPECT_LE(l.adaround_error, l.nearest_error) << l.quantizer;
    nearest += l.nearest_error;
    ada += l.adaround_error;
    kept += l.channels_kept_nearest;
    channels += l.channels;
  }
  EXPECT_LT(ada, 0.8 * nearest);
  EXPECT_LT(kept * 10, channels) << kept << " of " << channels << " channels kept nearest";
}

TEST(AdaRound, IntegersRoundTripThroughJsonAndRunAsWritten) {
  Prepared s = calibrated("cnn", "W4A8", "fashion-mnist:train:64");
  round_all(s, "fashion-mnist:train:64", 300);
  const nlohmann::json j = config_to_json(s.cfg);
  auto back = config_from_json(j, s.net, s.placement, "test");
  ASSERT_TRUE(back.ok()) << back.error().message;
  std::int64_t changed = 0;
  const QuantizedConstants nearest = quantize_constants(s.net, [&] {
    QuantConfig c = s.cfg;
    for (auto& [name, q] : c.quantizers) q.integer_weights.clear();
    return c;
  }());
  const QuantizedConstants a = quantize_constants(s.net, s.cfg);
  const QuantizedConstants b = quantize_constants(s.net, *back);
  for (const auto& [name, q] : s.cfg.quantizers) {
    EXPECT_EQ(q.integer_weights, back->quantizers.at(name).integer_weights) << name;
    if (q.kind != QuantizerKind::Weight) continue;
    EXPECT_EQ(a.tensors.at(name).f, b.tensors.at(name).f) << name;
    for (std::size_t e = 0; e < a.tensors.at(name).f.size(); ++e)
      changed += a.tensors.at(name).f[e] != nearest.tensors.at(name).f[e];
  }
  EXPECT_GT(changed, 0) << "AdaRound rounded every weight to nearest";

  // A tampered file is refused: a value off the grid, a missing value.
  std::string w;
  for (const auto& [name, q] : s.cfg.quantizers)
    if (!q.integer_weights.empty()) w = name;
  ASSERT_FALSE(w.empty());
  const auto text = [](const std::vector<std::int32_t>& v) {
    std::string t;
    for (const auto x : v) t += std::to_string(x) + " ";
    return t;
  };
  std::vector<std::int32_t> ints = s.cfg.quantizers.at(w).integer_weights;
  nlohmann::json bad = j;
  bad["quantizers"][w]["integer_weights"] = text(ints);
  EXPECT_TRUE(config_from_json(bad, s.net, s.placement, "test").ok());  // the edit itself is fine
  ints[0] = s.cfg.quantizers.at(w).params.qmax + 1;
  bad["quantizers"][w]["integer_weights"] = text(ints);
  EXPECT_FALSE(config_from_json(bad, s.net, s.placement, "test").ok());
  ints.pop_back();
  ints[0] = 0;
  bad["quantizers"][w]["integer_weights"] = text(ints);
  EXPECT_FALSE(config_from_json(bad, s.net, s.placement, "test").ok());
}

TEST(AdaRound, FloatWeightFormatsAreRefused) {
  Prepared s = calibrated("cnn", "fp8e4m3", "fashion-mnist:train:64");
  auto src = open_samples("fashion-mnist:train:64", s.net);
  ASSERT_TRUE(src.ok());
  auto r = adaround_config(s.net, s.placement, s.cfg, *src, 32, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("integer"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace mpq
