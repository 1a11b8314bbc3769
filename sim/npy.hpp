#pragma once
// NumPy .npy files (format 1.0/2.0, C order): float16/32/64, int8..64, uint8..64, bool.
#include <string>

#include "core/result.hpp"
#include "graph/tensor.hpp"

namespace mpq {

Result<Tensor> read_npy(const std::string& path);
// Float32 tensors as '<f4', Int64 as '<i8', Bool as '|b1'. Written to a temp file, then renamed.
Status write_npy(const std::string& path, const Tensor& t);

}  // namespace mpq
