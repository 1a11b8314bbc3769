// The `mpq` command: a thin front over the libraries; each subcommand lives in its own file.
#include <cstdio>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "core/guarded_main.hpp"

// Help and version print as CLI11 formats them; usage errors carry mpq's error prefix, exit 2.
static int parse(CLI::App& app, int argc, char** argv, const int& exit_code) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "mpq: error: %s\nRun with --help for more information.\n", e.what());
    return 2;
  }
  return exit_code;
}

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
  mpq::cli::add_synthesize_command(app, exit_code);
  // CLI11 reads an unknown first word as a missing subcommand; name the word instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::string known;
    for (const CLI::App* sub : app.get_subcommands({})) {
      if (sub->get_name() == argv[1]) return parse(app, argc, argv, exit_code);
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    std::fprintf(stderr, "mpq: error: unknown command '%s' (commands: %s)\n", argv[1],
                 known.c_str());
    return 2;
  }
  return parse(app, argc, argv, exit_code);
}

int main(int argc, char** argv) {
  return mpq::guarded_main("mpq", [&] { return run(argc, argv); });
}
