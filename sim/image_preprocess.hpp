#pragma once
// How decoded pixels become a model's input sample, in this order: the shorter side resized to
// `resize` (bilinear, half-pixel centres, no antialiasing; the longer side scaled alike and
// rounded down), a centred `crop` x `crop` window (offsets rounded down), the channels in
// `channels` order, then (pixel * scale - mean[c]) / std[c], laid out CHW (NCHW) or HWC (NHWC).
// Declared in an experiment file (data.*.preprocess) or read from the model's mpq.input.*
// metadata, as the Fashion-MNIST preprocessing is (dataset.hpp).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "declared_preprocess.hpp"
#include "graph/network.hpp"
#include "image_decode.hpp"

namespace mpq {

struct ImagePreprocess {
  std::int64_t resize = 0;  // 0: size kept
  std::int64_t crop = 0;    // 0: no crop
  float scale = 1.0f / 255.0f;
  std::vector<float> mean{0.0f}, std{1.0f};  // one value, or one per channel
  std::string channels = "gray";             // gray | RGB | BGR
  std::string layout = "NCHW";               // NCHW | NHWC

  std::int64_t channel_count() const { return channels == "gray" ? 1 : 3; }
};

// The model's mpq.input.{scale,mean,std,layout,channels,resize,crop} (mean and std may list one
// value per channel, comma-separated; channels default to gray for a one-channel input, RGB
// otherwise), then `declared` on top; checked for consistency.
Result<ImagePreprocess> image_preprocess_for(const Network& net,
                                             const DeclaredPreprocess& declared);

// The sample an image of `header`'s size becomes ([C, H, W] or [H, W, C]); an error when the
// crop does not fit or the channel count is not the preprocessing's.
Result<Shape> image_sample_shape(const ImagePreprocess& p, const ImageHeader& header,
                                 const std::string& path);

// `img` (whose header gave `sample`) into `out`, numel(sample) floats.
void preprocess_image(const DecodedImage& img, const ImagePreprocess& p, const Shape& sample,
                      std::span<float> out);

}  // namespace mpq
