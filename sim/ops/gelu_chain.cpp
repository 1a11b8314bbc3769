#include "sim/ops/gelu_chain.hpp"

#include "broadcast.hpp"
#include "eigen_arrays.hpp"
#include "kernel_util.hpp"
// Eigen's vectorized erf, as the Erf kernel uses it.
#include <unsupported/Eigen/SpecialFunctions>

namespace mpq::ops {

void gelu_erf_chain(const Tensor& x, float c, float one, float half, Tensor& y) {
  shape_float_output(y, x.shape);
  const float* px = x.f.data();
  float* py = y.f.data();
  // The Erf kernel's chunks (parallel_chunks over the flat tensor, default grain) and 64-byte
  // aligned chunk starts, so Eigen splits every chunk into the same packets and scalar tail.
  parallel_chunks(x.size(), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) py[k] = px[k] / c;
    MapF t(py + b, e - b);
    t = t.erf();
    for (std::int64_t k = b; k < e; ++k) py[k] = (px[k] * (py[k] + one)) * half;
  });
}

}  // namespace mpq::ops
