#include "number_format.hpp"

#include <cmath>

namespace mpq::hw {
namespace {

std::optional<int> parse_small_int(std::string_view s) {
  if (s.empty() || s.size() > 2) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (s.size() == 2 && s[0] == '0') return std::nullopt;
  return v;
}

}  // namespace

double NumberFormat::effective_bits() const {
  return is_float ? bits * std::sqrt(1.5) : static_cast<double>(bits);
}

std::string NumberFormat::candidate_part() const {
  return is_float ? name : std::to_string(bits);
}

std::optional<NumberFormat> parse_number_format(std::string_view name) {
  if (name == "fp16" || name == "bf16") return NumberFormat{std::string(name), 16, true};
  if (name == "fp8e4m3" || name == "fp8e5m2") return NumberFormat{std::string(name), 8, true};
  if (name.substr(0, 3) != "int") return std::nullopt;
  auto bits = parse_small_int(name.substr(3));
  if (!bits || *bits < 2 || *bits > 16) return std::nullopt;
  return NumberFormat{std::string(name), *bits, false};
}

std::optional<NumberFormat> parse_candidate_part(std::string_view part) {
  if (!part.empty() && part[0] >= '0' && part[0] <= '9')
    return parse_number_format("int" + std::string(part));
  return parse_number_format(part);
}

}  // namespace mpq::hw
