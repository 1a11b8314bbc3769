// Fuzz target: ONNX import and network preparation (graph/onnx_import.cpp, sim/prepare.cpp):
// everything `mpq inspect MODEL` runs before printing, the dry run's shapes included.
#include "fuzz_file.hpp"
#include "sim/prepare.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mpq::fuzz::FuzzFile file("model.onnx");
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  (void)limited;
  (void)mpq::load_network(file.write(data, size), {});
  return 0;
}
