#include "memory_budget.hpp"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

namespace mpq {
namespace {

std::int64_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::int64_t{8} << 30;  // unknown: assume 8 GiB
  return static_cast<std::int64_t>(pages) * page;
}

std::atomic<std::int64_t>& budget() {
  static std::atomic<std::int64_t> b{physical_memory() / 4 * 3};
  return b;
}

}  // namespace

std::int64_t memory_budget() {
  return budget().load(std::memory_order_relaxed);
}

void set_memory_budget(std::int64_t bytes) {
  budget().store(bytes, std::memory_order_relaxed);
}

Result<std::int64_t> parse_byte_size(std::string_view text) {
  const std::string s(text);
  const auto bad = [&] {
    return make_error("'" + s +
                      "' is not a size: give bytes, or a number with K, M, G or T (e.g. 512M, 8G)");
  };
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    return bad();
  }
  std::string unit = s.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  const std::string units = "KMGT";
  double scale = 1;
  if (!unit.empty()) {
    const auto k = units.find(unit);
    if (unit.size() != 1 || k == std::string::npos) return bad();
    scale = std::pow(1024.0, static_cast<double>(k + 1));
  }
  const double bytes = v * scale;
  if (!std::isfinite(bytes) || bytes < 1 || bytes > 9.0e18) return bad();
  return static_cast<std::int64_t>(bytes);
}

std::string byte_size_text(std::int64_t bytes) {
  if (bytes < 0) return "more than 8 EiB";
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

Status check_memory(std::int64_t bytes, const std::string& what) {
  const std::int64_t limit = memory_budget();
  if (bytes >= 0 && bytes <= limit) return Ok{};
  return make_error(what + " needs " + byte_size_text(bytes) + ", more than the memory budget of " +
                    byte_size_text(limit) + " (--max-memory sets it)");
}

std::int64_t checked_bytes(std::int64_t elements, std::int64_t element_size) {
  if (elements < 0 || element_size < 0) return -1;
  if (element_size != 0 && elements > std::numeric_limits<std::int64_t>::max() / element_size)
    return -1;
  return elements * element_size;
}

}  // namespace mpq
