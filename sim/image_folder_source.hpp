#pragma once
// An image folder (image_folder.hpp) as samples for a model: every image's header is checked
// when opened (readable, the preprocessing's channel count, one sample shape for all), and the
// pixels are decoded batch by batch, so memory holds one batch whatever the folder's size.
#include "core/result.hpp"
#include "graph/network.hpp"
#include "image_preprocess.hpp"
#include "sample_source.hpp"

namespace mpq {

// `labels_csv`: the labels of a flat folder ("" = unlabeled, or the class sub-folders').
Result<SampleSource> open_image_folder(const std::string& dir, const std::string& labels_csv,
                                       const ImagePreprocess& pre);

}  // namespace mpq
