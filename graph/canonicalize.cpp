#include "canonicalize.hpp"

#include <algorithm>
#include <set>

#include "canonical_patterns.hpp"

namespace mpq {
namespace {

// Stages run one after another, each to a fixed point: later patterns build on earlier ones
// (a written-out HardSigmoid becomes a HardSigmoid op, which x * HardSigmoid(x) then turns into
// HardSwish; LayerNorm goes before RMSNorm, whose sum of squares it contains). Affine chains go
// last: folded first, the "+ 3" of a HardSigmoid after a Conv would vanish into the Conv's bias
// and hide the pattern.
const std::vector<std::vector<Matcher>>& stages() {
  static const std::vector<std::vector<Matcher>> s = {{match_softplus},
                                                      {match_written_hard_sigmoid},
                                                      {match_hard_sigmoid_product},
                                                      {match_gelu_erf},
                                                      {match_tanh_patterns},
                                                      {match_sigmoid_product},
                                                      {match_layer_norm},
                                                      {match_rms_norm},
                                                      {match_affine_chain}};
  return s;
}

const std::vector<std::string>& pattern_order() {
  static const std::vector<std::string> o = {
      "affine chain", "Softplus", "HardSigmoid",        "HardSwish", "GELU",     "GELU (tanh)",
      "Mish",         "SiLU",     "LayerNormalization", "RMSNorm",   "gated Mul"};
  return o;
}

// Replaces the nodes of non-overlapping rewrites; each rewrite's new nodes take the place of
// its last replaced node.
void apply(Model& m, std::vector<Rewrite>& rewrites, CanonicalizationReport& report) {
  std::map<std::size_t, std::vector<OpNode>*> insert_at;
  std::set<std::size_t> removed;
  for (auto& r : rewrites) {
    CanonicalRewrite done{r.pattern, r.node, {}};
    for (std::size_t k : r.removed) {
      removed.insert(k);
      done.replaced.push_back(m.nodes[k].label());
    }
    insert_at[*std::max_element(r.removed.begin(), r.removed.end())] = &r.added;
    for (auto& [name, t] : r.initializers) m.initializers[name] = std::move(t);
    report.rewrites.push_back(std::move(done));
  }
  std::vector<OpNode> nodes;
  nodes.reserve(m.nodes.size());
  for (std::size_t k = 0; k < m.nodes.size(); ++k) {
    if (auto it = insert_at.find(k); it != insert_at.end())
      for (auto& n : *it->second) nodes.push_back(std::move(n));
    if (!removed.count(k)) nodes.push_back(std::move(m.nodes[k]));
  }
  m.nodes = std::move(nodes);
  m.drop_unused_initializers();
}

// Runs one stage to its fixed point; the unfused starts of its last scan are reported.
void run_stage(Model& m, const std::map<std::string, Shape>& shapes,
               const std::vector<Matcher>& matchers, CanonicalizationReport& report) {
  for (;;) {
    const PatternView view(m, shapes);
    std::vector<Rewrite> rewrites;
    std::vector<UnfusedPattern> unfused;
    std::set<std::size_t> taken;
    for (std::size_t k = 0; k < m.nodes.size(); ++k) {
      if (taken.count(k)) continue;
      for (Matcher match : matchers) {
        MatchResult r = match(view, k);
        if (r.rewrite) {
          bool overlaps = false;
          for (std::size_t n : r.rewrite->removed) overlaps = overlaps || taken.count(n) != 0;
          if (overlaps) continue;  // the next scan sees it again
          taken.insert(r.rewrite->removed.begin(), r.rewrite->removed.end());
          rewrites.push_back(std::move(*r.rewrite));
          break;
        }
        if (r.unfused) unfused.push_back({r.unfused->pattern, r.unfused->at, r.unfused->reason});
      }
    }
    if (rewrites.empty()) {
      report.unfused.insert(report.unfused.end(), unfused.begin(), unfused.end());
      return;
    }
    apply(m, rewrites, report);
  }
}

}  // namespace

OpNode fused_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                  const std::string& output) {
  OpNode n;
  n.op_type = op;
  n.name = name;
  n.inputs = std::move(inputs);
  n.outputs = {output};
  return n;
}

std::vector<std::pair<std::string, int>> CanonicalizationReport::counts() const {
  std::vector<std::pair<std::string, int>> c;
  for (const auto& p : pattern_order()) {
    const auto n = std::count_if(rewrites.begin(), rewrites.end(),
                                 [&](const CanonicalRewrite& r) { return r.pattern == p; });
    if (n > 0) c.emplace_back(p, static_cast<int>(n));
  }
  return c;
}

std::string CanonicalizationReport::summary() const {
  std::string s;
  for (const auto& [pattern, n] : counts()) {
    if (!s.empty()) s += ", ";
    s += std::to_string(n) + " " + pattern;
    if (pattern == "affine chain") s += n == 1 ? " folded" : "s folded";
  }
  return s.empty() ? "nothing" : s;
}

CanonicalizationReport canonicalize(Model& m, const std::map<std::string, Shape>& shapes) {
  CanonicalizationReport report;
  report.ran = true;
  for (const auto& matchers : stages()) run_stage(m, shapes, matchers, report);
  return report;
}

}  // namespace mpq
