#pragma once
// Splitting one CSV line into trimmed cells (no quoting: the files hw reads have none).
#include <string>
#include <string_view>
#include <vector>

namespace mpq::hw {

std::string trim(std::string_view s);
std::vector<std::string> split_csv_line(std::string_view line);
// A finite number spanning the whole cell.
bool parse_number(const std::string& cell, double& out);

}  // namespace mpq::hw
