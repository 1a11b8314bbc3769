#pragma once
// Labeled image data sets (IDX format, as Fashion-MNIST ships) and the preprocessing that
// turns pixels into model inputs, declared per model rather than hard-coded.
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "graph/model.hpp"
#include "graph/tensor.hpp"

namespace mpq {

struct Preprocess {
  float scale = 1.0f / 255.0f;  // pixel -> [0, 1]
  float mean = 0.0f;
  float std = 1.0f;
  std::string layout = "NCHW";
};

// Reads mpq.input.{scale,mean,std,layout} from the model's metadata_props; defaults otherwise.
Result<Preprocess> preprocess_from_metadata(const Model& m);

struct ImageSet {
  std::int64_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count x rows x cols
  std::vector<std::int64_t> labels;  // count, empty when unlabeled
};

// IDX files (optionally gzip-compressed) of images and labels.
// `wanted` >= 0: only the first `wanted` images (and labels) are read; ImageSet::count stays the
// file's count.
Result<ImageSet> read_idx_images(const std::string& images, const std::string& labels,
                                 std::int64_t wanted = -1);

// "fashion-mnist:test", "fashion-mnist:train:512" (first 512), "fashion-mnist:test:256+512"
// (512 images from index 256). The directory comes from MPQ_FASHION_MNIST_DIR or Debian's
// /usr/share/datasets/fashion-mnist.
struct DataSpec {
  std::string name, split;
  std::int64_t offset = 0, limit = -1;
};
Result<DataSpec> parse_data_spec(const std::string& spec);
Result<ImageSet> load_dataset(const DataSpec& spec);

// Images [start, start+count) as an N x 1 x rows x cols (or NHWC) float tensor.
Tensor make_batch(const ImageSet& set, std::int64_t start, std::int64_t count,
                  const Preprocess& pre);

}  // namespace mpq
