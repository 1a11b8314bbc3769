#include "atomic_file.hpp"

#include <unistd.h>
#include <filesystem>
#include <fstream>

namespace mpq {

Status write_file_atomically(const std::string& path, std::string_view content) {
  // The pid keeps two concurrent writers of the same path from sharing a temporary.
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return make_error("cannot write '" + path + "'");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      return make_error("error writing '" + path + "'");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return make_error("cannot write '" + path + "': " + ec.message());
  }
  return Ok{};
}

}  // namespace mpq
