#include "accelerator_loader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "core/strict_yaml.hpp"
#include "op_class_names.hpp"

namespace mpq::hw {
namespace {

constexpr double kKiB = 1024.0;
constexpr double kGB = 1e9;

// A format as an accelerator declares it: its full name ("int8", "fp16"), never fp32.
std::optional<NumberFormat> declared_format(const std::string& text) {
  auto f = parse_format(text);
  if (!f || f->is_identity() || f->name() != text) return std::nullopt;
  return *f;
}

struct Loader {
  std::string path;
  YamlIssues issues;
  FusionOpKinds op_kinds;
  Accelerator acc;

  // A candidate name used somewhere: it must have been declared under `candidates`.
  std::optional<int> declared(const YAML::Node& v, const std::string& key) {
    auto s = read_string(v, key, issues);
    if (!s) return std::nullopt;
    auto idx = acc.candidate_index(*s);
    if (!idx) issues.add(v.Mark(), key, "candidate '" + *s + "' is not declared under candidates");
    return idx;
  }

  void candidates(StrictMap& root) {
    YAML::Node node = root.get("candidates", true);
    if (!node.IsDefined()) return;
    if (!node.IsMap() || node.size() == 0) {
      issues.add(node.Mark(), "candidates", "expected a non-empty mapping of candidate names");
      return;
    }
    std::map<std::string, int> first_line;  // of each name: YAML allows a key twice
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string name = it->first.Scalar();
      const std::string key = "candidates." + name;
      if (auto [at, fresh] = first_line.emplace(name, it->first.Mark().line + 1); !fresh) {
        issues.add(it->first.Mark(), key,
                   "declared twice (first on line " + std::to_string(at->second) + ")");
        continue;
      }
      StrictMap m(it->second, key, issues);
      auto w = m.string("weights", true);
      auto a = m.string("activations", true);
      m.finish();
      if (!w || !a) continue;
      auto wf = declared_format(*w);
      auto af = declared_format(*a);
      if (!wf)
        issues.add(m.node()["weights"].Mark(), key + ".weights", "unknown format '" + *w + "'");
      if (!af)
        issues.add(m.node()["activations"].Mark(), key + ".activations",
                   "unknown format '" + *a + "'");
      if (!wf || !af) continue;
      const Candidate candidate{*wf, *af};
      const std::string expected = candidate.name();
      if (expected != name) {
        issues.add(
            it->first.Mark(), key,
            "the name does not match its formats (" + *w + ", " + *a + " is " + expected + ")");
        continue;
      }
      acc.candidates.push_back(candidate);
    }
  }

  void op_classes(StrictMap& root) {
    YAML::Node node = root.get("op_classes", false);
    if (!node.IsDefined()) return;
    StrictMap classes(node, "op_classes", issues);
    if (!classes.is_map()) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string cls = it->first.Scalar();
      const std::string key = "op_classes." + cls;
      if (cls != "default" && !is_op_class_name(cls)) continue;  // reported by finish()
      classes.get(cls, false);
      StrictMap m(it->second, key, issues);
      OpClassSupport s;
      if (YAML::Node list = m.get("candidates", false); list.IsDefined()) {
        if (!list.IsSequence() || list.size() == 0) {
          issues.add(list.Mark(), key + ".candidates", "expected a non-empty list of candidates");
        } else {
          s.candidates.emplace();
          for (std::size_t k = 0; k < list.size(); ++k)
            if (auto c = declared(list[k], key + ".candidates[" + std::to_string(k) + "]"))
              s.candidates->push_back(*c);
        }
      }
      if (YAML::Node mpc = m.get("macs_per_cycle", false); mpc.IsDefined()) {
        StrictMap table(mpc, key + ".macs_per_cycle", issues);
        if (table.is_map())
          for (auto e = mpc.begin(); e != mpc.end(); ++e) {
            const std::string ck = key + ".macs_per_cycle." + e->first.Scalar();
            table.get(e->first.Scalar(), false);
            auto c = declared(e->first, ck);
            auto v = read_number(e->second, ck, Bound::Positive, issues);
            if (c && v) s.macs_per_cycle[*c] = *v;
            if (c && s.candidates &&
                std::find(s.candidates->begin(), s.candidates->end(), *c) == s.candidates->end())
              issues.add(e->first.Mark(), ck, "candidate is not in this class's candidates list");
          }
        table.finish();
      }
      m.finish();
      acc.op_classes[cls] = std::move(s);
    }
    classes.finish();
  }

