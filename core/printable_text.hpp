#pragma once
// Error messages quote file contents (a parser's "last read: ..."); a terminal or a log must
// not receive raw binary from a file a user downloaded.
#include <string>
#include <string_view>

namespace mpq {

// `text` with valid UTF-8 and newlines kept, and every other control character or invalid byte
// written as \xNN.
std::string printable_text(std::string_view text);

}  // namespace mpq
