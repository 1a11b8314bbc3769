#include "synthetic_files.hpp"

#include <unistd.h>

#include <filesystem>

#include "npy.hpp"

namespace mpq {

Result<std::string> labels_path_for(const std::string& inputs_path) {
  const std::string ext = ".npy";
  if (inputs_path.size() <= ext.size() ||
      inputs_path.compare(inputs_path.size() - ext.size(), ext.size(), ext) != 0)
    return make_error("the output '" + inputs_path +
                      "' must end in .npy (its labels are written beside it as NAME.labels.npy)");
  return inputs_path.substr(0, inputs_path.size() - ext.size()) + ".labels.npy";
}

Status check_writable(const std::string& path) {
  const std::filesystem::path p(path);
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return make_error("cannot write '" + path + "': directory '" + dir.string() +
                      "' does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    return make_error("cannot write '" + path + "': directory '" + dir.string() +
                      "' is not writable");
  if (std::filesystem::is_directory(p, ec))
    return make_error("cannot write '" + path + "': it is a directory");
  return Ok{};
}

Status write_synthetic_set(const std::string& inputs_path, const std::string& labels_path,
                           const SyntheticSet& set) {
  if (auto st = write_npy(labels_path, Tensor::from_ints(set.labels)); !st) return st;
  if (auto st = write_npy(inputs_path, set.inputs); !st) {
    std::error_code ec;
    std::filesystem::remove(labels_path, ec);
    return st;
  }
  return Ok{};
}

}  // namespace mpq
