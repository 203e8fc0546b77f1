#pragma once
/// \file log.hpp
/// Logging (rank 0 by default) and wall-clock timers.

#include "physml/core/error.hpp"

#include <chrono>
#include <string>

namespace physml {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3, quiet = 4 };

/// Messages below this level are dropped (default info; -log_level debug|info|warning|error|quiet).
void set_log_level(LogLevel level);
LogLevel log_level();

/// Write one line to stderr (warnings, errors) or stdout (info, debug), on rank 0 only
/// unless `all_ranks` is set, prefixed with "[physml]" (and "[rank r]" for all_ranks).
void log(LogLevel level, const std::string& message, bool all_ranks = false);

template <typename... Args>
void log_info(const Args&... args) { log(LogLevel::info, detail::concat(args...)); }
template <typename... Args>
void log_debug(const Args&... args) { log(LogLevel::debug, detail::concat(args...)); }
template <typename... Args>
void log_warning(const Args&... args) { log(LogLevel::warning, detail::concat(args...)); }

/// A wall-clock stopwatch.
class Timer {
public:
  Timer() { reset(); }
  void reset() { start_ = std::chrono::steady_clock::now(); }
  /// Seconds since construction or the last reset().
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

private:
  std::chrono::steady_clock::time_point start_;
};

/// Human-readable duration: "0.35 s", "2 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);

}  // namespace physml
