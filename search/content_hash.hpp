#pragma once
// A stable 64-bit content hash (FNV-1a) for cache keys: the same bytes give the same key on
// every run and machine, unlike std::hash.
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace mpq {

class ContentHash {
 public:
  void add(std::span<const std::byte> bytes) {
    for (std::byte b : bytes) {
      h_ ^= static_cast<std::uint64_t>(b);
      h_ *= 0x100000001b3ull;
    }
  }
  void add(std::string_view s) {
    add(std::as_bytes(std::span<const char>(s.data(), s.size())));
    add_separator();
  }
  template <class T>
  void add_values(std::span<const T> v) {
    add(std::as_bytes(v));
    add_separator();
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  // Keeps ("ab", "c") and ("a", "bc") apart.
  void add_separator() {
    h_ ^= 0xffu;
    h_ *= 0x100000001b3ull;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace mpq
