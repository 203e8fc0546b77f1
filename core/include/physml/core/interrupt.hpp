#pragma once
/// \file interrupt.hpp
/// Graceful interruption of long-running library work (data generation, training): while an
/// InterruptGuard is alive, SIGINT and SIGTERM only set a flag that the work loop polls at a
/// safe point (after the sample or epoch in flight is written), so the run stops with its
/// files consistent and can be resumed. A second signal terminates at once (the default
/// action), so a stuck run can still be killed with a second Ctrl-C.
///
/// Library code never exits: the loop that sees interrupted() returns a status naming the
/// signal, and a command-line front end turns it into the exit code 128 + signal.

namespace physml {

/// Installs the handlers for SIGINT and SIGTERM on construction and restores the previous ones
/// on destruction. Guards may nest (the innermost owns the handlers); not thread-safe to
/// construct concurrently.
class InterruptGuard {
public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  /// The signal received since construction (SIGINT, SIGTERM), or 0.
  static int signal();
  /// True once a signal was received.
  static bool interrupted() { return signal() != 0; }

private:
  struct Saved;
  Saved* saved_;
  int previous_signal_;
};

}  // namespace physml
