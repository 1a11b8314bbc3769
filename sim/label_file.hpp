#pragma once
// Labels given beside unlabeled samples (`--labels y.npy`): one integer class per sample,
// checked against the samples they label and the classes the model can predict.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "graph/network.hpp"

namespace mpq {

// An .npy of integers, shape [N] or [N, 1]; a float or bool array is an error naming `path`.
Result<std::vector<std::int64_t>> read_label_array(const std::string& path);

// The number of classes the model's first output scores per sample (its elements per batch
// row), when the shape pass knows it.
std::optional<std::int64_t> class_count(const Network& net);

// `labels` (read from `path`) label `samples` samples, each in [0, classes) when `classes` is
// known (any label >= 0 otherwise).
Status check_labels(const std::vector<std::int64_t>& labels, const std::string& path,
                    std::int64_t samples, std::optional<std::int64_t> classes);

}  // namespace mpq
