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
#include "output_error.hpp"

namespace mpq {

enum class RangeMethod : std::uint8_t {
  MinMax,      // the observed extremes
  Percentile,  // the p-th and (100-p)-th percentiles
  Mse,         // the clipping range minimising the expected quantization MSE
  // The default. Activations: the range minimising rounding noise + kClipWeight x clipping
  // noise (the SQNR search of the reference tools' "enhanced" mode). Weights, per output channel
  // of an op whose input moments were gathered: of that search's range and fractions of the
  // channel's extremes, the one least changing the op's output on the calibration data (else
  // the clipping-weighted search). Min-max at kMinMaxBits bits and more.
  Enhanced,
};
// Clipping noise counts this much more than rounding noise in the enhanced search: clipping
// errors are correlated across the elements an op sums (the largest values of a tensor clip
// together, with one sign), rounding errors are not. AIMET's SQNR analyser uses 3.
inline constexpr double kClipWeight = 3.0;
// From this width on, the enhanced method keeps the observed extremes: min-max's rounding noise
// is then below 2^-24 of the range squared, and an outlier clipped to save it can cost far more
// downstream than the tensor's own noise model sees (a detector at W16A16: 24.5 dB clipped by
// the MSE search, 46.8 dB with min-max).
inline constexpr int kMinMaxBits = 12;

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
  RangeMethod method = RangeMethod::Enhanced;
  float percentile = 99.99f;
};

struct Range {
  float lo, hi;
};

Range activation_range(const Histogram& h, const RangeRequest& r);

// The method that actually sets the range: `r.method`, except min-max where no search applies
// (float formats; the enhanced method at kMinMaxBits bits or more).
RangeMethod effective_method(const RangeRequest& r);

// One range per slice along `axis` (axis < 0: one range for the whole tensor). With the enhanced
// method, per-channel weights and the `moments` of the op's input (output_error.hpp), each
// channel's range is the candidate with the least error at the op's output: the clipping-
// weighted search's range, and fractions 1 (min-max) down to 0.6 of the channel's extremes.
std::vector<Range> weight_ranges(std::span<const float> w, std::span<const std::int64_t> shape,
                                 int axis, const RangeRequest& r,
                                 const InputMoments* moments = nullptr);

}  // namespace mpq
