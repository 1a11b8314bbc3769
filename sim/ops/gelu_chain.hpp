#pragma once
// The exact-GELU subgraph PyTorch exports (Div -> Erf -> Add -> Mul -> Mul) in one pass, for
// the engine to run when nothing watches the intermediate values.
#include "graph/tensor.hpp"

namespace mpq::ops {

// y = (x * (erf(x / c) + one)) * half, with the float rounding and the chunking of the
// separate Div, Erf, Add and Mul kernels (bit-identical to running them one by one).
void gelu_erf_chain(const Tensor& x, float c, float one, float half, Tensor& y);

}  // namespace mpq::ops
