#pragma once
// Non-finite values (NaN, inf) in a run: a cheap scan of outputs, and, once a scan finds one,
// a diagnostic rerun that names the first tensor in execution order that held one and the op
// that produced it. A run with NaN outputs is a broken simulation, never a result.
#include <optional>
#include <span>
#include <string>

#include "core/result.hpp"
#include "graph/network.hpp"
#include "quant_config.hpp"

namespace mpq {

bool all_finite(std::span<const float> values);

struct NonFiniteSite {
  std::string tensor;    // the first value holding NaN or inf
  std::string producer;  // "Sqrt '/ln/Sqrt'", or "model input"
  std::int64_t nan = 0, inf = 0;
  bool from_quantizer = false;  // the op's output was finite; its activation quantizer was not
};

// "tensor 'x' (from Sqrt '/ln/Sqrt'): 12 NaN, 0 inf values"
std::string describe(const NonFiniteSite& site);

// Runs `inputs` through the network (fake-quantized with `cfg` when given) with every value
// watched; the first value in execution order that holds a non-finite element, or nothing.
Result<std::optional<NonFiniteSite>> locate_nonfinite(const Network& net, const QuantConfig* cfg,
                                                      std::span<const Tensor> inputs);

// The explanation of a run whose outputs were not finite on `inputs` (one batch): `what`,
// then the first non-finite tensor found by locate_nonfinite (or why it could not be found).
std::string explain_nonfinite(const Network& net, const QuantConfig* cfg,
                              std::span<const Tensor> inputs, const std::string& what);

}  // namespace mpq
