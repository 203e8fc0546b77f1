#pragma once
/// \file progress.hpp
/// Progress reporting for long-running commands.

#include "physml/core/log.hpp"

#include <cstdio>
#include <string>

namespace physml {

/// Reports progress of `total` units of work. On a terminal it redraws one line in
/// place ("label  37/100  37%  12.3 it/s  ETA 5.10 s"); otherwise (CI, pipes, files)
/// it prints a plain line at most every `interval` seconds and at the end.
/// Prints on rank 0 only. `start` units may already be done (resumed runs).
class Progress {
public:
  Progress(std::string label, long total, long start = 0, double interval = 10.0, std::FILE* out = stderr);
  ~Progress();
  /// Mark `n` more units done, with an optional status text ("loss 1.2e-3").
  void advance(long n = 1, const std::string& status = "");
  /// Finish the line (called by the destructor if not called before).
  void finish(const std::string& status = "");
  long done() const { return done_; }
  /// Units per second since construction (counting only work done in this run).
  double rate() const;
  /// Estimated seconds remaining (inf if unknown).
  double eta() const;
  /// The text of the current progress line (what would be printed now).
  std::string line(const std::string& status = "") const;
  /// Force plain-line mode (tests) or in-place mode.
  void set_interactive(bool on) { interactive_ = on; }

private:
  std::string label_;
  long total_, start_, done_;
  double interval_;
  std::FILE* out_;
  bool interactive_;
  bool finished_ = false;
  bool enabled_;
  Timer timer_;
  double last_print_ = -1e300;
};

}  // namespace physml
