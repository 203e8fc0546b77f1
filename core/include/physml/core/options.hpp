#pragma once
/// \file options.hpp
/// Typed access to PETSc's options database, with a prefix per object.
///
/// Every configurable PhysML object reads its settings through an Options with
/// its own prefix (e.g. "darcy_" reads -darcy_resolution). Values come from the
/// command line, -options_file and -options_file_yaml, with the command line winning.
/// Options that were given but never read are reported by unused_options(), so a
/// misspelled option never passes silently.

#include <petscsys.h>

#include <optional>
#include <string>
#include <vector>

namespace physml {

class Options {
public:
  /// `prefix` is prepended to every name ("mgno_" + "channels" -> -mgno_channels).
  /// `db` = nullptr uses PETSc's global options database.
  explicit Options(std::string prefix = "", PetscOptions db = nullptr);

  const std::string& prefix() const { return prefix_; }
  /// A new Options whose prefix is this prefix + `sub`.
  Options sub(const std::string& sub) const;

  bool has(const std::string& name) const;
  long get_int(const std::string& name, long default_value) const;
  double get_real(const std::string& name, double default_value) const;
  bool get_bool(const std::string& name, bool default_value) const;
  std::string get_string(const std::string& name, const std::string& default_value) const;
  /// A string that must be one of `choices`; anything else throws, listing the choices.
  std::string get_choice(const std::string& name, const std::vector<std::string>& choices,
                         const std::string& default_value) const;
  /// A comma-separated list of integers (-levels 1,2,3).
  std::vector<long> get_int_list(const std::string& name, const std::vector<long>& default_value) const;
  std::vector<double> get_real_list(const std::string& name, const std::vector<double>& default_value) const;

  /// Required variants: throw naming the option if it is absent.
  long require_int(const std::string& name) const;
  double require_real(const std::string& name) const;
  std::string require_string(const std::string& name) const;

  /// Set a value in the database (as if given on the command line).
  void set(const std::string& name, const std::string& value) const;

  /// Insert the options of a YAML or plain options file (".yaml"/".yml" -> YAML).
  void insert_file(const std::string& path) const;

  /// Full option name with leading dash: "-" + prefix + name.
  std::string key(const std::string& name) const;
  /// The options database (nullptr = PETSc's global one).
  PetscOptions database() const { return db_; }

private:
  std::optional<std::string> raw(const std::string& name) const;
  std::string prefix_;
  PetscOptions db_;
};

/// Options given in `db` (nullptr = global) that no code has read, as "-name value" strings.
std::vector<std::string> unused_options(PetscOptions db = nullptr);

/// Throw physml::Error listing every unused option (used by the CLI before it exits).
void check_no_unused_options(PetscOptions db = nullptr);

}  // namespace physml
