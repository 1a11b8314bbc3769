#pragma once
// Rounding to the float formats of core/number_format.hpp, bit-exact with PyTorch's
// .half()/.bfloat16() and the OCP FP8 definitions.
#include "core/number_format.hpp"

namespace mpq {

// Rounds x to the float format, round-to-nearest-even, with the format's overflow rule
// (saturate or infinity) and its subnormals; NaN stays NaN.
float round_to_float_format(float x, const FloatFormatTraits& t);

}  // namespace mpq
