#pragma once
// Strict reading of YAML mappings: every key is either read or reported as unknown, and every
// problem is collected as "file:line: key: what is wrong" (yaml-cpp marks are 0-based lines).
#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mpq {

class YamlIssues {
 public:
  explicit YamlIssues(std::string file) : file_(std::move(file)) {}
  void add(const YAML::Mark& at, const std::string& key, const std::string& what);
  bool empty() const { return messages_.empty(); }
  std::string joined() const;  // one problem per line
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> messages_;
};

enum class Bound { Any, Positive, NonNegative };

// One mapping node: read its keys by name; finish() reports the keys nobody read.
class StrictMap {
 public:
  StrictMap(const YAML::Node& node, std::string path, YamlIssues& issues);
  bool is_map() const { return is_map_; }
  bool has(const std::string& key) const;
  // The value, marking the key as known; an undefined node when absent or null (and an issue
  // if required).
  YAML::Node get(const std::string& key, bool required);
  std::optional<std::string> string(const std::string& key, bool required);
  std::optional<double> number(const std::string& key, bool required, Bound bound);
  std::optional<int> integer(const std::string& key, bool required, Bound bound);
  // true or false, nothing else (YAML's yes/on spellings are refused as ambiguous).
  std::optional<bool> boolean(const std::string& key, bool required);
  // A key's dotted path, e.g. "op_classes.conv.macs_per_cycle".
  std::string path_of(const std::string& key) const;
  const YAML::Node& node() const { return node_; }
  void finish();

 private:
  YAML::Node node_;
  std::string path_;
  YamlIssues& issues_;
  bool is_map_ = false;
  std::set<std::string> known_;

  YAML::Node lookup(const std::string& key) const;
};

// Scalar readers for values that are not looked up by key (list items, map values).
std::optional<std::string> read_string(const YAML::Node& v, const std::string& path,
                                       YamlIssues& issues);
std::optional<double> read_number(const YAML::Node& v, const std::string& path, Bound bound,
                                  YamlIssues& issues);
std::optional<std::vector<std::string>> read_string_list(const YAML::Node& v,
                                                         const std::string& path,
                                                         YamlIssues& issues);

}  // namespace mpq
