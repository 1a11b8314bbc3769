#include "qdq_format.hpp"

#include <bit>
#include <cmath>

namespace mpq {
namespace {

struct Range {
  std::int32_t lo, hi;
};
Range type_range(OnnxType t) {
  switch (t) {
    case OnnxType::Int4:
      return {-8, 7};
    case OnnxType::Uint4:
      return {0, 15};
    case OnnxType::Int8:
      return {-128, 127};
    case OnnxType::Uint8:
      return {0, 255};
    case OnnxType::Int16:
      return {-32768, 32767};
    case OnnxType::Uint16:
      return {0, 65535};
    default:
      return {INT32_MIN, INT32_MAX};
  }
}

Result<QdqFormat> int_format(const QuantParams& p, int opset, const std::string& quantizer) {
  const bool is_signed = p.qmin < 0;
  const int bits = p.format.bits;
  QdqFormat f;
  f.kind = QdqKind::Quantize;
  f.bits = bits;
  if (bits == 4 && opset >= kOpsetInt4Int16) {
    f.carrier_bits = 4;
    f.type = is_signed ? OnnxType::Int4 : OnnxType::Uint4;
  } else if (bits <= 8) {
    f.carrier_bits = 8;
    f.type = is_signed ? OnnxType::Int8 : OnnxType::Uint8;
  } else if (opset >= kOpsetInt4Int16) {
    f.carrier_bits = 16;
    f.type = is_signed ? OnnxType::Int16 : OnnxType::Uint16;
  } else {
    return make_error("quantizer '" + quantizer + "' is " + p.format.name() + ", which opset " +
                      std::to_string(opset) +
                      " cannot represent: QuantizeLinear has 16-bit types from opset 21 on "
                      "(use --opset 21)");
  }
  const Range r = type_range(f.type);
  if (p.qmin < r.lo || p.qmax > r.hi)
    return make_error("quantizer '" + quantizer + "': grid [" + std::to_string(p.qmin) + ", " +
                      std::to_string(p.qmax) + "] does not fit " + onnx_type_name(f.type));
  for (auto zp : p.zero_point)
    if (zp < r.lo || zp > r.hi)
      return make_error("quantizer '" + quantizer + "': zero point " + std::to_string(zp) +
                        " does not fit " + onnx_type_name(f.type));
  f.narrow = p.qmin != r.lo || p.qmax != r.hi;
  return f;
}

// Bits of a float that is exactly representable in a format with `e` exponent and `m`
// mantissa bits and exponent bias `bias` (it was rounded to that format before).
// e4m3fn (no infinities) spells NaN as all ones.
std::uint16_t exact_minifloat_bits(float x, int e, int m, int bias, bool fn) {
  const std::uint32_t b = std::bit_cast<std::uint32_t>(x);
  const auto sign = static_cast<std::uint16_t>(b >> 31 << (e + m));
  const auto all_ones = static_cast<std::uint16_t>(((1u << e) - 1) << m);
  if (std::isnan(x))
    return sign | all_ones | static_cast<std::uint16_t>(fn ? (1u << m) - 1 : 1u << (m - 1));
  if (std::isinf(x)) return sign | all_ones;
  const float a = std::fabs(x);
  if (a == 0.0f) return sign;
  int exp = 0;
  const float frac = std::frexp(a, &exp);  // a = frac x 2^exp, frac in [0.5, 1)
  if (exp >= 2 - bias) {                   // normal: 1.f x 2^(exp-1)
    const auto mant = static_cast<std::uint32_t>(std::ldexp(frac, m + 1)) & ((1u << m) - 1);
    return sign |
           static_cast<std::uint16_t>(static_cast<std::uint32_t>(exp - 1 + bias) << m | mant);
  }
  return sign | static_cast<std::uint16_t>(std::ldexp(a, bias - 1 + m));  // subnormal
}

}  // namespace

const char* onnx_type_name(OnnxType t) {
  switch (t) {
    case OnnxType::Float:
      return "float";
    case OnnxType::Uint8:
      return "uint8";
    case OnnxType::Int8:
      return "int8";
    case OnnxType::Uint16:
      return "uint16";
    case OnnxType::Int16:
      return "int16";
    case OnnxType::Int32:
      return "int32";
    case OnnxType::Int64:
      return "int64";
    case OnnxType::Float16:
      return "float16";
    case OnnxType::Bfloat16:
      return "bfloat16";
    case OnnxType::Float8E4M3FN:
      return "float8e4m3fn";
    case OnnxType::Float8E5M2:
      return "float8e5m2";
    case OnnxType::Uint4:
      return "uint4";
    case OnnxType::Int4:
      return "int4";
  }
  return "?";
}

Result<QdqFormat> qdq_format(const QuantParams& p, int opset, const std::string& quantizer) {
  if (p.format.is_identity()) return QdqFormat{};
  if (p.format.is_int()) return int_format(p, opset, quantizer);
  if (p.format.is_block())
    return make_error("quantizer '" + quantizer + "' is " + p.format.name() +
                      ", a block-scaled format, which mpq does not export yet (blocked "
                      "DequantizeLinear of opset 21 is not written)");
  QdqFormat f;
  f.bits = f.carrier_bits = p.format.bits;
  switch (p.format.kind) {
    case FormatKind::Fp16:
    case FormatKind::Bf16:
      f.kind = QdqKind::Cast;
      f.type = p.format.kind == FormatKind::Fp16 ? OnnxType::Float16 : OnnxType::Bfloat16;
      return f;
    case FormatKind::Fp8E4M3:
    case FormatKind::Fp8E5M2:
      if (opset < kOpsetFloat8)
        return make_error("quantizer '" + quantizer + "' is " + p.format.name() + ", which opset " +
                          std::to_string(opset) +
                          " cannot represent: QuantizeLinear has float8 types from opset 19 on "
                          "(use --opset 19 or later)");
      f.kind = QdqKind::Quantize;
      f.type = p.format.kind == FormatKind::Fp8E4M3 ? OnnxType::Float8E4M3FN : OnnxType::Float8E5M2;
      return f;
    default:
      return QdqFormat{};
  }
}

std::string pack_ints(const std::vector<std::int32_t>& v, OnnxType type) {
  std::string s;
  if (type == OnnxType::Int4 || type == OnnxType::Uint4) {
    s.assign((v.size() + 1) / 2, '\0');
    for (std::size_t k = 0; k < v.size(); ++k) {
      const auto nibble = static_cast<unsigned char>(static_cast<unsigned>(v[k]) & 0xfu);
      s[k / 2] =
          static_cast<char>(static_cast<unsigned char>(s[k / 2]) | (k % 2 ? nibble << 4 : nibble));
    }
    return s;
  }
  const bool byte = type == OnnxType::Int8 || type == OnnxType::Uint8 ||
                    type == OnnxType::Float8E4M3FN || type == OnnxType::Float8E5M2;
  const std::size_t width = byte ? 1 : type == OnnxType::Int16 || type == OnnxType::Uint16 ? 2 : 4;
  s.reserve(v.size() * width);
  for (auto x : v) {
    const auto u = static_cast<std::uint32_t>(x);
    for (std::size_t b = 0; b < width; ++b) s.push_back(static_cast<char>((u >> (8 * b)) & 0xffu));
  }
  return s;
}

std::string pack_floats(const std::vector<float>& v, OnnxType type) {
  std::string s;
  s.reserve(v.size() * 2);
  for (float x : v) {
    switch (type) {
      case OnnxType::Float16: {
        const std::uint16_t h = exact_minifloat_bits(x, 5, 10, 15, false);
        s.push_back(static_cast<char>(h & 0xffu));
        s.push_back(static_cast<char>(h >> 8));
        break;
      }
      case OnnxType::Bfloat16: {
        const auto h = static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(x) >> 16);
        s.push_back(static_cast<char>(h & 0xffu));
        s.push_back(static_cast<char>(h >> 8));
        break;
      }
      case OnnxType::Float8E4M3FN:
        s.push_back(static_cast<char>(exact_minifloat_bits(x, 4, 3, 7, true)));
        break;
      default:  // Float8E5M2
        s.push_back(static_cast<char>(exact_minifloat_bits(x, 5, 2, 15, false)));
    }
  }
  return s;
}

}  // namespace mpq
