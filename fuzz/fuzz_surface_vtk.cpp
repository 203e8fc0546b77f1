// libFuzzer target: io::read_surface_mesh on .stl, .vtk and .vtp files (VTK's vtkSTLReader,
// vtkPolyDataReader and vtkXMLPolyDataReader behind `physml simulate -body0_shape mesh
// -body0_mesh FILE`, with PhysML's conversion of their output). The first byte picks the
// extension, the rest is the file. A surface that reads must be closed, and every lattice point
// of its bounding box must get an inside / outside answer. What VTK's own parsers do with the
// bytes is fuzzed along with PhysML's code: a finding inside VTK is reported upstream (see
// docs/bad-inputs.md, "Fuzzing").
#include "fuzz_common.hpp"

#include "physml/io/surface_mesh.hpp"

#include <cmath>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  physml::fuzz::start_petsc();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* extensions[3] = {".stl", ".vtk", ".vtp"};
  const std::string path = physml::fuzz::scratch(std::string("case_surface") + extensions[data[0] % 3]);
  physml::fuzz::write_bytes(path, data + 1, size - 1);
  physml::fuzz::expect_physml_errors_only("fuzz_surface_vtk", [&] {
    const auto m = physml::io::read_surface_mesh(path);
    if (!std::isfinite(m.signed_volume())) return;  // huge coordinates: the volume may overflow
    for (int i = 0; i <= 4; ++i)
      for (int j = 0; j <= 4; ++j)
        for (int k = 0; k <= 4; ++k) {
          double x[3];
          const int n[3] = {i, j, k};
          for (int a = 0; a < 3; ++a) x[a] = m.lower()[a] + (m.upper()[a] - m.lower()[a]) * n[a] / 4.0;
          (void)m.contains(x);
        }
  });
  return 0;
}
