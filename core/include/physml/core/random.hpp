#pragma once
/// \file random.hpp
/// One seed for every random number generator PhysML uses.

#include <cstdint>
#include <random>

namespace physml {

/// Seed LibTorch's default generator and PhysML's process-wide std::mt19937_64
/// from one seed, so a run is reproducible bit for bit.
void seed_everything(std::uint64_t seed);

/// The seed last passed to seed_everything (0 if never called).
std::uint64_t global_seed();

/// PhysML's process-wide engine for code that uses <random> (seeded by seed_everything).
std::mt19937_64& global_engine();

/// A reproducible sub-seed for stream `index` of seed `seed` (SplitMix64), e.g. one per
/// data sample, so that sample i is the same whichever rank or order generates it.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index);

}  // namespace physml
