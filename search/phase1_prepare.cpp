// prepare_phase1 in stages: load the model and the settings; load the accelerators, place the
// quantizers once under their common fusion rules and price every accelerator on that placement;
// form the groups to sweep (the union of the accelerators' groups, or the basic groups) with the
// wanted candidates; open the data; calibrate.
#include <algorithm>
#include <map>

#include "content_hash.hpp"
#include "fisher_sweep.hpp"
#include "hardware_groups.hpp"
#include "hw/accelerator_loader.hpp"
#include "phase1.hpp"
#include "progress_meter.hpp"
#include "sim/prepare.hpp"
#include "synthetic_data.hpp"

namespace mpq {
namespace {

std::string group_id(const QuantizerPlacement& p, const std::string& name,
                     const std::vector<std::size_t>& quantizers) {
  ContentHash h;
  for (std::size_t q : quantizers) h.add(p.quantizers[q].name);
  return name + "@" + h.hex().substr(0, 8);
}

Status load_model_and_settings(Phase1Context& ctx) {
  const ExperimentSpec& spec = ctx.spec;
  PrepareOptions prepare;
  prepare.allow_nonfinite = spec.allow_nonfinite;
  auto net = load_network(spec.model, spec.input_shapes, prepare);
  if (!net) return net.error();
  ctx.net = std::move(net).value();
  auto ranges = range_settings_of(spec);
  if (!ranges) return ranges.error();
  ctx.ranges = *ranges;
  ctx.mode = spec.mode == "baseline" ? SweepMode::OthersBaseline : SweepMode::OthersFloat;
  auto metric = parse_sensitivity_metric(spec.metric);
  if (!metric) return metric.error();
  ctx.metric = *metric;
  if (spec.weight_rounding != "nearest" && spec.weight_rounding != "adaround")
    return make_error("weight rounding must be nearest or adaround, not '" + spec.weight_rounding +
                      "'");
  if (spec.adaround_iters < 1) return make_error("AdaRound iterations must be at least 1");
  return Ok{};
}

Result<std::vector<hw::Accelerator>> load_accelerators(const std::vector<std::string>& paths) {
  std::vector<hw::Accelerator> accs;
  for (const auto& path : paths) {
    auto acc = hw::load_accelerator(path, fusion_op_kind);
    if (!acc) return make_error(acc.error().message);
    accs.push_back(std::move(acc).value());
  }
  return accs;
}

// One phase 1 serves every accelerator, so they must agree on where quantizers sit.
Result<PlacementRules> common_placement_rules(const std::vector<hw::Accelerator>& accs) {
  const PlacementRules rules =
      accs.empty() ? PlacementRules::defaults() : placement_rules_of(accs.front());
  for (const auto& acc : accs)
    if (placement_rules_of(acc).describe() != rules.describe())
      return make_error("accelerators '" + accs.front().name + "' (" + accs.front().source_file +
                        ") and '" + acc.name + "' (" + acc.source_file +
                        ") declare different fusion rules (" + rules.describe() + " against " +
                        placement_rules_of(acc).describe() +
                        "): one phase 1 places quantizers one way; explore them in separate "
                        "experiments");
  return rules;
}

// Places the quantizers once and prices every accelerator on that placement.
Status place_and_price(Phase1Context& ctx, std::vector<hw::Accelerator> accs) {
  auto rules = common_placement_rules(accs);
  if (!rules) return rules.error();
  ctx.placement = place_quantizers(ctx.net, *rules);
  for (auto& acc : accs) {
    auto priced = price_network(ctx.net, ctx.placement, acc);
    if (!priced) return make_error(acc.name + ": " + priced.error().message);
    ctx.accelerators.push_back({std::move(acc), std::move(priced).value(), {}});
  }
  return Ok{};
}

Result<std::vector<Candidate>> wanted_candidates(const ExperimentSpec& spec) {
  std::vector<Candidate> wanted;
  for (const auto& name : spec.candidates) {
    auto c = parse_candidate(name);
    if (!c) return make_error("candidates: " + c.error().message);
    wanted.push_back(*c);
  }
  return wanted;
}

// The groups to sweep and each accelerator's map into them (AcceleratorView::group_map).
class GroupUnion {
 public:
  GroupUnion(const QuantizerPlacement& placement, SweepMode mode,
             const std::vector<Candidate>& wanted)
      : placement_(placement), mode_(mode), wanted_(wanted) {}

