#pragma once
// What mpq knows about an op type besides how to run it: its op class, how quantizer placement
// treats it, how it counts MACs, how it maps to a GEMM, how it treats the images of a batch.
// Every op states them in its row of sim's op registry (sim/ops/*.cpp, OpSpec::traits), next
// to its kernel, so adding an op edits one file. graph/ cannot include sim/: build_network takes
// the registry's lookup (sim passes find_op_traits) and keeps each node's traits in the
// Network, where op_class, quantizer placement and op stats read them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tensor.hpp"

namespace mpq {

struct Network;
struct OpNode;

// The granularity at which accelerator descriptions say what runs at which precision; the names
// (op_class_name) are the keys of configs/hw/*.yaml (op_classes:).
enum class OpClass {
  Conv,
  DepthwiseConv,  // Conv with group == input channels > 1
  ConvTranspose,
  Gemm,    // Gemm, and MatMul with a constant second input
  MatMul,  // MatMul of two activations
  Elementwise,
  Activation,
  Pooling,
  Normalization,
  Resize,
  DataMovement,
  Other
};

// How quantizer placement treats the op's float outputs.
enum class PlacementRole {
  Compute,       // an activation quantizer on each (unless fused or at internal precision)
  DataMovement,  // each carries its first float input's format; never part of a fused kernel
  PassThroughWhenNearest,  // as DataMovement in nearest mode (copies values), else Compute
};

// A GEMM view of a MAC op for hardware cost: `count` products of [m x k] by [k x n].
struct GemmView {
  std::int64_t count = 0, m = 0, n = 0, k = 0;
};

// The per-op functions; nullptr where the general rule applies.
struct OpTraitFunctions {
  // The class when it depends on the node (a depthwise Conv, a MatMul by a constant).
  OpClass (*refine_class)(const Network& net, const OpNode& n) = nullptr;
  // Multiply-accumulates per sample from the shapes of input 0 (x), input 1 (w) and output 0
  // (y) at batch 1; nullptr: none.
  std::int64_t (*macs)(const OpNode& n, const Shape& x, const Shape& w, const Shape& y) = nullptr;
  // The GEMM view of those MACs (`weight_is_activation`: input 1 is not a constant); nullptr or
  // a view that does not multiply out to `macs`: a flat macs x 1 x 1 view.
  GemmView (*gemm_view)(const OpNode& n, const Shape& x, const Shape& w, const Shape& y,
                        std::int64_t macs, bool weight_is_activation) = nullptr;
  // The output-channel axis of a constant input 1, which then gets a weight quantizer; nullptr:
  // the op has no weight.
  int (*weight_channel_axis)(const OpNode& n, const Shape& weight) = nullptr;
  // Whether the op's float output is >= 0 (an unsigned activation quantizer then suffices);
  // `inputs_non_negative`: all its float activation inputs are. nullptr: not known to be,
  // unless it only passes its input's format through.
  bool (*output_non_negative)(const Network& net, const OpNode& n,
                              bool inputs_non_negative) = nullptr;
  // Why this node mixes the images of a batch along axis 0 while keeping the shapes (a Softmax
  // over axis 0, a Gather along it), or nullopt. `rank`: input 0's; `data_per_image`: input 0
  // holds images, not a constant table. nullptr: never (an op moving axis 0 changes a per-image
  // shape, which sim/image_independence.cpp sees without help).
  std::optional<std::string> (*mixes_images)(const Network& net, const OpNode& n, std::size_t rank,
                                             bool data_per_image) = nullptr;
};

// How the op treats batch-size values (the Shape or Size of an image tensor), for
// check_images_independent: anywhere else the batch size would mix into the data.
struct BatchSizeUse {
  bool measures = false;    // Shape, Size: of an image tensor, gives the batch size
  bool arithmetic = false;  // shape arithmetic: batch-size values alone give batch-size values
  std::uint8_t shape_inputs = 0;  // bit k: input k only shapes the output (shape, sizes, bounds)
};

// How reverse mode (sim/backward.hpp) treats the op. An op on a path from an input or weight
// to an output either has a backward rule (OpSpec::backward) or says here that nothing flows.
struct GradientUse {
  // The outputs are integers or piecewise constant in the inputs (Shape, comparisons, Floor,
  // ArgMax): no gradient flows back through the op.
  bool none = false;
  // Bit k: input k gets no gradient (indices, shapes, axes, bounds). Integer inputs never do.
  std::uint8_t inert_inputs = 0;
};

struct OpTraits {
  OpClass op_class;
  PlacementRole placement;
  OpTraitFunctions fn;
  BatchSizeUse batch_sizes;
  GradientUse gradient;

  // No default: every registered op states its class and placement role (sim/op_registry.hpp
  // checks that a row without them does not compile).
  constexpr OpTraits(OpClass c, PlacementRole p, OpTraitFunctions f = {}, BatchSizeUse b = {},
                     GradientUse g = {})
      : op_class(c), placement(p), fn(f), batch_sizes(b), gradient(g) {}
  // The same traits with gradient use `g`.
  constexpr OpTraits with_gradient(GradientUse g) const {
    OpTraits t = *this;
    t.gradient = g;
    return t;
  }
};

// output_non_negative for ops whose output is >= 0 whatever the input (Relu, Sigmoid, Exp, ...)
// and for those that are when their inputs are (averages, maxima, concatenations).
inline bool always_non_negative(const Network&, const OpNode&, bool) {
  return true;
}
inline bool non_negative_if_inputs_are(const Network&, const OpNode&, bool inputs_non_negative) {
  return inputs_non_negative;
}

// The registry's lookup: nullptr for an op type mpq does not run.
using OpTraitsLookup = const OpTraits* (*)(std::string_view op_type);

}  // namespace mpq
