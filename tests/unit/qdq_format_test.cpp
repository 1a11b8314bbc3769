// The ONNX element types and byte layouts of the QDQ export (sim/qdq/qdq_format.hpp).
#include "sim/qdq/qdq_format.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace mpq {
namespace {

QuantParams int_params(int bits, std::int32_t qmin, std::int32_t qmax, std::int32_t zp = 0) {
  QuantParams p;
  p.format = NumberFormat::integer(bits);
  p.scale = {0.5f};
  p.zero_point = {zp};
  p.qmin = qmin;
  p.qmax = qmax;
  return p;
}

std::vector<int> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

TEST(QdqFormat, Int4IsNativeFromOpset21AndOnAnInt8CarrierBefore) {
  auto native = qdq_format(int_params(4, -8, 7), 21, "w");
  ASSERT_TRUE(native.ok());
  EXPECT_EQ(native->type, OnnxType::Int4);
  EXPECT_FALSE(native->narrow);
  auto carried = qdq_format(int_params(4, 0, 15, 3), 17, "a");
  ASSERT_TRUE(carried.ok());
  EXPECT_EQ(carried->type, OnnxType::Uint8);
  EXPECT_EQ(carried->carrier_bits, 8);
  EXPECT_TRUE(carried->narrow);
}

TEST(QdqFormat, OtherWidthsUseAnEightBitCarrierEvenAtOpset21) {
  for (int bits : {2, 3, 5, 6, 7}) {
    auto f = qdq_format(int_params(bits, -(1 << (bits - 1)), (1 << (bits - 1)) - 1), 21, "w");
    ASSERT_TRUE(f.ok()) << bits;
    EXPECT_EQ(f->type, OnnxType::Int8) << bits;
    EXPECT_TRUE(f->narrow) << bits;
  }
  auto restricted = qdq_format(int_params(8, -127, 127), 21, "w");  // a restricted 8-bit grid
  ASSERT_TRUE(restricted.ok());
  EXPECT_TRUE(restricted->narrow);
}

TEST(QdqFormat, SixteenBitsAndFp8NeedTheirOpsets) {
  auto at17 = qdq_format(int_params(16, 0, 65535, 100), 17, "act");
  ASSERT_FALSE(at17.ok());
  EXPECT_NE(at17.error().message.find("opset 17 cannot represent"), std::string::npos);
  EXPECT_NE(at17.error().message.find("'act'"), std::string::npos);
  auto at21 = qdq_format(int_params(16, 0, 65535, 100), 21, "act");
  ASSERT_TRUE(at21.ok());
  EXPECT_EQ(at21->type, OnnxType::Uint16);

  QuantParams fp8;
  fp8.format = NumberFormat{FormatKind::Fp8E4M3, 8};
  fp8.scale = {1.0f};
  EXPECT_FALSE(qdq_format(fp8, 18, "w").ok());
  auto f = qdq_format(fp8, 19, "w");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->type, OnnxType::Float8E4M3FN);

  QuantParams bf16;
  bf16.format = NumberFormat{FormatKind::Bf16, 16};
  auto c = qdq_format(bf16, 13, "a");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, QdqKind::Cast);
  EXPECT_EQ(c->type, OnnxType::Bfloat16);
}

TEST(QdqFormat, ZeroPointOutsideTheCarrierIsAnError) {
  EXPECT_FALSE(qdq_format(int_params(8, 0, 255, 300), 21, "a").ok());
}

TEST(QdqPack, Int4TwoPerByteLowNibbleFirst) {
  EXPECT_EQ(bytes(pack_ints({1, -2, 7}, OnnxType::Int4)),
            (std::vector<int>{static_cast<char>(0xE1), 0x07}));
  EXPECT_EQ(bytes(pack_ints({15, 0}, OnnxType::Uint4)), (std::vector<int>{0x0F}));
}

TEST(QdqPack, LittleEndianIntegers) {
  EXPECT_EQ(bytes(pack_ints({-2, 300}, OnnxType::Int16)),
            (std::vector<int>{static_cast<char>(0xFE), static_cast<char>(0xFF), 0x2C, 0x01}));
  EXPECT_EQ(bytes(pack_ints({-1}, OnnxType::Int32)),
            (std::vector<int>(4, static_cast<char>(0xFF))));
}

std::uint16_t half_at(const std::string& s, std::size_t k) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(s[2 * k]) |
                                    static_cast<unsigned char>(s[2 * k + 1]) << 8);
}

TEST(QdqPack, FloatFormatsBitPatterns) {
  const std::string h =
      pack_floats({1.0f, std::ldexp(1.0f, -24), -65504.0f, 0.0f, -INFINITY, std::ldexp(1.0f, -14)},
                  OnnxType::Float16);
  EXPECT_EQ(half_at(h, 0), 0x3C00);
  EXPECT_EQ(half_at(h, 1), 0x0001);  // smallest subnormal
  EXPECT_EQ(half_at(h, 2), 0xFBFF);
  EXPECT_EQ(half_at(h, 3), 0x0000);
  EXPECT_EQ(half_at(h, 4), 0xFC00);
  EXPECT_EQ(half_at(h, 5), 0x0400);  // smallest normal
  EXPECT_EQ(half_at(pack_floats({1.0f}, OnnxType::Bfloat16), 0), 0x3F80);
  const std::string e4 =
      pack_floats({448.0f, -1.0f, std::ldexp(1.0f, -9), NAN}, OnnxType::Float8E4M3FN);
  EXPECT_EQ(bytes(e4), (std::vector<int>{0x7E, static_cast<char>(0xB8), 0x01, 0x7F}));
  const std::string e5 = pack_floats({57344.0f, 1.0f, std::ldexp(1.0f, -16)}, OnnxType::Float8E5M2);
  EXPECT_EQ(bytes(e5), (std::vector<int>{0x7B, 0x3C, 0x01}));
}

}  // namespace
}  // namespace mpq
