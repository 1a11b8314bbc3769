// Fuzz target: the IDX image and label readers (sim/dataset.cpp). The first byte of the input
// says where it splits into the images file and the labels file.
#include "fuzz_file.hpp"
#include "sim/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mpq::fuzz::FuzzFile images("images.idx");
  static mpq::fuzz::FuzzFile labels("labels.idx");
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  (void)limited;
  if (size == 0) return 0;
  const std::size_t split = std::min<std::size_t>(size - 1, std::size_t{data[0]} * 4);
  const std::string& image_path = images.write(data + 1, split);
  const std::string& label_path = labels.write(data + 1 + split, size - 1 - split);
  (void)mpq::read_idx_images(image_path, label_path);
  return 0;
}
