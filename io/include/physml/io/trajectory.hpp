#pragma once
/// \file trajectory.hpp
/// PhysML Trajectory files: the particle states of one simulation, frame by frame (MPM
/// ground truth for NCLaw and GIOROM). Layout (docs/file-formats.md):
///
///     /                      attrs format="physml.trajectory", format_version=1, physml_version,
///                                  torch_version, created, simulator, parameters (JSON),
///                                  grid (JSON), particles, frames, frame_dt, dtype
///     /frames/time           [T] float64            simulated time of each frame
///     /frames/done           [T] uint8              1 where the frame has been written
///     /frames/<field>        [T, N, field shape...] the per-frame fields (positions [T, N, d],
///                                                   velocities, C and F [T, N, d, d], ...)
///     /particles/<name>      [N, ...]               per-particle constants (mass, volume, material)
///     /resume0/<name>, /resume1/<name>  full-precision state of the last two written frames
///                            (frame k in resume<k % 2>; resuming reads the last complete frame's)
///
/// Frames are written in order, each flushed, into "<path>.partial", renamed to <path> by
/// finish() once all frames are there; reopening a partial file with identical settings
/// resumes after its last frame. A different TrajectoryInfo throws naming the first difference
/// and leaves the files untouched.

#include "physml/io/hdf5.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace physml::io {

/// What a Trajectory file holds.
struct TrajectoryInfo {
  std::string simulator = "mpm";
  std::string parameters_json = "{}";  ///< how the run was configured (JSON object text)
  std::string grid_json = "{}";        ///< the simulator's grid (mesh::Grid::to_json)
  std::int64_t particles = 0;          ///< N
  std::int64_t frames = 0;             ///< T, frame 0 (the initial state) included
  double frame_dt = 0;                 ///< time between frames
  /// Per-frame fields and their per-particle shapes ({"positions", {3}}, {"F", {3, 3}}, {"F_zz", {}}).
  std::map<std::string, std::vector<std::int64_t>> fields;
  c10::ScalarType dtype = c10::ScalarType::Float;  ///< storage dtype of the per-frame fields
};

/// The first field in which two TrajectoryInfo differ ("frames: 100 in the file, 200 requested"), or "".
std::string first_difference(const TrajectoryInfo& in_file, const TrajectoryInfo& requested);

/// Writes a Trajectory file frame by frame, resumably (see the file comment).
class TrajectoryWriter {
public:
  static TrajectoryWriter open(const std::string& path, const TrajectoryInfo& info);
  TrajectoryWriter(TrajectoryWriter&&) noexcept;
  TrajectoryWriter& operator=(TrajectoryWriter&&) noexcept;
  /// Closes the partial file (kept for resuming) if finish() was not called.
  ~TrajectoryWriter();

  /// Frames written so far (the next frame to write); info().frames if already complete.
  std::int64_t frames_written() const;
  /// True if <path> existed with identical settings (nothing to do).
  bool already_complete() const;
  /// Store the per-particle constants (mass, volume, material, ...: [N, ...] tensors of any
  /// dtype) once, before frame 0; throws on a wrong leading size.
  void write_particles(const std::map<std::string, at::Tensor>& constants);
  /// Store frame `frame_index` (== frames_written()): every field of info().fields with its
  /// shape [N, ...], finite; `state` is the full-precision state to resume from (any tensors,
  /// replacing the previous one). Flushed before it returns.
  void write_frame(std::int64_t frame_index, double time, const std::map<std::string, at::Tensor>& fields,
                   const std::map<std::string, at::Tensor>& state = {});
  /// The resume state stored with the last written frame (empty if none was given).
  std::map<std::string, at::Tensor> resume_state() const;
  /// Per-particle constants stored by write_particles (empty before).
  std::map<std::string, at::Tensor> particles() const;
  /// Check every frame is present and rename to the final path. No-op if already_complete().
  void finish();
  const std::string& path() const;
  const TrajectoryInfo& info() const;

private:
  struct Impl;
  explicit TrajectoryWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Reads a finished Trajectory file (format, version, completeness and shapes checked).
class TrajectoryReader {
public:
  static TrajectoryReader open(const std::string& path);
  TrajectoryReader(TrajectoryReader&&) noexcept;
  TrajectoryReader& operator=(TrajectoryReader&&) noexcept;
  ~TrajectoryReader();
  const TrajectoryInfo& info() const;
  /// Frames [begin, end) of a field: [end - begin, N, field shape...]; throws naming the
  /// available fields for an unknown one.
  at::Tensor read(const std::string& field, std::int64_t begin, std::int64_t end) const;
  /// The frame times [T] (float64).
  at::Tensor times() const;
  /// A per-particle constant ("mass", "volume", "material").
  at::Tensor particle(const std::string& name) const;

private:
  struct Impl;
  explicit TrajectoryReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace physml::io
