#pragma once
// One registry of op kernels keyed by ONNX op_type (ncnn style): each op family lives in its
// own file under ops/ and adds its OpSpecs in a register_*_ops function.
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "graph/model.hpp"
#include "graph/op_traits.hpp"
#include "graph/tensor.hpp"

namespace mpq {

// Weights a kernel derived from a constant input (repacked panels, Winograd transforms), kept by
// the engine per step across runs, so batch after batch reuses one repack. An entry is found by
// the constant's data pointer and `key` (what it holds: the kernel's path and sizes); the
// engine drops a source's entries whenever that constant is set again (its values may be new).
// Several entries: a sweep switches a step between the weights of its candidates.
struct DerivedWeights {
  struct Entry {
    const float* source = nullptr;
    std::array<std::int64_t, 4> key{};
    std::vector<float> data;
  };
  static constexpr std::size_t kMaxEntries = 8;
  std::vector<Entry> entries;
};

// The ops the engine folded into a kernel's call: each is only set for ops whose OpSpec says
// the kernel takes it, and is applied in the order bias or scale, residual, clamp, pool.
struct OutputFolds {
  // A Relu/Clip: clamp every output to [act_min, act_max] (OpSpec::takes_output_clamp).
  float act_min = -std::numeric_limits<float>::infinity();
  float act_max = std::numeric_limits<float>::infinity();
  // An Add of a constant vector along the last axis: add out_bias[j] to every output element
  // with last index j, after computing it (OpSpec::takes_output_bias).
  const float* out_bias = nullptr;
  std::int64_t out_bias_len = 0;
  // Applied to the op's own result before the folded bias is added (a per-tensor quantizer
  // of the op's output); may be called on any run of the output.
  const std::function<void(std::span<float>)>* before_bias = nullptr;
  // An Add of a tensor of the output's own shape: output element e becomes (result +
  // out_residual[e]), then clamped (OpSpec::takes_output_residual).
  const float* out_residual = nullptr;
  // A Relu/Clip and then a MaxPool (2x2 kernel, stride 2, no padding, floor): write the pool of
  // the clamped result, [N, C, H / 2, W / 2] of a [N, C, H, W] output
  // (OpSpec::takes_output_max_pool).
  bool out_max_pool = false;
  // Transposes (OpSpec::takes_transposes): input k is read as numpy.transpose(input k,
  // *in_perm[k]) when in_perm[k] is set, and the output is written as numpy.transpose(result,
  // *out_perm) when out_perm is set (the kernel shapes it so).
  const std::vector<std::int64_t>* in_perm[2] = {nullptr, nullptr};
  const std::vector<std::int64_t>* out_perm = nullptr;
  // A Mul by a scalar constant: every result is multiplied by *out_scale before anything else
  // is applied (OpSpec::takes_output_scale).
  const float* out_scale = nullptr;
  bool has_clamp() const {
    return act_min != -std::numeric_limits<float>::infinity() ||
           act_max != std::numeric_limits<float>::infinity();
  }
};

struct OpContext {
  const OpNode& node;
  std::int64_t opset;
  OutputFolds folds = {};
  // Input 0's storage, which the kernel may take over (swap into its output): nothing reads
  // that input after this op. Only for ops whose OpSpec says reuses_input0.
  Tensor* reusable_input = nullptr;
  // The elementwise hook (per-tensor quantizer) of the op's final output, for kernels that
  // apply it as they store (OpSpec::applies_output_hook): the engine then does not run it.
  const std::function<void(std::span<float>)>* output_hook = nullptr;
  // Set when every input but input 0 is a constant: the step's cache of derived weights.
  DerivedWeights* derived = nullptr;
};

// Thrown by kernels on inputs they cannot process (shape mismatch, bad values); the engine
// turns it into an Error that names the node.
class OpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// inputs[k] is nullptr where optional input k is omitted; outputs has one Tensor per node
// output, to be filled (dtype, shape, data) by the kernel. Output tensors are reused across
// runs, so kernels should call Tensor::allocate rather than build new vectors.
using KernelFn = void (*)(const OpContext& ctx, std::span<const Tensor* const> inputs,
                          std::span<Tensor> outputs);
// A backward rule (reverse mode, sim/backward.hpp): from the op's inputs and outputs of the
// forward run and out_grads[k] = dL/d(output k) (zeros when no gradient reaches output k;
// nullptr for a non-float output), writes dL/d(input k) into *in_grads[k] (reshaped to input
// k's shape, overwritten) for every k where in_grads[k] is set (nullptr: not wanted).
struct GradContext {
  const OpNode& node;
  std::int64_t opset;
  std::span<const Tensor* const> inputs;
  std::span<const Tensor* const> outputs;
  std::span<const Tensor* const> out_grads;
  std::span<Tensor* const> in_grads;
};
using BackwardFn = void (*)(const GradContext& ctx);

// Rejects attribute values the kernel does not implement, at import time, with a message.
using ValidateFn = std::optional<std::string> (*)(const OpNode& node, std::int64_t opset);

// One row per op type: its kernel and its traits (graph/op_traits.hpp: op class, placement
// role, MACs, GEMM view, batch behaviour). OpTraits has no default, so a row without traits
// does not compile.
struct OpSpec {
  std::string_view op_type;
  OpTraits traits;
  KernelFn run = nullptr;
  ValidateFn validate = nullptr;
  // The kernel clamps its output to ctx.act_min/act_max in its store, so the engine may fold
  // a following Relu/Clip into it (one pass over the output instead of two).
  bool takes_output_clamp = false;
  // The kernel may take over input 0's storage via OpContext::reusable_input.
  bool reuses_input0 = false;
  // The kernel adds OpContext::folds.out_bias to its output (engine folds a following bias Add).
  bool takes_output_bias = false;
  // The kernel applies OpContext::output_hook to every output element it writes.
  bool applies_output_hook = false;
  // The kernel adds OpContext::folds.out_residual to its output before any clamp (the engine
  // folds a following Add of a same-shaped tensor, as in residual blocks).
  bool takes_output_residual = false;
  // The kernel writes the 2x2 stride-2 max pool of its clamped output when
  // OpContext::folds.out_max_pool is set (the engine folds Relu/Clip -> MaxPool after it).
  bool takes_output_max_pool = false;
  // The kernel reads inputs 0 and 1 and writes its output through OpContext::folds.in_perm and
  // out_perm (the engine folds a Transpose before either input or after the output). Perms
  // that keep the innermost axis innermost, or make it the second innermost, only.
  bool takes_transposes = false;
  // The kernel multiplies its result by OpContext::folds.out_scale (a following Mul by a scalar).
  bool takes_output_scale = false;
  // The vector-Jacobian product, next to the kernel; nullptr: none (an op whose traits say no
  // gradient flows through it needs none; reverse mode rejects any other on a gradient path).
  BackwardFn backward = nullptr;
};

using OpTable = std::vector<OpSpec>;

static_assert(!std::is_default_constructible_v<OpTraits>, "each op row states its traits");

const OpSpec* find_op(std::string_view op_type);
// The traits of a registered op type, nullptr for any other: the lookup build_network takes.
const OpTraits* find_op_traits(std::string_view op_type);
std::vector<std::string_view> supported_op_types();

// Op families (sim/ops/*.cpp).
void register_elementwise_ops(OpTable& t);
void register_reduce_ops(OpTable& t);
void register_normalization_ops(OpTable& t);
void register_conv_ops(OpTable& t);
void register_gemm_ops(OpTable& t);
void register_pool_ops(OpTable& t);
void register_shape_ops(OpTable& t);
void register_movement_ops(OpTable& t);
void register_resize_ops(OpTable& t);

// Helpers shared by kernels.
inline const Tensor& require(std::span<const Tensor* const> in, std::size_t k, const char* what) {
  if (k >= in.size() || in[k] == nullptr)
    throw OpError(std::string("missing required input ") + std::to_string(k) + " (" + what + ")");
  return *in[k];
}
inline const Tensor* optional_input(std::span<const Tensor* const> in, std::size_t k) {
  return k < in.size() ? in[k] : nullptr;
}
// Normalizes a possibly negative axis against `rank`; throws OpError when out of range.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank);
// A possibly negative axis counted from 0 (no range check), for the traits' mixes_images.
inline std::int64_t unwrapped_axis(std::int64_t axis, std::size_t rank) {
  return axis < 0 ? axis + static_cast<std::int64_t>(rank) : axis;
}
// A Transpose node's perm for an input of rank `rank`: the axes reversed when the attribute is
// absent, negative axes normalized. nullopt when it is not a permutation of [0, rank), with the
// reason in *why when why is set.
std::optional<std::vector<std::int64_t>> transpose_perm(const OpNode& node, std::int64_t rank,
                                                        std::string* why = nullptr);

}  // namespace mpq
