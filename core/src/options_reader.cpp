#include "physml/core/options_reader.hpp"

#include "physml/core/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace physml {
namespace {

/// Shortest decimal text that reads back as exactly `v` (for -help and file metadata).
std::string real_text(double v) {
  for (int precision = 6; precision <= 17; ++precision) {
    std::ostringstream os;
    os.precision(precision);
    os << v;
    if (std::strtod(os.str().c_str(), nullptr) == v) return os.str();
  }
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

template <typename T, typename F>
std::string list_text(const std::vector<T>& v, F&& format) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + format(v[i]);
  return s;
}

std::string choice_help(const std::string& help, const std::vector<std::string>& choices) {
  std::string s = help + " (";
  for (std::size_t i = 0; i < choices.size(); ++i) s += (i ? "|" : "") + choices[i];
  return s + ")";
}

}  // namespace

OptionsReader::OptionsReader(const Options& options, const std::string& title, MPI_Comm comm)
    : items_(&own_), shown_(options.prefix()), owned_(true) {
  own_.options = options.database();
  own_.count = 1;
  const std::string& prefix = options.prefix();
  PHYSML_PETSC(PetscOptionsBegin_Private(&own_, comm, prefix.empty() ? nullptr : prefix.c_str(), title.c_str(), nullptr));
}

OptionsReader::OptionsReader(PetscOptionItems* items, const std::string& sub_prefix, const std::string& heading)
    : items_(items), prefix_(sub_prefix), shown_(std::string(items && items->prefix ? items->prefix : "") + sub_prefix) {
  PHYSML_CHECK(items != nullptr, "OptionsReader: no PETSc options section (PetscOptionItems) given");
  // PetscOptionsHeadBegin is a macro using PetscCall (which returns); the same test, inline.
  if (items_->printhelp && items_->count == 1 && !items_->alreadyprinted)
    PHYSML_PETSC((*PetscHelpPrintf)(items_->comm, "  %s\n", heading.c_str()));
}

OptionsReader::~OptionsReader() {
  if (!owned_ || ended_) return;
  try {
    end();
  } catch (...) {  // a destructor must not throw; end() reports errors when called explicitly
  }
}

void OptionsReader::end() {
  if (!owned_ || ended_) return;
  ended_ = true;
  PHYSML_PETSC(PetscOptionsEnd_Private(&own_));
}

std::string OptionsReader::key(const std::string& name) const { return "-" + prefix_ + name; }

namespace {
thread_local std::vector<OptionsRecorder*> t_recorders;
}

OptionsRecorder::OptionsRecorder() { t_recorders.push_back(this); }
OptionsRecorder::~OptionsRecorder() {
  auto it = std::find(t_recorders.begin(), t_recorders.end(), this);
  if (it != t_recorders.end()) t_recorders.erase(it);
}

void OptionsRecorder::add(const std::string& name, const std::string& value) {
  for (auto& [k, v] : values_)
    if (k == name) {
      v = value;
      return;
    }
  values_.emplace_back(name, value);
}

std::string OptionsRecorder::json() const {
  std::vector<std::pair<std::string, std::string>> named;
  for (const auto& [k, v] : values_) named.emplace_back(!k.empty() && k[0] == '-' ? k.substr(1) : k, v);
  return options_json(named);
}

std::string options_json(const std::vector<std::pair<std::string, std::string>>& values) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [name, text] : values) {
    char* end = nullptr;
    if (text == "true" || text == "false") {
      j[name] = text == "true";
      continue;
    }
    if (!text.empty()) {
      const long long i = std::strtoll(text.c_str(), &end, 10);
      if (end && *end == '\0') {
        j[name] = i;
        continue;
      }
      const double d = std::strtod(text.c_str(), &end);
      if (end && *end == '\0' && std::isfinite(d)) {
        j[name] = d;
        continue;
      }
    }
    j[name] = text;
  }
  return j.dump();
}

void OptionsReader::note(const std::string& name, const std::string& value, bool set) {
  record_["-" + shown_ + name] = value;
  for (auto* r : t_recorders) r->add("-" + shown_ + name, value);
  given_[name] = set;
}

bool OptionsReader::given(const std::string& name) const {
  auto it = given_.find(name);
  return it != given_.end() && it->second;
}

std::string OptionsReader::string(const std::string& name, const std::string& value, const std::string& help) {
  PHYSML_CHECK(!ended_, "OptionsReader: option ", key(name), " read after the section ended");
  char buf[4096] = {0};
  PetscBool set = PETSC_FALSE;
  PHYSML_PETSC(PetscOptionsString_Private(items_, key(name).c_str(), help.c_str(), nullptr, value.c_str(), buf,
                                          sizeof buf, &set));
  std::string out = set ? std::string(buf) : value;
  note(name, out, set);
  return out;
}

// Every typed key is read as text by PETSc (which documents it under -help and marks it used)
// and parsed by Options, so malformed values get the same messages everywhere.
long OptionsReader::integer(const std::string& name, long value, const std::string& help) {
  string(name, std::to_string(value), help);
  return given(name) ? Options(shown_, items_->options).get_int(name, value) : value;
}

long OptionsReader::integer(const std::string& name, long value, const std::string& help, long lo, long hi) {
  const long v = integer(name, value, help);
  PHYSML_CHECK(v >= lo && v <= hi, "option -", shown_, name, " = ", v, " is out of range: expected ", lo,
               hi == PETSC_MAX_INT ? " or more" : " to " + std::to_string(hi));
  return v;
}

double OptionsReader::real(const std::string& name, double value, const std::string& help) {
  string(name, real_text(value), help);
  return given(name) ? Options(shown_, items_->options).get_real(name, value) : value;
}

bool OptionsReader::boolean(const std::string& name, bool value, const std::string& help) {
  string(name, value ? "true" : "false", help);
  const bool v = given(name) ? Options(shown_, items_->options).get_bool(name, value) : value;
  record_["-" + shown_ + name] = v ? "true" : "false";
  for (auto* rec : t_recorders) rec->add("-" + shown_ + name, v ? "true" : "false");
  return v;
}

std::string OptionsReader::choice(const std::string& name, const std::vector<std::string>& choices,
                                  const std::string& value, const std::string& help) {
  const auto v = string(name, value, choice_help(help, choices));
  for (const auto& c : choices)
    if (c == v) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  PHYSML_THROW("option -", shown_, name, ": unknown value '", v, "'; expected one of: ", list);
}

std::vector<long> OptionsReader::int_list(const std::string& name, const std::vector<long>& value,
                                          const std::string& help) {
  string(name, list_text(value, [](long v) { return std::to_string(v); }), help);
  return given(name) ? Options(shown_, items_->options).get_int_list(name, value) : value;
}

std::vector<double> OptionsReader::real_list(const std::string& name, const std::vector<double>& value,
                                             const std::string& help) {
  string(name, list_text(value, real_text), help);
  return given(name) ? Options(shown_, items_->options).get_real_list(name, value) : value;
}

}  // namespace physml
