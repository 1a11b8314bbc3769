#pragma once
// What hardware needs to know of a number format: its width and whether it is a float.
// The numerics themselves (rounding, ranges) belong to sim/.
#include <optional>
#include <string>
#include <string_view>

namespace mpq::hw {

struct NumberFormat {
  std::string name;  // "int8", "fp16", "bf16", "fp8e4m3", "fp8e5m2"
  int bits = 8;
  bool is_float = false;

  // Bits as the BOPs metric counts them: a float format counts bits x sqrt(1.5).
  double effective_bits() const;
  // The part of a candidate name: "8" for int8, "fp16" for fp16.
  std::string candidate_part() const;
  bool operator==(const NumberFormat& o) const { return name == o.name; }
};

// "int2".."int16", "fp16", "bf16", "fp8e4m3", "fp8e5m2"; nullopt otherwise.
std::optional<NumberFormat> parse_number_format(std::string_view name);
// The inverse of candidate_part: "8" -> int8, "fp16" -> fp16.
std::optional<NumberFormat> parse_candidate_part(std::string_view part);

}  // namespace mpq::hw
