#pragma once
#include <CLI/CLI.hpp>

namespace mpq::cli {

// Each subcommand registers itself and stores its exit code in `exit_code` when it runs.
void add_inspect_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_quantize_command(CLI::App& app, int& exit_code);
void add_groups_command(CLI::App& app, int& exit_code);
void add_cost_command(CLI::App& app, int& exit_code);
void add_sensitivity_command(CLI::App& app, int& exit_code);
void add_explore_command(CLI::App& app, int& exit_code);
void add_export_command(CLI::App& app, int& exit_code);
void add_synthesize_command(CLI::App& app, int& exit_code);

}  // namespace mpq::cli
