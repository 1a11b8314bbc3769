#pragma once
// A quantization configuration as a value: for each quantizer its format and calibrated range,
// and the parameters derived from them. Written to and read from JSON, so an experiment can be
// repeated and its quantized outputs reproduced by other engines.
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "fake_quant.hpp"
#include "graph/quantizer_placement.hpp"

namespace mpq {

enum class BiasMode : std::uint8_t { Int32, Float };

struct QuantizerSetting {
  QuantizerKind kind = QuantizerKind::Activation;
  QuantScheme scheme = QuantScheme::Asymmetric;
  std::vector<float> range_min, range_max;  // calibrated range, per channel when params.axis >= 0
  QuantParams params;                       // format, scale, zero point, grid
  // Integer weights chosen by AdaRound (the tensor's elements in order, each in [qmin, qmax]);
  // empty: round to nearest. The weight is then (q - zero_point) x scale.
  std::vector<std::int32_t> integer_weights;
};

// The integer bias of a Conv/Gemm whose weight and input are integer: scale = s_w x s_a per
// output channel; q = nearbyint(b / scale) saturated to `bits`, y = q x scale. The bias lives in
// the accumulator: 32 bits when both operands have at most 8 bits; (ours) 64 bits beyond, since
// 16-bit MACs accumulate wider (s_w x s_a is then so small that int32 would saturate).
struct BiasSetting {
  std::vector<float> scale;
  int bits = 32;
};

struct QuantConfig {
  std::string model;  // informational: the model the configuration was made for
  BiasMode bias_mode = BiasMode::Int32;
  std::map<std::string, QuantizerSetting> quantizers;  // absent: left in float
  std::map<std::string, BiasSetting> biases;           // filled by derive_biases
  // Biases replaced by bias correction (tensor -> its float values, one per output channel);
  // the integer bias, when there is one, is quantized from these.
  std::map<std::string, std::vector<float>> corrected_biases;
  std::map<std::string, std::string> notes;  // how it was made (candidate, methods)
  // The --input-shape values it was calibrated with (empty: the model's own shapes); `mpq
  // export` applies them when it is given none.
  std::vector<std::string> input_shapes;
  // placement_fingerprint() of the placement it was made for; empty in files older than it.
  std::string placement;
};

// Quantizer parameters (scale, zero point, grid) for a range per channel (or one range).
QuantParams params_from_range(NumberFormat format, QuantScheme scheme, bool non_negative, int axis,
                              const std::vector<float>& lo, const std::vector<float>& hi);

// The block axes of quantizer q (its reduction axes) on params of a block format; no-op otherwise.
void set_block_axes(QuantParams& p, const Quantizer& q);

// Bias scales from the weight and input-activation scales (bias_mode Int32); clears biases
// whose weight or input is not integer-quantized.
void derive_biases(const Network& net, const QuantizerPlacement& placement, QuantConfig& cfg);

nlohmann::json config_to_json(const QuantConfig& cfg);
// Validates against the model: every named quantizer must exist there with the same kind, and
// every array must have the length the tensor's channels imply.
Result<QuantConfig> config_from_json(const nlohmann::json& j, const Network& net,
                                     const QuantizerPlacement& placement,
                                     const std::string& source);

Result<QuantConfig> read_config(const std::string& path, const Network& net,
                                const QuantizerPlacement& placement);
// The configuration file as JSON (for what is needed before the network is loaded, such as
// its "input_shapes"); config_from_json validates it.
Result<nlohmann::json> read_config_json(const std::string& path);
// Writes to a temporary file and renames it, so a crash never leaves a partial configuration.
Status write_config(const std::string& path, const QuantConfig& cfg);

}  // namespace mpq
