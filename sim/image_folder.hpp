#pragma once
// The images of a folder and their labels: one sub-folder per class (ImageNet's layout, classes
// numbered in sorted order), or a flat folder with a labels CSV of `file,label` lines (or none:
// unlabeled images). Only names are listed here; pixels are decoded batch by batch.
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace mpq {

struct ImageFolder {
  std::vector<std::string> files;    // paths: by class then name, or in the CSV's order
  std::vector<std::int64_t> labels;  // one per file; empty when unlabeled
  std::vector<std::string> classes;  // sub-folder names in label order (class layout)
};

// .png, .jpg and .jpeg, any case; other files are not images and are left out.
bool is_image_name(const std::string& name);

// Errors: no images, a folder mixing images and class sub-folders, a CSV for the class
// layout, and a CSV that does not match the images (a file missing on either side, a label
// that is not an integer >= 0, a file listed twice).
Result<ImageFolder> list_image_folder(const std::string& dir, const std::string& labels_csv);

}  // namespace mpq
