#pragma once
// Where quantizers sit on the network, as the reference PTQ tools place them by default:
// a weight quantizer on every Conv/ConvTranspose/Gemm/MatMul weight, an activation quantizer
// on each model input and on the output of each compute op. Data-movement ops pass their
// input's format through. A compute op whose only consumer is Relu/Clip is fused with it
// (hardware applies the activation in the accumulator's store), so the quantizer sits on the
// activation's output only.
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
  int channel_axis = -1;      // weights: the output-channel axis of the weight tensor
  bool non_negative = false;  // activations: structurally >= 0 (after Relu, Relu6, Sigmoid, ...)
  bool model_output = false;  // activations: a model output
  static constexpr std::size_t kNoNode = static_cast<std::size_t>(-1);
};

struct QuantizerPlacement {
  std::vector<Quantizer> quantizers;  // activations in topological order, then weights
  std::map<std::string, std::size_t> by_name;
  // Every float activation tensor -> the activation quantizer whose format it carries
  // (itself, or the source seen through data-movement ops). Absent for fused intermediates.
  std::map<std::string, std::size_t> format_source;

  const Quantizer* find(const std::string& name) const;
  // The quantizer of input `k` of node `node`: a weight quantizer, or the activation
  // quantizer the input's format comes from; nullptr when unquantized.
  const Quantizer* input_quantizer(const Network& net, std::size_t node, std::size_t k) const;
};

// Ops whose output carries the format of their (first float) input.
bool is_data_movement_op(const std::string& op_type);
// Ops with a weight quantizer on input 1 when that input is a constant.
bool has_weight_quantizer(const std::string& op_type);
// Output-channel axis of the weight (input 1) of `n`.
int weight_channel_axis(const OpNode& n, const Shape& weight_shape);

QuantizerPlacement place_quantizers(const Network& net);

}  // namespace mpq
