// Weight ranges chosen by the op's output error (enhanced): used only when the input moments are
// well determined. With fewer input vectors than kVectorsPerFanIn per weight (a Gemm after
// pooling sees one vector per calibration sample), H is singular and the choice falls back to the
// weights' own clipping-weighted search.
#include <gtest/gtest.h>

#include <vector>

#include "sim/output_error.hpp"
#include "sim/range_setting.hpp"

namespace mpq {
namespace {

// One output channel of 9 weights: one large weight, which the weights' own search keeps, and
// eight small ones.
const std::vector<float> kWeights = {1.0f,  0.06f, -0.05f, 0.04f, -0.03f,
                                     0.05f, 0.02f, -0.06f, 0.01f};
const std::vector<std::int64_t> kShape = {1, 9};

// Moments of `vectors` input vectors whose first component is always 0: the output does not see
// the large weight, so the narrowest candidate (which refines the small weights' grid) wins.
InputMoments moments_without_first_input(std::int64_t vectors) {
  InputMoments m;
  m.fan_in = 9;
  m.vectors = vectors;
  m.sums.assign(81, 0.0);
  for (int k = 1; k < 9; ++k)
    m.sums[static_cast<std::size_t>(k * 9 + k)] = static_cast<double>(vectors);
  return m;
}

RangeRequest enhanced_int4() {
  RangeRequest r;
  r.format = NumberFormat::integer(4);
  r.scheme = QuantScheme::Symmetric;
  r.method = RangeMethod::Enhanced;
  return r;
}

TEST(OutputErrorRange, WellDeterminedMomentsChooseByTheOutput) {
  const InputMoments m = moments_without_first_input(kVectorsPerFanIn * 9);
  ASSERT_TRUE(m.well_determined());
  const Range searched = weight_ranges(kWeights, kShape, 0, enhanced_int4()).at(0);
  ASSERT_FLOAT_EQ(searched.hi, 1.0f) << "the weights' own search keeps the large weight";
  const Range got = weight_ranges(kWeights, kShape, 0, enhanced_int4(), &m).at(0);
  EXPECT_FLOAT_EQ(got.hi, 0.6f);  // the narrowest fraction tried
  EXPECT_FLOAT_EQ(got.lo, -0.6f);
}

TEST(OutputErrorRange, TooFewVectorsKeepTheWeightSearch) {
  const InputMoments m = moments_without_first_input(kVectorsPerFanIn * 9 - 1);
  ASSERT_FALSE(m.well_determined());
  const Range searched = weight_ranges(kWeights, kShape, 0, enhanced_int4()).at(0);
  const Range got = weight_ranges(kWeights, kShape, 0, enhanced_int4(), &m).at(0);
  EXPECT_EQ(got.lo, searched.lo);
  EXPECT_EQ(got.hi, searched.hi);
}

}  // namespace
}  // namespace mpq
