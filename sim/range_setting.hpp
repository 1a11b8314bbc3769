#pragma once
// Range setting: the clipping range [lo, hi] of a quantizer from the values it sees.
// Activations: from a histogram gathered over the calibration set (streaming); weights: from
// the weight values themselves, per output channel or per tensor.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/candidate.hpp"
#include "core/result.hpp"
#include "fake_quant.hpp"

namespace mpq {

enum class RangeMethod : std::uint8_t {
  MinMax,      // the observed extremes
  Percentile,  // the p-th and (100-p)-th percentiles
  Mse,         // the clipping range minimising the expected quantization MSE
};
Result<RangeMethod> parse_range_method(const std::string& text);
const char* range_method_name(RangeMethod m);

// A histogram over a fixed [lo, hi] (known from a first min/max pass). Exact zeros are counted
// apart: zero is always on the grid, so they carry no rounding error (most of a ReLU output).
struct Histogram {
  static constexpr int kBins = 2048;
  float lo = 0, hi = 0;
  std::vector<double> counts;
  double zeros = 0;

  Histogram() = default;
  Histogram(float lo_, float hi_);
  void add(std::span<const float> values);
  double total() const;
  double bin_center(int k) const;
};

struct RangeRequest {
  NumberFormat format;
  QuantScheme scheme = QuantScheme::Asymmetric;
  bool non_negative = false;
  RangeMethod method = RangeMethod::Mse;
  float percentile = 99.99f;
};

struct Range {
  float lo, hi;
};

Range activation_range(const Histogram& h, const RangeRequest& r);

// One range per slice along `axis` (axis < 0: one range for the whole tensor).
std::vector<Range> weight_ranges(std::span<const float> w, std::span<const std::int64_t> shape,
                                 int axis, const RangeRequest& r);

}  // namespace mpq
