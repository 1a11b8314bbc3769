#pragma once
// Integers as one line of space-separated numbers (integer_weights in configuration files and
// the AdaRound cache): a file indented by dump(1) would otherwise give every weight a line.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mpq {

std::string integers_to_text(const std::vector<std::int32_t>& v);
// nullopt when the text is not that.
std::optional<std::vector<std::int32_t>> integers_from_text(const std::string& text);

}  // namespace mpq
