#pragma once
// The image preprocessing an experiment file declares for an image folder (data.*.preprocess);
// what it leaves out comes from the model's mpq.input.* metadata (image_preprocess.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mpq {

struct DeclaredPreprocess {
  std::optional<std::int64_t> resize, crop;
  std::optional<float> scale;
  std::optional<std::vector<float>> mean, std;
  std::optional<std::string> channels, layout;

  bool empty() const { return !resize && !crop && !scale && !mean && !std && !channels && !layout; }
};

}  // namespace mpq
