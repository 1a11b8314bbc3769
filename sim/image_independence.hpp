#pragma once
// Whether a network keeps the images of a batch apart, so that a batch may run as independent
// sub-batches (SubBatchRunner) with the same per-image results.
#include "core/result.hpp"
#include "graph/network.hpp"

namespace mpq {

// Ok when row b of every output depends only on row b of every input (axis 0 the batch), for
// any batch size. Established from the network's shapes at two batch sizes (every per-image
// value must have the batch in axis 0 and the same other dims at both) and from each op's
// traits (graph/op_traits.hpp): which ops mix along axis 0 while keeping a shape (Softmax,
// LayerNormalization, Slice, Gather of the images along axis 0; a Gather of a constant table
// by each image's ids keeps them apart) and where the batch size may go. The error names the
// first node at fault and why.
Status check_images_independent(const Network& net);

}  // namespace mpq
