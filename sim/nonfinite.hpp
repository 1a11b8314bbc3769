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

// An input error when `values` (of `shape`) hold NaN or inf: "WHAT holds 2 NaN and 1 infinite
// values of 784 (the first at [0, 3, 5]); ...". Models and data are checked when read, because a
// non-finite value spreads to every output and the run would only say so at its end.
Status check_finite(std::span<const float> values, const Shape& shape, const std::string& what);

// check_finite on every float initializer of `model`, naming the node that reads it.
Status check_finite_weights(const Model& model);

// The hint every non-finite refusal ends with.
inline constexpr const char* kAllowNonfiniteHint =
    "fix the file, or pass --allow-nonfinite (experiment key allow_nonfinite: true) to run with "
    "them anyway";

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
