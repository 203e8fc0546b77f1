#include "physml/io/versions.hpp"

#include <H5public.h>
#include <H5pubconf.h>
#include <fftw3.h>
#include <plplot.h>
#include <vtkVersion.h>

namespace physml::io {

DependencyVersions dependency_versions() {
  DependencyVersions v;
  v.vtk = vtkVersion::GetVTKVersion();
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  v.hdf5 = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
#ifdef H5_HAVE_PARALLEL
  v.hdf5_parallel = true;
#else
  v.hdf5_parallel = false;
#endif
  v.fftw = fftw_version;
  char pl[80] = {0};
  plgver(pl);
  v.plplot = pl;
  return v;
}

}  // namespace physml::io
