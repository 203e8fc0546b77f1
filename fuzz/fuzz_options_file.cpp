// libFuzzer target: Options::insert_file on arbitrary YAML and plain options files (what
// `physml train recipe.yaml` and -options_file read), into a fresh PETSc options database.
#include "fuzz_common.hpp"

#include "physml/core/options.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  physml::fuzz::start_petsc();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the format; the rest is the file.
  const std::string path = physml::fuzz::scratch((data[0] & 1) ? "options.yaml" : "options.txt");
  physml::fuzz::write_bytes(path, data + 1, size - 1);
  PetscOptions db = nullptr;
  if (PetscOptionsCreate(&db) != 0) std::abort();
  physml::fuzz::expect_physml_errors_only("fuzz_options_file", [&] {
    physml::Options options("", db);
    options.insert_file(path);
    // read back what was inserted through the typed getters
    (void)options.get_string("model", "");
    (void)options.get_int("epochs", 1);
    (void)options.get_real("lr", 1e-3);
  });
  PetscOptionsDestroy(&db);
  return 0;
}
