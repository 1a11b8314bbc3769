#include "printable_text.hpp"

#include <cstdio>

namespace mpq {
namespace {

struct LeadByte {
  unsigned char lo, hi;  // range of the first byte
  std::size_t length;
  unsigned min_code_point;  // shorter encodings of a code point are invalid
};
constexpr LeadByte kLeadBytes[] = {
    {0xC2, 0xDF, 2, 0x80}, {0xE0, 0xEF, 3, 0x800}, {0xF0, 0xF4, 4, 0x10000}};

// Length of the valid UTF-8 sequence starting at text[i] (2-4), or 0.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto b = static_cast<unsigned char>(text[i]);
  for (const LeadByte& lead : kLeadBytes) {
    if (b < lead.lo || b > lead.hi) continue;
    if (i + lead.length > text.size()) return 0;
    unsigned cp = b & (0x7Fu >> lead.length);
    for (std::size_t k = 1; k < lead.length; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (c & 0x3F);
    }
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    return cp >= lead.min_code_point && cp <= 0x10FFFF && !surrogate ? lead.length : 0;
  }
  return 0;
}

}  // namespace

std::string printable_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b == '\n' || b == '\t' || (b >= 0x20 && b < 0x7F)) {
      out += text[i++];
    } else if (const std::size_t n = b >= 0x80 ? utf8_sequence(text, i) : 0; n > 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", b);
      out += hex;
      ++i;
    }
  }
  return out;
}

}  // namespace mpq
