#include "adaround_cache.hpp"

#include <fcntl.h>
#include <tbb/parallel_for.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/atomic_file.hpp"
#include "progress_meter.hpp"
#include "sim/adaround_layers.hpp"
#include "sim/integer_text.hpp"

namespace mpq {
namespace {

using nlohmann::json;
using PairKey = std::pair<std::string, std::string>;  // (quantizer name, format name)

struct Loaded {
  RoundedWeights weights;
  std::set<PairKey> pairs;
  std::string notice;
};

std::string changed_parts(const std::map<std::string, std::string>& old,
                          const std::map<std::string, std::string>& now) {
  std::string changed;
  for (const auto& [part, hash] : now) {
    const auto it = old.find(part);
    if (it == old.end() || it->second != hash) changed += (changed.empty() ? "" : ", ") + part;
  }
  return changed.empty() ? std::string("settings") : changed;
}

// The valid lines of `path`: a line cut short by a crash, or whose integers do not fit the
// model's tensor, is learned again.
Result<Loaded> load(const std::string& path, const std::map<std::string, std::string>& inputs,
                    const Network& net) {
  Loaded out;
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return out;
  json head;
  try {
    head = json::parse(line);
  } catch (const json::exception&) {
  }
  if (!head.is_object() || !head.contains("mpq_adaround_cache"))
    return make_error(path +
                      " is not an mpq AdaRound cache; remove it or choose another output "
                      "directory");
  if (head["mpq_adaround_cache"] != kAdaRoundCacheVersion)
    return make_error(path + " was written by an incompatible mpq (cache version " +
                      head["mpq_adaround_cache"].dump() + ", this mpq reads version " +
                      std::to_string(kAdaRoundCacheVersion) +
                      "); nothing was changed: remove it or choose another output directory");
  const auto old = head.value("inputs", std::map<std::string, std::string>{});
  if (old != inputs) {
    in.close();
    std::error_code ec;
    std::filesystem::rename(path, path + ".stale", ec);
    out.notice = "the cached AdaRound weights in " + path + " were made from other inputs (" +
                 changed_parts(old, inputs) +
                 " changed); learning them afresh (the old cache is kept as " + path + ".stale)";
    return out;
  }
  while (std::getline(in, line)) {
    try {
      const json j = json::parse(line);
      const std::string name = j.at("quantizer").get<std::string>();
      const PairKey key{name, j.at("format").get<std::string>()};
      const auto w = net.model.initializers.find(name);
      if (w == net.model.initializers.end()) continue;
      std::optional<std::vector<std::int32_t>> ints;
      if (j.contains("integers")) {
        ints = integers_from_text(j.at("integers").get<std::string>());
        if (!ints || static_cast<std::int64_t>(ints->size()) != w->second.size()) continue;
      }
      std::optional<std::pair<std::string, std::vector<float>>> bias;
      if (j.contains("bias")) {
        bias.emplace(j.at("bias").get<std::string>(),
                     j.at("bias_values").get<std::vector<float>>());
        const auto b = net.model.initializers.find(bias->first);
        if (b == net.model.initializers.end() ||
            b->second.size() != static_cast<std::int64_t>(bias->second.size()))
          continue;
      }
      if (!out.pairs.insert(key).second) continue;
      if (ints) out.weights.integers.emplace(key, std::move(*ints));
      if (bias) out.weights.biases.emplace(key, std::move(*bias));
    } catch (const std::exception&) {
      continue;
    }
  }
  return out;
}

// One pair: its integers (AdaRound) and its layer's corrected bias (bias correction), each
// only when there is one.
std::string pair_line(const PairKey& k, const RoundedWeights& w) {
  json j{{"quantizer", k.first}, {"format", k.second}};
  if (const auto q = w.integers.find(k); q != w.integers.end())
    j["integers"] = integers_to_text(q->second);
  if (const auto b = w.biases.find(k); b != w.biases.end()) {
    j["bias"] = b->second.first;
    j["bias_values"] = b->second.second;
  }
  return j.dump() + "\n";
}

// Appends whole lines, each flushed to disk before the next pair is reported done.
class Appender {
 public:
  static Result<Appender> start(const std::string& path, const std::string& text) {
    if (auto st = write_file_atomically(path, text); !st)
      return make_error("cannot create the AdaRound cache: " + st.error().message);
    Appender a;
    a.path_ = path;
    a.fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND);
    if (a.fd_ < 0) return make_error("cannot open the AdaRound cache '" + path + "'");
    return a;
  }
  Appender(Appender&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_) { o.fd_ = -1; }
  Appender& operator=(Appender&&) = delete;
  ~Appender() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status append(const std::string& text) {
    for (std::size_t off = 0; off < text.size();) {
      const ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
      if (n < 0) return make_error("cannot write the AdaRound cache '" + path_ + "'");
      off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd_) != 0) return make_error("cannot flush the AdaRound cache '" + path_ + "'");
    return Ok{};
  }

 private:
  Appender() = default;
  std::string path_;
  int fd_ = -1;
};

struct Wanted {
  std::map<PairKey, std::pair<std::size_t, NumberFormat>> pairs;  // -> (quantizer, format)
  std::vector<std::string> skipped;
};

