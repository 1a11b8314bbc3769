#include "dataset.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/memory_budget.hpp"

namespace mpq {
namespace {

// At most `max_bytes` of the (decompressed) file: a small .gz can expand without bound, so
// readers ask only for what the header declared and the memory budget allowed.
Result<std::vector<std::uint8_t>> read_maybe_gz(const std::string& path, std::uint64_t max_bytes) {
  if (!std::filesystem::exists(path)) return make_error("missing data file '" + path + "'");
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (!f) return make_error("cannot open data file '" + path + "'");
  std::vector<std::uint8_t> data;
  std::uint8_t buf[1 << 16];
  int n = 0;
  while (data.size() < max_bytes) {
    const auto want =
        static_cast<unsigned>(std::min<std::uint64_t>(sizeof buf, max_bytes - data.size()));
    if ((n = gzread(f, buf, want)) <= 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  const bool err = n < 0;
  gzclose(f);
  if (err) return make_error("data file '" + path + "' is corrupt (gzip error)");
  return data;
}

std::uint32_t be32(const std::vector<std::uint8_t>& d, std::size_t at) {
  return (std::uint32_t{d[at]} << 24) | (std::uint32_t{d[at + 1]} << 16) |
         (std::uint32_t{d[at + 2]} << 8) | d[at + 3];
}

Result<float> metadata_float(const Model& m, const std::string& key, float dflt) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) return dflt;
  try {
    return std::stof(it->second);
  } catch (const std::exception&) {
    return make_error(m.path + ": metadata '" + key + "' = '" + it->second + "' is not a number");
  }
}

}  // namespace

Result<Preprocess> preprocess_from_metadata(const Model& m) {
  Preprocess p;
  auto scale = metadata_float(m, "mpq.input.scale", p.scale);
  auto mean = metadata_float(m, "mpq.input.mean", p.mean);
  auto std = metadata_float(m, "mpq.input.std", p.std);
  if (!scale) return scale.error();
  if (!mean) return mean.error();
  if (!std) return std.error();
  p.scale = *scale;
  p.mean = *mean;
  p.std = *std;
  if (p.std == 0.0f) return make_error(m.path + ": metadata 'mpq.input.std' must not be 0");
  if (auto it = m.metadata.find("mpq.input.layout"); it != m.metadata.end()) p.layout = it->second;
  if (p.layout != "NCHW" && p.layout != "NHWC")
    return make_error(m.path + ": metadata 'mpq.input.layout' must be NCHW or NHWC, not '" +
                      p.layout + "'");
  return p;
}

Result<ImageSet> read_idx_images(const std::string& images, const std::string& labels,
                                 std::int64_t wanted) {
  auto head = read_maybe_gz(images, 16);
  if (!head) return head.error();
  if (head->size() < 16 || be32(*head, 0) != 0x00000803)
    return make_error("'" + images + "' is not an IDX image file (magic 0x00000803)");
  ImageSet s;
  s.count = be32(*head, 4);
  s.rows = be32(*head, 8);
  s.cols = be32(*head, 12);
  if (s.count == 0 || s.rows == 0 || s.cols == 0)
    return make_error("'" + images + "' holds no images (" + std::to_string(s.count) + " of " +
                      std::to_string(s.rows) + " x " + std::to_string(s.cols) + " pixels)");
  // Only the images asked for are read; a whole read also checks that nothing follows them.
  const bool whole = wanted < 0 || wanted >= s.count;
  const std::int64_t held = whole ? s.count : wanted;
  const std::int64_t pixel_bytes = checked_bytes(held, checked_bytes(s.rows, s.cols));
  if (auto st = check_memory(pixel_bytes, "data file '" + images + "' (" + std::to_string(held) +
                                              " images of " + std::to_string(s.rows) + " x " +
                                              std::to_string(s.cols) + ")");
      !st)
    return st.error();
  auto img = read_maybe_gz(images, 16 + static_cast<std::uint64_t>(pixel_bytes) + (whole ? 1 : 0));
  if (!img) return img.error();
  if (img->size() != 16 + static_cast<std::uint64_t>(pixel_bytes))
    return make_error("'" + images +
                      "' is truncated or too long: " + std::to_string(img->size() - 16) +
                      " pixel bytes for " + std::to_string(s.count) + " images of " +
                      std::to_string(s.rows) + " x " + std::to_string(s.cols));
  s.pixels.assign(img->begin() + 16, img->end());
  if (!labels.empty()) {
    auto lab = read_maybe_gz(labels, 8 + static_cast<std::uint64_t>(held) + (whole ? 1 : 0));
    if (!lab) return lab.error();
    if (lab->size() < 8 || be32(*lab, 0) != 0x00000801)
      return make_error("'" + labels + "' is not an IDX label file (magic 0x00000801)");
    if (be32(*lab, 4) != s.count || lab->size() != 8 + static_cast<std::size_t>(held))
      return make_error("'" + labels + "' does not hold one label per image of '" + images + "'");
    s.labels.assign(lab->begin() + 8, lab->end());
  }
  return s;
}

Result<DataSpec> parse_data_spec(const std::string& spec) {
  DataSpec d;
  const auto c1 = spec.find(':');
  d.name = spec.substr(0, c1);
  if (d.name != "fashion-mnist")
    return make_error("unknown data set '" + d.name + "' in '" + spec +
                      "': use fashion-mnist:test, fashion-mnist:train[:N] or a .npy via --input");
  if (c1 == std::string::npos)
    return make_error("data spec '" + spec + "' needs a split: " + d.name + ":test or :train");
  const auto c2 = spec.find(':', c1 + 1);
  d.split = spec.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
  if (d.split != "test" && d.split != "train")
    return make_error("unknown split '" + d.split + "' in '" + spec + "': use test or train");
  if (c2 != std::string::npos) {
    std::string count = spec.substr(c2 + 1);
    try {
      if (auto plus = count.find('+'); plus != std::string::npos) {
        d.offset = std::stoll(count.substr(0, plus));
        count = count.substr(plus + 1);
      }
      d.limit = std::stoll(count);
    } catch (const std::exception&) {
      return make_error("bad count in data spec '" + spec + "': use :N or :OFFSET+N");
    }
    if (d.limit <= 0 || d.offset < 0)
      return make_error("bad count in data spec '" + spec + "': must be positive");
  }
  return d;
}

Result<ImageSet> load_dataset(const DataSpec& spec) {
  std::string dir = "/usr/share/datasets/fashion-mnist";
  if (const char* env = std::getenv("MPQ_FASHION_MNIST_DIR")) dir = env;
  const std::string prefix = spec.split == "test" ? "t10k" : "train";
  auto set = read_idx_images(dir + "/" + prefix + "-images-idx3-ubyte.gz",
                             dir + "/" + prefix + "-labels-idx1-ubyte.gz",
                             spec.limit < 0 ? -1 : spec.offset + spec.limit);
  if (!set) {
    if (set.error().message.rfind("missing data file", 0) != 0) return set.error();
    return make_error(set.error().message +
                      " (install Debian's dataset-fashion-mnist, or set MPQ_FASHION_MNIST_DIR)");
  }
  ImageSet s = std::move(set).value();
  const std::int64_t start = std::min(spec.offset, s.count);
  const std::int64_t n = spec.limit < 0 ? s.count - start : std::min(spec.limit, s.count - start);
  if (n <= 0 || (spec.limit >= 0 && n < spec.limit))  // never silently fewer than asked
    return make_error("data spec asks for " +
                      (spec.limit < 0 ? std::string("the images") : std::to_string(spec.limit)) +
                      " from image " + std::to_string(spec.offset) + " on, but the " + spec.split +
                      " split has " + std::to_string(s.count) + " images");
  const std::int64_t px = s.rows * s.cols;
  s.pixels =
      std::vector<std::uint8_t>(s.pixels.begin() + start * px, s.pixels.begin() + (start + n) * px);
  s.labels = std::vector<std::int64_t>(s.labels.begin() + start, s.labels.begin() + start + n);
  s.count = n;
  return s;
}

Tensor make_batch(const ImageSet& set, std::int64_t start, std::int64_t count,
                  const Preprocess& pre) {
  const Shape shape = pre.layout == "NHWC" ? Shape{count, set.rows, set.cols, 1}
                                           : Shape{count, 1, set.rows, set.cols};
  Tensor t = Tensor::zeros(shape);
  const std::int64_t px = set.rows * set.cols;
  const float a = pre.scale / pre.std, b = -pre.mean / pre.std;
  // One rounding (a fused multiply-add) whatever the compiler contracts: the samples are the
  // same floats in every build, and a .npy made elsewhere can hold exactly them.
  for (std::int64_t k = 0; k < count * px; ++k)
    t.f[static_cast<std::size_t>(k)] =
        std::fma(a, static_cast<float>(set.pixels[static_cast<std::size_t>(start * px + k)]), b);
  return t;
}

}  // namespace mpq
