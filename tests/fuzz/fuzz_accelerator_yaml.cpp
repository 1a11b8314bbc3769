// Fuzz target: the accelerator YAML loader (hw/accelerator_loader.cpp, core/strict_yaml.cpp).
#include "fuzz_file.hpp"
#include "hw/accelerator_loader.hpp"
#include "search/hardware_groups.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  (void)limited;
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)mpq::hw::parse_accelerator(text, "fuzz.yaml", mpq::fusion_op_kind);
  return 0;
}