// Every group's weights at its baseline and at each candidate (identity formats stay float).
Result<Wanted> wanted_pairs(const Phase1Context& ctx) {
  Wanted w;
  std::set<std::string> unsupported, float_formats;
  for (const auto& g : ctx.groups) {
    std::vector<Candidate> cands = g.candidates;
    cands.push_back(g.baseline);
    for (std::size_t qi : g.quantizers) {
      const Quantizer& q = ctx.placement.quantizers[qi];
      if (q.kind != QuantizerKind::Weight) continue;
      if (const std::string why = adaround_unsupported(ctx.net, q); !why.empty()) {
        if (unsupported.insert(q.name).second) w.skipped.push_back(q.name + ": " + why);
        continue;
      }
      for (const auto& c : cands) {
        if (c.weight.is_identity()) continue;
        if (!c.weight.is_int() && ctx.spec.weight_rounding == "adaround") {
          // Listed by the user: asked for; from the hardware: left at nearest, and said so.
          if (!ctx.spec.candidates.empty())
            return make_error("AdaRound chooses between two integers: candidate " + c.name() +
                              " has " + c.weight.name() +
                              " weights (list integer weight formats only, or "
                              "weight_rounding: nearest)");
          if (float_formats.insert(c.weight.name()).second)
            w.skipped.push_back(c.weight.name() + " weights: a float format (round to nearest)");
          continue;
        }
        w.pairs.emplace(PairKey{q.name, c.weight.name()}, std::make_pair(qi, c.weight));
      }
    }
  }
  return w;
}

}  // namespace

AdaRoundOptions adaround_options_of(const ExperimentSpec& spec) {
  AdaRoundOptions o;
  o.iterations = spec.adaround_iters;
  return o;
}

Result<AdaRoundCacheRun> adaround_cache(const Phase1Context& ctx,
                                        const std::map<std::string, std::string>& inputs,
                                        const std::string& path, bool progress) {
  auto wanted = wanted_pairs(ctx);
  if (!wanted) return wanted.error();
  auto loaded = load(path, inputs, ctx.net);
  if (!loaded) return loaded.error();
  AdaRoundCacheRun out;
  out.notice = loaded->notice;
  out.skipped = wanted->skipped;
  std::string text = json{{"mpq_adaround_cache", kAdaRoundCacheVersion}, {"inputs", inputs}}.dump();
  text += "\n";
  for (const auto& k : loaded->pairs) text += pair_line(k, loaded->weights);
  auto appender = Appender::start(path, text);
  if (!appender) return appender.error();

  auto weights = std::make_shared<RoundedWeights>(std::move(loaded->weights));
  std::vector<std::pair<PairKey, std::pair<std::size_t, NumberFormat>>> todo;
  for (const auto& [k, v] : wanted->pairs)
    if (loaded->pairs.count(k))
      ++out.reused;
    else
      todo.emplace_back(k, v);
  if (!todo.empty()) {
    std::vector<const Quantizer*> targets;
    std::map<std::size_t, std::size_t> target_of;  // quantizer index -> into targets
    for (const auto& [k, v] : todo)
      if (target_of.emplace(v.first, targets.size()).second)
        targets.push_back(&ctx.placement.quantizers[v.first]);
    auto moments =
        float_input_moments(ctx.net, targets, ctx.calibration, ctx.spec.samples, ctx.spec.batch);
    if (!moments) return moments.error();
    const AdaRoundOptions options = adaround_options_of(ctx.spec);
    const bool round = ctx.spec.weight_rounding == "adaround";
    std::vector<RoundedWeights> results(todo.size());
    std::vector<std::string> errors(todo.size());
    ProgressMeter meter(round ? "AdaRound: (weight, format) pairs" : "bias correction: pairs",
                        static_cast<std::int64_t>(todo.size()), progress);
    std::int64_t finished = 0;
    std::mutex report;
    // Pairs are independent; each one's integers depend on its inputs only, whatever the order.
    tbb::parallel_for(std::size_t{0}, todo.size(), [&](std::size_t i) {
      const auto& [k, v] = todo[i];
      const Quantizer& q = ctx.placement.quantizers[v.first];
      QuantizerSetting s = calibrate_quantizer(ctx.net, q, v.second, ctx.stats, ctx.ranges);
      const LayerMoments& m = (*moments)[target_of.at(v.first)];
      const std::string& data = ctx.calibration.description;
      RoundedWeights& res = results[i];
      if (round) {
        auto r = adaround_weight(ctx.net, q, m, s, options, data);
        if (!r) return void(errors[i] = r.error().message);
        res.integers[k] = s.integer_weights;
      }
      if (ctx.spec.bias_correction)
        if (const std::string bias = correctable_bias(ctx.net, q); !bias.empty()) {
          auto b = corrected_bias(ctx.net, q, m, s, data);
          if (!b) return void(errors[i] = b.error().message);
          res.biases[k] = {bias, std::move(b).value()};
        }
      std::lock_guard lock(report);
      if (auto st = appender->append(pair_line(k, res)); !st) errors[i] = st.error().message;
      meter.update(++finished);
    });
    meter.finish();
    for (const auto& e : errors)
      if (!e.empty()) return make_error(e);
    for (auto& r : results) {
      weights->integers.merge(r.integers);
      weights->biases.merge(r.biases);
    }
    out.computed = static_cast<std::int64_t>(todo.size());
  }
  out.weights = std::move(weights);
  return out;
}

}  // namespace mpq
