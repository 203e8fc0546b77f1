#include "physml/core/progress.hpp"

#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <limits>

namespace physml {

Progress::Progress(std::string label, long total, long start, double interval, std::FILE* out)
    : label_(std::move(label)), total_(total), start_(start), done_(start), interval_(interval), out_(out) {
  interactive_ = out_ && isatty(fileno(out_));
  int up = 0, fin = 0, rank = 0;
  MPI_Initialized(&up);
  MPI_Finalized(&fin);
  if (up && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  enabled_ = rank == 0 && out_ != nullptr;
}

Progress::~Progress() {
  if (!finished_) finish();
}

double Progress::rate() const {
  double t = timer_.seconds();
  return t > 0 ? static_cast<double>(done_ - start_) / t : 0.0;
}

double Progress::eta() const {
  double r = rate();
  if (r <= 0) return std::numeric_limits<double>::infinity();
  return static_cast<double>(total_ - done_) / r;
}

std::string Progress::line(const std::string& status) const {
  char buf[512];
  double pct = total_ > 0 ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0;
  double r = rate();
  std::string rate_text;
  char rb[64];
  if (r >= 1 || r == 0)
    std::snprintf(rb, sizeof rb, "%.2f it/s", r);
  else
    std::snprintf(rb, sizeof rb, "%.2f s/it", 1.0 / r);
  rate_text = rb;
  std::snprintf(buf, sizeof buf, "%s  %ld/%ld  %3.0f%%  %s  ETA %s", label_.c_str(), done_, total_, pct,
                rate_text.c_str(), done_ >= total_ ? "0 s" : format_duration(eta()).c_str());
  std::string s = buf;
  if (!status.empty()) s += "  " + status;
  return s;
}

void Progress::advance(long n, const std::string& status) {
  done_ += n;
  if (!enabled_) return;
  double t = timer_.seconds();
  if (interactive_) {
    std::fprintf(out_, "\r\033[K%s", line(status).c_str());
    std::fflush(out_);
  } else if (t - last_print_ >= interval_ || done_ >= total_) {
    std::fprintf(out_, "%s\n", line(status).c_str());
    std::fflush(out_);
    last_print_ = t;
  }
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  if (interactive_) {
    std::fprintf(out_, "\r\033[K%s  (%s)\n", line(status).c_str(), format_duration(timer_.seconds()).c_str());
  } else if (last_print_ < timer_.seconds() - 1e-9 && done_ < total_) {
    std::fprintf(out_, "%s\n", line(status).c_str());
  }
  std::fflush(out_);
}

}  // namespace physml
