#pragma once
// Eigen for the op kernels, plus the flat float array views they share.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
// GCC 12 reports false (maybe-)uninitialized uses inside its own AVX-512 intrinsics when Eigen
// vectorizes min/max/exp under -march=native (GCC bug 105593); the pragma covers the rest of
// the including file, where those intrinsics get inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Dense>

namespace mpq::ops {

using ArrF = Eigen::Array<float, Eigen::Dynamic, 1>;
using CMapF = Eigen::Map<const ArrF>;
using MapF = Eigen::Map<ArrF>;

}  // namespace mpq::ops
