#pragma once
// What a command reads its samples from: a data spec and, for data without labels of its own,
// a file of labels; for an image folder, the preprocessing an experiment declares. A plain
// value, so experiments and flags carry it as they carry paths.
#include <string>
#include <utility>

#include "declared_preprocess.hpp"

namespace mpq {

struct SampleSpec {
  std::string data;    // "fashion-mnist:test:512", an .npy array [N, ...], an image folder
  std::string labels;  // N integer labels for an .npy; a flat folder's CSV; "" = none given
  DeclaredPreprocess preprocess;  // image folders: over the model's metadata
  bool allow_nonfinite = false;   // NaN or inf in an array is an error unless allowed

  SampleSpec() = default;
  // A data spec alone converts: most samples come without labels or declared preprocessing.
  SampleSpec(std::string data_spec, std::string labels_file = {}, DeclaredPreprocess declared = {})
      : data(std::move(data_spec)),
        labels(std::move(labels_file)),
        preprocess(std::move(declared)) {}
  SampleSpec(const char* data_spec) : data(data_spec) {}

  bool empty() const { return data.empty(); }
  // For messages and reports: "x.npy" or "x.npy (labels y.npy)".
  std::string text() const { return labels.empty() ? data : data + " (labels " + labels + ")"; }
};

}  // namespace mpq
