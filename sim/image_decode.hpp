#pragma once
// PNG (libpng) and JPEG (libjpeg-turbo) files into 8-bit pixels, told apart by their content.
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace mpq {

struct ImageHeader {
  std::int64_t width = 0, height = 0, channels = 0;  // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
};

struct DecodedImage {
  ImageHeader header;
  std::vector<std::uint8_t> pixels;  // height x width x channels, interleaved, RGB order
};

// The size and channel count alone (reads the file's first bytes), for checks before decoding.
Result<ImageHeader> read_image_header(const std::string& path);
// Every error names `path`: unreadable, neither PNG nor JPEG, corrupt or truncated data.
Result<DecodedImage> decode_image(const std::string& path);

}  // namespace mpq
