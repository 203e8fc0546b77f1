#pragma once
/// \file versions.hpp
/// Run-time versions of the I/O libraries PhysML links (for `physml info` and file metadata).

#include <string>

namespace physml::io {

struct DependencyVersions {
  std::string vtk;     ///< e.g. "9.1.0"
  std::string hdf5;    ///< e.g. "1.10.8"
  bool hdf5_parallel;  ///< built with MPI-IO
  std::string fftw;    ///< fftw_version string
  std::string plplot;  ///< e.g. "5.15.0"
};

DependencyVersions dependency_versions();

}  // namespace physml::io
