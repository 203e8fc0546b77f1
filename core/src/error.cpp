#include "physml/core/error.hpp"

namespace physml {

Error::Error(const std::string& message, const char* file, int line)
    : std::runtime_error(message), where_(file ? std::string(file) + ":" + std::to_string(line) : "") {}

namespace detail {

void throw_error(const char* file, int line, const std::string& message) { throw Error(message, file, line); }

void throw_petsc_error(const char* file, int line, PetscErrorCode code, const char* expr) {
  const char* text = nullptr;
  char* specific = nullptr;
  PetscErrorMessage(code, &text, &specific);
  std::string msg = std::string("PETSc call failed: ") + expr + " returned " + std::to_string(code);
  if (text) msg += std::string(" (") + text + ")";
  if (specific && *specific) msg += std::string(": ") + specific;
  throw Error(msg, file, line);
}

}  // namespace detail
}  // namespace physml
