#pragma once
// AdaRound in the mixed-precision flow (Pandey et al.): the integers of every (weight, integer
// format) pair that phase 1 and phase 2 can need (each group's weights at its baseline and at
// every candidate) are learned once and kept in a journal beside the phase-1 journal
// (OUTPUT/adaround.journal): one JSON line per pair, written and flushed as each finishes, so an
// interrupted run resumes; its first line names the inputs, and a journal from other inputs is
// set aside (renamed .stale) with a message saying which changed, as the phase-1 journal is.
//
// Each pair is fitted on the float network's inputs of its layer (AdaRoundInputs::Float): the
// integers of one layer then do not depend on the formats of the others, which is what lets one
// result serve every mixed-precision configuration.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "phase1.hpp"
#include "rounded_weights.hpp"
#include "sim/adaround.hpp"

namespace mpq {

inline constexpr int kAdaRoundCacheVersion = 1;

struct AdaRoundCacheRun {
  std::shared_ptr<const RoundedWeights> weights;
  std::int64_t reused = 0, computed = 0;  // pairs read from the journal / learned now
  std::vector<std::string> skipped;       // weights or formats left at nearest, with why
  std::string notice;                     // why an old journal was set aside; "" otherwise
};

// The AdaRound options of an experiment (the iterations are its ranges.adaround_iters).
AdaRoundOptions adaround_options_of(const ExperimentSpec& spec);

// Loads `path` (key `inputs`: what the integers depend on, each as a hash), learns the pairs it
// lacks and appends them. Errors: a float weight format among explicitly listed candidates
// (AdaRound chooses between two integers), no calibration data reaching a layer, a journal of
// another format version.
Result<AdaRoundCacheRun> adaround_cache(const Phase1Context& ctx,
                                        const std::map<std::string, std::string>& inputs,
                                        const std::string& path, bool progress);

}  // namespace mpq
