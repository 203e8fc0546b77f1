#pragma once
/// \file options_reader.hpp
/// How a configurable object reads its own options: between PETSc's PetscOptionsBegin and
/// PetscOptionsEnd, one typed call per key with its default and its meaning, so that `-help`
/// lists every key of every object with its default and current value, as PETSc's own objects
/// do, and so that what was read can be recorded in the files the object writes.
///
///   MgNOOptions& MgNOOptions::set_from_options(const Options& options) {
///     OptionsReader r(options, "MgNO: multigrid neural operator");
///     channels(r.integer("channels", channels(), "hidden channels of every V-cycle"));
///     ...
///   }
///
/// The default of each key is the object's current value, so defaults are written once, in
/// the options type. Values come from the database of `options` (command line, -options_file,
/// -options_file_yaml; the command line wins) and are marked used, so unused_options() still
/// catches a misspelled key.

#include "physml/core/options.hpp"

#include <petscsys.h>

#include <map>
#include <string>
#include <vector>

namespace physml {

/// One PetscOptionsBegin/End section (or a sub-heading of a PETSc object's section).
class OptionsReader {
public:
  /// A section of its own, titled `title` in -help, for the keys "-" + options.prefix() + name.
  OptionsReader(const Options& options, const std::string& title, MPI_Comm comm = PETSC_COMM_WORLD);
  /// A sub-heading inside a PETSc object's own section (the PetscOptionItems a KSP or PC
  /// passes to its setfromoptions): keys "-" + object prefix + `sub_prefix` + name.
  OptionsReader(PetscOptionItems* items, const std::string& sub_prefix, const std::string& heading);
  /// Ends the section (PetscOptionsEnd) if end() was not called.
  ~OptionsReader();
  OptionsReader(const OptionsReader&) = delete;
  OptionsReader& operator=(const OptionsReader&) = delete;

  /// An integer key; `value` is the default (and the value shown by -help).
  long integer(const std::string& name, long value, const std::string& help);
  /// An integer key that must satisfy lo <= value (<= hi); anything else throws naming the key.
  long integer(const std::string& name, long value, const std::string& help, long lo, long hi = PETSC_MAX_INT);
  double real(const std::string& name, double value, const std::string& help);
  /// A boolean key: "-name" alone, or -name true/false/1/0/yes/no.
  bool boolean(const std::string& name, bool value, const std::string& help);
  std::string string(const std::string& name, const std::string& value, const std::string& help);
  /// A string that must be one of `choices` (listed by -help); anything else throws.
  std::string choice(const std::string& name, const std::vector<std::string>& choices, const std::string& value,
                     const std::string& help);
  /// Comma-separated lists ("-modes 12,12").
  std::vector<long> int_list(const std::string& name, const std::vector<long>& value, const std::string& help);
  std::vector<double> real_list(const std::string& name, const std::vector<double>& value, const std::string& help);

  /// Whether the key was given (after it was read).
  bool given(const std::string& name) const;
  /// Every key read so far, as full option name ("-mgno_channels") -> value text, the defaults
  /// included: how the object was configured, for file metadata.
  const std::map<std::string, std::string>& record() const { return record_; }
  /// The full prefix of this section's keys, without the dash ("darcy_" for -darcy_alpha).
  const std::string& prefix() const { return shown_; }
  /// PetscOptionsEnd now (errors are thrown here; the destructor swallows them).
  void end();

private:
  std::string key(const std::string& name) const;  // option name passed to PETSc, with the dash
  void note(const std::string& name, const std::string& value, bool set);
  PetscOptionItems own_{};
  PetscOptionItems* items_ = nullptr;
  std::string prefix_;   // prepended to names (sub_prefix; the section's own prefix is PETSc's)
  std::string shown_;    // the full prefix, for record()
  bool owned_ = false, ended_ = false;
  std::map<std::string, std::string> record_;
  std::map<std::string, bool> given_;
};

/// Collects every key that any OptionsReader of this thread reads while the recorder is alive
/// (nested recorders all receive them): the record of how a composite object (a scene, a
/// trainer with its schedule) was configured, for the metadata of the files it writes.
class OptionsRecorder {
public:
  OptionsRecorder();
  ~OptionsRecorder();
  OptionsRecorder(const OptionsRecorder&) = delete;
  OptionsRecorder& operator=(const OptionsRecorder&) = delete;
  /// Full option name ("-mpm_dt") -> value text, in reading order (a key read twice keeps its
  /// first place and its last value).
  const std::vector<std::pair<std::string, std::string>>& values() const { return values_; }
  /// Add a value that is not an option (e.g. a derived quantity).
  void add(const std::string& name, const std::string& value);
  /// values() as one JSON object (see options_json), names without the leading dash.
  std::string json() const;

private:
  friend class OptionsReader;
  std::vector<std::pair<std::string, std::string>> values_;
};

/// A JSON object text of (name, value text) pairs in the given order: values that parse as
/// integers, reals or true/false become JSON numbers and booleans, others strings. Written
/// with nlohmann/json (escaping included).
std::string options_json(const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace physml
