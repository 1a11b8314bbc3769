#pragma once
// A synthesized set on disk: the inputs as X.npy and their labels as X.labels.npy, both written
// or neither.
#include <string>

#include "core/result.hpp"
#include "input_synthesis.hpp"

namespace mpq {

// "synth.npy" -> "synth.labels.npy"; an error for a name without .npy.
Result<std::string> labels_path_for(const std::string& inputs_path);
// The directory of `path` exists and is writable (checked before minutes of synthesis).
Status check_writable(const std::string& path);
// Each file written to a temporary and renamed; the labels go first, and are removed again if
// the inputs cannot be written.
Status write_synthetic_set(const std::string& inputs_path, const std::string& labels_path,
                           const SyntheticSet& set);

}  // namespace mpq
