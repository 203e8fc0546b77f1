#pragma once
/// \file atomic_file.hpp
/// The temporary-file-then-rename discipline every PhysML writer follows, so that an
/// interrupted or failed write never damages an existing file.

#include <string>
#include <string_view>

namespace physml::io {

/// A fresh temporary name next to `path`: "<path>.tmp-<pid>-<n>", unique within the process
/// (n counts up) and between processes (pid). Same directory, so the final rename is atomic.
std::string temporary_path(const std::string& path);

/// Throw physml::Error unless the directory that would hold `path` exists and `path` is not
/// a directory; `what` names the kind of file in the message ("HDF5 file", "PNG", ...).
void check_writable_path(const std::string& path, const std::string& what);

/// True if the file at `path` exists and its last bytes are `tail`: how a writer whose library
/// does not report a failed write(2) (VTK's XML writers, PLplot's cairo PNG driver on a full
/// disk) tells a complete file from a cut-off one before publishing it.
bool file_ends_with(const std::string& path, std::string_view tail);

/// fsync `tmp`, then rename it over `path` (atomic on POSIX file systems). On failure the
/// temporary is removed and physml::Error thrown; `path` is left as it was.
void publish_file(const std::string& tmp, const std::string& path);

/// Write `content` to a temporary file next to `path` and publish it there; a failed write
/// (disk full, no permission) removes the temporary, leaves `path` as it was and throws
/// physml::Error naming `what` and `path`. For the small text files (CSV logs, .pvd series).
void write_text_file(const std::string& path, const std::string& what, const std::string& content);

/// The same for a finished resumable file ("<path>.partial", closed): fsync and rename it to
/// `path`; on failure the partial file is kept (it holds the work done) and physml::Error thrown.
void publish_partial(const std::string& partial, const std::string& path);

}  // namespace physml::io
