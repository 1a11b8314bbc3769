#pragma once
// The error a weight change causes at its op's output, from the calibration data: per group of
// output channels, H = (1/n) sum p p^T over the n input vectors p that one output channel's
// weights multiply (a Conv's input patches, a Gemm's or MatMul's input rows). For a change dw of
// one output channel's weights, dw^T H dw is the mean squared change of that output over the
// calibration data: range setting compares clipping ranges by it (the weights' own MSE misses
// that inputs are correlated, so that clipping a channel's largest weight shifts its output
// coherently while rounding errors cancel).
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "graph/model.hpp"

namespace mpq {

struct InputMoments {
  std::int64_t groups = 1;   // output channels split into this many groups (a grouped Conv)
  std::int64_t fan_in = 0;   // weights per output channel
  std::int64_t vectors = 0;  // input vectors summed so far (per group)
  std::vector<double> sums;  // groups x fan_in x fan_in, sum of p p^T

  // dw^T H dw for output channel `channel` of `channels` (H = sums / vectors).
  double output_error(std::span<const double> dw, std::int64_t channel,
                      std::int64_t channels) const;
  // The same for `count` changes at once (dws: fan_in x count, column k the k-th change): one
  // matrix product reads H once instead of once per change.
  std::vector<double> output_errors(std::span<const double> dws, std::int64_t count,
                                    std::int64_t channel, std::int64_t channels) const;

  // Whether H is estimated from enough vectors to rank clipping ranges: with fewer vectors than
  // weights (a Gemm or an SE block's 1x1 Conv after pooling sees one vector per sample), H is
  // singular, and a clipping whose change lies in its null space looks free.
  bool well_determined() const;
};

// Vectors per weight of a channel that H needs (well_determined).
inline constexpr std::int64_t kVectorsPerFanIn = 8;

// Weights with more inputs than this a channel keep the tensor-error search (H would be large).
inline constexpr std::int64_t kMaxMomentFanIn = 2048;

// The moments for the weight of `op` (its input 1) when its layout is supported (Conv of any
// spatial rank, Gemm, MatMul with a 2-D weight) and its fan-in is at most kMaxMomentFanIn.
bool supports_input_moments(const OpNode& op, const Shape& weight);

// The groups of output channels sharing input vectors (a grouped Conv's, else 1) and the
// inputs per output channel; {0, 0} when the layout is not supported.
struct InputLayout {
  std::int64_t groups = 0, fan_in = 0;
};
InputLayout input_layout(const OpNode& op, const Shape& weight);

// Calls visit(group, rows, n) on chunks of n row-major input vectors of fan_in values each (what
// one output channel's weights multiply) of one batch of `op`'s input 0, in a fixed order, so
// that two inputs of the same shape give chunks of the same sizes and positions.
using RowsVisitor = std::function<void(std::int64_t group, const float* rows, std::int64_t n)>;
void for_each_input_chunk(const OpNode& op, const Shape& weight, const Tensor& input,
                          const RowsVisitor& visit);

// Adds the input vectors of one batch of `op`'s input 0.
void accumulate_input_moments(const OpNode& op, const Shape& weight, const Tensor& input,
                              InputMoments& m);

}  // namespace mpq
