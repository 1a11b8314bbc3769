#include "image_preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace mpq {
namespace {

// Numbers as the Fashion-MNIST path reads them (std::stof), so both give the same floats.
Result<std::vector<float>> float_list(const Model& m, const std::string& key,
                                      const std::string& text) {
  std::vector<float> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      out.push_back(std::stof(item, &used));
      if (item.find_first_not_of(" \t", used) != std::string::npos) throw std::invalid_argument("");
    } catch (const std::exception&) {
      return make_error(m.path + ": metadata '" + key + "' = '" + text +
                        "' is not a number or comma-separated numbers");
    }
  }
  if (out.empty()) return make_error(m.path + ": metadata '" + key + "' is empty");
  return out;
}

Result<std::int64_t> positive_int(const Model& m, const std::string& key, const std::string& t) {
  auto v = float_list(m, key, t);
  if (!v) return v.error();
  if (v->size() != 1 || (*v)[0] < 1 || (*v)[0] != std::floor((*v)[0]))
    return make_error(m.path + ": metadata '" + key + "' must be a positive integer, not '" + t +
                      "'");
  return static_cast<std::int64_t>((*v)[0]);
}

Status from_metadata(const Network& net, ImagePreprocess& p) {
  const Model& m = net.model;
  const auto meta = [&](const char* key) -> const std::string* {
    auto it = m.metadata.find(std::string("mpq.input.") + key);
    return it == m.metadata.end() ? nullptr : &it->second;
  };
  if (const auto* s = meta("scale")) {
    auto v = float_list(m, "mpq.input.scale", *s);
    if (!v) return v.error();
    p.scale = v->front();
  }
  for (auto [key, dest] : {std::pair{"mean", &p.mean}, std::pair{"std", &p.std}})
    if (const auto* s = meta(key)) {
      auto v = float_list(m, std::string("mpq.input.") + key, *s);
      if (!v) return v.error();
      *dest = std::move(v).value();
    }
  if (const auto* s = meta("layout")) p.layout = *s;
  // The input's channel dimension says gray or colour when the metadata does not.
  const auto& dims = m.inputs.at(0).dims;
  const std::size_t c_axis = p.layout == "NHWC" ? 3 : 1;
  p.channels = dims.size() == 4 && dims[c_axis] == 3 ? "RGB" : "gray";
  if (const auto* s = meta("channels")) p.channels = *s;
  for (auto [key, dest] : {std::pair{"resize", &p.resize}, std::pair{"crop", &p.crop}})
    if (const auto* s = meta(key)) {
      auto v = positive_int(m, std::string("mpq.input.") + key, *s);
      if (!v) return v.error();
      *dest = *v;
    }
  return Ok{};
}

Status check(const ImagePreprocess& p) {
  if (p.layout != "NCHW" && p.layout != "NHWC")
    return make_error("image layout must be NCHW or NHWC, not '" + p.layout + "'");
  if (p.channels != "gray" && p.channels != "RGB" && p.channels != "BGR")
    return make_error("image channels must be gray, RGB or BGR, not '" + p.channels + "'");
  const auto c = static_cast<std::size_t>(p.channel_count());
  for (const auto* v : {&p.mean, &p.std})
    if (v->size() != 1 && v->size() != c)
      return make_error("image mean and std take one value or one per channel (" +
                        std::to_string(c) + " for " + p.channels + "), not " +
                        std::to_string(v->size()));
  for (const float s : p.std)
    if (s == 0.0f) return make_error("image std must not be 0");
  return Ok{};
}

// The image size after resizing its shorter side.
std::pair<std::int64_t, std::int64_t> resized(const ImagePreprocess& p, const ImageHeader& h) {
  if (p.resize == 0) return {h.height, h.width};
  if (h.height <= h.width) return {p.resize, h.width * p.resize / h.height};
  return {h.height * p.resize / h.width, p.resize};
}

