#include "budget_ilp.hpp"

#include <glpk.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "mckp_reduction.hpp"

namespace mpq {
namespace {

struct GlpkDeleter {
  void operator()(glp_prob* lp) const { glp_delete_prob(lp); }
};

// Builds and solves the ILP over the groups with more than one kept option (the others are
// fixed) with the budget row's right-hand side `rhs` (scaled units); returns the chosen option
// per group, or an error naming GLPK's status.
Result<MpConfig> solve_scaled(const MpProblem& p, const std::vector<std::vector<int>>& kept,
                              double cost_scale, double loss_scale, double rhs) {
  MpConfig config(p.groups.size(), -1);
  std::vector<std::size_t> free_groups;
  for (std::size_t g = 0; g < kept.size(); ++g) {
    if (kept[g].size() > 1) {
      free_groups.push_back(g);
      continue;
    }
    config[g] = kept[g][0];
    rhs -= p.groups[g][static_cast<std::size_t>(config[g])].cost_delta / cost_scale;
  }
  if (free_groups.empty()) return config;

  std::unique_ptr<glp_prob, GlpkDeleter> lp(glp_create_prob());
  glp_set_obj_dir(lp.get(), GLP_MIN);
  const int budget_row = static_cast<int>(free_groups.size()) + 1;
  glp_add_rows(lp.get(), budget_row);
  for (int row = 1; row < budget_row; ++row) glp_set_row_bnds(lp.get(), row, GLP_FX, 1.0, 1.0);
  glp_set_row_bnds(lp.get(), budget_row, GLP_UP, 0.0, rhs);
  std::size_t num_cols = 0;
  for (std::size_t g : free_groups) num_cols += kept[g].size();
  glp_add_cols(lp.get(), static_cast<int>(num_cols));
  std::vector<int> ia{0}, ja{0};  // GLPK arrays are 1-based
  std::vector<double> ar{0};
  int col = 0;
  for (std::size_t row = 1; row < static_cast<std::size_t>(budget_row); ++row)
    for (int o : kept[free_groups[row - 1]]) {
      const MpOption& opt = p.groups[free_groups[row - 1]][static_cast<std::size_t>(o)];
      ++col;
      glp_set_col_kind(lp.get(), col, GLP_BV);
      glp_set_obj_coef(lp.get(), col, opt.loss / loss_scale);
      ia.push_back(static_cast<int>(row)), ja.push_back(col), ar.push_back(1.0);
      if (opt.cost_delta != 0)
        ia.push_back(budget_row), ja.push_back(col), ar.push_back(opt.cost_delta / cost_scale);
    }
  glp_load_matrix(lp.get(), static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());

  glp_iocp parm;
  glp_init_iocp(&parm);
  parm.presolve = GLP_ON;
  parm.msg_lev = GLP_MSG_OFF;
  const int ret = glp_intopt(lp.get(), &parm);
  const int status = glp_mip_status(lp.get());
  if (ret != 0 || status != GLP_OPT)
    return make_error("budget ILP: GLPK did not find the optimum (glp_intopt returned " +
                      std::to_string(ret) + ", MIP status " + std::to_string(status) + ")");
  col = 0;
  for (std::size_t g : free_groups)
    for (int o : kept[g])
      if (glp_mip_col_val(lp.get(), ++col) > 0.5) config[g] = o;
  if (std::find(config.begin(), config.end(), -1) != config.end())
    return make_error("budget ILP: GLPK returned a group without an option");
  return config;
}

}  // namespace

Result<PricedConfig> solve_budget_ilp(const MpProblem& p, double budget) {
  if (auto s = validate_problem(p); !s) return s.error();
  if (auto s = check_budget(p, budget); !s) return s.error();
  const MckpReduction reduction = reduce_mckp(p, budget);
  const auto& kept = reduction.kept;
  double cost_scale = 0, loss_scale = 0;
  for (std::size_t g = 0; g < kept.size(); ++g)
    for (int o : kept[g]) {
      cost_scale =
          std::max(cost_scale, std::abs(p.groups[g][static_cast<std::size_t>(o)].cost_delta));
      loss_scale = std::max(loss_scale, p.groups[g][static_cast<std::size_t>(o)].loss);
    }
  if (cost_scale == 0) cost_scale = 1;
  if (loss_scale == 0) loss_scale = 1;
  // GLPK accepts a row within its feasibility tolerance; if the chosen configuration exceeds the
  // budget in exact arithmetic, tighten the row by the excess and solve again.
  double rhs = (budget - p.base_cost) / cost_scale;
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto config = solve_scaled(p, kept, cost_scale, loss_scale, rhs);
    if (!config) return config.error();
    PricedConfig chosen = priced(p, std::move(config).value());
    // GLPK stops within its optimality tolerance; the incumbent may be (slightly) better.
    if (chosen.cost <= budget)
      return reduction.incumbent.loss < chosen.loss ? reduction.incumbent : chosen;
    rhs -= 2 * (chosen.cost - budget) / cost_scale;
  }
  return make_error("budget ILP: no solution within the budget " + std::to_string(budget) +
                    " after tightening for GLPK's tolerance");
}

}  // namespace mpq
