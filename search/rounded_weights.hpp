#pragma once
// Integer weights learned by AdaRound, per (weight quantizer, integer format), shared read-only by
// every phase-1 task, every phase-2 point and every accelerator: a configuration that puts a
// weight at a format takes that pair's integers.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/quant_config.hpp"

namespace mpq {

struct RoundedWeights {
  // (quantizer name, format name) -> the tensor's integers in element order.
  std::map<std::pair<std::string, std::string>, std::vector<std::int32_t>> integers;
  // With bias correction: (quantizer name, format name) -> (its layer's bias, corrected values).
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::vector<float>>> biases;

  // Sets integer_weights of every weight quantizer of `cfg` whose (name, format) is here, and
  // the corrected biases of exactly those layers.
  void apply(QuantConfig& cfg) const {
    cfg.corrected_biases.clear();
    for (auto& [name, s] : cfg.quantizers) {
      if (s.kind != QuantizerKind::Weight) continue;
      const std::pair<std::string, std::string> key{name, s.params.format.name()};
      if (const auto it = integers.find(key); it != integers.end()) s.integer_weights = it->second;
      if (const auto b = biases.find(key); b != biases.end())
        cfg.corrected_biases[b->second.first] = b->second.second;
    }
  }
};

}  // namespace mpq
