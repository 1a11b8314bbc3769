#pragma once
// A read-only view of a Model for the canonicalization matchers: who produces and who reads each
// tensor, constants read as scalars or per-channel vectors, and the rewrite a matcher proposes.
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model.hpp"

namespace mpq {

// One recognized pattern: the nodes it replaces and what takes their place (inserted where the
// last replaced node was, so the file order stays a natural one).
struct Rewrite {
  std::string pattern;               // "HardSwish", "affine chain", ...
  std::string node;                  // the name of the fused (or folded-into) node
  std::vector<std::size_t> removed;  // node indices
  std::vector<OpNode> added;
  std::map<std::string, Tensor> initializers;  // new ones
};

// A pattern whose start was recognized but whose rest does not match: left as it is.
struct Unfused {
  std::string pattern;
  std::string at;  // the node where the match started
  std::string reason;
};

// What a matcher returns: a rewrite, a reason it stopped part way, or neither (no start).
struct MatchResult {
  std::optional<Rewrite> rewrite;
  std::optional<Unfused> unfused;
};

class PatternView {
 public:
  PatternView(const Model& m, const std::map<std::string, Shape>& shapes);

  const Model& model() const { return m_; }
  const OpNode& node(std::size_t k) const { return m_.nodes[k]; }
  // The producing node of `t`, or nullptr for inputs, initializers and unknown tensors.
  const OpNode* producer(const std::string& t) const;
  std::optional<std::size_t> producer_index(const std::string& t) const;
  // The nodes that read `t` (each once, however many of its inputs name t).
  const std::vector<std::size_t>& consumers(const std::string& t) const;
  bool is_graph_output(const std::string& t) const { return outputs_.count(t) != 0; }
  // The single node that reads `t`, when `t` is not a graph output; else nullptr, and *why
  // says what else reads it.
  const OpNode* sole_consumer(const std::string& t, std::string* why = nullptr) const;
  std::optional<std::size_t> sole_consumer_index(const std::string& t) const;
  const Shape* shape(const std::string& t) const;
  const Tensor* constant(const std::string& t) const;
  // Every element of a float constant, when they are all equal.
  std::optional<float> scalar(const std::string& t) const;
  // Uses of every tensor by node inputs (one per input slot) and graph outputs.
  const std::map<std::string, int>& uses() const { return uses_; }
  // A binary node of `op` reading `t` and a constant: the constant's name (and position).
  // The node's output must have t's shape (the constant does not broadcast it wider).
  std::optional<std::string> constant_operand(const OpNode& n, const std::string& t,
                                              int* position = nullptr) const;
  // A binary node reading `t` and a scalar constant: that scalar (any operand order when
  // `commutes`, else only n(t, c)).
  std::optional<float> scalar_operand(const OpNode& n, const std::string& t) const;
  // The input of binary node n that is not `t` (t may appear once); "" when t is not an input.
  static std::string other_input(const OpNode& n, const std::string& t);
  std::string name_of(std::size_t k) const;

 private:
  const Model& m_;
  const std::map<std::string, Shape>& shapes_;
  std::map<std::string, std::size_t> producer_;
  std::map<std::string, std::vector<std::size_t>> consumers_;
  std::map<std::string, int> uses_;
  std::set<std::string> outputs_;
  std::vector<std::size_t> none_;
};

// |v - expected| within float rounding of expected (1e-6 relative).
bool near(float v, double expected);
// A Clip's [min, max] when both are constants (attributes below opset 11, inputs from 11).
std::optional<std::pair<float, float>> clip_bounds(const Model& m, const OpNode& clip);

}  // namespace mpq
