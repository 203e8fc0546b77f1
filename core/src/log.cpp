#include "physml/core/log.hpp"

#include <mpi.h>

#include <cmath>
#include <cstdio>

namespace physml {
namespace {
LogLevel g_level = LogLevel::info;
int world_rank() {
  int up = 0;
  MPI_Initialized(&up);
  int fin = 0;
  MPI_Finalized(&fin);
  if (!up || fin) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log(LogLevel level, const std::string& message, bool all_ranks) {
  if (level < g_level) return;
  int rank = world_rank();
  if (!all_ranks && rank != 0) return;
  FILE* out = level >= LogLevel::warning ? stderr : stdout;
  const char* tag = level == LogLevel::warning ? "warning: " : level == LogLevel::error ? "error: " : "";
  if (all_ranks)
    std::fprintf(out, "[physml][rank %d] %s%s\n", rank, tag, message.c_str());
  else
    std::fprintf(out, "[physml] %s%s\n", tag, message.c_str());
  std::fflush(out);
}

std::string format_duration(double s) {
  char buf[64];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%d h %02d min", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  }
  return buf;
}

}  // namespace physml
