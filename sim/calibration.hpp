#pragma once
// Calibration: activation statistics from FP32 runs over a few hundred samples (streaming, one
// batch of activations in memory at a time), then a range per quantizer for the formats asked.
#include <functional>
#include <map>
#include <string>

#include "output_error.hpp"
#include "quant_config.hpp"
#include "range_setting.hpp"
#include "sample_source.hpp"

namespace mpq {

struct ActivationStats {
  std::int64_t samples = 0;
  std::map<std::string, Histogram> histograms;  // per activation quantizer
  // Per weight quantizer whose op supports it: the moments of the op's input over the first
  // kMomentSamples samples, or more until they are well determined (as many as calibration
  // has), for range setting by the output error (output_error.hpp).
  std::map<std::string, InputMoments> weight_inputs;
};

inline constexpr std::int64_t kMomentSamples = 64;

using Progress = std::function<void(std::int64_t done, std::int64_t total)>;

// Two passes of the float network: the extremes of every quantized activation, then its
// histogram over those extremes (and the input moments of the weighted ops). Uses the first `limit`
// samples (all when limit < 0).
Result<ActivationStats> collect_activation_stats(const Network& net,
                                                 const QuantizerPlacement& placement,
                                                 const SampleSource& samples, std::int64_t batch,
                                                 std::int64_t limit = -1,
                                                 const Progress& progress = {});

struct RangeSettings {
  RangeMethod activation_method = RangeMethod::Enhanced;
  RangeMethod weight_method = RangeMethod::Enhanced;
  float percentile = 99.99f;
  QuantScheme activation_scheme = QuantScheme::Asymmetric;
  QuantScheme weight_scheme = QuantScheme::Symmetric;
  bool per_channel_weights = true;
  BiasMode bias = BiasMode::Int32;
};

// Every quantizer at the candidate's weight or activation format.
std::map<std::string, NumberFormat> uniform_formats(const QuantizerPlacement& placement,
                                                    const Candidate& c);

// The method that sets the range of quantizer q at `format` (effective_method of its request).
RangeMethod range_method_for(const Quantizer& q, NumberFormat format,
                             const RangeSettings& settings);

// The configuration for `formats` (quantizer -> format; absent quantizers stay float).
Result<QuantConfig> calibrate_config(const Network& net, const QuantizerPlacement& placement,
                                     const std::map<std::string, NumberFormat>& formats,
                                     const ActivationStats& stats, const RangeSettings& settings);

// The setting of one quantizer (exposed for the sensitivity sweep, which calibrates one group
// at a time).
QuantizerSetting calibrate_quantizer(const Network& net, const Quantizer& q, NumberFormat format,
                                     const ActivationStats& stats, const RangeSettings& settings);

}  // namespace mpq
