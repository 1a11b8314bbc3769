// Number formats: parsing, and float rounding against edge values written from the format
// definitions (IEEE 754 binary16, bfloat16, OCP FP8 E4M3 "fn" and E5M2 with saturation).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/candidate.hpp"
#include "sim/float_rounding.hpp"

namespace mpq {
namespace {

const FloatFormatTraits& traits(const char* name) {
  auto f = parse_format(name);
  EXPECT_TRUE(f.ok());
  return f->float_traits();
}

struct EdgeRow {
  const char* format;
  float in, expected;
  const char* why;
};

// Each row: a value and its correctly rounded image in the format.
const EdgeRow kEdges[] = {
    // fp8 e4m3: bias 7, 3 mantissa bits, no infinities, S.1111.111 is NaN.
    {"fp8e4m3", 448.0f, 448.0f, "largest finite"},
    {"fp8e4m3", 449.0f, 448.0f, "rounds down to the largest"},
    {"fp8e4m3", 464.0f, 448.0f, "tie between 448 and 480 (not a value): even is 448"},
    {"fp8e4m3", 500.0f, 448.0f, "saturates"},
    {"fp8e4m3", -1e9f, -448.0f, "saturates negative"},
    {"fp8e4m3", std::numeric_limits<float>::infinity(), 448.0f, "no infinity: saturates"},
    {"fp8e4m3", 0.001953125f, 0.001953125f, "smallest subnormal 2^-9"},
    {"fp8e4m3", 0.0009765625f, 0.0f, "2^-10: tie between 0 and 2^-9, even is 0"},
    {"fp8e4m3", 0.00146484375f, 0.001953125f, "1.5 x 2^-10 rounds up to 2^-9"},
    {"fp8e4m3", 0.015625f, 0.015625f, "smallest normal 2^-6"},
    {"fp8e4m3", 1.0625f, 1.0f, "tie 1 + 1/16: even mantissa 000"},
    {"fp8e4m3", 1.1875f, 1.25f, "tie 1 + 3/16: even mantissa 010"},
    {"fp8e4m3", 0.3f, 0.3125f, "0.3 -> 10 x 2^-5"},
    // fp8 e5m2: bias 15, 2 mantissa bits; saturating conversion.
    {"fp8e5m2", 57344.0f, 57344.0f, "largest finite 1.75 x 2^15"},
    {"fp8e5m2", 61440.0f, 57344.0f, "tie rounds to 2^16, out of range: saturates"},
    {"fp8e5m2", std::numeric_limits<float>::infinity(), 57344.0f, "saturates infinity"},
    {"fp8e5m2", 1.52587890625e-05f, 1.52587890625e-05f, "smallest subnormal 2^-16"},
    {"fp8e5m2", 7.62939453125e-06f, 0.0f, "2^-17: tie to 0"},
    {"fp8e5m2", 6.103515625e-05f, 6.103515625e-05f, "smallest normal 2^-14"},
    {"fp8e5m2", 1.125f, 1.0f, "tie 1 + 1/8: even"},
    {"fp8e5m2", 1.375f, 1.5f, "tie 1 + 3/8: even"},
    // IEEE binary16: overflow goes to infinity.
    {"fp16", 65504.0f, 65504.0f, "largest finite"},
    {"fp16", 65519.0f, 65504.0f, "below the rounding boundary"},
    {"fp16", 65520.0f, std::numeric_limits<float>::infinity(), "rounds to infinity"},
    {"fp16", 5.9604644775390625e-08f, 5.9604644775390625e-08f, "smallest subnormal 2^-24"},
    {"fp16", 2.98023223876953125e-08f, 0.0f, "2^-25: tie to 0"},
    {"fp16", 8.940696716308594e-08f, 1.1920928955078125e-07f, "3 x 2^-25: tie to even 2^-23"},
    {"fp16", 1.00048828125f, 1.0f, "tie 1 + 2^-11: even"},
    // bfloat16: 7 mantissa bits.
    {"bf16", 1.00390625f, 1.0f, "tie 1 + 2^-8: even"},
    {"bf16", 1.01171875f, 1.015625f, "tie 1 + 3 x 2^-8: even"},
    {"bf16", 3.0e38f, 3.00405527e38f, "3e38 / 2^127 = 1.7632 -> 226/128 x 2^127"},
};

TEST(FloatFormats, EdgeValuesFromTheDefinitions) {
  for (const auto& row : kEdges) {
    const float got = round_to_float_format(row.in, traits(row.format));
    EXPECT_EQ(got, row.expected) << row.format << " " << row.in << ": " << row.why;
    EXPECT_EQ(std::signbit(got), std::signbit(row.expected)) << row.format << " " << row.why;
  }
}

TEST(FloatFormats, NanStaysNanAndSignsAreKept) {
  for (const char* f : {"fp16", "bf16", "fp8e4m3", "fp8e5m2"}) {
    EXPECT_TRUE(std::isnan(round_to_float_format(std::nanf(""), traits(f)))) << f;
    EXPECT_TRUE(std::signbit(round_to_float_format(-0.0f, traits(f)))) << f;
    EXPECT_EQ(round_to_float_format(-0.3f, traits(f)), -round_to_float_format(0.3f, traits(f)));
  }
  EXPECT_EQ(round_to_float_format(-std::numeric_limits<float>::infinity(), traits("fp16")),
            -std::numeric_limits<float>::infinity());
}

TEST(FloatFormats, EveryFp8ValueIsAFixedPoint) {
  // Enumerate all finite e4m3 encodings from the definition; rounding must keep each.
  for (int e = 0; e < 16; ++e)
    for (int m = 0; m < 8; ++m) {
      if (e == 15 && m == 7) continue;  // NaN
      const float v = e == 0 ? std::ldexp(static_cast<float>(m), -9)
                             : std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
      EXPECT_EQ(round_to_float_format(v, traits("fp8e4m3")), v) << "e=" << e << " m=" << m;
    }
}

TEST(Formats, ParseNamesAndCandidates) {
  EXPECT_EQ(parse_format("int4")->bits, 4);
  EXPECT_EQ(parse_format("16")->bits, 16);
  EXPECT_TRUE(parse_format("fp8e5m2")->is_float());
  EXPECT_EQ(parse_candidate("W4A8")->weight, NumberFormat::integer(4));
  EXPECT_EQ(parse_candidate("W4A8")->activation, NumberFormat::integer(8));
  // One spelling, the accelerator files': a float format alone is accepted as input only.
  EXPECT_EQ(parse_candidate("fp16")->name(), "Wfp16Afp16");
  EXPECT_TRUE(*parse_candidate("Wfp16Afp16") == *parse_candidate("fp16"));
  EXPECT_EQ(parse_candidate("Wint4Aint8")->name(), "W4A8");
  EXPECT_EQ(parse_candidate("Wfp8e4m3A16")->name(), "Wfp8e4m3A16");
  EXPECT_EQ(parse_candidate("W8A8")->name(), "W8A8");
}

TEST(Formats, BadNamesSayWhatIsWrong) {
  auto b = parse_format("int17");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("outside 2..16"), std::string::npos) << b.error().message;
  EXPECT_FALSE(parse_format("int1").ok());
  auto u = parse_format("fp7");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("unknown number format 'fp7'"), std::string::npos);
  auto c = parse_candidate("W4X8");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("W4X8"), std::string::npos);
  EXPECT_FALSE(parse_candidate("W20A8").ok());
  EXPECT_FALSE(parse_candidate("int8").ok());
}

}  // namespace
}  // namespace mpq
