#pragma once
// Float erf, correctly rounded but for rare near-ties: the quantity a quantizer downstream sees.
#include <cstdint>

namespace mpq::ops {

// y[k] = erf(x[k]) for k < n; y may be x. Evaluated in double (error below 1e-5 float ulp, so
// the float result is the correctly rounded one unless erf(x) lies that close to a tie), lane
// by lane, so the chunking of a call does not change any value. Eigen's float erf is off by up
// to 4 ulp: an 8-bit quantizer on an Erf output then rounds some values the other way than
// PyTorch does, which moved a ViT's sensitivity by 0.06 dB (see bench/README.md).
void erf_float(const float* x, float* y, std::int64_t n);

}  // namespace mpq::ops
