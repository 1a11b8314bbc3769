// Fuzz target: the .npy reader (sim/npy.cpp).
#include "fuzz_file.hpp"
#include "sim/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mpq::fuzz::FuzzFile file("input.npy");
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  (void)limited;
  (void)mpq::read_npy(file.write(data, size));
  return 0;
}
