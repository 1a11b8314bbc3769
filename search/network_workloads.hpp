#pragma once
// The network's MAC ops as cost-model workloads, each with the quantizer groups that set its
// operand formats.
#include <cstddef>
#include <vector>

#include "graph/quantizer_groups.hpp"
#include "hw/layer_workload.hpp"

namespace mpq {

// The groups whose candidates decide a layer's cost. -1: none.
struct LayerGroups {
  int mac = -1;      // the group of its first input: weights and MACs run at its candidate
  int operand = -1;  // MatMul of two activations: the second operand's group (its activation
                     // format plays the weight's role)
  int output = -1;   // the group whose activation format the output is stored in; -1: the
                     // output keeps the mac group's activation format
};

struct NetworkLayer {
  std::size_t node = 0;
  hw::LayerWorkload workload;
  LayerGroups groups;
};

// One layer per MAC op (Conv, ConvTranspose, Gemm, MatMul) with MACs > 0 and a quantized input,
// in topological order.
std::vector<NetworkLayer> network_layers(const Network& net, const QuantizerPlacement& p,
                                         const QuantizerGroups& groups);

// The workload of one MAC op from its shapes at batch 1.
hw::LayerWorkload workload_of(const Network& net, std::size_t node);

}  // namespace mpq
