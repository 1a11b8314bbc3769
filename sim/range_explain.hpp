#pragma once
// What range setting chose for each quantizer of a configuration (`mpq quantize --explain`):
// the method that set it, the range, the observed extremes and how much it clips.
#include <string>
#include <vector>

#include "calibration.hpp"

namespace mpq {

struct RangeChoice {
  std::string quantizer;
  QuantizerKind kind = QuantizerKind::Activation;
  std::string format;
  RangeMethod method = RangeMethod::MinMax;  // the method that set the range (effective_method)
  std::string basis;     // for enhanced: "output error" (weights with input moments) or "clip x3"
  float lo = 0, hi = 0;  // the range; for per-channel weights, the outermost
  float observed_lo = 0, observed_hi = 0;  // the extremes of the calibration values / weights
  double clipped_percent = 0;              // values outside their range (histogram estimate)
  int channels = 1, channels_clipped = 0;  // per-channel weights: channels narrowed
};

// One row per quantizer of `cfg`, in placement order.
std::vector<RangeChoice> explain_ranges(const Network& net, const QuantizerPlacement& placement,
                                        const QuantConfig& cfg, const ActivationStats& stats,
                                        const RangeSettings& settings);

}  // namespace mpq
