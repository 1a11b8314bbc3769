#include "npy.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string_view>

#include "core/memory_budget.hpp"

namespace mpq {

namespace {

struct NpyHeader {
  char kind = 0;  // 'f', 'i', 'u', 'b'
  int bytes = 0;  // per item
  Shape shape;
};

bool item_size_supported(char kind, int bytes) {
  switch (kind) {
    case 'f':
      return bytes == 4 || bytes == 8;
    case 'i':
    case 'u':
      return bytes == 1 || bytes == 2 || bytes == 4 || bytes == 8;
    case 'b':
      return bytes == 1;
    default:
      return false;
  }
}

// A non-negative integer token of the header (surrounding spaces allowed).
std::optional<std::int64_t> header_integer(std::string_view tok) {
  while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
  while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc{} || end != tok.data() + tok.size() || v < 0) return std::nullopt;
  return v;
}

Result<NpyHeader> parse_header(const std::string& header, const std::string& path) {
  std::smatch m;
  static const std::regex descr_re(R"('descr'\s*:\s*'([<>|=])([a-z])(\d{1,2})')");
  static const std::regex order_re(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex shape_re(R"('shape'\s*:\s*\(([^)]*)\))");
  if (!std::regex_search(header, m, descr_re))
    return make_error("'" + path + "': unsupported .npy dtype in header " + header);
  NpyHeader h;
  const char endian = m[1].str()[0];
  h.kind = m[2].str()[0];
  h.bytes = std::stoi(m[3].str());  // one or two digits: cannot throw
  if (endian == '>') return make_error("'" + path + "': big-endian .npy is not supported");
  if (!item_size_supported(h.kind, h.bytes))
    return make_error("'" + path + "': unsupported .npy dtype '" + m[2].str() + m[3].str() +
                      "' (float 4 or 8 bytes, integers 1, 2, 4 or 8, bool 1)");
  if (std::regex_search(header, m, order_re) && m[1] == "True")
    return make_error("'" + path + "': Fortran-order arrays are not supported; save C order");
  if (!std::regex_search(header, m, shape_re))
    return make_error("'" + path + "': .npy header without shape");
  std::stringstream ss(m[1].str());
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    if (tok.find_first_not_of(' ') == std::string::npos) continue;
    auto d = header_integer(tok);
    if (!d)
      return make_error("'" + path + "': .npy shape entry '" + tok +
                        "' is not a non-negative integer");
    h.shape.push_back(*d);
  }
  return h;
}

// Items of a supported kind and size (item_size_supported) into `t`'s float or int storage.
void convert_items(const std::vector<char>& raw, char kind, int bytes, Tensor& t) {
  const auto n = raw.size() / static_cast<std::size_t>(bytes);
  for (std::size_t k = 0; k < n; ++k) {
    const char* p = raw.data() + k * static_cast<std::size_t>(bytes);
    auto load = [p](auto v) {
      std::memcpy(&v, p, sizeof v);
      return v;
    };
    if (kind == 'f') {
      t.f[k] = bytes == 4 ? load(float{}) : static_cast<float>(load(double{}));
    } else if (kind == 'b') {
      t.i[k] = *p != 0;
    } else if (kind == 'i') {
      t.i[k] = bytes == 1   ? load(std::int8_t{})
               : bytes == 2 ? load(std::int16_t{})
               : bytes == 4 ? load(std::int32_t{})
                            : load(std::int64_t{});
    } else {
      t.i[k] = bytes == 1   ? load(std::uint8_t{})
               : bytes == 2 ? load(std::uint16_t{})
               : bytes == 4 ? load(std::uint32_t{})
                            : static_cast<std::int64_t>(load(std::uint64_t{}));
    }
  }
}

}  // namespace

