#pragma once
// The smoothness prior of input synthesis: the squared total variation of each sample, the sum of
// squared differences between neighbours along the spatial axes, divided by the sample's element
// count (so that the weight means the same for any image size).
#include <cstdint>
#include <vector>

#include "graph/tensor.hpp"

namespace mpq {

// Which axes of a batch [N, ...] are spatial: [N, C, H, W] -> {2, 3}, [N, H, W, C] -> {1, 2},
// [N, H, W] -> {1, 2}, [N, D] -> {1}.
std::vector<std::int64_t> spatial_axes(const Shape& batch, bool channels_last);

// Per sample n: TV_n = sum over the axes a and positions p with a next neighbour along a of
// (x[p + e_a] - x[p])^2, / (elements per sample). Returns TV_n summed over the batch and, with
// `grad`, adds weight * dTV/dx to it (grad has x's shape).
double total_variation(const Tensor& x, const std::vector<std::int64_t>& axes, double weight,
                       Tensor* grad);

}  // namespace mpq
