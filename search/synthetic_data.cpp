#include "synthetic_data.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "content_hash.hpp"
#include "progress_meter.hpp"
#include "sim/input_synthesis.hpp"
#include "sim/synthetic_files.hpp"

namespace mpq {
namespace {

constexpr std::string_view kPrefix = "synthetic:";

std::optional<std::uint64_t> whole_number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

SynthesisSettings settings_of(const SyntheticSpec& spec) {
  SynthesisSettings s;
  s.classes = spec.classes;
  s.per_class = spec.per_class;
  s.seed = spec.seed;
  s.tv_weight = default_tv_weight(s.method);
  return s;
}

Result<std::string> cache_key(const ExperimentSpec& x, const SynthesisSettings& s) {
  std::ifstream in(x.model, std::ios::binary);
  if (!in) return make_error("cannot read the model '" + x.model + "'");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ContentHash h;
  h.add("mpq synthesize 1");
  h.add(bytes);
  for (const auto& shape : x.input_shapes) h.add(shape);
  for (const std::string& v :
       {std::string(synthesis_method_name(s.method)), std::to_string(s.classes),
        std::to_string(s.per_class), std::to_string(s.seed), std::to_string(s.iterations),
        std::to_string(s.learning_rate), std::to_string(s.tv_weight), std::to_string(s.batch)})
    h.add(v);
  return h.hex();
}

Result<SampleSpec> materialize(const ExperimentSpec& x, const std::string& data, const Network& net,
                               bool progress, int* synthesized) {
  auto spec = parse_synthetic_spec(data);
  if (!spec) return spec.error();
  const SynthesisSettings s = settings_of(*spec);
  if (auto st = check_synthesis(net, s); !st) return make_error(data + ": " + st.error().message);
  if (x.output.empty())
    return make_error(data + ": synthetic data is cached in the output directory; give output");
  auto key = cache_key(x, s);
  if (!key) return key.error();
  const std::string inputs = x.output + "/synthetic-" + *key + ".npy";
  const std::string labels = *labels_path_for(inputs);
  if (std::filesystem::exists(inputs) && std::filesystem::exists(labels))
    return SampleSpec{inputs, labels};
  std::error_code ec;
  std::filesystem::create_directories(x.output, ec);
  if (ec) return make_error("cannot create '" + x.output + "': " + ec.message());
  std::optional<ProgressMeter> meter;
  auto set = synthesize_inputs(net, s, {}, [&](std::int64_t done, std::int64_t total) {
    if (!meter) meter.emplace("synthesizing " + data, total, progress);
    meter->update(done);
  });
  if (meter) meter->finish();
  if (!set) return make_error(data + ": " + set.error().message);
  if (auto st = write_synthetic_set(inputs, labels, *set); !st) return st.error();
  if (synthesized) ++*synthesized;
  return SampleSpec{inputs, labels};
}

}  // namespace

bool is_synthetic_spec(const std::string& data) {
  return data.rfind(kPrefix, 0) == 0;
}

Result<SyntheticSpec> parse_synthetic_spec(const std::string& data) {
  const auto bad = [&] {
    return make_error("'" + data +
                      "': expected synthetic:<classes>x<per-class>[:<seed>] with positive "
                      "counts, e.g. synthetic:10x26");
  };
  if (!is_synthetic_spec(data)) return bad();
  std::string_view rest(data);
  rest.remove_prefix(kPrefix.size());
  SyntheticSpec out;
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    auto seed = whole_number(rest.substr(colon + 1));
    if (!seed) return bad();
    out.seed = *seed;
    rest = rest.substr(0, colon);
  }
  const auto x = rest.find('x');
  if (x == std::string_view::npos) return bad();
  auto classes = whole_number(rest.substr(0, x)), per = whole_number(rest.substr(x + 1));
  if (!classes || !per || *classes == 0 || *per == 0 || *classes > 1000000 || *per > 1000000)
    return bad();
  out.classes = static_cast<std::int64_t>(*classes);
  out.per_class = static_cast<std::int64_t>(*per);
  return out;
}

Status materialize_synthetic_data(ExperimentSpec& x, const Network& net, bool progress,
                                  int* synthesized) {
  for (SampleSpec* s : {&x.calibration, &x.sensitivity_data, &x.evaluation}) {
    if (!is_synthetic_spec(s->data)) continue;
    if (!s->labels.empty() || !s->preprocess.empty())
      return make_error(s->data + ": synthetic data has labels of its own and no preprocessing");
    auto m = materialize(x, s->data, net, progress, synthesized);
    if (!m) return m.error();
    *s = std::move(m).value();
  }
  return Ok{};
}

}  // namespace mpq
