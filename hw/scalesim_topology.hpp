#pragma once
// SCALE-Sim topology CSV files as cost-only workloads (layer shapes, no weights):
//   Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter,
//   Strides,
// As in SCALE-Sim, inputs are given already padded and the output size is
// ceil((ifmap - filter + stride) / stride). A layer whose filter covers its whole input
// (SCALE-Sim's way of writing a fully connected layer) is class gemm, every other one conv.
#include <string>
#include <vector>

#include "core/result.hpp"
#include "layer_workload.hpp"

namespace mpq::hw {

Result<std::vector<LayerWorkload>> load_scalesim_topology(const std::string& path);
Result<std::vector<LayerWorkload>> parse_scalesim_topology(const std::string& text,
                                                           const std::string& path);

}  // namespace mpq::hw
