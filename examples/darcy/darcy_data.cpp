// Writes a Darcy Dataset file (inputs: coefficient a, outputs: solution u) for the MgNO/FNO
// comparison through the library's data generation: the "darcy" DataGenerator and
// generate_dataset, the same objects `physml generate darcy` runs, so the two give identical
// files for the same options and seed.
//
//   ./darcy_data -darcy_preset smooth -darcy_resolution 421 -darcy_downsample 5
//                -ntrain 1000 -ntest 100 -nvalid 100 -seed 1 -output darcy_smooth85.h5
//
// -darcy_resolution 421 -darcy_downsample 5 is the published protocol (solve on 421^2, keep
// every 5th vertex: 85^2); the default solves directly on the 85^2 grid (cheaper). `-help`
// lists every option with its default.
#include "physml/core/environment.hpp"
#include "physml/core/options.hpp"
#include "physml/simulators/data_generator.hpp"
#include "physml/simulators/generate_dataset.hpp"

#include <cstdio>

int main(int argc, char** argv) {
  try {
    physml::Environment env(argc, argv);
    namespace sim = physml::simulators;
    const physml::Options opt;
    auto darcy = sim::create_generator("darcy");
    darcy->set_from_options(opt.sub("darcy_"));  // -darcy_preset, -darcy_resolution, ..., -darcy_ksp_*
    const auto options = sim::GenerateOptions().set_from_options(opt);  // -output, -ntrain, -seed, ...
    if (opt.has("help")) return 0;
    const auto result = sim::generate_dataset(*darcy, options);
    physml::check_no_unused_options();
    if (result.status == sim::GenerateResult::Status::interrupted) return 128 + result.signal;
    const auto shape = darcy->grid().shape();
    std::printf("%s %s (%lld x %lld grid, content checksum %s)\n",
                result.status == sim::GenerateResult::Status::already_complete ? "complete:" : "wrote",
                options.output().c_str(), static_cast<long long>(shape[0]), static_cast<long long>(shape[1]),
                result.checksum.empty() ? "unchanged" : result.checksum.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "darcy_data: error: %s\n", e.what());
    return 1;
  }
}
