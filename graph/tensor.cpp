#include "tensor.hpp"

#include <cassert>
#include <sstream>

namespace mpq {

std::int64_t numel(std::span<const std::int64_t> shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_str(std::span<const std::int64_t> shape) {
  std::ostringstream os;
  os << '[';
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) os << 'x';
    if (shape[k] < 0)
      os << '?';
    else
      os << shape[k];
  }
  os << ']';
  return os.str();
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::Int64:
      return "int64";
    case DType::Bool:
      return "bool";
  }
  return "?";
}

Tensor Tensor::zeros(Shape s, DType t) {
  Tensor x;
  x.dtype = t;
  x.allocate(std::move(s));
  return x;
}

Tensor Tensor::scalar_f(float v) {
  Tensor x;
  x.f = {v};
  return x;
}

Tensor Tensor::scalar_i(std::int64_t v) {
  Tensor x;
  x.dtype = DType::Int64;
  x.i = {v};
  return x;
}

Tensor Tensor::from_ints(const std::vector<std::int64_t>& v) {
  Tensor x;
  x.dtype = DType::Int64;
  x.shape = {static_cast<std::int64_t>(v.size())};
  x.i = v;
  return x;
}

void Tensor::allocate(Shape s) {
  shape = std::move(s);
  const auto n = static_cast<std::size_t>(numel(shape));
  if (dtype == DType::Float32) {
    f.assign(n, 0.0f);
    i.clear();
  } else {
    i.assign(n, 0);
    f.clear();
  }
}

double Tensor::at_f(std::int64_t k) const {
  return dtype == DType::Float32 ? static_cast<double>(f[static_cast<std::size_t>(k)])
                                 : static_cast<double>(i[static_cast<std::size_t>(k)]);
}

std::int64_t Tensor::at_i(std::int64_t k) const {
  return dtype == DType::Float32 ? static_cast<std::int64_t>(f[static_cast<std::size_t>(k)])
                                 : i[static_cast<std::size_t>(k)];
}

std::vector<std::int64_t> Tensor::to_ints() const {
  std::vector<std::int64_t> v(static_cast<std::size_t>(size()));
  for (std::int64_t k = 0; k < size(); ++k) v[static_cast<std::size_t>(k)] = at_i(k);
  return v;
}

std::vector<std::int64_t> strides_of(std::span<const std::int64_t> shape) {
  std::vector<std::int64_t> st(shape.size(), 1);
  for (std::size_t k = shape.size(); k-- > 1;) st[k - 1] = st[k] * shape[k];
  return st;
}

}  // namespace mpq
