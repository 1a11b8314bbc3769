#pragma once
// Fused ops (graph/canonicalize.hpp) written for an ONNX runtime: as themselves where the
// target opset has the op (HardSwish from 14, LayerNormalization from 17, Gelu from 20), else
// as the subgraph they stand for. The subgraph ends in the fused op's own output tensor, so
// the exporter's Q/DQ after it stays the only one: nothing inside is quantized.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "graph/model.hpp"

namespace mpq {

// `n` itself, or its subgraph at `opset`. `rank` is the rank of n's input 0 (normalizations
// need it for their axes); `fresh` names intermediate tensors and new constants, which go
// into `constants`.
std::vector<OpNode> standard_ops(const OpNode& n, std::int64_t opset, std::int64_t rank,
                                 const std::function<std::string(const std::string&)>& fresh,
                                 std::map<std::string, Tensor>& constants);

}  // namespace mpq
