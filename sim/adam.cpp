#include "adam.hpp"

#include <cassert>
#include <cmath>

namespace mpq {

void Adam::step(std::span<float> x, std::span<const float> grad) {
  assert(x.size() == m_.size() && grad.size() == m_.size());
  ++t_;
  const double c1 = 1.0 - std::pow(s_.beta1, static_cast<double>(t_));
  const double c2 = 1.0 - std::pow(s_.beta2, static_cast<double>(t_));
  for (std::size_t k = 0; k < m_.size(); ++k) {
    const double g = grad[k];
    m_[k] = s_.beta1 * m_[k] + (1.0 - s_.beta1) * g;
    v_[k] = s_.beta2 * v_[k] + (1.0 - s_.beta2) * g * g;
    const double update = s_.learning_rate * (m_[k] / c1) / (std::sqrt(v_[k] / c2) + s_.epsilon);
    x[k] = static_cast<float>(x[k] - update);
  }
}

}  // namespace mpq
