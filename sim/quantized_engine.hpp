#pragma once
// Fake-quantized execution: an Engine whose weights read fake-quantized copies and whose
// activation quantizers run as hooks right after the tensors are produced.
#include <map>
#include <string>

#include "engine.hpp"
#include "quant_config.hpp"

namespace mpq {

// The fake-quantized weights and integer-scaled biases of a configuration, computed once and
// shared (read-only) by any number of engines.
struct QuantizedConstants {
  std::map<std::string, Tensor> tensors;
};
QuantizedConstants quantize_constants(const Network& net, const QuantConfig& cfg);

// Bias rounding of BiasMode::Int32: y = nearbyint(b / scale) * scale, per output channel.
void quantize_bias(const Tensor& b, const BiasSetting& s, Tensor& out);

// The float bias `name` the configuration runs: the model's, or its corrected values.
Tensor float_bias(const Network& net, const QuantConfig& cfg, const std::string& name);
// Adds to `qc` every bias the configuration changes: corrected ones, integer ones (cfg.biases).
void add_bias_constants(const Network& net, const QuantConfig& cfg, QuantizedConstants& qc);

// Points `engine`'s weights at `constants` and attaches the activation quantizers of `cfg`.
// Both must outlive the engine's runs. `values_fixed`: the constants outlive the engine and
// never change (Engine::set_constant), so what kernels derive from them is kept across calls.
Status attach_config(Engine& engine, const QuantConfig& cfg, const QuantizedConstants& constants,
                     bool values_fixed = false);

}  // namespace mpq
