#include "tensor_proto.hpp"

#include <onnx/onnx_pb.h>

#include <bit>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mpq {
namespace {

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t man = h & 0x3ffu;
  std::uint32_t bits = 0;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalize
      exp = 127 - 15 + 1;
      while ((man & 0x400u) == 0) {
        man <<= 1;
        --exp;
      }
      man &= 0x3ffu;
      bits = sign | (exp << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_float(std::uint16_t h) {
  return std::bit_cast<float>(std::uint32_t{h} << 16);
}

template <class T>
T load_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

bool dtype_from_onnx(int t, DType& out) {
  using TP = onnx::TensorProto;
  switch (t) {
    case TP::FLOAT:
    case TP::DOUBLE:
    case TP::FLOAT16:
    case TP::BFLOAT16:
      out = DType::Float32;
      return true;
    case TP::INT8:
    case TP::UINT8:
    case TP::INT16:
    case TP::UINT16:
    case TP::INT32:
    case TP::UINT32:
    case TP::INT64:
    case TP::UINT64:
      out = DType::Int64;
      return true;
    case TP::BOOL:
      out = DType::Bool;
      return true;
    default:
      return false;
  }
}

namespace {

std::size_t raw_element_size(int data_type) {
  using TP = onnx::TensorProto;
  switch (data_type) {
    case TP::FLOAT:
    case TP::INT32:
    case TP::UINT32:
      return 4;
    case TP::DOUBLE:
    case TP::INT64:
    case TP::UINT64:
      return 8;
    case TP::FLOAT16:
    case TP::BFLOAT16:
    case TP::INT16:
    case TP::UINT16:
      return 2;
    default:
      return 1;
  }
}

// Elements stored in the typed field that holds `p`'s data type.
std::size_t typed_element_count(const onnx::TensorProto& p) {
  using TP = onnx::TensorProto;
  switch (p.data_type()) {
    case TP::FLOAT:
      return static_cast<std::size_t>(p.float_data_size());
    case TP::DOUBLE:
      return static_cast<std::size_t>(p.double_data_size());
    case TP::INT64:
      return static_cast<std::size_t>(p.int64_data_size());
    case TP::UINT32:
    case TP::UINT64:
      return static_cast<std::size_t>(p.uint64_data_size());
    default:  // float16, bfloat16, int8/16/32, uint8/16, bool live in int32_data
      return static_cast<std::size_t>(p.int32_data_size());
  }
}

}  // namespace

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& where) {
  using TP = onnx::TensorProto;
  if (p.data_location() == TP::EXTERNAL || p.external_data_size() > 0)
    return make_error(where +
                      ": weights stored as external data are not supported; re-save the model "
                      "with all tensors inside the .onnx file (onnx.save(model, path, "
                      "save_as_external_data=False))");
  Tensor t;
  if (!dtype_from_onnx(p.data_type(), t.dtype))
    return make_error(where + ": tensor element type " + TP::DataType_Name(p.data_type()) +
                      " is not supported");
  Shape shape(p.dims().begin(), p.dims().end());
  std::int64_t count = 1;
  for (auto d : shape) {
    // Also catches files that hold another proto type (sequences, optionals) parsed as a tensor.
    if (d < 0 || (d > 0 && count > (std::int64_t{1} << 40) / d))
      return make_error(where + ": invalid tensor shape " + shape_str(shape));
    count *= d;
  }
  const auto n = static_cast<std::size_t>(count);
  const std::string& raw = p.raw_data();
  const bool has_raw = p.has_raw_data();
  // Checked before allocating: a shape is only believed when the data is there.
  const std::size_t esize = raw_element_size(p.data_type());
  if (has_raw && raw.size() != n * esize)
    return make_error(where + ": raw data holds " + std::to_string(raw.size()) +
                      " bytes, but shape " + shape_str(shape) + " needs " +
                      std::to_string(n * esize));
  if (!has_raw && typed_element_count(p) != n)
    return make_error(where + ": element count does not match shape " + shape_str(shape));
  t.allocate(shape);

  auto put = [&](std::size_t k, double v) {
    if (t.dtype == DType::Float32)
      t.f[k] = static_cast<float>(v);
    else
      t.i[k] = static_cast<std::int64_t>(v);
  };

  if (has_raw) {
    const char* d = raw.data();
    for (std::size_t k = 0; k < n; ++k) {
      const char* e = d + k * esize;
      switch (p.data_type()) {
        case TP::FLOAT:
          t.f[k] = load_le<float>(e);
          break;
        case TP::DOUBLE:
          t.f[k] = static_cast<float>(load_le<double>(e));
          break;
        case TP::FLOAT16:
          t.f[k] = half_to_float(load_le<std::uint16_t>(e));
          break;
        case TP::BFLOAT16:
          t.f[k] = bf16_to_float(load_le<std::uint16_t>(e));
          break;
        case TP::INT8:
          t.i[k] = load_le<std::int8_t>(e);  // NOLINT(bugprone-signed-char-misuse): int8, signed
          break;
        case TP::UINT8:
          t.i[k] = load_le<std::uint8_t>(e);
          break;
        case TP::BOOL:
          t.i[k] = load_le<std::uint8_t>(e) != 0;
          break;
        case TP::INT16:
          t.i[k] = load_le<std::int16_t>(e);
          break;
        case TP::UINT16:
          t.i[k] = load_le<std::uint16_t>(e);
          break;
        case TP::INT32:
          t.i[k] = load_le<std::int32_t>(e);
          break;
        case TP::UINT32:
          t.i[k] = load_le<std::uint32_t>(e);
          break;
        case TP::INT64:
          t.i[k] = load_le<std::int64_t>(e);
          break;
        case TP::UINT64:
          t.i[k] = static_cast<std::int64_t>(load_le<std::uint64_t>(e));
          break;
        default:
          break;
      }
    }
    return t;
  }
  switch (p.data_type()) {
    case TP::FLOAT:
      for (std::size_t k = 0; k < n; ++k) t.f[k] = p.float_data(static_cast<int>(k));
      break;
    case TP::DOUBLE:
      for (std::size_t k = 0; k < n; ++k) put(k, p.double_data(static_cast<int>(k)));
      break;
    case TP::INT64:
      for (std::size_t k = 0; k < n; ++k) t.i[k] = p.int64_data(static_cast<int>(k));
      break;
    case TP::UINT32:
    case TP::UINT64:
      for (std::size_t k = 0; k < n; ++k)
        t.i[k] = static_cast<std::int64_t>(p.uint64_data(static_cast<int>(k)));
      break;
    case TP::FLOAT16:
    case TP::BFLOAT16:
      for (std::size_t k = 0; k < n; ++k) {
        const auto bits = static_cast<std::uint16_t>(p.int32_data(static_cast<int>(k)));
        t.f[k] = p.data_type() == TP::FLOAT16 ? half_to_float(bits) : bf16_to_float(bits);
      }
      break;
    default:  // int8/16/32, uint8/16, bool live in int32_data
      for (std::size_t k = 0; k < n; ++k) {
        const auto v = p.int32_data(static_cast<int>(k));
        t.i[k] = p.data_type() == TP::BOOL ? (v != 0) : v;
      }
  }
  return t;
}

Result<Tensor> read_tensor_pb(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot open tensor file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  onnx::TensorProto p;
  if (!p.ParseFromString(ss.str()))
    return make_error("'" + path + "' is not a serialized ONNX TensorProto");
  return tensor_from_proto(p, path);
}

}  // namespace mpq
