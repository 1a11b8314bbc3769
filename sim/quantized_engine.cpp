#include "quantized_engine.hpp"

#include <cassert>
#include <cmath>

namespace mpq {

void quantize_bias(const Tensor& b, const BiasSetting& s, Tensor& out) {
  assert(b.is_float() && static_cast<std::int64_t>(s.scale.size()) == b.size());
  const double limit = std::ldexp(1.0, s.bits - 1);
  out = b;
  for (std::size_t c = 0; c < out.f.size(); ++c) {
    const double q = std::nearbyint(b.f[c] / s.scale[c]);
    const double clamped = std::min(std::max(q, -limit), limit - 1);
    out.f[c] = static_cast<float>(clamped) * s.scale[c];
  }
}

QuantizedConstants quantize_constants(const Network& net, const QuantConfig& cfg) {
  QuantizedConstants qc;
  for (const auto& [name, s] : cfg.quantizers) {
    if (s.kind != QuantizerKind::Weight || s.params.format.is_identity()) continue;
    const Tensor& w = net.model.initializers.at(name);
    if (s.integer_weights.empty())
      fake_quantize(w, qc.tensors[name], s.params);
    else
      dequantize(s.integer_weights, w.shape, s.params, qc.tensors[name]);
  }
  add_bias_constants(net, cfg, qc);
  return qc;
}

Tensor float_bias(const Network& net, const QuantConfig& cfg, const std::string& name) {
  Tensor b = net.model.initializers.at(name);
  if (const auto c = cfg.corrected_biases.find(name); c != cfg.corrected_biases.end())
    b.f.assign(c->second.begin(), c->second.end());
  return b;
}

void add_bias_constants(const Network& net, const QuantConfig& cfg, QuantizedConstants& qc) {
  for (const auto& [name, values] : cfg.corrected_biases)
    qc.tensors[name] = float_bias(net, cfg, name);
  for (const auto& [name, b] : cfg.biases) {
    // A bias whose channel count does not match its weight's scales stays float.
    const Tensor bias = float_bias(net, cfg, name);
    if (static_cast<std::int64_t>(b.scale.size()) == bias.size())
      quantize_bias(bias, b, qc.tensors[name]);
  }
}

Status attach_config(Engine& engine, const QuantConfig& cfg, const QuantizedConstants& constants,
                     bool values_fixed) {
  engine.clear_hooks();
  for (const auto& [name, t] : constants.tensors)
    if (auto st = engine.set_constant(name, &t, values_fixed); !st) return st;
  for (const auto& [name, s] : cfg.quantizers) {
    if (s.kind != QuantizerKind::Activation || s.params.format.is_identity()) continue;
    // Per-tensor quantizers map every element on its own: the engine may apply them inside
    // its folded kernels (GELU chain, MatMul + bias) instead of giving up the fold. Block
    // formats need whole blocks: their dynamic scales are computed on the finished tensor.
    auto st = !s.params.elementwise()
                  ? engine.set_hook(name, [p = s.params](Tensor& t) { fake_quantize(t, p); })
                  : engine.set_elementwise_hook(
                        name, [p = s.params](std::span<float> v) { fake_quantize(v, p); });
    if (!st) return st;
  }
  return Ok{};
}

}  // namespace mpq
