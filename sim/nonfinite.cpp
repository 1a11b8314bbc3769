#include "nonfinite.hpp"

#include <algorithm>
#include <cmath>

#include "engine.hpp"
#include "fake_quant.hpp"
#include "quantized_engine.hpp"

namespace mpq {
namespace {

struct Counts {
  std::int64_t nan = 0, inf = 0;
};

Counts count_nonfinite(std::span<const float> v) {
  Counts c;
  for (const float x : v) {
    c.nan += std::isnan(x);
    c.inf += std::isinf(x);
  }
  return c;
}

}  // namespace

bool all_finite(std::span<const float> values) {
  // No early exit: the loop vectorizes, and a broken run is the rare case.
  bool ok = true;
  for (const float x : values) ok &= std::isfinite(x);
  return ok;
}

Status check_finite(std::span<const float> values, const Shape& shape, const std::string& what) {
  if (all_finite(values)) return Ok{};
  const Counts c = count_nonfinite(values);
  std::int64_t first = 0;
  while (std::isfinite(values[static_cast<std::size_t>(first)])) ++first;
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] <= 0) continue;
    index[d] = first % shape[d];
    first /= shape[d];
  }
  std::string at;
  for (const std::int64_t i : index) at += (at.empty() ? "" : ", ") + std::to_string(i);
  return make_error(what + " holds " + std::to_string(c.nan) + " NaN and " + std::to_string(c.inf) +
                    " infinite values of " + std::to_string(values.size()) + " (the first at [" +
                    at + "]): " + kAllowNonfiniteHint);
}

Status check_finite_weights(const Model& model) {
  for (const auto& [name, t] : model.initializers) {
    if (!t.is_float()) continue;
    std::string reader;
    for (const auto& node : model.nodes)
      if (std::find(node.inputs.begin(), node.inputs.end(), name) != node.inputs.end()) {
        reader = " (read by " + node.label() + ")";
        break;
      }
    if (auto st = check_finite(t.f, t.shape, "initializer '" + name + "'" + reader); !st) return st;
  }
  return Ok{};
}

std::string describe(const NonFiniteSite& site) {
  return "tensor '" + site.tensor + "' (" +
         (site.producer == "model input" ? site.producer : "from " + site.producer) +
         (site.from_quantizer ? ", after its activation quantizer" : "") +
         "): " + std::to_string(site.nan) + " NaN and " + std::to_string(site.inf) +
         " infinite values";
}

Result<std::optional<NonFiniteSite>> locate_nonfinite(const Network& net, const QuantConfig* cfg,
                                                      std::span<const Tensor> inputs) {
  auto engine = Engine::create(net);
  if (!engine) return engine.error();
  engine->set_fusion(false);  // every value written, so every value is watched
  QuantizedConstants constants;
  if (cfg) {
    constants = quantize_constants(net, *cfg);
    for (const auto& [name, t] : constants.tensors)
      if (auto st = engine->set_constant(name, &t); !st) return st.error();
  }
  std::optional<NonFiniteSite> first;
  const auto watch = [&](const std::string& value, const std::string& producer) -> Status {
    const QuantizerSetting* q = nullptr;
    if (cfg)
      if (auto it = cfg->quantizers.find(value); it != cfg->quantizers.end() &&
                                                 it->second.kind == QuantizerKind::Activation &&
                                                 !it->second.params.format.is_identity())
        q = &it->second;
    return engine->set_hook(value, [&first, q, value, producer](Tensor& t) {
      if (first || !t.is_float()) {
        if (q && t.is_float()) fake_quantize(t, q->params);
        return;
      }
      Counts c = count_nonfinite(t.f);
      bool from_quantizer = false;
      if (q) {
        fake_quantize(t, q->params);
        if (c.nan + c.inf == 0) {
          c = count_nonfinite(t.f);
          from_quantizer = true;
        }
      }
      if (c.nan + c.inf > 0) first = NonFiniteSite{value, producer, c.nan, c.inf, from_quantizer};
    });
  };
  for (const auto& in : net.model.inputs)
    if (auto st = watch(in.name, "model input"); !st) return st.error();
  for (std::size_t i = 0; i < engine->num_steps(); ++i) {
    const OpNode& node = engine->step_node(i);
    for (const auto& out : node.outputs)
      if (!out.empty())
        if (auto st = watch(out, node.label()); !st) return st.error();
  }
  auto out = engine->run(inputs);
  if (!out) return out.error();
  return first;
}

std::string explain_nonfinite(const Network& net, const QuantConfig* cfg,
                              std::span<const Tensor> inputs, const std::string& what) {
  auto site = locate_nonfinite(net, cfg, inputs);
  if (!site) return what + " (the rerun to locate it failed: " + site.error().message + ")";
  if (!*site) return what + " (a rerun with every tensor watched stayed finite)";
  return what + "; the first non-finite value in execution order: " + describe(**site);
}

}  // namespace mpq