// Bilinear sample of channel `c` at the centre of pixel (y, x) of the image resized to rh x rw.
float bilinear(const DecodedImage& img, std::int64_t rh, std::int64_t rw, std::int64_t y,
               std::int64_t x, std::int64_t c) {
  const auto& h = img.header;
  const auto at = [&](std::int64_t yy, std::int64_t xx) {
    return static_cast<float>(
        img.pixels[static_cast<std::size_t>((yy * h.width + xx) * h.channels + c)]);
  };
  const float sy = std::clamp(
      (static_cast<float>(y) + 0.5f) * static_cast<float>(h.height) / static_cast<float>(rh) - 0.5f,
      0.0f, static_cast<float>(h.height - 1));
  const float sx = std::clamp(
      (static_cast<float>(x) + 0.5f) * static_cast<float>(h.width) / static_cast<float>(rw) - 0.5f,
      0.0f, static_cast<float>(h.width - 1));
  const auto y0 = static_cast<std::int64_t>(sy), x0 = static_cast<std::int64_t>(sx);
  const std::int64_t y1 = std::min(y0 + 1, h.height - 1), x1 = std::min(x0 + 1, h.width - 1);
  const float wy = sy - static_cast<float>(y0), wx = sx - static_cast<float>(x0);
  const float top = at(y0, x0) + wx * (at(y0, x1) - at(y0, x0));
  const float bottom = at(y1, x0) + wx * (at(y1, x1) - at(y1, x0));
  return top + wy * (bottom - top);
}

}  // namespace

Result<ImagePreprocess> image_preprocess_for(const Network& net, const DeclaredPreprocess& d) {
  ImagePreprocess p;
  if (auto st = from_metadata(net, p); !st) return st.error();
  if (d.resize) p.resize = *d.resize;
  if (d.crop) p.crop = *d.crop;
  if (d.scale) p.scale = *d.scale;
  if (d.mean) p.mean = *d.mean;
  if (d.std) p.std = *d.std;
  if (d.channels) p.channels = *d.channels;
  if (d.layout) p.layout = *d.layout;
  if (auto st = check(p); !st) return st.error();
  return p;
}

Result<Shape> image_sample_shape(const ImagePreprocess& p, const ImageHeader& header,
                                 const std::string& path) {
  if (header.channels != p.channel_count())
    return make_error(path + ": has " + std::to_string(header.channels) +
                      " channels, but the model takes " + std::to_string(p.channel_count()) + " (" +
                      p.channels + ")");
  auto [h, w] = resized(p, header);
  if (p.crop > 0) {
    if (p.crop > h || p.crop > w)
      return make_error(path + ": a " + std::to_string(p.crop) + " x " + std::to_string(p.crop) +
                        " crop does not fit the image (" + std::to_string(h) + " x " +
                        std::to_string(w) + (p.resize ? " after resizing)" : ")"));
    h = w = p.crop;
  }
  const std::int64_t c = p.channel_count();
  return p.layout == "NHWC" ? Shape{h, w, c} : Shape{c, h, w};
}

void preprocess_image(const DecodedImage& img, const ImagePreprocess& p, const Shape& sample,
                      std::span<float> out) {
  const bool hwc = p.layout == "NHWC";
  const std::int64_t c_n = p.channel_count();
  const std::int64_t oh = hwc ? sample[0] : sample[1], ow = hwc ? sample[1] : sample[2];
  const auto [rh, rw] = resized(p, img.header);
  const std::int64_t top = (rh - oh) / 2, left = (rw - ow) / 2;
  const bool scaled = rh != img.header.height || rw != img.header.width;
  for (std::int64_t c = 0; c < c_n; ++c) {
    const std::int64_t src_c = p.channels == "BGR" ? 2 - c : c;
    const float sd = p.std.size() == 1 ? p.std[0] : p.std[static_cast<std::size_t>(c)];
    const float mn = p.mean.size() == 1 ? p.mean[0] : p.mean[static_cast<std::size_t>(c)];
    // As make_batch computes it (dataset.cpp): one rounding, the same floats for the same pixels.
    const float a = p.scale / sd, b = -mn / sd;
    for (std::int64_t y = 0; y < oh; ++y)
      for (std::int64_t x = 0; x < ow; ++x) {
        const std::int64_t ry = y + top, rx = x + left;
        const float px = scaled ? bilinear(img, rh, rw, ry, rx, src_c)
                                : static_cast<float>(img.pixels[static_cast<std::size_t>(
                                      (ry * img.header.width + rx) * img.header.channels + src_c)]);
        const std::int64_t k = hwc ? (y * ow + x) * c_n + c : (c * oh + y) * ow + x;
        out[static_cast<std::size_t>(k)] = std::fma(a, px, b);
      }
  }
}

}  // namespace mpq
