#include "physml/simulators/data_generator.hpp"

#include "physml/core/error.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "pde_generators.hpp"
#include "pde_options.hpp"
#include "physml/solvers/linear/solve_report.hpp"

#include <cmath>
#include <cstdlib>
#include <mutex>

namespace physml::simulators {

DataGenerator::~DataGenerator() = default;

void DataGenerator::set_from_options(const Options& options) {
  options_ = options;
  recorded_.clear();
  OptionsReader reader(options, name() + " data generator: " + summary());
  read_options(reader);
  reader.end();
  std::vector<std::pair<std::string, std::string>> read;
  const std::string lead = "-" + options.prefix();
  for (const auto& [key, value] : reader.record())
    read.emplace_back(key.rfind(lead, 0) == 0 ? key.substr(lead.size()) : key, value);
  read.insert(read.end(), recorded_.begin(), recorded_.end());
  recorded_ = std::move(read);
}

void DataGenerator::record(const std::string& name, const std::string& value) { recorded_.emplace_back(name, value); }

void DataGenerator::record_solver(KSP ksp) {
  for (const auto& [name, value] : solvers::ksp_settings(ksp)) record(name, value);
}

std::string DataGenerator::parameters_json() const { return options_json(recorded_); }

double DataGenerator::positive(OptionsReader& reader, const std::string& name, double value, const std::string& help) {
  return detail::positive_option(reader, name, value, help);
}

double DataGenerator::finite(OptionsReader& reader, const std::string& name, double value, const std::string& help) {
  return detail::finite_option(reader, name, value, help);
}

std::vector<GeneratedSample> SampleGenerator::compute(std::uint64_t seed, std::int64_t first, std::int64_t count) {
  std::vector<GeneratedSample> out(static_cast<size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    auto& res = out[static_cast<size_t>(i)];
    try {
      auto [in, o] = solve(seed, static_cast<std::uint64_t>(first + i));
      res.input = in.unsqueeze(0);
      res.output = o.unsqueeze(0);
    } catch (const physml::Error& e) {
      res.ok = false;
      res.message = e.what();
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The registry: PhysML's generators in one table, present from the first call on.

namespace {

struct Entry {
  std::string name;
  GeneratorFactory factory;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::vector<Entry>& registry() {
  static std::vector<Entry> entries{
      {"darcy", detail::make_darcy_generator},
      {"poisson", detail::make_poisson_generator},
      {"helmholtz", detail::make_helmholtz_generator},
      {"burgers", detail::make_burgers_generator},
      {"navier-stokes", detail::make_navier_stokes_generator},
  };
  return entries;
}

}  // namespace

std::unique_ptr<DataGenerator> create_generator(const std::string& name) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::string known;
  for (const auto& e : registry()) {
    if (e.name == name) return e.factory();
    known += (known.empty() ? "" : ", ") + e.name;
  }
  PHYSML_THROW("unknown data generator '", name, "'; expected one of: ", known);
}

void register_generator(const std::string& name, GeneratorFactory factory) {
  PHYSML_CHECK(!name.empty() && factory, "register_generator: expected a name and a factory");
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (const auto& e : registry()) PHYSML_CHECK(e.name != name, "data generator '", name, "' is already registered");
  registry().push_back({name, std::move(factory)});
}

std::vector<std::string> registered_generators() {
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::vector<std::string> names;
  for (const auto& e : registry()) names.push_back(e.name);
  return names;
}

}  // namespace physml::simulators