  void pinned_ops(StrictMap& root) {
    YAML::Node node = root.get("pinned_ops", false);
    if (!node.IsDefined()) return;
    StrictMap m(node, "pinned_ops", issues);
    if (!m.is_map()) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
      m.get(it->first.Scalar(), false);
      if (auto c = declared(it->second, "pinned_ops." + it->first.Scalar()))
        acc.pinned_ops[it->first.Scalar()] = *c;
    }
  }

  void energy(StrictMap& root) {
    YAML::Node node = root.get("energy_pj_per_mac", true);
    if (!node.IsDefined()) return;
    StrictMap m(node, "energy_pj_per_mac", issues);
    if (!m.is_map()) return;
    acc.energy_pj_per_mac.assign(acc.candidates.size(), -1.0);
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = "energy_pj_per_mac." + it->first.Scalar();
      m.get(it->first.Scalar(), false);
      auto c = declared(it->first, key);
      auto v = read_number(it->second, key, Bound::NonNegative, issues);
      if (c && v) acc.energy_pj_per_mac[static_cast<std::size_t>(*c)] = *v;
    }
    for (std::size_t c = 0; c < acc.candidates.size(); ++c)
      if (acc.energy_pj_per_mac[c] < 0)
        issues.add(node.Mark(), "energy_pj_per_mac." + acc.candidates[c].name(),
                   "missing: every declared candidate needs an energy per MAC");
  }

  void memory(StrictMap& root) {
    YAML::Node node = root.get("memory", true);
    if (!node.IsDefined()) return;
    if (!node.IsSequence() || node.size() == 0 || node.size() > kMaxMemoryLevels) {
      issues.add(node.Mark(), "memory",
                 "expected a list of 1 to " + std::to_string(kMaxMemoryLevels) +
                     " memory levels, innermost first");
      return;
    }
    for (std::size_t k = 0; k < node.size(); ++k) {
      const bool last = k + 1 == node.size();
      StrictMap m(node[k], "memory[" + std::to_string(k) + "]", issues);
      MemoryLevel level;
      level.name = m.string("name", true).value_or("?");
      auto cap = m.number("capacity_kib", !last, Bound::Positive);
      level.capacity_bytes =
          last ? std::numeric_limits<double>::infinity() : cap.value_or(0) * kKiB;
      if (last && cap)
        issues.add(m.node()["capacity_kib"].Mark(), m.path_of("capacity_kib"),
                   "the last (off-chip) level has no capacity limit; remove the key");
      level.bandwidth_bytes_per_s =
          m.number("bandwidth_gb_per_s", true, Bound::Positive).value_or(0) * kGB;
      level.energy_pj_per_byte =
          m.number("energy_pj_per_byte", true, Bound::NonNegative).value_or(0);
      m.finish();
      acc.memory.push_back(level);
    }
  }

  void grouping(StrictMap& root) {
    YAML::Node node = root.get("grouping", false);
    if (!node.IsDefined()) return;
    StrictMap m(node, "grouping", issues);
    if (YAML::Node u = m.get("unify_inputs", false); u.IsDefined())
      if (auto list = read_string_list(u, "grouping.unify_inputs", issues))
        acc.grouping.unify_inputs = *list;
    m.finish();
  }

  // fusion: {sequences: [[Conv, Relu], ...], internal_precision: [LayerNormalization, ...]}
  void fusion(StrictMap& root) {
    YAML::Node node = root.get("fusion", false);
    if (!node.IsDefined()) return;
    StrictMap m(node, "fusion", issues);
    if (!m.is_map()) return;
    FusionRules rules;
    if (YAML::Node list = m.get("sequences", true); list.IsDefined()) {
      if (!list.IsSequence())
        issues.add(list.Mark(), "fusion.sequences", "expected a list of op sequences");
      for (std::size_t k = 0; list.IsSequence() && k < list.size(); ++k) {
        const std::string key = "fusion.sequences[" + std::to_string(k) + "]";
        auto ops = read_string_list(list[k], key, issues);
        if (!ops) continue;
        std::size_t at = 0;
        if (auto problem = sequence_problem(*ops, at, op_kinds)) {
          const YAML::Node item =
              list[k].IsSequence() && at < list[k].size() ? list[k][at] : list[k];
          issues.add(item.Mark(), key, *problem);
          continue;
        }
        rules.sequences.push_back(*ops);
      }
    }
    if (YAML::Node list = m.get("internal_precision", false); list.IsDefined())
      if (auto ops = read_string_list(list, "fusion.internal_precision", issues))
        for (std::size_t k = 0; k < ops->size(); ++k) {
          const std::string& op = (*ops)[k];
          const FusionOpKind kind = op_kinds(op);
          if (kind != FusionOpKind::Compute)
            issues.add(list[k].Mark(), "fusion.internal_precision",
                       "'" + op + "' is " +
                           (kind == FusionOpKind::Unknown ? "not an op type mpq knows"
                            : kind == FusionOpKind::Weighted
                                ? "a weighted op (its precision is its candidate's)"
                                : "a data-movement op (it computes nothing)"));
          else
            rules.internal_precision.push_back(op);
        }
    m.string("source", false);
    m.finish();
    acc.fusion = std::move(rules);
  }

  void latency_model(StrictMap& root) {
    auto model = root.string("latency_model", true);
    const std::map<std::string, LatencyModelKind> kinds = {
        {"roofline", LatencyModelKind::Roofline},
        {"bit_serial", LatencyModelKind::BitSerial},
        {"systolic", LatencyModelKind::Systolic},
        {"measured", LatencyModelKind::Measured}};
    if (model && !kinds.count(*model))
      issues.add(root.node()["latency_model"].Mark(), "latency_model",
                 "expected roofline, bit_serial, systolic or measured, got '" + *model + "'");
    if (model && kinds.count(*model)) acc.latency_model = kinds.at(*model);
    const std::string chosen = model.value_or("");
    // A section for a model that is not selected is a mistake, not something to ignore.
    for (const char* section : {"bit_serial", "systolic", "measured"})
      if (root.has(section) && chosen != section)
        issues.add(root.node()[section].Mark(), section,
                   "given, but latency_model is '" + chosen + "'");
    if (chosen == "bit_serial") bit_serial(root);
    if (chosen == "systolic") systolic(root);
    if (chosen == "measured") measured(root);
    if (chosen == "roofline")
      roofline_throughputs(root);
    else
      for (const auto& [cls, s] : acc.op_classes)
        if (!s.macs_per_cycle.empty())
          issues.add(root.node()["op_classes"][cls]["macs_per_cycle"].Mark(),
                     "op_classes." + cls + ".macs_per_cycle",
                     "used only by latency_model roofline, but it is '" + chosen + "'");
  }

  void bit_serial(StrictMap& root) {
    YAML::Node node = root.get("bit_serial", true);
    if (!node.IsDefined()) return;
    StrictMap m(node, "bit_serial", issues);
    acc.bit_serial.macs_per_cycle_8x8 =
        m.number("macs_per_cycle_8x8", true, Bound::Positive).value_or(1);
    acc.bit_serial.brick_bits = m.integer("brick_bits", false, Bound::Positive).value_or(2);
    acc.bit_serial.max_bits = m.integer("max_bits", false, Bound::Positive).value_or(8);
    m.finish();
    for (const auto& c : acc.candidates)
      if (!c.weight.is_int() || !c.activation.is_int())
        issues.add(root.node()["candidates"][c.name()].Mark(), "candidates." + c.name(),
                   "bit_serial bricks compute integers only (no float or block-scaled formats)");
  }

  void systolic(StrictMap& root) {
    YAML::Node node = root.get("systolic", true);
    if (!node.IsDefined()) return;
    StrictMap m(node, "systolic", issues);
    auto& s = acc.systolic;
    s.rows = m.integer("rows", true, Bound::Positive).value_or(1);
    s.cols = m.integer("cols", true, Bound::Positive).value_or(1);
    auto df = m.string("dataflow", true);
    if (df == "ws")
      s.dataflow = Dataflow::WeightStationary;
    else if (df == "os")
      s.dataflow = Dataflow::OutputStationary;
    else if (df == "is")
      s.dataflow = Dataflow::InputStationary;
    else if (df)
      issues.add(m.node()["dataflow"].Mark(), "systolic.dataflow",
                 "expected ws, os or is, got '" + *df + "'");
    s.ifmap_sram_bytes = m.number("ifmap_sram_kib", true, Bound::Positive).value_or(1) * kKiB;
    s.filter_sram_bytes = m.number("filter_sram_kib", true, Bound::Positive).value_or(1) * kKiB;
    s.ofmap_sram_bytes = m.number("ofmap_sram_kib", true, Bound::Positive).value_or(1) * kKiB;
    m.finish();
    if (acc.memory.size() != 2 && root.has("memory"))
      issues.add(root.node()["memory"].Mark(), "memory",
                 "latency_model systolic needs exactly two levels: on-chip SRAM, then DRAM");
  }

  void measured(StrictMap& root) {
    YAML::Node node = root.get("measured", true);
    if (!node.IsDefined()) return;
    StrictMap m(node, "measured", issues);
    auto csv = m.string("csv", true);
    m.finish();
    if (!csv) return;
    std::filesystem::path p(*csv);
    if (p.is_relative()) p = std::filesystem::path(path).parent_path() / p;
    auto table = load_measured_latencies(p.string(), acc.candidates);
    if (!table) {
      issues.add(m.node()["csv"].Mark(), "measured.csv", table.error().message);
      return;
    }
    acc.measured = std::move(table).value();
  }

  // Roofline needs a throughput for every candidate every MAC class supports.
  void roofline_throughputs(StrictMap& root) {
    const YAML::Mark at =
        root.has("op_classes") ? root.node()["op_classes"].Mark() : root.node().Mark();
    for (auto cls : kMacOpClassNames) {
      const std::string name(cls);
      const OpClassSupport* s = acc.support_of(name);
      for (std::size_t c = 0; c < acc.candidates.size(); ++c) {
        const bool supported = !s || !s->candidates ||
                               std::find(s->candidates->begin(), s->candidates->end(),
                                         static_cast<int>(c)) != s->candidates->end();
        if (supported && !acc.macs_per_cycle(name, static_cast<int>(c)))
          issues.add(at, "op_classes." + name + ".macs_per_cycle." + acc.candidates[c].name(),
                     "missing: roofline needs a throughput for every supported candidate (give it "
                     "under op_classes." +
                         name +
                         " or op_classes.default, or restrict the "
                         "class's candidates)");
      }
    }
  }

  Result<Accelerator> run(const YAML::Node& doc) {
    StrictMap root(doc, "", issues);
    if (!root.is_map()) return make_error(issues.joined());
    acc.source_file = path;
    acc.name = root.string("name", true).value_or("");
    acc.description = root.string("description", false).value_or("");
    acc.clock_hz = root.number("clock_mhz", true, Bound::Positive).value_or(1) * 1e6;
    acc.layer_overhead_cycles =
        root.number("layer_overhead_cycles", false, Bound::NonNegative).value_or(0);
    candidates(root);
    op_classes(root);
    pinned_ops(root);
    energy(root);
    memory(root);
    grouping(root);
    fusion(root);
    latency_model(root);
    root.finish();
    if (!issues.empty()) return make_error(issues.joined());
    return std::move(acc);
  }
};

}  // namespace

Result<Accelerator> parse_accelerator(const std::string& text, const std::string& path,
                                      FusionOpKinds op_kinds) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports syntax errors by exception; they become an error value here.
    return make_error(path + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  Loader l{path, YamlIssues(path), op_kinds, {}};
  return l.run(doc);
}

Result<Accelerator> load_accelerator(const std::string& path, FusionOpKinds op_kinds) {
  std::ifstream f(path);
  if (!f) return make_error(path + ": cannot open the accelerator description");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_accelerator(ss.str(), path, op_kinds);
}

}  // namespace mpq::hw
