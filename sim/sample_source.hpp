#pragma once
// Input samples for calibration and evaluation, handed out batch by batch so that memory stays
// bounded by one batch: an image set with its preprocessing, or an array from a .npy file.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "dataset.hpp"
#include "graph/network.hpp"
#include "sample_spec.hpp"

namespace mpq {

struct SampleSource {
  std::string description;  // "fashion-mnist:train:512", "calib.npy"
  std::int64_t count = 0;
  std::vector<std::int64_t> labels;  // empty when unlabeled
  Shape sample;                      // one sample's shape
  // The model's single input for samples [start, start + n); an error when a sample cannot be
  // read (an image folder decodes its images batch by batch).
  std::function<Result<Tensor>(std::int64_t start, std::int64_t n)> batch;
};

// "fashion-mnist:..." data specs (with the model's preprocessing), a path to a .npy array
// whose first dimension counts samples, or an image folder (image_folder_source.hpp). The
// sample shape is checked against the model input, and labels against the samples and the
// model's classes (label_file.hpp). A data set with labels of its own takes no others.
Result<SampleSource> open_samples(const SampleSpec& spec, const Network& net);

// The batch size every command runs `samples` samples of `source` with. --input-shape fixes the
// per-sample shape, and with its first dimension the batch: when the model's batch dimension
// B is fixed (by the model or by --input-shape), every run uses batches of B (a --batch is for
// dynamic batch dimensions) and the samples must fill whole batches (any count when B is 1);
// otherwise `wanted`. The count of samples is checked, never assumed.
Result<std::int64_t> batch_size_for(const Network& net, std::int64_t wanted, std::int64_t samples,
                                    const std::string& source);

}  // namespace mpq
