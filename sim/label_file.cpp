#include "label_file.hpp"

#include "npy.hpp"

namespace mpq {

Result<std::vector<std::int64_t>> read_label_array(const std::string& path) {
  auto t = read_npy(path);
  if (!t) return t.error();
  if (t->dtype != DType::Int64)
    return make_error(path + ": labels must be an integer array, but this one holds " +
                      (t->is_float() ? "floats" : "booleans") +
                      " (save them with numpy as int64, e.g. y.astype(np.int64))");
  const bool column = t->rank() == 2 && t->shape[1] == 1;
  if (t->rank() != 1 && !column)
    return make_error(path + ": labels must have shape [N] (one per sample), not " +
                      shape_str(t->shape));
  return std::move(t->i);
}

std::optional<std::int64_t> class_count(const Network& net) {
  if (net.model.outputs.empty()) return std::nullopt;
  auto it = net.shapes.find(net.model.outputs[0].name);
  if (it == net.shapes.end() || it->second.empty()) return std::nullopt;
  for (const auto d : it->second)
    if (d <= 0) return std::nullopt;
  return numel(it->second) / it->second[0];  // top-1 takes the argmax over all but the batch
}

Status check_labels(const std::vector<std::int64_t>& labels, const std::string& path,
                    std::int64_t samples, std::optional<std::int64_t> classes) {
  if (static_cast<std::int64_t>(labels.size()) != samples)
    return make_error(path + ": " + std::to_string(labels.size()) + " labels for " +
                      std::to_string(samples) + " samples (one label per sample)");
  for (std::size_t k = 0; k < labels.size(); ++k) {
    if (labels[k] >= 0 && (!classes || labels[k] < *classes)) continue;
    const std::string range = classes ? "[0, " + std::to_string(*classes) + "): the model scores " +
                                            std::to_string(*classes) + " classes"
                                      : "[0, ...): classes count from 0";
    return make_error(path + ": label " + std::to_string(labels[k]) + " of sample " +
                      std::to_string(k) + " is outside " + range);
  }
  return Ok{};
}

}  // namespace mpq
