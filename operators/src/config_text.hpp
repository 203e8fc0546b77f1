#pragma once
// Private helpers: ModelConfig text <-> typed option values, with clear errors.
#include "physml/core/error.hpp"
#include "physml/operators/registry.hpp"

#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace physml::operators::detail {

/// A tensor shape as "[2, 1, 64, 64]", for error messages.
inline std::string shape_text(c10::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

inline std::int64_t parse_int(const std::string& model, const std::string& key, const std::string& text) {
  try {
    std::size_t pos = 0;
    long long v = std::stoll(text, &pos);
    if (pos == text.size()) return v;
  } catch (const std::exception&) {
  }
  PHYSML_THROW(model, " option '", key, "': expected an integer, got '", text, "'");
}

inline double parse_real(const std::string& model, const std::string& key, const std::string& text) {
  try {
    std::size_t pos = 0;
    double v = std::stod(text, &pos);
    if (pos == text.size()) return v;
  } catch (const std::exception&) {
  }
  PHYSML_THROW(model, " option '", key, "': expected a real number, got '", text, "'");
}

inline bool parse_bool(const std::string& model, const std::string& key, const std::string& text) {
  if (text == "1" || text == "true") return true;
  if (text == "0" || text == "false") return false;
  PHYSML_THROW(model, " option '", key, "': expected true/false, got '", text, "'");
}

/// "1,2,3" -> {1,2,3}; "" -> {}.
inline std::vector<std::int64_t> parse_int_list(const std::string& model, const std::string& key,
                                                const std::string& text, char sep = ',') {
  std::vector<std::int64_t> out;
  if (text.empty()) return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(parse_int(model, key, item));
  return out;
}

inline std::string join(const std::vector<std::int64_t>& v, char sep = ',') {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? std::string(1, sep) : "") + std::to_string(v[i]);
  return s;
}

/// {0.1, 2} -> "0.10000000000000001,2" (17 significant digits: parses back to the same doubles).
inline std::string join_reals(const std::vector<double>& v) {
  std::ostringstream s;
  s.precision(17);
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

/// "0.1,2" -> {0.1, 2}; "" -> {}.
inline std::vector<double> parse_real_list(const std::string& model, const std::string& key, const std::string& text) {
  std::vector<double> out;
  if (text.empty()) return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(parse_real(model, key, item));
  return out;
}

/// Throw if `config` has a key not in `known`, listing the known keys.
inline void check_keys(const std::string& model, const ModelConfig& config, const std::set<std::string>& known) {
  for (const auto& [k, v] : config) {
    if (!known.count(k)) {
      std::string names;
      for (const auto& n : known) names += (names.empty() ? "" : ", ") + n;
      PHYSML_THROW(model, ": unknown option '", k, "' (= '", v, "'); known options: ", names);
    }
  }
}

inline const std::string* find(const ModelConfig& config, const std::string& key) {
  auto it = config.find(key);
  return it == config.end() ? nullptr : &it->second;
}

}  // namespace physml::operators::detail
