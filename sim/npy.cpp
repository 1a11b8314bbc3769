#include "npy.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace mpq {

Result<Tensor> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot open input file '" + path + "'");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return make_error("'" + path + "' is not a .npy file (bad magic)");
  std::uint32_t hlen = 0;
  if (magic[6] == 1) {
    std::uint16_t h16 = 0;
    in.read(reinterpret_cast<char*>(&h16), 2);
    hlen = h16;
  } else {
    in.read(reinterpret_cast<char*>(&hlen), 4);
  }
  std::string header(hlen, '\0');
  if (!in.read(header.data(), hlen)) return make_error("'" + path + "': truncated .npy header");
  std::smatch m;
  static const std::regex descr_re(R"('descr'\s*:\s*'([<>|=])([a-z])(\d+)')");
  static const std::regex order_re(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex shape_re(R"('shape'\s*:\s*\(([^)]*)\))");
  if (!std::regex_search(header, m, descr_re))
    return make_error("'" + path + "': unsupported .npy dtype in header " + header);
  const char endian = m[1].str()[0];
  const char kind = m[2].str()[0];
  const int bytes = std::stoi(m[3].str());
  if (endian == '>') return make_error("'" + path + "': big-endian .npy is not supported");
  if (std::regex_search(header, m, order_re) && m[1] == "True")
    return make_error("'" + path + "': Fortran-order arrays are not supported; save C order");
  if (!std::regex_search(header, m, shape_re))
    return make_error("'" + path + "': .npy header without shape");
  Shape shape;
  std::stringstream ss(m[1].str());
  std::string tok;
  while (std::getline(ss, tok, ','))
    if (tok.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(tok));
  Tensor t;
  if (kind == 'f')
    t.dtype = DType::Float32;
  else if (kind == 'i' || kind == 'u')
    t.dtype = DType::Int64;
  else if (kind == 'b')
    t.dtype = DType::Bool;
  else
    return make_error("'" + path + "': unsupported .npy dtype kind '" + std::string(1, kind) + "'");
  t.allocate(shape);
  const auto n = static_cast<std::size_t>(t.size());
  std::vector<char> raw(n * static_cast<std::size_t>(bytes));
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size())))
    return make_error("'" + path + "': truncated data (expected " + std::to_string(n) +
                      " elements of shape " + shape_str(shape) + ")");
  for (std::size_t k = 0; k < n; ++k) {
    const char* p = raw.data() + k * static_cast<std::size_t>(bytes);
    auto load = [p](auto v) {
      std::memcpy(&v, p, sizeof v);
      return v;
    };
    if (kind == 'f') {
      if (bytes == 4)
        t.f[k] = load(float{});
      else if (bytes == 8)
        t.f[k] = static_cast<float>(load(double{}));
      else
        return make_error("'" + path + "': float" + std::to_string(bytes * 8) +
                          " .npy is not supported");
    } else if (kind == 'b') {
      t.i[k] = *p != 0;
    } else if (kind == 'i') {
      if (bytes == 1)
        t.i[k] = load(std::int8_t{});  // NOLINT(bugprone-signed-char-misuse): int8, signed
      else if (bytes == 2)
        t.i[k] = load(std::int16_t{});
      else if (bytes == 4)
        t.i[k] = load(std::int32_t{});
      else
        t.i[k] = load(std::int64_t{});
    } else {
      if (bytes == 1)
        t.i[k] = load(std::uint8_t{});
      else if (bytes == 2)
        t.i[k] = load(std::uint16_t{});
      else if (bytes == 4)
        t.i[k] = load(std::uint32_t{});
      else
        t.i[k] = static_cast<std::int64_t>(load(std::uint64_t{}));
    }
  }
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
