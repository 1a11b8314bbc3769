#pragma once
// The number formats a tensor can be stored in: integers of 2..16 bits and the float formats
// fp16, bf16, fp8 e4m3 and e5m2 (and fp32, meaning "not quantized"). One constexpr traits row
// per float format; a format added to the enum without its row breaks the build. The one
// description of a format that the simulator (rounding) and the cost models (bits) share.
#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "result.hpp"

namespace mpq {

enum class FormatKind : std::uint8_t { Int, Fp16, Bf16, Fp8E4M3, Fp8E5M2, Float32, kCount };

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
  for (int k = static_cast<int>(FormatKind::Fp16); k < static_cast<int>(FormatKind::kCount); ++k) {
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

inline constexpr int kMinIntBits = 2;
inline constexpr int kMaxIntBits = 16;

struct NumberFormat {
  FormatKind kind = FormatKind::Float32;
  int bits = 32;

  bool is_int() const { return kind == FormatKind::Int; }
  bool is_float() const { return !is_int(); }
  bool is_identity() const { return kind == FormatKind::Float32; }  // no quantization
  const FloatFormatTraits& float_traits() const;                    // asserts is_float()
  std::string name() const;                                         // "int8", "fp16", ...
  // Bits as the BOPs metric counts them: a float format counts bits x sqrt(1.5).
  double effective_bits() const;
  auto operator<=>(const NumberFormat&) const = default;

  static NumberFormat integer(int bits) { return {FormatKind::Int, bits}; }
};

// "int8", "int4", "8" (an integer bit count), "fp16", "bf16", "fp8e4m3", "fp8e5m2",
// "fp32"/"float" (left unquantized). Errors name the text and the allowed values.
Result<NumberFormat> parse_format(std::string_view text);

}  // namespace mpq
