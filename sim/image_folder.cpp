#include "image_folder.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace mpq {
namespace {

namespace fs = std::filesystem;

struct Listing {
  std::vector<std::string> images;   // names, sorted
  std::vector<std::string> folders;  // names, sorted
};

Result<Listing> list_dir(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return make_error(dir.string() + ": cannot list the folder (" + ec.message() + ")");
  Listing l;
  for (; it != end; it.increment(ec)) {
    if (ec) return make_error(dir.string() + ": cannot list the folder (" + ec.message() + ")");
    const std::string name = it->path().filename().string();
    if (it->is_directory(ec))
      l.folders.push_back(name);
    else if (is_image_name(name))
      l.images.push_back(name);
  }
  std::sort(l.images.begin(), l.images.end());
  std::sort(l.folders.begin(), l.folders.end());
  return l;
}

Result<ImageFolder> class_layout(const fs::path& dir, const Listing& top) {
  ImageFolder f;
  for (const auto& cls : top.folders) {
    auto inner = list_dir(dir / cls);
    if (!inner) return inner.error();
    if (inner->images.empty()) continue;  // not a class: holds no images
    const auto label = static_cast<std::int64_t>(f.classes.size());
    f.classes.push_back(cls);
    for (const auto& name : inner->images) {
      f.files.push_back((dir / cls / name).string());
      f.labels.push_back(label);
    }
  }
  return f;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// `file,label` lines; a first line "file,label" is a header. Files are named relative to `dir`.
Result<ImageFolder> csv_layout(const fs::path& dir, const Listing& top, const std::string& csv) {
  std::ifstream in(csv);
  if (!in) return make_error(csv + ": cannot read the labels file");
  ImageFolder f;
  std::set<std::string> listed;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string at = csv + ":" + std::to_string(n) + ": ";
    if (trim(line).empty() || (n == 1 && trim(line) == "file,label")) continue;
    const auto comma = line.rfind(',');
    if (comma == std::string::npos) return make_error(at + "expected file,label");
    const std::string name = trim(line.substr(0, comma)), label = trim(line.substr(comma + 1));
    if (label.empty() || label.size() > 18 ||
        !std::all_of(label.begin(), label.end(), [](unsigned char c) { return std::isdigit(c); }))
      return make_error(at + "label '" + label + "' is not an integer >= 0");
    if (!listed.insert(name).second) return make_error(at + "'" + name + "' is listed twice");
    if (!std::binary_search(top.images.begin(), top.images.end(), name))
      return make_error(at + "'" + name + "' is not an image in " + dir.string() +
                        ": the labels file does not match the files");
    f.files.push_back((dir / name).string());
    f.labels.push_back(std::stoll(label));
  }
  for (const auto& name : top.images)
    if (!listed.count(name))
      return make_error(csv + ": image '" + name + "' of " + dir.string() +
                        " has no label: the labels file does not match the files");
  return f;
}

}  // namespace

bool is_image_name(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

Result<ImageFolder> list_image_folder(const std::string& dir, const std::string& labels_csv) {
  auto top = list_dir(dir);
  if (!top) return top.error();
  if (!top->images.empty() && !top->folders.empty())
    return make_error(dir +
                      ": holds images and sub-folders; use one sub-folder per class "
                      "(all images inside them) or a flat folder with a labels CSV");
  Result<ImageFolder> f = ImageFolder{};
  if (!top->folders.empty()) {
    if (!labels_csv.empty())
      return make_error(dir + ": one sub-folder per class labels the images; a labels file (" +
                        labels_csv + ") is for a flat folder");
    f = class_layout(dir, *top);
  } else if (!labels_csv.empty()) {
    f = csv_layout(dir, *top, labels_csv);
  } else {
    for (const auto& name : top->images) f->files.push_back((fs::path(dir) / name).string());
  }
  if (f && f->files.empty())
    return make_error(dir +
                      ": holds no images (.png, .jpg or .jpeg files, flat or one "
                      "sub-folder per class)");
  return f;
}

}  // namespace mpq
