#pragma once
// A per-output-channel affine map y = scale[c] * x + shift[c] folded into the op that computes
// x: Conv, ConvTranspose, Gemm, or MatMul with a constant 2-D weight. Shared by BatchNorm
// folding and the affine chains of the canonicalization pass.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model.hpp"

namespace mpq {

struct ChannelAffine {
  std::vector<float> scale, shift;  // one per output channel
  bool shifts() const;              // any shift != 0
};

// The number of output channels of `p` when its weight (input 1) is a constant the map can be
// folded into; nullopt otherwise (and for a Gemm whose bias C is not per column).
std::optional<std::int64_t> foldable_channels(const Model& m, const OpNode& p);

// p with its weight scaled per output channel and, for Conv, ConvTranspose and Gemm, its bias
// set to bias * scale + shift, in a new initializer "<node>_<suffix>_bias". The weight keeps
// its name (and so its quantizer's) unless `uses` says other nodes read it too: then it is
// copied to "<weight>_<suffix>". MatMul has no bias: its shift is left to the caller (an Add).
// foldable_channels(m, p) must equal the map's size. Nothing in `m` changes: the caller sets
// `initializers` (new names, or p's old weight replaced) and replaces p by `node`.
struct FoldedAffine {
  OpNode node;
  std::map<std::string, Tensor> initializers;
};
FoldedAffine fold_channel_affine(const Model& m, const OpNode& p, const ChannelAffine& a,
                                 const std::map<std::string, int>& uses, const std::string& suffix);

// `base`, or `base` with underscores appended, whichever no initializer uses yet.
std::string fresh_initializer_name(const Model& m, std::string base);

}  // namespace mpq
