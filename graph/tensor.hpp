#pragma once
// A dense row-major tensor. Float data lives in `f`; integer and boolean data in `i`
// (booleans as 0/1), so every ONNX integer type maps to Int64 and every float type to Float32.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mpq {

enum class DType : std::uint8_t { Float32, Int64, Bool };

using Shape = std::vector<std::int64_t>;

std::int64_t numel(std::span<const std::int64_t> shape);
std::string shape_str(std::span<const std::int64_t> shape);
const char* dtype_name(DType t);

struct Tensor {
  DType dtype = DType::Float32;
  Shape shape;
  std::vector<float> f;
  std::vector<std::int64_t> i;

  static Tensor zeros(Shape shape, DType t = DType::Float32);
  static Tensor scalar_f(float v);
  static Tensor scalar_i(std::int64_t v);
  static Tensor from_ints(const std::vector<std::int64_t>& v);  // 1-D Int64

  std::int64_t size() const { return numel(shape); }
  std::int64_t rank() const { return static_cast<std::int64_t>(shape.size()); }
  bool is_float() const { return dtype == DType::Float32; }
  // Resize storage for `s` elements of the current dtype.
  void allocate(Shape s);
  // Value k as double / int64 regardless of dtype (for small index/shape tensors).
  double at_f(std::int64_t k) const;
  std::int64_t at_i(std::int64_t k) const;
  std::vector<std::int64_t> to_ints() const;
};

// Row-major strides of a shape.
std::vector<std::int64_t> strides_of(std::span<const std::int64_t> shape);

}  // namespace mpq
