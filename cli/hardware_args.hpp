#pragma once
// What the hardware-aware subcommands (groups, cost) share: the --hw option and loading the
// accelerator description with its errors turned into the CLI's error type.
#include <CLI/CLI.hpp>
#include <string>

#include "graph/result.hpp"
#include "hw/accelerator.hpp"

namespace mpq::cli {

void add_hw_option(CLI::App& cmd, std::string& path);
Result<hw::Accelerator> load_hardware(const std::string& path);
// "1,234,567"
std::string thousands(double v);

}  // namespace mpq::cli