  // Adds the accelerator's groups: a group two accelerators form alike is swept once, for the
  // wanted candidates either supports; its baseline is the first accelerator's.
  Status add(AcceleratorView& view) {
    const hw::Accelerator& acc = view.acc;
    for (const auto& w : wanted_)
      if (!acc.candidate_index(w))
        return make_error("candidate " + w.name() + " is not declared by accelerator '" + acc.name +
                          "' (" + acc.source_file + ")");
    const auto& groups = view.priced.groups.groups;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const Candidate& base = acc.candidates[static_cast<std::size_t>(view.priced.baseline[g])];
      auto index = union_index(groups[g], base, acc.name);
      if (!index) return index.error();
      view.group_map.push_back(*index);
      SweepGroup& sg = groups_[*index];
      for (int c : view.priced.supported[g]) {
        const Candidate& cand = acc.candidates[static_cast<std::size_t>(c)];
        const bool known =
            std::find(sg.candidates.begin(), sg.candidates.end(), cand) != sg.candidates.end();
        if (!(cand == base) && wanted(cand) && !known) sg.candidates.push_back(cand);
      }
    }
    return Ok{};
  }

  std::vector<SweepGroup> take() { return std::move(groups_); }

 private:
  bool wanted(const Candidate& c) const {
    return wanted_.empty() || std::find(wanted_.begin(), wanted_.end(), c) != wanted_.end();
  }

  Result<std::size_t> union_index(const QuantizerGroup& group, const Candidate& base,
                                  const std::string& accelerator) {
    const std::string id = group_id(placement_, group.name, group.quantizers);
    auto [it, added] = by_id_.try_emplace(id, groups_.size());
    if (added) {
      groups_.push_back({group.name, id, group.quantizers, base, {}});
    } else if (mode_ == SweepMode::OthersBaseline && !(groups_[it->second].baseline == base)) {
      return make_error("--mode baseline needs one baseline per group, but group '" + group.name +
                        "' has baseline " + base.name() + " on '" + accelerator + "' and " +
                        groups_[it->second].baseline.name() +
                        " on another accelerator: sweep them separately");
    }
    return it->second;
  }

