#include "candidate.hpp"

namespace mpq {
namespace {

// The part of a candidate name: "8" for int8, the format's name otherwise ("fp16", "mxfp4",
// "int4_g128").
std::string name_part(const NumberFormat& f) {
  return f.is_int() ? std::to_string(f.bits) : f.name();
}

}  // namespace

std::string Candidate::name() const {
  // Appended piecewise: GCC 12 warns (-Wrestrict, falsely) on the chained operator+.
  std::string s = "W";
  s.append(name_part(weight));
  s.push_back('A');
  s.append(name_part(activation));
  return s;
}

Result<Candidate> parse_candidate(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return make_error("candidate '" + std::string(text) + "': " + why +
                      " (expected W<w>A<a> such as W8A8, W4A8, Wfp16Afp16, Wmxfp4Amxfp8_e4m3, "
                      "Wint4_g128A16, or a float format name such as fp16)");
  };
  if (!text.empty() && text[0] != 'W') {
    auto f = parse_format(text);
    if (!f || !f->is_float()) return bad("not a candidate name");
    return Candidate{*f, *f};
  }
  // Float and block format names are lower case, so the first upper-case 'A' after 'W' splits
  // the two.
  const auto a = text.find('A', 1);
  if (text.size() < 4 || a == std::string_view::npos) return bad("not a candidate name");
  auto w = parse_format(text.substr(1, a - 1));
  if (!w) return bad(w.error().message);
  auto act = parse_format(text.substr(a + 1));
  if (!act) return bad(act.error().message);
  return Candidate{*w, *act};
}

bool higher_precision(const Candidate& a, const Candidate& b) {
  if (a.bops_per_mac() != b.bops_per_mac()) return a.bops_per_mac() > b.bops_per_mac();
  const double aa = a.activation.effective_bits(), ba = b.activation.effective_bits();
  if (aa != ba) return aa > ba;
  return a.name() < b.name();
}

}  // namespace mpq
