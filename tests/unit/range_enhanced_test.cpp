// The default range setting (issue 22, item 4): the clipping-weighted ("enhanced") search never
// clips at 12 bits or more, clips no more than the MSE search below that, and its weight search
// gives what a plain search with the reference quantizer gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "sim/range_setting.hpp"

namespace mpq {
namespace {

// Heavy tails with a few far outliers, as activations of real exports have.
std::vector<float> heavy_tailed(std::size_t n, unsigned seed, bool non_negative) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> t(3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = non_negative ? std::abs(t(rng)) : t(rng);
  v[n / 3] = non_negative ? 400.0f : -250.0f;
  v[n / 2] = 400.0f;
  return v;
}

Histogram histogram_of(const std::vector<float>& v) {
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  Histogram h(*mn, *mx);
  h.add(v);
  return h;
}

RangeRequest request(int bits, QuantScheme scheme, bool non_negative, RangeMethod m) {
  RangeRequest r;
  r.format = NumberFormat::integer(bits);
  r.scheme = scheme;
  r.non_negative = non_negative;
  r.method = m;
  return r;
}

TEST(EnhancedRange, NeverClipsAtTwelveBitsOrMore) {
  for (const bool nonneg : {false, true}) {
    const auto v = heavy_tailed(400000, 7, nonneg);
    const Histogram h = histogram_of(v);
    const std::vector<std::int64_t> shape{4, static_cast<std::int64_t>(v.size() / 4)};
    for (int bits : {12, 16})
      for (QuantScheme s : {QuantScheme::Symmetric, QuantScheme::Asymmetric}) {
        const RangeRequest r = request(bits, s, nonneg, RangeMethod::Enhanced);
        EXPECT_EQ(effective_method(r), RangeMethod::MinMax);
        const Range a = activation_range(h, r);
        EXPECT_LE(a.lo, h.lo) << bits << " bits: clips below the observed minimum";
        EXPECT_GE(a.hi, h.hi) << bits << " bits: clips above the observed maximum";
        const auto mm = weight_ranges(v, shape, 0, request(bits, s, false, RangeMethod::MinMax));
        const auto got = weight_ranges(v, shape, 0, r);
        ASSERT_EQ(got.size(), mm.size());
        for (std::size_t c = 0; c < got.size(); ++c) {
          EXPECT_LE(got[c].lo, mm[c].lo) << "channel " << c;
          EXPECT_GE(got[c].hi, mm[c].hi) << "channel " << c;
        }
      }
  }
}

// What the rule prevents: large feature maps over a calibration set (1e10 values here) whose
// extreme is one rare value. Summed over so many values, 16-bit rounding noise outweighs
// clipping that one value, so the MSE search clips at 16 bits; the enhanced one does not.
TEST(EnhancedRange, LargeTensorsAreNotClippedAtSixteenBits) {
  Histogram h(-1.0f, 100.0f);
  for (int k = 0; k < 40; ++k) h.counts[static_cast<std::size_t>(k)] = 2.5e8;
  h.counts.back() = 1;
  for (QuantScheme s : {QuantScheme::Symmetric, QuantScheme::Asymmetric}) {
    const Range mse = activation_range(h, request(16, s, false, RangeMethod::Mse));
    EXPECT_LT(mse.hi, h.hi) << "the MSE search no longer clips here: the case is moot";
    const Range e = activation_range(h, request(16, s, false, RangeMethod::Enhanced));
    EXPECT_LE(e.lo, h.lo);
    EXPECT_GE(e.hi, h.hi);
  }
}

// Weighting clipping noise up moves the optimum to wider ranges: for one free end (symmetric or
// non-negative), the enhanced range contains the MSE range, activations and weights alike.
TEST(EnhancedRange, ClipsNoMoreThanMse) {
  for (const bool nonneg : {false, true}) {
    const auto v = heavy_tailed(50000, 3, nonneg);
    const Histogram h = histogram_of(v);
    const std::vector<std::int64_t> shape{5, static_cast<std::int64_t>(v.size() / 5)};
    for (int bits : {2, 4, 6, 8}) {
      const auto s = QuantScheme::Symmetric;
      const Range e = activation_range(h, request(bits, s, nonneg, RangeMethod::Enhanced));
      const Range m = activation_range(h, request(bits, s, nonneg, RangeMethod::Mse));
      EXPECT_GE(e.hi, m.hi) << bits << " bits";
      EXPECT_LE(e.lo, m.lo) << bits << " bits";
      const auto we = weight_ranges(v, shape, 0, request(bits, s, false, RangeMethod::Enhanced));
      const auto wm = weight_ranges(v, shape, 0, request(bits, s, false, RangeMethod::Mse));
      for (std::size_t c = 0; c < we.size(); ++c) EXPECT_GE(we[c].hi, wm[c].hi) << bits << " bits";
    }
  }
}

// The vectorized weight search weighs clipped elements by kClipWeight exactly as a plain loop
// over the reference quantizer does: the chosen range is the plain loop's best.
TEST(EnhancedRange, WeightSearchMatchesAPlainSearch) {
  const auto v = heavy_tailed(333, 5, false);
  const std::vector<std::int64_t> shape{1, 333};
  for (int bits : {3, 4, 8}) {
    const RangeRequest r = request(bits, QuantScheme::Symmetric, false, RangeMethod::Enhanced);
    const IntGrid g = int_grid(bits, QuantScheme::Symmetric, false);
    const auto err = [&](float c) {
      const ScaleZero sz = scale_from_range(-c, c, g, QuantScheme::Symmetric);
      double e = 0;
      for (float x : v) {
        const double d =
            x - fake_quantize_int_reference(x, sz.scale, sz.zero_point, g.qmin, g.qmax);
        const float code = std::nearbyint(x / sz.scale) + static_cast<float>(sz.zero_point);
        const bool clipped = code < static_cast<float>(g.qmin) || code > static_cast<float>(g.qmax);
        e += (clipped ? kClipWeight : 1.0) * d * d;
      }
      return e;
    };
    const float amax =
        std::max(-*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
    double best = std::numeric_limits<double>::infinity();
    for (int i = 100; i >= 1; --i) best = std::min(best, err(amax * static_cast<float>(i) / 100));
    const Range got = weight_ranges(v, shape, 0, r).at(0);
    EXPECT_LE(err(got.hi), best * (1 + 1e-9)) << bits << " bits";
  }
}

}  // namespace
}  // namespace mpq