  const QuantizerPlacement& placement_;
  SweepMode mode_;
  const std::vector<Candidate>& wanted_;
  std::map<std::string, std::size_t> by_id_;
  std::vector<SweepGroup> groups_;
};

// Without accelerators: the basic groups, each at the highest wanted candidate as its baseline.
Result<std::vector<SweepGroup>> basic_groups(const Phase1Context& ctx,
                                             const std::vector<Candidate>& wanted) {
  if (wanted.empty())
    return make_error("no accelerators and no candidates: give --hw or --candidates");
  const Candidate* best = &wanted.front();
  for (const auto& c : wanted)
    if (higher_precision(c, *best)) best = &c;
  std::vector<SweepGroup> out;
  for (const auto& grp : build_quantizer_groups(ctx.net, ctx.placement, {}).groups) {
    SweepGroup sg{
        grp.name, group_id(ctx.placement, grp.name, grp.quantizers), grp.quantizers, *best, {}};
    for (const auto& c : wanted)
      if (!(c == *best)) sg.candidates.push_back(c);
    out.push_back(std::move(sg));
  }
  return out;
}

Result<std::vector<SweepGroup>> groups_to_sweep(Phase1Context& ctx,
                                                const std::vector<Candidate>& wanted) {
  if (ctx.accelerators.empty()) return basic_groups(ctx, wanted);
  GroupUnion u(ctx.placement, ctx.mode, wanted);
  for (auto& view : ctx.accelerators)
    if (auto st = u.add(view); !st) return st.error();
  return u.take();
}

Status check_something_to_sweep(const std::vector<SweepGroup>& groups) {
  if (count_tasks(groups) > 0) return Ok{};
  std::string bases;
  for (const auto& g : groups)
    if (bases.find(g.baseline.name()) == std::string::npos)
      bases += (bases.empty() ? "" : ", ") + g.baseline.name();
  return make_error("nothing to sweep: no group has a candidate other than its baseline (" + bases +
                    "); give more candidates");
}

// The calibration and scoring samples, and the batch both fill.
Status open_data(Phase1Context& ctx) {
  const ExperimentSpec& spec = ctx.spec;
  auto calib = open_samples(spec.sample_spec(spec.calibration), ctx.net);
  if (!calib) return make_error("calibration data: " + calib.error().message);
  ctx.calibration = std::move(calib).value();
  if (spec.sensitivity_data.empty()) {
    ctx.scoring = ctx.calibration;
  } else {
    auto s = open_samples(spec.sample_spec(spec.sensitivity_data), ctx.net);
    if (!s) return make_error("sensitivity data: " + s.error().message);
    ctx.scoring = std::move(s).value();
  }
  if (needs_labels(ctx.metric) && ctx.scoring.labels.empty())
    return make_error("the sensitivity metric '" + spec.metric + "' needs labels, but " +
                      ctx.scoring.description + " has none (use sqnr, agreement, kl, mse or eagl)");
  if (ctx.metric == SensitivityMetric::Fisher)
    if (auto st = check_fisher_applicable(ctx.net); !st) return st.error();
  // The same batch rule as every command: a fixed batch dimension wins, and the samples used
  // must fill whole batches of it.
  const std::int64_t requested = spec.batch;
  for (const SampleSource* s : {&ctx.calibration, &ctx.scoring}) {
    auto b = batch_size_for(ctx.net, requested, std::min(spec.samples, s->count), s->description);
    if (!b) return b.error();
    ctx.spec.batch = *b;
  }
  return Ok{};
}

Status calibrate(Phase1Context& ctx, bool progress) {
  const std::int64_t samples = ctx.spec.samples;
  ProgressMeter meter("calibrating", 2 * std::min(samples, ctx.calibration.count), progress);
  auto stats =
      collect_activation_stats(ctx.net, ctx.placement, ctx.calibration, ctx.spec.batch, samples,
                               [&](std::int64_t done, std::int64_t) { meter.update(done); });
  meter.finish();
  if (!stats) return stats.error();
  ctx.stats = std::move(stats).value();
  return Ok{};
}

}  // namespace

Result<RangeSettings> range_settings_of(const ExperimentSpec& x) {
  RangeSettings r;
  auto a = parse_range_method(x.act_range);
  if (!a) return a.error();
  auto w = parse_range_method(x.weight_range);
  if (!w) return w.error();
  r.activation_method = *a;
  r.weight_method = *w;
  r.percentile = static_cast<float>(x.percentile);
  r.per_channel_weights = x.per_channel;
  r.bias = x.bias == "float" ? BiasMode::Float : BiasMode::Int32;
  return r;
}

Result<std::unique_ptr<Phase1Context>> prepare_phase1(const ExperimentSpec& spec, bool progress) {
  auto ctx = std::make_unique<Phase1Context>();
  ctx->spec = spec;
  if (auto st = load_model_and_settings(*ctx); !st) return st.error();
  if (auto st = materialize_synthetic_data(ctx->spec, ctx->net, progress); !st) return st.error();
  // ALPS scores each group lowered and recovered: AdaRound + bias correction on it, which phase
  // 2's configurations then carry too.
  if (ctx->metric == SensitivityMetric::Alps) {
    ctx->spec.weight_rounding = "adaround";
    ctx->spec.bias_correction = true;
  }
  auto accs = load_accelerators(spec.accelerators);
  if (!accs) return accs.error();
  if (auto st = place_and_price(*ctx, std::move(accs).value()); !st) return st.error();
  const auto wanted = wanted_candidates(spec);
  if (!wanted) return wanted.error();
  auto groups = groups_to_sweep(*ctx, *wanted);
  if (!groups) return groups.error();
  ctx->groups = std::move(groups).value();
  if (auto st = check_something_to_sweep(ctx->groups); !st) return st.error();
  if (auto st = open_data(*ctx); !st) return st.error();
  if (auto st = calibrate(*ctx, progress); !st) return st.error();
  return ctx;
}

}  // namespace mpq
