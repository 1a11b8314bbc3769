#pragma once
// Whether a network keeps the images of a batch apart, so that a batch may run as independent
// sub-batches (SubBatchRunner) with the same per-image results.
#include <string_view>

#include "core/result.hpp"
#include "graph/network.hpp"

namespace mpq {

// Ok when row b of every output depends only on row b of every input (axis 0 the batch), for
// any batch size. Established from the network's shapes at two batch sizes (every per-image
// value must have the batch in axis 0 and the same other dims at both) and from the ops that
// keep a shape while mixing along axis 0 (Softmax, LayerNormalization, Slice, and Gather of
// the images along axis 0; a Gather of a constant table by each image's ids keeps them apart).
// The error names the first node at fault and why.
Status check_images_independent(const Network& net);

// Whether the analysis knows the op type's behaviour along axis 0; any other op with a
// non-constant input makes check_images_independent refuse the network.
bool image_independence_reviewed(std::string_view op_type);

}  // namespace mpq
