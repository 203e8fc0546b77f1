#pragma once
/// \file command.hpp
/// Subcommands of the `physml` executable. Each subcommand lives in its own
/// cli/<name>.cpp and registers itself with PHYSML_COMMAND, so adding one needs no
/// change elsewhere.
///
/// A subcommand runs inside a physml::Environment (MPI, PETSc options database with
/// the command line after the subcommand name). When it returns, every option that
/// was given but never read is an error: a typo never passes silently.

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace physml::cli {

struct Command {
  std::string name;
  std::string summary;  ///< one line for `physml --help`
  std::string usage;    ///< full text for `physml NAME --help`
  /// Runs the command; `args` are the positional (non-option) arguments after the name.
  std::function<int(const std::vector<std::string>& args)> run;
  /// The first positional argument is an options file (PETSc YAML, or plain for other
  /// suffixes), inserted before the command line so that the command line overrides it.
  bool config_file = false;
};

/// The non-empty items of a comma-separated option value ("a,b,,c" -> {a, b, c}).
std::vector<std::string> split_list(const std::string& text);

/// All registered subcommands by name.
std::map<std::string, Command>& commands();

struct Registrar {
  explicit Registrar(Command c);
};

}  // namespace physml::cli

#define PHYSML_CLI_CONCAT2(a, b) a##b
#define PHYSML_CLI_CONCAT(a, b) PHYSML_CLI_CONCAT2(a, b)
/// Register a subcommand: PHYSML_COMMAND({"info", "summary", "usage", run_fn});
#define PHYSML_COMMAND(...) \
  static ::physml::cli::Registrar PHYSML_CLI_CONCAT(physml_cli_registrar_, __LINE__)(::physml::cli::Command __VA_ARGS__)
