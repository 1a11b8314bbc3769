#pragma once
// How one quantizer's number format is written in ONNX at a given opset: the element type of
// the QuantizeLinear output (or of the integer initializer), the Cast target of fp16/bf16,
// and whether a narrow integer grid sits on a wider carrier type.
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "sim/fake_quant.hpp"

namespace mpq {

// TensorProto.DataType codes. libonnx 1.12 predates the 8-bit float (IR 9) and 4-bit (IR 10)
// codes, so they are spelled out here.
enum class OnnxType : int {
  Float = 1,
  Uint8 = 2,
  Int8 = 3,
  Uint16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  Float16 = 10,
  Bfloat16 = 16,
  Float8E4M3FN = 17,
  Float8E5M2 = 19,
  Uint4 = 21,
  Int4 = 22,
};
const char* onnx_type_name(OnnxType t);

// First opsets that define QuantizeLinear/DequantizeLinear for these types.
inline constexpr int kOpsetFloat8 = 19;     // float8 Q/DQ (and IR version 9)
inline constexpr int kOpsetInt4Int16 = 21;  // int4/uint4, int16/uint16 Q/DQ (IR version 10)

enum class QdqKind : std::uint8_t {
  None,      // fp32: left in float
  Quantize,  // QuantizeLinear/DequantizeLinear (integers and fp8)
  Cast,      // Cast to fp16/bf16 and back
};

struct QdqFormat {
  QdqKind kind = QdqKind::None;
  OnnxType type = OnnxType::Float;  // Q output / integer initializer / Cast target
  int bits = 32;                    // the format's own width
  int carrier_bits = 32;            // the width of `type`
  // Integer grid [qmin, qmax] narrower than the carrier type's range: activations get a Clip
  // to (qmin - zp) x s .. (qmax - zp) x s before QuantizeLinear, so that QuantizeLinear
  // yields only values of the narrow grid (weights are stored already on it).
  bool narrow = false;
};

// The nodes an export inserted.
struct QdqNodeCounts {
  int quantize = 0, dequantize = 0, clip = 0, cast = 0;
};

// Errors name the quantizer and say which opset would represent the format.
Result<QdqFormat> qdq_format(const QuantParams& p, int opset, const std::string& quantizer);

// Integers as the raw_data of `type` (little-endian; 4-bit: two per byte, low nibble first).
std::string pack_ints(const std::vector<std::int32_t>& v, OnnxType type);
// Floats already on the grid of `type` (fake-quantized), as its raw_data: Float16, Bfloat16,
// Float8E4M3FN or Float8E5M2 (fp8 values divided by their scale). Integer zero points of
// float8 (always 0) go through pack_ints as one zero byte each.
std::string pack_floats(const std::vector<float>& v, OnnxType type);

}  // namespace mpq
