// The `physml` command: dispatches to subcommands (see command.hpp).
#include "command.hpp"

#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options.hpp"

#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>

#if defined(__SANITIZE_ADDRESS__)
// Sanitizer build (PHYSML_SANITIZE=ON): Open MPI, PETSc and LibTorch keep process-lifetime
// allocations that LeakSanitizer reports as leaks at exit (also in mpirun'd ranks, which do not
// see ctest's environment), so leak checking is off; every other ASan check stays on.
extern "C" const char* __asan_default_options() { return "detect_leaks=0:detect_odr_violation=0"; }
#endif

namespace physml::cli {

std::map<std::string, Command>& commands() {
  static std::map<std::string, Command> registry;
  return registry;
}

Registrar::Registrar(Command c) { commands()[c.name] = std::move(c); }

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + ",") {
    if (c != ',') {
      cur += c;
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  return out;
}

}  // namespace physml::cli

namespace {

void print_overview() {
  std::printf("usage: physml <command> [arguments] [-option value ...]\n\n"
              "PhysML: scientific machine learning on PDEs (LibTorch + PETSc).\n\ncommands:\n");
  for (const auto& [name, cmd] : physml::cli::commands()) std::printf("  %-12s %s\n", name.c_str(), cmd.summary.c_str());
  std::printf("\n'physml <command> --help' describes one command. Options follow PETSc's options\n"
              "database: -name value on the command line, -options_file_yaml f.yaml for a file;\n"
              "the command line overrides the file. Common options: -threads N, -seed S.\n");
}

bool is_help(const char* a) { return !std::strcmp(a, "--help") || !std::strcmp(a, "-h") || !std::strcmp(a, "help"); }

}  // namespace

int main(int argc, char** argv) {
  auto& cmds = physml::cli::commands();
  if (argc < 2 || is_help(argv[1])) {
    print_overview();
    return argc < 2 ? 1 : 0;
  }
  auto it = cmds.find(argv[1]);
  if (it == cmds.end()) {
    std::fprintf(stderr, "physml: unknown command '%s'\n\n", argv[1]);
    print_overview();
    return 2;
  }
  const auto& cmd = it->second;
  for (int i = 2; i < argc; ++i)
    if (is_help(argv[i])) {
      std::printf("usage: physml %s\n\n%s\n", cmd.name.c_str(), cmd.usage.c_str());
      return 0;
    }

  // Everything after the subcommand name goes to PETSc's options database; the
  // arguments that are not options (and not option values) are positional.
  std::vector<std::string> positional;
  std::vector<char*> rest{argv[0]};
  for (int i = 2; i < argc; ++i) {
    bool is_option = argv[i][0] == '-' && argv[i][1] != '\0' && !(argv[i][1] >= '0' && argv[i][1] <= '9');
    if (is_option) {
      rest.push_back(argv[i]);
      if (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] != '\0' &&
                            !(argv[i + 1][1] >= '0' && argv[i + 1][1] <= '9') && argv[i + 1][1] != '.')) {
        rest.push_back(argv[++i]);
      }
    } else {
      positional.emplace_back(argv[i]);
    }
  }
  // A command's CONFIG file goes first into PETSc's options, so the command line overrides it.
  std::string config_key;
  if (cmd.config_file && !positional.empty()) {
    const auto& path = positional.front();
    if (!std::ifstream(path).good()) {
      std::fprintf(stderr, "physml %s: error: options file '%s' cannot be opened\n", cmd.name.c_str(), path.c_str());
      return 1;
    }
    const bool yaml = path.size() > 5 && (path.compare(path.size() - 5, 5, ".yaml") == 0 ||
                                          path.compare(path.size() - 4, 4, ".yml") == 0);
    config_key = yaml ? "-options_file_yaml" : "-options_file";
    rest.insert(rest.begin() + 1, {config_key.data(), const_cast<char*>(path.c_str())});
  }
  int rargc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  char** rargv = rest.data();
  try {
    physml::Environment env(rargc, rargv);
    int rc = cmd.run(positional);
    physml::check_no_unused_options();
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "physml %s: error: %s\n", cmd.name.c_str(), e.what());
    return 1;
  }
}
