#pragma once
// The number formats a tensor can be stored in: integers of 2..16 bits, the float formats
// fp16, bf16, fp8 e4m3 and e5m2 (and fp32, meaning "not quantized"), and the block-scaled
// formats (OCP MX v1.0, NVFP4, group-wise integers). One constexpr traits row per float and per
// block format; a format added to the enum without its row breaks the build. The one
// description of a format that the simulator (rounding) and the cost models (bits) share.
#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "result.hpp"

namespace mpq {

enum class FormatKind : std::uint8_t {
  Int,
  Fp16,
  Bf16,
  Fp8E4M3,
  Fp8E5M2,
  Float32,
  // Block-scaled: elements share one scale per block of `NumberFormat::block` elements along
  // the reduction axis of the consuming MAC op.
  MxFp8E4M3,
  MxFp8E5M2,
  MxFp6E3M2,
  MxFp6E2M3,
  MxFp4,
  MxInt8,
  NvFp4,
  IntGroup,  // int<bits>_g<group>: symmetric integers, one fp16 scale per group
  kCount
};
inline constexpr FormatKind kFirstBlockKind = FormatKind::MxFp8E4M3;

struct FloatFormatTraits {
  FormatKind kind;
  const char* name;
  int bits;
  int exponent_bits;
  int mantissa_bits;
  int exponent_bias;
  float max_finite;
  bool has_infinity;
  // fp8 values are stored with a per-tensor (or per-channel) scale, as FP8 training and
  // inference recipes do; fp16/bf16 are used unscaled.
  bool scaled;
  // On overflow: saturate to +-max_finite (fp8 "satfinite") or go to infinity (IEEE, as
  // PyTorch's .half()/.bfloat16() do).
  bool saturates;
};

inline constexpr std::array<FloatFormatTraits, 5> kFloatFormats = {{
    {FormatKind::Fp16, "fp16", 16, 5, 10, 15, 65504.0f, true, false, false},
    {FormatKind::Bf16, "bf16", 16, 8, 7, 127, 3.38953139e38f, true, false, false},
    // OCP FP8 E4M3 ("fn"): no infinities, S.1111.111 is NaN, so the largest is 1.75 x 2^8.
    {FormatKind::Fp8E4M3, "fp8e4m3", 8, 4, 3, 7, 448.0f, false, true, true},
    {FormatKind::Fp8E5M2, "fp8e5m2", 8, 5, 2, 15, 57344.0f, true, true, true},
    {FormatKind::Float32, "fp32", 32, 8, 23, 127, 3.40282347e38f, true, false, false},
}};

constexpr bool float_table_is_complete() {
  for (int k = static_cast<int>(FormatKind::Fp16); k < static_cast<int>(kFirstBlockKind); ++k) {
    bool found = false;
    for (const auto& t : kFloatFormats) found = found || static_cast<int>(t.kind) == k;
    if (!found) return false;
  }
  return true;
}
static_assert(float_table_is_complete(), "every float FormatKind needs a row in kFloatFormats");
constexpr bool float_rows_add_up() {
  for (const auto& t : kFloatFormats)
    if (t.bits != 1 + t.exponent_bits + t.mantissa_bits) return false;
  return true;
}
static_assert(float_rows_add_up(), "a float format's bits are sign + exponent + mantissa");

// How a block's shared scale is stored.
enum class BlockScale : std::uint8_t {
  E8M0,     // OCP MX: a power of two 2^(e - 127), e = 0..254; 0xFF is NaN (spec section 5.4.1)
  Fp8E4M3,  // NVFP4: an FP8 E4M3 value, times one FP32 scale per tensor
  Fp16,     // group-wise integers: an IEEE binary16 value
};

struct BlockFormatTraits {
  FormatKind kind;
  const char* name;  // int<bits>_g<group> for IntGroup
  int element_bits;  // 0: given by the name (IntGroup)
  int block;         // elements per scale; 0: given by the name (IntGroup)
  BlockScale scale;
  int scale_bits;
  bool tensor_scale;  // NVFP4's FP32 per-tensor scale
  bool integer_elements;
  // Float elements: the element format (OCP MX section 5.3; E2M1, E2M3, E3M2 have no Inf/NaN
  // and saturate). MXINT8 elements: unused (two's complement with an implicit 2^-6).
  FloatFormatTraits element;
  // Exponent of the element format's largest normal (emax_elem of spec section 6.3).
  int emax_elem;
};

inline constexpr std::array<BlockFormatTraits, 8> kBlockFormats = {{
    {FormatKind::MxFp8E4M3, "mxfp8_e4m3", 8, 32, BlockScale::E8M0, 8, false, false,
     kFloatFormats[2], 8},
    {FormatKind::MxFp8E5M2, "mxfp8_e5m2", 8, 32, BlockScale::E8M0, 8, false, false,
     kFloatFormats[3], 15},
    {FormatKind::MxFp6E3M2,
     "mxfp6_e3m2",
     6,
     32,
     BlockScale::E8M0,
     8,
     false,
     false,
     {FormatKind::MxFp6E3M2, "e3m2", 6, 3, 2, 3, 28.0f, false, false, true},
     4},
    {FormatKind::MxFp6E2M3,
     "mxfp6_e2m3",
     6,
     32,
     BlockScale::E8M0,
     8,
     false,
     false,
     {FormatKind::MxFp6E2M3, "e2m3", 6, 2, 3, 1, 7.5f, false, false, true},
     2},
    {FormatKind::MxFp4,
     "mxfp4",
     4,
     32,
     BlockScale::E8M0,
     8,
     false,
     false,
     {FormatKind::MxFp4, "e2m1", 4, 2, 1, 1, 6.0f, false, false, true},
     2},
    {FormatKind::MxInt8,
     "mxint8",
     8,
     32,
     BlockScale::E8M0,
     8,
     false,
     true,
     {FormatKind::MxInt8, "int8", 8, 0, 0, 0, 0.0f, false, false, true},
     0},
    {FormatKind::NvFp4,
     "nvfp4",
     4,
     16,
     BlockScale::Fp8E4M3,
     8,
     true,
     false,
     {FormatKind::NvFp4, "e2m1", 4, 2, 1, 1, 6.0f, false, false, true},
     2},
    {FormatKind::IntGroup,
     "int_g",
     0,
     0,
     BlockScale::Fp16,
     16,
     false,
     true,
     {FormatKind::IntGroup, "int", 0, 0, 0, 0, 0.0f, false, false, true},
     0},
}};

constexpr bool block_table_is_complete() {
  for (int k = static_cast<int>(kFirstBlockKind); k < static_cast<int>(FormatKind::kCount); ++k) {
    bool found = false;
    for (const auto& t : kBlockFormats) found = found || static_cast<int>(t.kind) == k;
    if (!found) return false;
  }
  return true;
}
static_assert(block_table_is_complete(), "every block FormatKind needs a row in kBlockFormats");
constexpr bool block_elements_add_up() {
  for (const auto& t : kBlockFormats) {
    if (t.integer_elements) continue;
    const auto& e = t.element;
    if (e.bits != t.element_bits || e.bits != 1 + e.exponent_bits + e.mantissa_bits) return false;
    // The largest normal is 2^emax_elem x (a significand below 2).
    const float top = static_cast<float>(1 << t.emax_elem);
    if (!(e.max_finite >= top && e.max_finite < 2 * top)) return false;
  }
  return true;
}
static_assert(block_elements_add_up(), "a block format's element row disagrees with its emax");

inline constexpr int kMinIntBits = 2;
inline constexpr int kMaxIntBits = 16;

struct NumberFormat {
  FormatKind kind = FormatKind::Float32;
  int bits = 32;  // element bits for block formats
  int block = 0;  // block formats: elements per scale; 0 otherwise

