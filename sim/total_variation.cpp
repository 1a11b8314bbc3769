#include "total_variation.hpp"

namespace mpq {

std::vector<std::int64_t> spatial_axes(const Shape& batch, bool channels_last) {
  const auto rank = static_cast<std::int64_t>(batch.size());
  if (rank == 4)
    return channels_last ? std::vector<std::int64_t>{1, 2} : std::vector<std::int64_t>{2, 3};
  if (rank == 3) return {1, 2};
  if (rank == 2) return {1};
  std::vector<std::int64_t> all;
  for (std::int64_t a = 1; a < rank; ++a) all.push_back(a);
  return all;
}

double total_variation(const Tensor& x, const std::vector<std::int64_t>& axes, double weight,
                       Tensor* grad) {
  if (x.rank() < 1 || x.size() == 0) return 0.0;
  const std::int64_t n = x.shape[0], per = x.size() / n;
  const auto strides = strides_of(x.shape);
  double total = 0;
  for (std::int64_t a : axes) {
    const std::int64_t len = x.shape[static_cast<std::size_t>(a)];
    const std::int64_t stride = strides[static_cast<std::size_t>(a)];
    for (std::int64_t e = 0; e < x.size(); ++e) {
      // The position along axis a; the last one has no next neighbour.
      if ((e / stride) % len == len - 1) continue;
      const double d = double(x.f[e + stride]) - x.f[e];
      total += d * d;
      if (grad) {
        const double g = 2.0 * weight * d / static_cast<double>(per);
        grad->f[e + stride] += static_cast<float>(g);
        grad->f[e] -= static_cast<float>(g);
      }
    }
  }
  return total / static_cast<double>(per);
}

}  // namespace mpq
