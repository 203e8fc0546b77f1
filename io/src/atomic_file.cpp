// Temporary files and atomic rename (see physml/io/atomic_file.hpp).
#include "physml/io/atomic_file.hpp"

#include "physml/core/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

namespace fs = std::filesystem;

namespace physml::io {

std::string temporary_path(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

void check_writable_path(const std::string& path, const std::string& what) {
  fs::path p(path);
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  PHYSML_CHECK(!path.empty(), "cannot write ", what, ": empty path");
  PHYSML_CHECK(fs::is_directory(dir, ec), "cannot write ", what, " '", path, "': directory '", dir.string(),
               "' does not exist");
  PHYSML_CHECK(!fs::is_directory(p, ec), "cannot write ", what, " '", path, "': a directory of that name exists");
}

namespace {
/// fsync `from`, rename it to `to`; on failure remove `from` if asked, then throw.
void sync_and_rename(const std::string& from, const std::string& to, bool remove_on_failure) {
  int fd = ::open(from.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    std::error_code ignored;
    if (remove_on_failure) fs::remove(from, ignored);
    PHYSML_THROW("cannot rename '", from, "' to '", to, "': ", ec.message(),
                 remove_on_failure ? "" : " (the partial file is kept)");
  }
}
}  // namespace

void publish_file(const std::string& tmp, const std::string& path) { sync_and_rename(tmp, path, true); }

void publish_partial(const std::string& partial, const std::string& path) { sync_and_rename(partial, path, false); }

}  // namespace physml::io
