#pragma once
// What a command reads its samples from: a data spec and, for data without labels of its own,
// a file of labels. A plain value, so experiments and flags carry it as they carry paths.
#include <string>

namespace mpq {

struct SampleSpec {
  std::string data;    // "fashion-mnist:test:512", an .npy array [N, ...]
  std::string labels;  // an .npy of N integer labels for `data`; "" = none given

  bool empty() const { return data.empty(); }
  // For messages and reports: "x.npy" or "x.npy (labels y.npy)".
  std::string text() const { return labels.empty() ? data : data + " (labels " + labels + ")"; }
};

}  // namespace mpq
