#include "strict_yaml.hpp"

#include <cmath>

namespace mpq {
namespace {

const char* bound_text(Bound b) {
  return b == Bound::Positive      ? "a number > 0"
         : b == Bound::NonNegative ? "a number >= 0"
                                   : "a number";
}

bool within(double v, Bound b) {
  return b == Bound::Any || (b == Bound::Positive ? v > 0 : v >= 0);
}

std::string describe(const YAML::Node& v) {
  if (v.IsMap()) return "a mapping";
  if (v.IsSequence()) return "a list";
  if (v.IsNull()) return "nothing";
  return "'" + v.Scalar() + "'";
}

}  // namespace

void YamlIssues::add(const YAML::Mark& at, const std::string& key, const std::string& what) {
  const int line = at.line >= 0 ? at.line + 1 : 1;
  messages_.push_back(file_ + ":" + std::to_string(line) + ": " + key + ": " + what);
}

std::string YamlIssues::joined() const {
  std::string s;
  for (const auto& m : messages_) s += (s.empty() ? "" : "\n") + m;
  return s;
}

StrictMap::StrictMap(const YAML::Node& node, std::string path, YamlIssues& issues)
    : node_(node), path_(std::move(path)), issues_(issues), is_map_(node.IsMap()) {
  if (!is_map_)
    issues_.add(node.Mark(), path_.empty() ? "(top level)" : path_,
                "expected a mapping of keys, got " + describe(node));
}

// By iteration, never operator[]: yaml-cpp's non-const lookup inserts a missing key into the
// map (which the loaders iterate: a use-after-free), and its key comparison converts every key,
// complex or null ones included.
YAML::Node StrictMap::lookup(const std::string& key) const {
  if (is_map_)
    for (auto it = node_.begin(); it != node_.end(); ++it)
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  return YAML::Node(YAML::NodeType::Undefined);
}

bool StrictMap::has(const std::string& key) const {
  const YAML::Node v = lookup(key);
  return v.IsDefined() && !v.IsNull();
}

std::string StrictMap::path_of(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

YAML::Node StrictMap::get(const std::string& key, bool required) {
  known_.insert(key);
  const YAML::Node absent(YAML::NodeType::Undefined);
  if (!is_map_) return absent;
  const YAML::Node v = lookup(key);
  if (!v.IsDefined() || v.IsNull()) {
    if (required) issues_.add(node_.Mark(), path_of(key), "missing required key");
    return absent;
  }
  return v;
}

std::optional<std::string> StrictMap::string(const std::string& key, bool required) {
  YAML::Node v = get(key, required);
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  return read_string(v, path_of(key), issues_);
}

std::optional<double> StrictMap::number(const std::string& key, bool required, Bound bound) {
  YAML::Node v = get(key, required);
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  return read_number(v, path_of(key), bound, issues_);
}

std::optional<bool> StrictMap::boolean(const std::string& key, bool required) {
  YAML::Node v = get(key, required);
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  if (v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "false")) return v.Scalar() == "true";
  issues_.add(v.Mark(), path_of(key), "expected true or false, got " + describe(v));
  return std::nullopt;
}

std::optional<int> StrictMap::integer(const std::string& key, bool required, Bound bound) {
  auto v = number(key, required, bound);
  if (!v) return std::nullopt;
  if (*v != std::floor(*v) || std::abs(*v) > 1e9) {
    const YAML::Node n = lookup(key);
    issues_.add(n.Mark(), path_of(key), "expected an integer, got " + describe(n));
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

void StrictMap::finish() {
  if (!is_map_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      issues_.add(it->first.Mark(), path_of("?"),
                  "a key must be a plain name, got " + describe(it->first));
      continue;
    }
    const std::string key = it->first.Scalar();
    if (!known_.count(key)) issues_.add(it->first.Mark(), path_of(key), "unknown key");
  }
}

std::optional<std::string> read_string(const YAML::Node& v, const std::string& path,
                                       YamlIssues& issues) {
  if (!v.IsScalar()) {
    issues.add(v.Mark(), path, "expected a string, got " + describe(v));
    return std::nullopt;
  }
  return v.Scalar();
}

std::optional<double> read_number(const YAML::Node& v, const std::string& path, Bound bound,
                                  YamlIssues& issues) {
  double d = 0;
  if (!v.IsScalar() || !YAML::convert<double>::decode(v, d) || !std::isfinite(d)) {
    issues.add(v.Mark(), path,
               std::string("expected ") + bound_text(bound) + ", got " + describe(v));
    return std::nullopt;
  }
  if (!within(d, bound)) {
    issues.add(v.Mark(), path, std::string("must be ") + bound_text(bound) + ", got " + v.Scalar());
    return std::nullopt;
  }
  return d;
}

std::optional<std::vector<std::string>> read_string_list(const YAML::Node& v,
                                                         const std::string& path,
                                                         YamlIssues& issues) {
  if (!v.IsSequence()) {
    issues.add(v.Mark(), path, "expected a list, got " + describe(v));
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (std::size_t k = 0; k < v.size(); ++k) {
    auto s = read_string(v[k], path + "[" + std::to_string(k) + "]", issues);
    if (!s) return std::nullopt;
    out.push_back(*s);
  }
  return out;
}

}  // namespace mpq
