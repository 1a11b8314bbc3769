#pragma once
// Where quantizers sit on the network, as the reference PTQ tools place them by default:
// a weight quantizer on every Conv/ConvTranspose/Gemm/MatMul weight, an activation quantizer
// on each model input and on the output of each compute op. Data-movement ops pass their
// input's format through. Op chains the target runs as one kernel (PlacementRules: by default
// any compute op followed by its sole consumer Relu or Clip, the activation applied in the
// accumulator's store) have no quantizer inside: only the chain's last output is quantized.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "network.hpp"

namespace mpq {

enum class QuantizerKind { Weight, Activation };

struct Quantizer {
  std::string name;  // the quantized tensor's name: unique, stable across runs
  QuantizerKind kind = QuantizerKind::Activation;
  // Weight: the consuming node. Activation: the producing node, or kNoNode for a model input.
  std::size_t node = 0;
  int channel_axis = -1;  // weights: the output-channel axis of the weight tensor
  // Where block-scaled formats put their blocks: the axes [reduction_axis, reduction_axis +
  // reduction_axes) flattened (row-major). Weights: the consuming op's input-channel axis, or
  // for a depthwise Conv (one input channel per group) the whole kernel window. Activations:
  // see activation_reduction_axis in quantizer_placement.cpp. -1: none (a scalar).
  int reduction_axis = -1;
  int reduction_axes = 1;
  bool non_negative = false;  // activations: structurally >= 0 (after Relu, Relu6, Sigmoid, ...)
  bool model_output = false;  // activations: a model output
  static constexpr std::size_t kNoNode = static_cast<std::size_t>(-1);
};

// What runs fused, as quantizer placement sees it (an accelerator's `fusion:` rules, handed
// over by search/; hw/fusion_rules.hpp checks their names).
struct PlacementRules {
  // Producer first; "*" first = any op that computes and is not the sequence's next op. A chain
  // matches when each op's only output is consumed by the next op alone.
  std::vector<std::vector<std::string>> fused_sequences;
  // Op types computed at higher precision whose output is not quantized: consumers read the
  // wide value, the next quantizer downstream applies.
  std::vector<std::string> internal_precision;

  static PlacementRules defaults();  // {*, Relu}, {*, Clip}
  std::string describe() const;      // "*>Relu, *>Clip; internal: Softmax"
};

struct QuantizerPlacement {
  std::vector<Quantizer> quantizers;  // activations in topological order, then weights
  std::map<std::string, std::size_t> by_name;
  // Every float activation tensor -> the activation quantizer whose format it carries
  // (itself, or the source seen through data-movement ops). Absent for fused intermediates.
  std::map<std::string, std::size_t> format_source;
  std::string rules;  // PlacementRules::describe() of the rules it was placed by

  const Quantizer* find(const std::string& name) const;
  // The quantizer of input `k` of node `node`: a weight quantizer, or the activation
  // quantizer the input's format comes from; nullptr when unquantized.
  const Quantizer* input_quantizer(const Network& net, std::size_t node, std::size_t k) const;
};

// Node k only moves data (PlacementRole::DataMovement): its output carries the format of its
// first float input, and it is never part of a fused kernel.
bool is_data_movement_node(const Network& net, std::size_t k);
// Node k gets a weight quantizer on input 1 when that input is a constant (its traits name the
// weight's output-channel axis).
bool has_weight_quantizer(const Network& net, std::size_t k);

QuantizerPlacement place_quantizers(const Network& net,
                                    const PlacementRules& rules = PlacementRules::defaults());

// A short digest of which quantizers exist (names and kinds) and of the rules: configurations
// record it, so one made for another placement (other fusion rules, another canonicalization)
// is refused when read.
std::string placement_fingerprint(const QuantizerPlacement& p);

}  // namespace mpq
