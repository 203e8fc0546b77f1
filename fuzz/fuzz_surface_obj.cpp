// libFuzzer target: io::parse_obj (the OBJ reader behind `physml simulate -body0_shape mesh
// -body0_mesh FILE.obj`) on arbitrary text. A surface that parses must be closed, and every
// lattice point of its bounding box must get an inside / outside answer.
#include "fuzz_common.hpp"

#include "physml/io/surface_mesh.hpp"

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  physml::fuzz::expect_physml_errors_only("fuzz_surface_obj", [&] {
    const auto m = physml::io::parse_obj(text, "fuzz.obj");
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
