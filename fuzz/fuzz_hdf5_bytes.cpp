// libFuzzer target for long runs by hand (not in ctest; README.md): arbitrary bytes as an
// HDF5 file, read by the Dataset, Trajectory, Checkpoint and linear-system readers (the
// input's length modulo 4 picks which, so a real file is a seed input as it is). This also fuzzes libhdf5's own parser of the container format.
#include "fuzz_common.hpp"

#include "physml/io/dataset.hpp"
#include "physml/io/trajectory.hpp"
#include "physml/operators/checkpoint.hpp"
#include "physml/solvers/linear/system_io.hpp"

#include <torch/torch.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  physml::fuzz::start_petsc();
  torch::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string path = physml::fuzz::scratch("bytes.h5");
  physml::fuzz::write_bytes(path, data, size);
  physml::fuzz::expect_physml_errors_only("fuzz_hdf5_bytes", [&] {
    switch (size % 4) {
      case 0: {
        const auto r = physml::io::DatasetReader::open(path);
        for (const auto& split : r.splits()) (void)r.read(split, "inputs", 0, r.size(split));
        break;
      }
      case 1: (void)physml::io::TrajectoryReader::open(path); break;
      case 2: (void)physml::operators::load(path); break;
      default: physml::solvers::load_linear_system_hdf5(path).destroy();
    }
  });
  return 0;
}
