#include "physml/core/options.hpp"

#include "physml/core/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace physml {

Options::Options(std::string prefix, PetscOptions db) : prefix_(std::move(prefix)), db_(db) {}

Options Options::sub(const std::string& sub) const { return Options(prefix_ + sub, db_); }

std::string Options::key(const std::string& name) const { return "-" + prefix_ + name; }

std::optional<std::string> Options::raw(const std::string& name) const {
  char buf[4096] = {0};
  PetscBool set = PETSC_FALSE;
  PHYSML_PETSC(PetscOptionsGetString(db_, nullptr, key(name).c_str(), buf, sizeof(buf), &set));
  if (!set) return std::nullopt;
  return std::string(buf);
}

bool Options::has(const std::string& name) const {
  PetscBool set = PETSC_FALSE;
  PHYSML_PETSC(PetscOptionsHasName(db_, nullptr, key(name).c_str(), &set));
  return set == PETSC_TRUE;
}

namespace {
long parse_long(const std::string& key, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  PHYSML_CHECK(!text.empty() && end && *end == '\0' && errno == 0, "option ", key, ": expected an integer, got '",
               text, "'");
  return v;
}
double parse_double(const std::string& key, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  PHYSML_CHECK(!text.empty() && end && *end == '\0' && errno == 0, "option ", key, ": expected a real number, got '",
               text, "'");
  return v;
}
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t[]");
    auto e = item.find_last_not_of(" \t[]");
    out.push_back(b == std::string::npos ? "" : item.substr(b, e - b + 1));
  }
  return out;
}
}  // namespace

long Options::get_int(const std::string& name, long default_value) const {
  auto r = raw(name);
  return r ? parse_long(key(name), *r) : default_value;
}

double Options::get_real(const std::string& name, double default_value) const {
  auto r = raw(name);
  return r ? parse_double(key(name), *r) : default_value;
}

bool Options::get_bool(const std::string& name, bool default_value) const {
  if (!has(name)) return default_value;
  auto r = raw(name);
  if (!r || r->empty()) return true;  // "-flag" alone means true
  std::string v = *r;
  for (auto& c : v) c = static_cast<char>(std::tolower(c));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  PHYSML_THROW("option ", key(name), ": expected a boolean (true/false/1/0/yes/no), got '", *r, "'");
}

std::string Options::get_string(const std::string& name, const std::string& default_value) const {
  auto r = raw(name);
  return r ? *r : default_value;
}

std::string Options::get_choice(const std::string& name, const std::vector<std::string>& choices,
                                const std::string& default_value) const {
  std::string v = get_string(name, default_value);
  for (const auto& c : choices)
    if (c == v) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  PHYSML_THROW("option ", key(name), ": unknown value '", v, "'; expected one of: ", list);
}

std::vector<long> Options::get_int_list(const std::string& name, const std::vector<long>& default_value) const {
  auto r = raw(name);
  if (!r) return default_value;
  std::vector<long> out;
  for (const auto& s : split_commas(*r)) out.push_back(parse_long(key(name), s));
  return out;
}

std::vector<double> Options::get_real_list(const std::string& name, const std::vector<double>& default_value) const {
  auto r = raw(name);
  if (!r) return default_value;
  std::vector<double> out;
  for (const auto& s : split_commas(*r)) out.push_back(parse_double(key(name), s));
  return out;
}

long Options::require_int(const std::string& name) const {
  PHYSML_CHECK(has(name), "missing required option ", key(name), " (an integer)");
  return get_int(name, 0);
}
double Options::require_real(const std::string& name) const {
  PHYSML_CHECK(has(name), "missing required option ", key(name), " (a real number)");
  return get_real(name, 0.0);
}
std::string Options::require_string(const std::string& name) const {
  PHYSML_CHECK(has(name), "missing required option ", key(name));
  return get_string(name, "");
}

void Options::set(const std::string& name, const std::string& value) const {
  PHYSML_PETSC(PetscOptionsSetValue(db_, key(name).c_str(), value.empty() ? nullptr : value.c_str()));
}

void Options::insert_file(const std::string& path) const {
  std::ifstream probe(path);
  PHYSML_CHECK(probe.good(), "options file '", path, "' cannot be opened");
  auto ends_with = [&](const std::string& s) {
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  const bool yaml = ends_with(".yaml") || ends_with(".yml");
  try {
    if (yaml) {
      PHYSML_PETSC(PetscOptionsInsertFileYAML(PETSC_COMM_WORLD, db_, path.c_str(), PETSC_TRUE));
    } else {
      PHYSML_PETSC(PetscOptionsInsertFile(PETSC_COMM_WORLD, db_, path.c_str(), PETSC_TRUE));
    }
  } catch (const Error& e) {
    PHYSML_THROW("options file '", path, "' cannot be read; expected ",
                 yaml ? "YAML ('key: value' lines, nested keys for prefixes)" : "PETSc options ('-key value' lines)",
                 " (", e.what(), ")");
  }
}

std::vector<std::string> unused_options(PetscOptions db) {
  PetscInt n = 0;
  char** names = nullptr;
  char** values = nullptr;
  PHYSML_PETSC(PetscOptionsLeftGet(db, &n, &names, &values));
  std::vector<std::string> out;
  for (PetscInt i = 0; i < n; ++i) {
    std::string s = std::string("-") + names[i];
    if (values[i]) s += std::string(" ") + values[i];
    out.push_back(s);
  }
  PHYSML_PETSC(PetscOptionsLeftRestore(db, &n, &names, &values));
  return out;
}

void check_no_unused_options(PetscOptions db) {
  auto left = unused_options(db);
  if (left.empty()) return;
  std::string list;
  for (const auto& s : left) list += "\n  " + s;
  PHYSML_THROW("unknown or unused option(s) (misspelled? see --help):", list);
}

}  // namespace physml
