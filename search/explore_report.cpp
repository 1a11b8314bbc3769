#include "explore_report.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/json_number.hpp"
#include "plot.hpp"
#include "search/number_text.hpp"
#include "sim/quant_metrics_json.hpp"

namespace mpq {
namespace {

using nlohmann::json;

const char* const kMetrics[] = {"bops", "memory", "latency", "energy"};

double score_of(const Exploration& x, const QuantMetrics& m) {
  return x.score_name == "accuracy" ? m.accuracy.value_or(NAN) : m.sqnr_db;
}

std::string score_label(const Exploration& x) {
  return x.score_name == "accuracy" ? "top-1 accuracy (%)" : "output SQNR (dB)";
}

std::vector<std::string> candidate_names(const std::vector<Candidate>& cs) {
  std::vector<std::string> names;
  for (const auto& c : cs) names.push_back(c.name());
  return names;
}

json point_json(const Exploration& x, const Phase1Context& ctx, const PointReport& p) {
  json cost = json::object();
  for (std::size_t a = 0; a < ctx.accelerators.size(); ++a) {
    if (!p.cost[a]) {
      cost[ctx.accelerators[a].acc.name] = nullptr;
      continue;
    }
    json c = json::object();
    for (const char* m : kMetrics) c[m] = cost_of(*p.cost[a], m);
    cost[ctx.accelerators[a].acc.name] = c;
  }
  return {{"label", p.label},
          {"score", number_to_json(score_of(x, p.metrics))},
          {"metrics", metrics_to_json(p.metrics)},
          {"predicted_loss", p.predicted_loss},
          {"cost", cost},
          {"candidates", candidate_names(p.candidates)}};
}

std::string front_csv(const Exploration& x, const Phase1Context& ctx,
                      const AcceleratorExploration& ax) {
  std::string s = "point," + x.score_name + ",sqnr_db,top1_agreement,predicted_loss";
  for (const auto& a : ctx.accelerators)
    for (const char* m : kMetrics) s += "," + a.acc.name + "_" + m;
  s += ",candidates\n";
  for (std::size_t k = 0; k < ax.front.size(); ++k) {
    const PointReport& p = ax.front[k];
    s += std::to_string(k) + "," + number_text(score_of(x, p.metrics), "%.17g") + "," +
         number_text(p.metrics.sqnr_db, "%.17g") + "," + number_text(p.metrics.agreement, "%.17g") +
         "," + number_text(p.predicted_loss, "%.17g");
    for (std::size_t a = 0; a < ctx.accelerators.size(); ++a)
      for (const char* m : kMetrics)
        s += "," + (p.cost[a] ? number_text(cost_of(*p.cost[a], m), "%.17g") : "");
    std::string c;
    for (const auto& n : p.candidates) c += (c.empty() ? "" : ";") + n.name();
    s += "," + c + "\n";
  }
  return s;
}

PlotSeries series_of(const std::string& title, const std::string& style,
                     const std::vector<const PointReport*>& pts, std::size_t acc,
                     const std::string& metric, const Exploration& x, bool labels) {
  PlotSeries s;
  s.title = title;
  s.style = style;
  for (const PointReport* p : pts) {
    if (!p->cost[acc]) continue;
    s.x.push_back(cost_of(*p->cost[acc], metric));
    s.y.push_back(score_of(x, p->metrics));
    if (labels) s.labels.push_back(p->label.substr(0, p->label.find(' ')));
  }
  return s;
}

std::vector<const PointReport*> ptrs(const std::vector<PointReport>& v) {
  std::vector<const PointReport*> out;
  out.reserve(v.size());
  for (const auto& p : v) out.push_back(&p);
  return out;
}

// Score against one cost metric on one accelerator: its front, the homogeneous points, the chosen
// point, the budget points and the bound.
PlotSpec cost_plot(const std::string& model, const Exploration& x, std::size_t ai,
                   const char* metric) {
  const AcceleratorExploration& ax = x.accelerators[ai];
  PlotSpec p;
  p.title = model + " on " + ax.name + ": " + score_label(x) + " vs " + cost_unit(metric);
  p.xlabel = std::string(cost_unit(metric)) + " on " + ax.name;
  p.ylabel = score_label(x);
  p.key_position = "bottom right";
  p.series.push_back(series_of("mixed-precision front (sorted sensitivity list)",
                               "linespoints pt 7 ps 0.8", ptrs(ax.front), ai, metric, x, false));
  p.series.push_back(series_of("homogeneous configurations", "points pt 5 ps 1.5",
                               ptrs(ax.homogeneous), ai, metric, x, true));
  if (ax.chosen)
    p.series.push_back(series_of("chosen for the accuracy bound", "points pt 9 ps 2.5",
                                 {&*ax.chosen}, ai, metric, x, false));
  std::vector<const PointReport*> ilp, greedy;
  for (const auto& b : ax.budgets) ilp.push_back(&*b.ilp), greedy.push_back(&*b.greedy);
  if (!ilp.empty()) {
    p.series.push_back(
        series_of("budget: exact ILP", "points pt 6 ps 1.5", ilp, ai, metric, x, false));
    p.series.push_back(
        series_of("budget: greedy", "points pt 1 ps 1.5", greedy, ai, metric, x, false));
  }
  if (x.bound) {
    PlotSeries b;
    b.title = "accuracy bound";
    b.style = "lines dt 2";
    double lo = INFINITY, hi = -INFINITY;
    for (const auto& s : p.series)
      for (double v : s.x) lo = std::min(lo, v), hi = std::max(hi, v);
    if (lo < hi) {
      b.x = {lo, hi};
      b.y = {*x.bound, *x.bound};
      p.series.push_back(b);
    }
  }
  return p;
}

PlotSeries named_series(const char* title, const char* style) {
  PlotSeries s;
  s.title = title;
  s.style = style;
  return s;
}

// Weight and activation bits per group of the chosen configuration.
PlotSpec bitwidth_plot(const std::string& model, const AcceleratorExploration& ax) {
  PlotSpec p;
  p.title = model + " on " + ax.name + ": bit-widths of the chosen configuration";
  p.xlabel = "quantizer group (network order)";
  p.ylabel = "bits";
  PlotSeries w = named_series("weights", "linespoints pt 7");
  PlotSeries a = named_series("activations", "linespoints pt 5");
  for (std::size_t g = 0; g < ax.chosen->candidates.size(); ++g) {
    const Candidate& c = ax.chosen->candidates[g];
    w.x.push_back(static_cast<double>(g));
    a.x.push_back(static_cast<double>(g));
    w.y.push_back(c.weight.bits);
    a.y.push_back(c.activation.bits);
    std::string name = ax.group_names[g];
    if (name.size() > 28) name = "..." + name.substr(name.size() - 25);
    p.xtic_labels.push_back(name);
  }
  p.series = {w, a};
  return p;
}

// Score against the budget fraction, exact ILP and greedy.
PlotSpec budget_plot(const std::string& model, const Exploration& x,
                     const AcceleratorExploration& ax) {
  PlotSpec p;
  p.title = model + " on " + ax.name + ": " + score_label(x) + " vs budget";
  p.xlabel = std::string("budget (fraction of the baseline's ") + cost_unit(ax.cost_metric) + ")";
  p.ylabel = score_label(x);
  p.key_position = "bottom right";
  PlotSeries ilp = named_series("exact ILP", "linespoints pt 6");
  PlotSeries greedy = named_series("greedy", "linespoints pt 1");
  for (const auto& b : ax.budgets) {
    ilp.x.push_back(b.fraction);
    greedy.x.push_back(b.fraction);
    ilp.y.push_back(score_of(x, b.ilp->metrics));
    greedy.y.push_back(score_of(x, b.greedy->metrics));
  }
  p.series = {ilp, greedy};
  return p;
}

// Every accelerator's front and homogeneous points against one cost metric.
PlotSpec codesign_plot(const std::string& model, const Exploration& x, const char* metric) {
  PlotSpec p;
  p.title = model + ": co-design, " + score_label(x) + " vs " + cost_unit(metric);
  p.xlabel = cost_unit(metric);
  p.ylabel = score_label(x);
  p.key_position = "bottom right";
  p.logscale_x = true;
  for (std::size_t ai = 0; ai < x.accelerators.size(); ++ai) {
    const auto& ax = x.accelerators[ai];
    p.series.push_back(series_of(ax.name + " front", "linespoints pt 7 ps 0.7", ptrs(ax.front), ai,
                                 metric, x, false));
    p.series.push_back(series_of(ax.name + " homogeneous", "points pt 5 ps 1.3",
                                 ptrs(ax.homogeneous), ai, metric, x, true));
  }
  return p;
}

Status plots(const Phase1Context& ctx, const Exploration& x, const std::string& dir,
             std::vector<std::string>& files) {
  const std::string model = std::filesystem::path(ctx.spec.model).filename().string();
  const auto render = [&](const PlotSpec& p, const std::string& name) -> Status {
    if (auto st = render_plot(p, dir + "/" + name); !st) return st;
    files.push_back(name);
    return Ok{};
  };
  for (std::size_t ai = 0; ai < x.accelerators.size(); ++ai) {
    const AcceleratorExploration& ax = x.accelerators[ai];
    for (const char* metric : kMetrics)
      if (auto st = render(cost_plot(model, x, ai, metric), ax.name + "_" + metric); !st) return st;
    if (ax.chosen)
      if (auto st = render(bitwidth_plot(model, ax), ax.name + "_bitwidths"); !st) return st;
    if (!ax.budgets.empty())
      if (auto st = render(budget_plot(model, x, ax), ax.name + "_budget_sweep"); !st) return st;
  }
  if (x.accelerators.size() > 1)
    for (const char* metric : {"latency", "energy"})
      if (auto st = render(codesign_plot(model, x, metric), std::string("codesign_") + metric); !st)
        return st;
  return Ok{};
}

std::string cost_cell(const PointReport& p, std::size_t a, const std::string& metric) {
  return p.cost[a] ? number_text(cost_of(*p.cost[a], metric), "%.4g") : "n/a";
}

std::string report_md(const Phase1Context& ctx, const Phase1Result& p1, const Exploration& x,
                      const ExploreOutputs& out, const std::vector<std::string>& figures) {
  std::ostringstream r;
  const ExperimentSpec& s = ctx.spec;
  r << "# mpq explore: " << std::filesystem::path(s.model).filename().string() << "\n\n";
  r << "Reproduce with:\n\n```\n" << out.command << "\n```\n\n";
  r << "- model: `" << s.model << "`\n- calibration: `" << s.calibration.text() << "` ("
    << s.samples << " samples)\n- phase-2 evaluation: `"
    << (s.evaluation.empty() ? s.calibration : s.evaluation).text() << "`\n- accelerators:";
  for (const auto& a : ctx.accelerators) r << " `" << a.acc.name << "`";
  r << "\n- phase 1: " << p1.list.entries.size() << " tasks (" << p1.computed << " computed, "
    << p1.resumed << " from the journal), sorted by " << metric_name(p1.list.metric);
  if (p1.tau_sqnr_vs_accuracy)
    r << "; Kendall tau SQNR vs accuracy ranking " << number_text(*p1.tau_sqnr_vs_accuracy, "%.3f");
  else if (p1.labeled)
    r << "; Kendall tau SQNR vs accuracy ranking undefined (one of the rankings ties every task)";
  r << "\n- float model: " << score_label(x) << " " << number_text(x.float_score, "%.2f");
  if (x.bound)
    r << "; bound " << number_text(*x.bound, "%.2f") << " (drop "
      << number_text(*s.accuracy_drop, "%.2f") << ")";
  r << "\n- configurations evaluated: " << x.evaluations << "\n\n";
  for (std::size_t ai = 0; ai < x.accelerators.size(); ++ai) {
    const AcceleratorExploration& ax = x.accelerators[ai];
    r << "## " << ax.name << "\n\n";
    r << "Front: " << ax.front.size() << " points (`front_" << ax.name << ".csv`).";
    if (!ax.note.empty()) r << " **" << ax.note << "**";
    r << "\n\n";
    if (!ax.searches.empty()) {
      r << "| search | meets bound | evaluations | " << x.score_name
        << " | latency (s) | energy (J) | BOPs |\n|---|---|---:|---:|---:|---:|---:|\n";
      for (const auto& sr : ax.searches)
        r << "| " << sr.method << " | " << (sr.met ? "yes" : "no") << " | " << sr.evaluations
          << " | " << number_text(score_of(x, sr.result->metrics), "%.2f") << " | "
          << cost_cell(*sr.result, ai, "latency") << " | " << cost_cell(*sr.result, ai, "energy")
          << " | " << cost_cell(*sr.result, ai, "bops") << " |\n";
      r << "\n";
    }
    r << "| point | " << x.score_name
      << " | latency (s) | energy (J) | BOPs | weight bytes |\n|---|---:|---:|---:|---:|---:|\n";
    auto row = [&](const PointReport& p) {
      r << "| " << p.label << " | " << number_text(score_of(x, p.metrics), "%.2f") << " | "
        << cost_cell(p, ai, "latency") << " | " << cost_cell(p, ai, "energy") << " | "
        << cost_cell(p, ai, "bops") << " | " << cost_cell(p, ai, "memory") << " |\n";
    };
    row(ax.front.front());
    for (const auto& h : ax.homogeneous) row(h);
    if (ax.chosen) row(*ax.chosen);
    for (const auto& b : ax.budgets) row(*b.ilp), row(*b.greedy);
    r << "\n";
    if (ax.chosen) {
      r << "Chosen configuration (`configs/" << ax.name << "_chosen.json`), per group:\n\n";
      r << "| group | candidate |\n|---|---|\n";
      for (std::size_t g = 0; g < ax.group_names.size(); ++g)
        r << "| `" << ax.group_names[g] << "` | " << ax.chosen->candidates[g].name() << " |\n";
      r << "\n";
    }
    for (const auto& f : figures)
      if (f.rfind(ax.name + "_", 0) == 0) r << "![" << f << "](" << f << ".png)\n\n";
  }
  for (const auto& f : figures)
    if (f.rfind("codesign_", 0) == 0) r << "![" << f << "](" << f << ".png)\n\n";
  r << "Phase 1: `sensitivity.csv`, ![sensitivity](sensitivity.png)\n";
  return r.str();
}

}  // namespace

json exploration_json(const Phase1Context& ctx, const Exploration& x) {
  json accs = json::array();
  for (const auto& ax : x.accelerators) {
    json front = json::array();
    for (const auto& p : ax.front) front.push_back(point_json(x, ctx, p));
    json searches = json::array();
    for (const auto& s : ax.searches)
      searches.push_back({{"method", s.method},
                          {"met", s.met},
                          {"evaluations", s.evaluations},
                          {"point", point_json(x, ctx, *s.result)}});
    json hom = json::array();
    for (const auto& h : ax.homogeneous) hom.push_back(point_json(x, ctx, h));
    json budgets = json::array();
    for (const auto& b : ax.budgets)
      budgets.push_back({{"fraction", b.fraction},
                         {"budget", b.budget},
                         {"ilp", point_json(x, ctx, *b.ilp)},
                         {"greedy", point_json(x, ctx, *b.greedy)}});
    json a = {{"accelerator", ax.name},   {"cost_metric", ax.cost_metric},
              {"groups", ax.group_names}, {"front", front},
              {"homogeneous", hom},       {"searches", searches},
              {"budgets", budgets}};
    if (ax.chosen) a["chosen"] = point_json(x, ctx, *ax.chosen);
    if (!ax.note.empty()) a["note"] = ax.note;
    accs.push_back(a);
  }
  json j = {{"model", ctx.spec.model},
            {"score", x.score_name},
            {"float_score", number_to_json(x.float_score)},
            {"evaluations", x.evaluations},
            {"accelerators", accs}};
  if (x.bound) j["bound"] = *x.bound;
  return j;
}

Status write_exploration(const Phase1Context& ctx, const Phase1Result& phase1, const Exploration& x,
                         const ExploreOutputs& out) {
  std::error_code ec;
  std::filesystem::create_directories(out.dir + "/configs", ec);
  if (ec) return make_error("cannot create '" + out.dir + "/configs': " + ec.message());
  for (const auto& ax : x.accelerators) {
    if (auto st =
            write_file_atomically(out.dir + "/front_" + ax.name + ".csv", front_csv(x, ctx, ax));
        !st)
      return st;
  }
  if (auto st =
          write_file_atomically(out.dir + "/fronts.json", exploration_json(ctx, x).dump(1) + "\n");
      !st)
    return st;
  for (const auto& [stem, cfg] : x.configs)
    if (auto st = write_config(out.dir + "/configs/" + stem + ".json", cfg); !st) return st;
  std::vector<std::string> figures;
  if (out.plots)
    if (auto st = plots(ctx, x, out.dir, figures); !st) return st;
  if (auto st = write_file_atomically(out.dir + "/command.txt", out.command + "\n"); !st) return st;
  // The report last: its presence says the run finished.
  return write_file_atomically(out.dir + "/report.md", report_md(ctx, phase1, x, out, figures));
}

}  // namespace mpq
