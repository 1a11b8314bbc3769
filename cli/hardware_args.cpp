#include "hardware_args.hpp"

#include <cmath>

#include "hw/accelerator_loader.hpp"
#include "search/hardware_groups.hpp"

namespace mpq::cli {

void add_hw_option(CLI::App& cmd, std::string& path) {
  cmd.add_option("--hw", path,
                 "Accelerator description (YAML; bundled ones in configs/hw/, schema in "
                 "configs/hw/README.md)")
      ->required();
}

Result<hw::Accelerator> load_hardware(const std::string& path) {
  auto acc = hw::load_accelerator(path, fusion_op_kind);
  if (!acc) return acc.error();
  return std::move(acc).value();
}

void add_fusion_hw_option(CLI::App& cmd, std::string& path) {
  cmd.add_option("--hw", path,
                 "Place quantizers by this accelerator's fusion rules (its `fusion:` section; "
                 "default: any op followed by its sole Relu/Clip runs fused)");
}

Result<PlacementRules> placement_rules_for(const std::string& path) {
  if (path.empty()) return PlacementRules::defaults();
  auto acc = load_hardware(path);
  if (!acc) return acc.error();
  return placement_rules_of(*acc);
}

std::string thousands(double v) {
  std::string s = std::to_string(static_cast<long long>(std::llround(v)));
  const int first = s[0] == '-' ? 1 : 0;
  for (int k = static_cast<int>(s.size()) - 3; k > first; k -= 3)
    s.insert(static_cast<std::size_t>(k), ",");
  return s;
}

}  // namespace mpq::cli
