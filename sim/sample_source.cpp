#include "sample_source.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "image_folder_source.hpp"
#include "label_file.hpp"
#include "memory_plan.hpp"
#include "nonfinite.hpp"
#include "npy.hpp"

namespace mpq {
namespace {

Status check_sample_shape(const std::string& source, const Shape& sample, const Network& net) {
  const ValueInfo& in = net.model.inputs[0];
  if (!in.has_shape) return Ok{};
  bool match = in.dims.size() == sample.size() + 1;
  for (std::size_t d = 1; match && d < in.dims.size(); ++d)
    match = in.dims[d] < 0 || in.dims[d] == sample[d - 1];
  if (match) return Ok{};
  Shape want(in.dims.begin() + (in.dims.empty() ? 0 : 1), in.dims.end());
  return make_error(source + ": samples have shape " + shape_str(sample) +
                    ", but the model input '" + in.name + "' takes samples of shape " +
                    shape_str(want));
}

}  // namespace

Result<std::int64_t> batch_size_for(const Network& net, std::int64_t wanted, std::int64_t samples,
                                    const std::string& source) {
  const ValueInfo& in = net.model.inputs.at(0);
  std::int64_t batch = wanted;
  if (!in.dims.empty() && in.dims[0] > 0) {
    const std::int64_t fixed = in.dims[0];
    if (samples % fixed != 0)
      return make_error(source + ": " + std::to_string(samples) +
                        " samples do not fill batches of " + std::to_string(fixed) +
                        ": the batch dimension of input '" + in.name + "' is fixed at " +
                        std::to_string(fixed) + " (" + shape_str(in.dims) +
                        ", by the model or --input-shape); use a multiple of " +
                        std::to_string(fixed) + " samples");
    batch = fixed;
  }
  const std::int64_t largest = std::min(batch, std::max<std::int64_t>(samples, 1));
  if (auto st = check_batch_memory(net, largest, source); !st) return st.error();
  return batch;
}

namespace {

Result<SampleSource> open_array(const std::string& spec, bool allow_nonfinite) {
  SampleSource src;
  src.description = spec;
  auto t = read_npy(spec);
  if (!t) return t.error();
  if (!t->is_float() || t->rank() < 1)
    return make_error(spec + ": expected a float array whose first dimension counts samples");
  if (!allow_nonfinite)
    if (auto st = check_finite(t->f, t->shape, spec); !st) return st.error();
  src.sample = Shape(t->shape.begin() + 1, t->shape.end());
  src.count = t->shape[0];
  auto data = std::make_shared<Tensor>(std::move(t).value());
  src.batch = [data, sample = src.sample](std::int64_t start, std::int64_t n) -> Result<Tensor> {
    Shape s = sample;
    s.insert(s.begin(), n);
    Tensor b = Tensor::zeros(s);
    const std::int64_t per = numel(sample);
    std::memcpy(b.f.data(), data->f.data() + start * per,
                static_cast<std::size_t>(n * per) * sizeof(float));
    return b;
  };
  return src;
}

Result<SampleSource> open_data_set(const std::string& spec, const Network& net) {
  SampleSource src;
  src.description = spec;
  auto ds = parse_data_spec(spec);
  if (!ds) return ds.error();
  auto set = load_dataset(*ds);
  if (!set) return set.error();
  auto pre = preprocess_from_metadata(net.model);
  if (!pre) return pre.error();
  src.sample =
      pre->layout == "NHWC" ? Shape{set->rows, set->cols, 1} : Shape{1, set->rows, set->cols};
  src.count = set->count;
  src.labels = set->labels;
  auto images = std::make_shared<ImageSet>(std::move(set).value());
  src.batch = [images, p = *pre](std::int64_t start, std::int64_t n) -> Result<Tensor> {
    return make_batch(*images, start, n, p);
  };
  return src;
}

Result<SampleSource> open_folder(const SampleSpec& spec, const Network& net) {
  auto pre = image_preprocess_for(net, spec.preprocess);
  if (!pre) return make_error(spec.data + ": " + pre.error().message);
  auto src = open_image_folder(spec.data, spec.labels, *pre);
  if (!src || src->labels.empty()) return src;
  const std::string& named = spec.labels.empty() ? spec.data : spec.labels;
  if (auto st = check_labels(src->labels, named, src->count, class_count(net)); !st)
    return st.error();
  return src;
}

// .npy samples labeled from a file.
Status attach_labels(SampleSource& src, const SampleSpec& spec, const Network& net) {
  if (!src.labels.empty())
    return make_error(spec.data +
                      " has labels of its own; --labels (or labels:) is for .npy "
                      "arrays and flat image folders");
  auto labels = read_label_array(spec.labels);
  if (!labels) return labels.error();
  if (auto st = check_labels(*labels, spec.labels, src.count, class_count(net)); !st) return st;
  src.labels = std::move(labels).value();
  src.description = spec.text();
  return Ok{};
}

}  // namespace

Result<SampleSource> open_samples(const SampleSpec& spec, const Network& net) {
  if (net.model.inputs.size() != 1)
    return make_error("calibration and evaluation data feed one input, but the model has " +
                      std::to_string(net.model.inputs.size()));
  const std::string& d = spec.data;
  const bool folder = std::filesystem::is_directory(d);
  const bool array = d.size() > 4 && d.substr(d.size() - 4) == ".npy";
  auto src = folder  ? open_folder(spec, net)
             : array ? open_array(d, spec.allow_nonfinite)
                     : open_data_set(d, net);
  if (!src) return src;
  if (!folder && !spec.preprocess.empty())
    return make_error(d + ": preprocess: is declared for image folders; " +
                      (array ? "an .npy holds samples already preprocessed"
                             : "this data set's comes from the model's metadata"));
  if (auto st = check_sample_shape(src->description, src->sample, net); !st) return st.error();
  if (!folder && !spec.labels.empty())
    if (auto st = attach_labels(*src, spec, net); !st) return st.error();
  return src;
}

}  // namespace mpq
