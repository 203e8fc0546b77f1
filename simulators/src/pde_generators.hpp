#pragma once
// The factories of PhysML's own data generators (src/pde_generators.cpp), for the registry
// table in src/data_generator.cpp.
#include "physml/simulators/data_generator.hpp"

namespace physml::simulators::detail {

std::unique_ptr<DataGenerator> make_darcy_generator();
std::unique_ptr<DataGenerator> make_poisson_generator();
std::unique_ptr<DataGenerator> make_helmholtz_generator();
std::unique_ptr<DataGenerator> make_burgers_generator();
std::unique_ptr<DataGenerator> make_navier_stokes_generator();

}  // namespace physml::simulators::detail
