// The float erf the Erf, Gelu and folded-GELU kernels share: the correctly rounded value
// (glibc's double erf, rounded once) on a dense sweep, exact special values, and the same value
// for an element whatever the length of the call or its position in it.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/ops/erf.hpp"

namespace mpq::ops {

// sim/ops/erf.cpp built without AVX-512 under this name (tests/CMakeLists.txt).
void erf_float_scalar_twin(const float* x, float* y, std::int64_t n);

namespace {

float reference(float x) {
  return static_cast<float>(std::erf(static_cast<double>(x)));
}

// Distance in units in the last place between two finite floats of the same sign.
std::int64_t ulps(float a, float b) {
  return std::abs(static_cast<std::int64_t>(std::bit_cast<std::int32_t>(a)) -
                  static_cast<std::int64_t>(std::bit_cast<std::int32_t>(b)));
}

TEST(Erf, IsCorrectlyRoundedButForRareNearTies) {
  // Every 64th float of magnitude 1e-38 to 5, both signs (about 34M values).
  std::vector<float> x;
  for (float v = 5.0f; v > 1e-38f; v = std::bit_cast<float>(std::bit_cast<std::int32_t>(v) - 64)) {
    x.push_back(v);
    x.push_back(-v);
  }
  std::vector<float> y(x.size());
  erf_float(x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  std::int64_t wrong = 0, worst = 0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    const std::int64_t d = ulps(y[k], reference(x[k]));
    wrong += d != 0;
    worst = std::max(worst, d);
  }
  EXPECT_LE(worst, 1);
  // The polynomials are within 1e-5 ulp, so only values that close to a tie may round the
  // other way (Eigen's float erf, 1 to 4 ulp off, differs on about half of them).
  EXPECT_LE(wrong, static_cast<std::int64_t>(x.size() / 100000)) << "of " << x.size();
}

TEST(Erf, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.0f,
                                -0.0f,
                                inf,
                                -inf,
                                4.0f,
                                -4.0f,
                                3.9f,
                                100.0f,
                                1e-45f,
                                -1e-45f,
                                std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> y(x.size());
  erf_float(x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  EXPECT_EQ(std::bit_cast<std::uint32_t>(y[0]), 0u);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(y[1]), 0x80000000u);  // erf(-0) = -0
  EXPECT_EQ(y[2], 1.0f);
  EXPECT_EQ(y[3], -1.0f);
  EXPECT_EQ(y[4], 1.0f);
  EXPECT_EQ(y[5], -1.0f);
  EXPECT_EQ(y[6], reference(3.9f));
  EXPECT_EQ(y[7], 1.0f);
  EXPECT_EQ(y[8], reference(1e-45f));  // 2/sqrt(pi) * smallest denormal
  EXPECT_EQ(y[9], reference(-1e-45f));
  EXPECT_TRUE(std::isnan(y[10]));
}

TEST(Erf, ValueDoesNotDependOnTheCall) {
  std::vector<float> x(53);
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = -2.6f + 0.1f * static_cast<float>(k);
  std::vector<float> whole(x.size());
  erf_float(x.data(), whole.data(), static_cast<std::int64_t>(x.size()));
  for (std::size_t start = 0; start < x.size(); start += 5) {
    for (std::size_t n = 1; start + n <= x.size(); n += 7) {
      std::vector<float> part(x.begin() + static_cast<std::ptrdiff_t>(start),
                              x.begin() + static_cast<std::ptrdiff_t>(start + n));
      erf_float(part.data(), part.data(), static_cast<std::int64_t>(n));  // in place
      for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(part[k], whole[start + k]) << start << "+" << k;
    }
  }
}

// Builds without AVX-512 run the scalar twin: the same double arithmetic, so the same floats.
TEST(Erf, ScalarTwinGivesTheVectorPathsValues) {
  std::vector<float> x;
  for (float v = 5.0f; v > 1e-38f; v = std::bit_cast<float>(std::bit_cast<std::int32_t>(v) - 997)) {
    x.push_back(v);
    x.push_back(-v);
  }
  x.push_back(std::numeric_limits<float>::infinity());
  x.push_back(std::numeric_limits<float>::quiet_NaN());
  std::vector<float> vec(x.size()), scalar(x.size());
  erf_float(x.data(), vec.data(), static_cast<std::int64_t>(x.size()));
  erf_float_scalar_twin(x.data(), scalar.data(), static_cast<std::int64_t>(x.size()));
  for (std::size_t k = 0; k < x.size(); ++k)
    ASSERT_EQ(std::bit_cast<std::uint32_t>(vec[k]), std::bit_cast<std::uint32_t>(scalar[k]))
        << "x = " << x[k];
}

}  // namespace
}  // namespace mpq::ops
