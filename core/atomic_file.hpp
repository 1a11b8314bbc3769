#pragma once
// Output files appear complete or not at all: written next to the target, then renamed.
#include <string>
#include <string_view>

#include "result.hpp"

namespace mpq {

Status write_file_atomically(const std::string& path, std::string_view content);

}  // namespace mpq
