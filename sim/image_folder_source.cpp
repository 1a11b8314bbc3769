#include "image_folder_source.hpp"

#include <tbb/parallel_for.h>

#include <memory>
#include <optional>

#include "image_folder.hpp"

namespace mpq {
namespace {

// The first error by file order, whichever thread found it: the same message every run.
struct FirstError {
  std::vector<std::optional<Error>> at;
  explicit FirstError(std::size_t n) : at(n) {}
  std::optional<Error> first() const {
    for (const auto& e : at)
      if (e) return e;
    return std::nullopt;
  }
};

// Every image's header: readable, and all of one sample shape.
Result<Shape> common_sample_shape(const ImageFolder& f, const ImagePreprocess& pre) {
  FirstError errors(f.files.size());
  std::vector<Shape> shapes(f.files.size());
  tbb::parallel_for(std::size_t{0}, f.files.size(), [&](std::size_t k) {
    auto h = read_image_header(f.files[k]);
    auto s = h ? image_sample_shape(pre, *h, f.files[k]) : Result<Shape>(h.error());
    if (s)
      shapes[k] = std::move(s).value();
    else
      errors.at[k] = s.error();
  });
  if (auto e = errors.first()) return *e;
  for (std::size_t k = 1; k < shapes.size(); ++k)
    if (shapes[k] != shapes[0])
      return make_error(f.files[k] + ": becomes a sample of shape " + shape_str(shapes[k]) +
                        ", but " + f.files[0] + " one of " + shape_str(shapes[0]) +
                        " (declare resize and crop to bring images of several sizes to one)");
  return shapes.at(0);
}

}  // namespace

Result<SampleSource> open_image_folder(const std::string& dir, const std::string& labels_csv,
                                       const ImagePreprocess& pre) {
  auto listed = list_image_folder(dir, labels_csv);
  if (!listed) return listed.error();
  auto sample = common_sample_shape(*listed, pre);
  if (!sample) return sample.error();
  SampleSource src;
  src.description = labels_csv.empty() ? dir : dir + " (labels " + labels_csv + ")";
  src.count = static_cast<std::int64_t>(listed->files.size());
  src.labels = listed->labels;
  src.sample = *sample;
  auto files = std::make_shared<const std::vector<std::string>>(std::move(listed->files));
  src.batch = [files, pre, shape = *sample](std::int64_t start, std::int64_t n) -> Result<Tensor> {
    Shape s = shape;
    s.insert(s.begin(), n);
    Tensor t = Tensor::zeros(s);
    const auto per = static_cast<std::size_t>(numel(shape));
    FirstError errors(static_cast<std::size_t>(n));
    tbb::parallel_for(std::int64_t{0}, n, [&](std::int64_t k) {
      const std::string& path = (*files)[static_cast<std::size_t>(start + k)];
      auto img = decode_image(path);
      // The file may have changed since its header was read.
      auto got = img ? image_sample_shape(pre, img->header, path) : Result<Shape>(img.error());
      if (got && *got != shape)
        got = make_error(path + ": changed size since the folder was opened");
      if (!got) {
        errors.at[static_cast<std::size_t>(k)] = got.error();
        return;
      }
      preprocess_image(*img, pre, shape,
                       std::span<float>(t.f.data() + static_cast<std::size_t>(k) * per, per));
    });
    if (auto e = errors.first()) return *e;
    return t;
  };
  return src;
}

}  // namespace mpq
