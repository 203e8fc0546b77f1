// libFuzzer target: mesh::Grid::from_json on arbitrary text (the grid attribute of every
// Dataset and Trajectory file). Valid grids must survive a to_json round trip unchanged.
#include "fuzz_common.hpp"

#include "physml/mesh/grid.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  physml::fuzz::expect_physml_errors_only("fuzz_grid_json", [&] {
    const auto grid = physml::mesh::Grid::from_json(text);
    if (physml::mesh::Grid::from_json(grid.to_json()) != grid) {
      std::fprintf(stderr, "fuzz_grid_json: to_json/from_json round trip changed the grid\n");
      std::abort();
    }
  });
  return 0;
}
