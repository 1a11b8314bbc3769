#pragma once
// How many bytes of tensors one mpq process may hold. Readers and the engine check what a file
// or a batch declares against it before allocating, so an input too large for the machine is an
// error naming the tensor, never std::bad_alloc or the kernel's OOM killer halfway through.
#include <cstdint>
#include <string>
#include <string_view>

#include "result.hpp"

namespace mpq {

// Default: three quarters of physical memory; --max-memory sets it for the process.
std::int64_t memory_budget();
void set_memory_budget(std::int64_t bytes);

// "512M", "8G", "1.5GiB", "2000000" (bytes); K, M, G, T are powers of 1024.
Result<std::int64_t> parse_byte_size(std::string_view text);
// "1.50 GiB", "12.0 MiB", "512 bytes".
std::string byte_size_text(std::int64_t bytes);

// An error when `bytes` (negative: more than 64 bits hold) exceed the budget:
// "WHAT needs 40.0 GiB, more than the memory budget of 18.0 GiB (--max-memory)".
Status check_memory(std::int64_t bytes, const std::string& what);

// a x b x c ... in bytes, or -1 when the product overflows 63 bits.
std::int64_t checked_bytes(std::int64_t elements, std::int64_t element_size);

}  // namespace mpq
