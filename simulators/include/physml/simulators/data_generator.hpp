#pragma once
/// \file data_generator.hpp
/// Data generators: the PDE solvers of this layer seen as sources of (input, output) field
/// pairs for a Dataset file. Each generator reads its own options (set_from_options, so
/// `-help` lists them), describes what it stores (a mesh::Grid, channels, field names, output
/// times) and computes sample i of a data set from the master seed alone, so that a data set
/// does not depend on how the samples are distributed over MPI ranks or runs.
///
///   auto g = physml::simulators::create_generator("darcy");
///   g->set_from_options(physml::Options("darcy_"));   // -darcy_resolution, -darcy_alpha, ...
///   auto samples = g->compute(seed, 0, 4);            // samples 0..3
///
/// generate_dataset (generate_dataset.hpp) writes a whole resumable Dataset file from one.
/// PhysML's generators — darcy, poisson, helmholtz, burgers, navier-stokes — are in one
/// explicit table; register_generator adds others.

#include "physml/core/options.hpp"
#include "physml/mesh/grid.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <petscksp.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace physml {
class OptionsReader;
}  // namespace physml

namespace physml::simulators {

/// One computed sample: input [C_in, grid shape...] and output [C_out, grid shape...] (float64),
/// or, if its solve failed, ok = false and the reason.
struct GeneratedSample {
  bool ok = true;
  std::string message;
  at::Tensor input, output;
};

/// A field as pictures and VTK files name it: the VTK array name and the plot title.
struct FieldName {
  std::string array, title;
};

/// A source of Dataset samples. Call set_from_options once before anything else.
class DataGenerator {
public:
  virtual ~DataGenerator();
  /// The registry name ("darcy").
  virtual std::string name() const = 0;
  /// The options prefix the command line uses for it ("darcy_").
  virtual std::string default_prefix() const = 0;
  /// One line for listings.
  virtual std::string summary() const = 0;

  /// Read every option under the prefix of `options` (PetscOptionsBegin/End: `-help` lists
  /// each with its default and meaning), check the values (physml::Error naming the key and
  /// what was expected) and build the solver. The values read become parameters_json().
  void set_from_options(const Options& options);
  /// The prefix set_from_options read (with no leading dash).
  const std::string& prefix() const { return options_.prefix(); }
  /// The options (database and prefix) set_from_options read.
  const Options& options() const { return options_; }

  /// The grid of the stored fields (axis order x, y, z; fields are tensors in grid.shape()).
  virtual mesh::Grid grid() const = 0;
  virtual std::int64_t input_channels() const { return 1; }
  virtual std::int64_t output_channels() const { return 1; }
  virtual FieldName input_name() const = 0;
  virtual FieldName output_name() const = 0;
  /// Non-empty for a time series: output channel k is the state at times()[k] and the input
  /// the state at time 0.
  virtual std::vector<double> times() const { return {}; }
  /// Samples computed together (a batched time stepper); compute() is called with `first` a
  /// multiple of unit() and `count` <= unit().
  virtual std::int64_t unit() const { return 1; }

  /// Samples [first, first + count) of the data set with master seed `seed`. A sample whose
  /// solve fails comes back with ok = false (the others are kept); anything else throws.
  virtual std::vector<GeneratedSample> compute(std::uint64_t seed, std::int64_t first, std::int64_t count) = 0;

  /// Every option read by set_from_options (short names, without the prefix) and the derived
  /// values the generator recorded, as one JSON object (nlohmann/json; numbers and booleans
  /// typed): the "parameters" attribute of the Dataset file.
  std::string parameters_json() const;

protected:
  /// Read the generator's own keys through `reader` (already opened on the prefix).
  virtual void read_options(OptionsReader& reader) = 0;
  /// Record a value that is not an option (e.g. the equation) in parameters_json().
  void record(const std::string& name, const std::string& value);
  /// Record how the generator's KSP is configured (solvers::ksp_settings: ksp_type, pc_type,
  /// tolerances, ...) after it read its -<prefix>ksp_* / -<prefix>pc_* options, so that the
  /// Dataset says which solver made it.
  void record_solver(KSP ksp);

  /// A positive, finite real key (physml::Error "option -<key> = v must be positive").
  static double positive(OptionsReader& reader, const std::string& name, double value, const std::string& help);
  /// A finite real key of any sign.
  static double finite(OptionsReader& reader, const std::string& name, double value, const std::string& help);

private:
  Options options_;
  std::vector<std::pair<std::string, std::string>> recorded_;  // name -> value text, in order
};

/// A generator that solves one sample at a time: solve(seed, index) returns (input, output)
/// fields without the channel axis; a physml::Error from it marks that sample failed.
class SampleGenerator : public DataGenerator {
public:
  std::vector<GeneratedSample> compute(std::uint64_t seed, std::int64_t first, std::int64_t count) override;

protected:
  virtual std::pair<at::Tensor, at::Tensor> solve(std::uint64_t seed, std::uint64_t index) = 0;
};

using GeneratorFactory = std::function<std::unique_ptr<DataGenerator>()>;

/// A new, unconfigured generator of a registered name; throws physml::Error listing the
/// registered names for an unknown one.
std::unique_ptr<DataGenerator> create_generator(const std::string& name);
/// Add a generator type (outside PhysML's own); throws if the name is taken.
void register_generator(const std::string& name, GeneratorFactory factory);
/// Registered names: PhysML's own in table order, then added ones.
std::vector<std::string> registered_generators();

}  // namespace physml::simulators
