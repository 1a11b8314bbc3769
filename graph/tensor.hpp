#pragma once
// A dense row-major tensor. Float data lives in `f`; integer and boolean data in `i`
// (booleans as 0/1), so every ONNX integer type maps to Int64 and every float type to Float32.
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <vector>

namespace mpq {

enum class DType : std::uint8_t { Float32, Int64, Bool };

using Shape = std::vector<std::int64_t>;

// Float data starts on a 64-byte boundary, so that vectorized reductions split a row the same
// way in every run: with malloc's 16-byte alignment the summation order (and so the rounding)
// would depend on where the heap put the buffer.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
};
using FloatBuffer = std::vector<float, AlignedAllocator<float>>;

std::int64_t numel(std::span<const std::int64_t> shape);
std::string shape_str(std::span<const std::int64_t> shape);
const char* dtype_name(DType t);

struct Tensor {
  DType dtype = DType::Float32;
  Shape shape;
  FloatBuffer f;
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
