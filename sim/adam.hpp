#pragma once
// Adam (Kingma & Ba 2015) over one flat parameter vector: the optimizer input synthesis runs on
// each input, with the bias-corrected first and second moments kept per element.
#include <cstdint>
#include <span>
#include <vector>

namespace mpq {

struct AdamSettings {
  double learning_rate = 0.05;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
};

class Adam {
 public:
  Adam(AdamSettings s, std::size_t size) : s_(s), m_(size, 0.0), v_(size, 0.0) {}
  // x -= lr * m_hat / (sqrt(v_hat) + eps), element by element (so the result does not depend on
  // how the work is split). `x` and `grad` have the size given at construction.
  void step(std::span<float> x, std::span<const float> grad);
  std::int64_t steps() const { return t_; }

 private:
  AdamSettings s_;
  std::vector<double> m_, v_;
  std::int64_t t_ = 0;
};

}  // namespace mpq
