// Fuzz target: the SCALE-Sim topology CSV reader (hw/scalesim_topology.cpp).
#include "fuzz_file.hpp"
#include "hw/scalesim_topology.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  (void)limited;
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)mpq::hw::parse_scalesim_topology(text, "fuzz.csv");
  return 0;
}
