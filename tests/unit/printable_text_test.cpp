// Error messages quote file contents; what reaches the terminal is text (issue 26).
#include "core/printable_text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mpq {
namespace {

struct PrintableCase {
  std::string in, out;
};

TEST(PrintableText, KeepsTextAndEscapesTheRest) {
  const PrintableCase cases[] = {
      {"plain: 'x.npy' line 3\n\ttab", "plain: 'x.npy' line 3\n\ttab"},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"\x93NUMPY\x01", "\\x93NUMPY\\x01"},
      {std::string("a\0b", 3), "a\\x00b"},
      {"\x1B[31mred", "\\x1B[31mred"},
      {"\xC0\xAF", "\\xC0\\xAF"},                    // overlong '/'
      {"\xED\xA0\x80", "\\xED\\xA0\\x80"},           // a UTF-16 surrogate
      {"\xE2\x82", "\\xE2\\x82"},                    // truncated sequence
      {"\xF4\x90\x80\x80", "\\xF4\\x90\\x80\\x80"},  // beyond U+10FFFF
      {"\x7F", "\\x7F"},
  };
  for (const auto& c : cases) EXPECT_EQ(printable_text(c.in), c.out) << c.in;
}

}  // namespace
}  // namespace mpq