  bool is_int() const { return kind == FormatKind::Int; }  // per-tensor/per-channel integers
  bool is_block() const { return kind >= kFirstBlockKind; }
  bool is_float() const { return !is_int() && !is_block(); }        // float_traits() exists
  bool is_identity() const { return kind == FormatKind::Float32; }  // no quantization
  const FloatFormatTraits& float_traits() const;                    // asserts is_float()
  const BlockFormatTraits& block_traits() const;                    // asserts is_block()
  std::string name() const;  // "int8", "fp16", "mxfp4", "int4_g128", ...
  // Bits per element as the BOPs metric counts them: a float format counts bits x sqrt(1.5);
  // a block format adds its scale's bits over the block (MXFP4: 4 sqrt(1.5) + 8/32).
  double effective_bits() const;
  // Bits per element in memory: element bits + scale bits / block (MXFP4 4.25, NVFP4 4.5; the
  // NVFP4 per-tensor FP32 scale is not counted per element).
  double storage_bits() const;
  auto operator<=>(const NumberFormat&) const = default;

  static NumberFormat integer(int bits) { return {FormatKind::Int, bits}; }
};

inline constexpr int kMinGroup = 16, kMaxGroup = 256;

// "int8", "int4", "8" (an integer bit count), "fp16", "bf16", "fp8e4m3", "fp8e5m2",
// "fp32"/"float" (left unquantized), the block formats "mxfp8_e4m3", "mxfp8_e5m2",
// "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4", "mxint8", "nvfp4" and "int<bits>_g<group>" (group a
// power of two in 16..256). Errors name the text and the allowed values.
Result<NumberFormat> parse_format(std::string_view text);

}  // namespace mpq
