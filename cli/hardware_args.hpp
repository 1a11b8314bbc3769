#pragma once
// What the hardware-aware subcommands (groups, cost) share: the --hw option and loading the
// accelerator description with its errors turned into the CLI's error type.
#include <CLI/CLI.hpp>
#include <string>

#include "core/result.hpp"
#include "graph/quantizer_placement.hpp"
#include "hw/accelerator.hpp"

namespace mpq::cli {

void add_hw_option(CLI::App& cmd, std::string& path);
Result<hw::Accelerator> load_hardware(const std::string& path);
// For commands that place quantizers without pricing (quantize, run, export, inspect): an
// optional --hw whose fusion rules the placement follows.
void add_fusion_hw_option(CLI::App& cmd, std::string& path);
// The accelerator's placement rules, or the defaults when `path` is empty.
Result<PlacementRules> placement_rules_for(const std::string& path);
// "1,234,567"
std::string thousands(double v);

}  // namespace mpq::cli
