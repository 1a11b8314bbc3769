#pragma once
// AdaRound over the weighted layers of a configuration: the second moments of every layer's
// input over the calibration samples, then the rounding of its weights (sim/adaround.hpp),
// written into the configuration as integer weights (QuantizerSetting::integer_weights).
#include <string>
#include <vector>

#include "adaround.hpp"
#include "calibration.hpp"

namespace mpq {

// Which input a layer's rounding is fitted on (its target is always the float layer's output).
// Quantized is the default: each layer then makes up for the errors of the layers before it
// (Nagel et al.'s asymmetric reconstruction), which on the bundled models gives far more than
// the float inputs' layer-by-layer fit (cnn W2A8, 2,000 test images: nearest 87.05 %, float
// inputs 86.55 %, quantized inputs 92.30 %; output SQNR 7.1 / 9.8 / 18.6 dB). Float inputs make
// every (layer, format) pair independent of the other layers' formats, which is what a cache
// per (layer, format) shared by mixed-precision configurations needs.
enum class AdaRoundInputs : std::uint8_t {
  Float,      // the float network's
  Quantized,  // the network quantized up to the layer (earlier layers already AdaRounded)
};

struct AdaRoundSettings {
  AdaRoundOptions optimiser;
  AdaRoundInputs inputs = AdaRoundInputs::Quantized;
  bool round = true;             // AdaRound the weights (else they stay at nearest)
  bool bias_correction = false;  // then correct each layer's bias (corrected_biases)
};

// What one layer's rounding did: the mean squared output error per input vector, summed over
// the output channels, on the calibration samples.
struct LayerRounding {
  std::string quantizer;
  std::int64_t weights = 0;
  double nearest_error = 0, adaround_error = 0;
  std::int64_t channels = 0, channels_kept_nearest = 0;  // see RoundingResult
};

struct AdaRoundReport {
  std::vector<LayerRounding> layers;  // in network order
  std::vector<std::string> skipped;   // integer weight quantizers left at nearest, with why
  std::int64_t corrected_biases = 0;
};

// Sums over the calibration vectors of a layer's input, per group, fan_in x fan_in each:
// x' x'^T (aa), x' x^T (ax) and x x^T (xx), x the float input, x' the given one. With float
// inputs only aa is filled (all three are the same).
struct LayerMoments {
  std::int64_t groups = 0, fan_in = 0, vectors = 0;
  std::vector<double> aa, ax, xx;
  // Sums of the vectors themselves (groups x fan_in), for bias correction: x, and x' when the
  // given inputs are not the float ones (empty: x' = x).
  std::vector<double> sum_x, sum_given;
};

// The float network's input moments of every target's layer over samples [0, count), one pass.
Result<std::vector<LayerMoments>> float_input_moments(const Network& net,
                                                      std::span<const Quantizer* const> targets,
                                                      const SampleSource& samples,
                                                      std::int64_t count, std::int64_t batch);

// AdaRound of one target weight from its layer's moments: fills s.integer_weights (s holds the
// calibrated parameters). An error when no calibration vector reached the layer (`data` names
// the samples in the message).
Result<LayerRounding> adaround_weight(const Network& net, const Quantizer& q, const LayerMoments& m,
                                      QuantizerSetting& s, const AdaRoundOptions& o,
                                      const std::string& data);

// Why AdaRound cannot round weight quantizer q whatever its format ("" when it can).
std::string adaround_unsupported(const Network& net, const Quantizer& q);

// The weight quantizers AdaRound applies to: integer formats on a Conv, Gemm or MatMul whose
// input moments are supported (output_error.hpp) and whose input is not a constant. With
// `rounding`, an error for a weight asked at a float format (AdaRound chooses between two
// integers); without (bias correction alone), float formats are targets too.
Result<std::vector<const Quantizer*>> adaround_targets(const Network& net,
                                                       const QuantizerPlacement& placement,
                                                       const QuantConfig& cfg,
                                                       std::vector<std::string>* skipped,
                                                       bool rounding = true);

// Empirical bias correction (Nagel et al. 2019), per output channel c:
//   b'_c = b_c + E[w_c . x] - E[w_q,c . x'],
// the expectations over the calibration vectors of the layer's input (x float, x' given), so
// the quantized layer's output keeps the float one's mean on them. The name of weight q's bias
// when it has one value per output channel, else "" (nothing to correct).
std::string correctable_bias(const Network& net, const Quantizer& q);
// The corrected bias values for `s` (its integer_weights when set, else nearest's). An error
// when no calibration vector reached the layer.
Result<std::vector<float>> corrected_bias(const Network& net, const Quantizer& q,
                                          const LayerMoments& m, const QuantizerSetting& s,
                                          const std::string& data);

// Fills integer_weights of every target in `cfg` (ranges already calibrated). Progress counts
// layers.
Result<AdaRoundReport> adaround_config(const Network& net, const QuantizerPlacement& placement,
                                       QuantConfig& cfg, const SampleSource& samples,
                                       std::int64_t batch, const AdaRoundSettings& settings,
                                       const Progress& progress = {});

}  // namespace mpq
