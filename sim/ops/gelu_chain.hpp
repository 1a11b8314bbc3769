#pragma once
// The exact-GELU subgraph PyTorch exports (Div -> Erf -> Add -> Mul -> Mul) in one pass, for
// the engine to run when nothing watches the intermediate values.
#include <array>
#include <functional>
#include <span>

#include "graph/tensor.hpp"

namespace mpq::ops {

// y = (x * (erf(x / c) + one)) * half, with the float rounding and the chunking of the
// separate Div, Erf, Add and Mul kernels (bit-identical to running them one by one).
// hooks[k] (may be null) maps the k-th intermediate value (x / c, erf, + one, x * ...) in
// place, element by element, as a per-tensor quantizer on that op's output would.
using ValueHook = std::function<void(std::span<float>)>;
void gelu_erf_chain(const Tensor& x, float c, float one, float half, Tensor& y,
                    const std::array<const ValueHook*, 4>& hooks = {});

}  // namespace mpq::ops