Result<Tensor> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot open input file '" + path + "'");
  std::error_code size_ec;
  const auto file_size = std::filesystem::file_size(path, size_ec);
  if (size_ec) return make_error("cannot read the size of '" + path + "': " + size_ec.message());
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return make_error("'" + path + "' is not a .npy file (bad magic)");
  std::uint32_t hlen = 0;
  if (magic[6] == 1) {
    std::uint16_t h16 = 0;
    in.read(reinterpret_cast<char*>(&h16), 2);
    hlen = h16;
  } else if (magic[6] == 2 || magic[6] == 3) {
    in.read(reinterpret_cast<char*>(&hlen), 4);
  } else {
    return make_error("'" + path + "': unsupported .npy format version " +
                      std::to_string(static_cast<unsigned char>(magic[6])));
  }
  const std::uint64_t data_start = (magic[6] == 1 ? 10u : 12u) + std::uint64_t{hlen};
  if (!in || data_start > file_size)
    return make_error("'" + path + "': truncated .npy header (declares " + std::to_string(hlen) +
                      " bytes; the file has " + std::to_string(file_size) + ")");
  std::string header(hlen, '\0');
  if (!in.read(header.data(), hlen)) return make_error("'" + path + "': truncated .npy header");
  auto h = parse_header(header, path);
  if (!h) return h.error();
  const char kind = h->kind;
  const int bytes = h->bytes;
  const Shape& shape = h->shape;
  // Checked before allocating: the declared data must be in the file (without overflow).
  const std::uint64_t available = file_size - data_start;
  bool fits = true;
  std::uint64_t count = std::find(shape.begin(), shape.end(), 0) != shape.end() ? 0 : 1;
  for (const auto d : shape) {
    if (count == 0) break;
    if (count > available / static_cast<std::uint64_t>(d)) {
      fits = false;
      break;
    }
    count *= static_cast<std::uint64_t>(d);
  }
  if (!fits || count > available / static_cast<std::uint64_t>(bytes))
    return make_error("'" + path + "': truncated data (shape " + shape_str(shape) + " of " +
                      std::to_string(bytes) + "-byte items needs more than the " +
                      std::to_string(file_size - data_start) + " bytes the file holds)");
  // The array as mpq holds it (float or int64) plus the bytes read.
  const std::int64_t held = kind == 'f' ? 4 : 8;
  if (auto st = check_memory(checked_bytes(static_cast<std::int64_t>(count), held + bytes),
                             "'" + path + "' (shape " + shape_str(shape) + ")");
      !st)
    return st.error();
  Tensor t;
  t.dtype = kind == 'f' ? DType::Float32 : kind == 'b' ? DType::Bool : DType::Int64;
  t.allocate(shape);
  std::vector<char> raw(count * static_cast<std::size_t>(bytes));
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size())))
    return make_error("'" + path + "': truncated data (expected " + std::to_string(count) +
                      " elements of shape " + shape_str(shape) + ")");
  convert_items(raw, kind, bytes, t);
  return t;
}

Status write_npy(const std::string& path, const Tensor& t) {
  std::string shape = "(";
  for (auto d : t.shape) shape += std::to_string(d) + ",";
  if (t.shape.size() > 1) shape.pop_back();
  shape += ")";
  const char* descr = t.dtype == DType::Float32 ? "<f4" : t.dtype == DType::Int64 ? "<i8" : "|b1";
  std::string header =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return make_error("cannot write '" + path + "'");
    out.write("\x93NUMPY\x01\x00", 8);
    const auto hl = static_cast<std::uint16_t>(header.size());
    out.write(reinterpret_cast<const char*>(&hl), 2);
    out << header;
    if (t.dtype == DType::Float32) {
      out.write(reinterpret_cast<const char*>(t.f.data()),
                static_cast<std::streamsize>(t.f.size() * sizeof(float)));
    } else if (t.dtype == DType::Int64) {
      out.write(reinterpret_cast<const char*>(t.i.data()),
                static_cast<std::streamsize>(t.i.size() * sizeof(std::int64_t)));
    } else {
      for (auto v : t.i) out.put(v ? 1 : 0);
    }
    if (!out) return make_error("error writing '" + path + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  return Ok{};
}

}  // namespace mpq
