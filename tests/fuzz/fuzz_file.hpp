#pragma once
// libFuzzer hands bytes; mpq's readers take paths (they name the file in their messages and
// check the declared sizes against the file's). Each input is written to one file in a private
// directory of this process, which is removed at exit.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/memory_budget.hpp"

namespace mpq::fuzz {

class FuzzFile {
 public:
  explicit FuzzFile(const std::string& name) {
    // Memory-backed when there is one: a disk write per input would be most of the run time.
    const std::filesystem::path shm = "/dev/shm";
    const auto base =
        std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
    dir_ = base / ("mpq-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / name).string();
  }
  ~FuzzFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  FuzzFile(const FuzzFile&) = delete;
  FuzzFile& operator=(const FuzzFile&) = delete;

  const std::string& write(const std::uint8_t* data, std::size_t size) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path_;
  }
  std::string sibling(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

// libFuzzer stops at 2 GiB of RSS; a budget well below it makes "too large" the reader's error,
// as a user's --max-memory would, instead of an out-of-memory report.
inline void limit_memory() {
  set_memory_budget(std::int64_t{256} << 20);
}

}  // namespace mpq::fuzz
