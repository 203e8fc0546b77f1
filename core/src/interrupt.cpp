#include "physml/core/interrupt.hpp"

#include <csignal>

namespace physml {
namespace {

volatile std::sig_atomic_t g_signal = 0;
int g_depth = 0;  // guards alive (constructed and destroyed on one thread, see the header)

extern "C" void physml_on_interrupt(int sig) {
  if (g_signal != 0) {  // second signal: die now, as without the guard
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
}

}  // namespace

struct InterruptGuard::Saved {
  struct sigaction old_int {}, old_term {};
};

InterruptGuard::InterruptGuard() : saved_(new Saved), previous_signal_(g_signal) {
  ++g_depth;
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = physml_on_interrupt;
  sa.sa_flags = SA_RESTART;  // a blocking call continues; the loop polls the flag at its next safe point
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &saved_->old_int);
  sigaction(SIGTERM, &sa, &saved_->old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &saved_->old_int, nullptr);
  sigaction(SIGTERM, &saved_->old_term, nullptr);
  // Without a guard the flag is clear; an outer guard still sees a signal the inner one saw.
  g_signal = --g_depth == 0 ? 0 : (g_signal != 0 ? g_signal : previous_signal_);
  delete saved_;
}

int InterruptGuard::signal() { return static_cast<int>(g_signal); }

}  // namespace physml
