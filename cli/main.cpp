// The `mpq` command: a thin front over the libraries; each subcommand lives in its own file.
#include <iostream>

#include "commands.hpp"
#include "core/guarded_main.hpp"

static int run(int argc, char** argv) {
  CLI::App app{"mpq: hardware-aware mixed-precision quantization simulator and explorer"};
  app.require_subcommand(1);
  int exit_code = 0;
  mpq::cli::add_inspect_command(app, exit_code);
  mpq::cli::add_run_command(app, exit_code);
  mpq::cli::add_quantize_command(app, exit_code);
  mpq::cli::add_groups_command(app, exit_code);
  mpq::cli::add_cost_command(app, exit_code);
  mpq::cli::add_sensitivity_command(app, exit_code);
  mpq::cli::add_explore_command(app, exit_code);
  mpq::cli::add_export_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return exit_code;
}

int main(int argc, char** argv) {
  return mpq::guarded_main("mpq", [&] { return run(argc, argv); });
}
