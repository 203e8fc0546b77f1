// Temporary files and atomic rename (see physml/io/atomic_file.hpp).
#include "physml/io/atomic_file.hpp"

#include "physml/core/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

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

bool file_ends_with(const std::string& path, std::string_view tail) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const auto size = static_cast<std::streamoff>(in.tellg());
  const auto n = static_cast<std::streamoff>(tail.size());
  if (size < n) return false;
  std::string last(tail.size(), '\0');
  in.seekg(size - n);
  in.read(last.data(), n);
  return in.good() && last == tail;
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

void write_text_file(const std::string& path, const std::string& what, const std::string& content) {
  check_writable_path(path, what);
  const std::string tmp = temporary_path(path);
  bool ok = false;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (out.good()) {
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      out.close();  // flushes: a full disk shows here at the latest
      ok = !out.fail();
    }
  }
  if (!ok) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    PHYSML_THROW("cannot write ", what, " '", path, "' (disk full or no permission?)");
  }
  publish_file(tmp, path);
}

void publish_partial(const std::string& partial, const std::string& path) { sync_and_rename(partial, path, false); }

}  // namespace physml::io
