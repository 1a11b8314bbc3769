// Fuzz target: the experiment YAML loader (search/experiment.cpp).
#include "fuzz_file.hpp"
#include "search/experiment.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mpq::fuzz::FuzzFile file("experiment.yaml");
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  (void)limited;
  (void)mpq::load_experiment(file.write(data, size));
  return 0;
}
