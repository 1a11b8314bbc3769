#pragma once
// Experiments with no data: `synthetic:<classes>x<per-class>[:<seed>]` as a data spec
// (data.calibration, data.sensitivity or data.evaluation) stands for a set synthesized by
// `mpq synthesize` (Lee et al.'s method, its default settings) on the experiment's model. The set
// is cached in the output directory as synthetic-<key>.npy with its .labels.npy, the key a hash
// of the model file, the input shapes, the counts, the seed and the settings, so that a resumed
// run reads it back instead of synthesizing again.
#include <cstdint>
#include <string>

#include "core/result.hpp"
#include "experiment.hpp"
#include "graph/network.hpp"

namespace mpq {

struct SyntheticSpec {
  std::int64_t classes = 0, per_class = 0;
  std::uint64_t seed = 0;
};

bool is_synthetic_spec(const std::string& data);
Result<SyntheticSpec> parse_synthetic_spec(const std::string& data);

// Every synthetic: spec of `x` replaced by the cached files (synthesized first when absent);
// `synthesized` (may be null) counts the sets made rather than read back.
Status materialize_synthetic_data(ExperimentSpec& x, const Network& net, bool progress,
                                  int* synthesized = nullptr);

}  // namespace mpq
