#pragma once
/// \file error.hpp
/// PhysML's single exception type and the bridges to and from PETSc error codes.

#include <petscsys.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace physml {

/// The exception every PhysML component throws. The message names what failed,
/// the offending value and what was expected; `where()` is the throwing site.
class Error : public std::runtime_error {
public:
  Error(const std::string& message, const char* file = nullptr, int line = 0);
  /// "file:line" of the throw site, or "" if unknown.
  const std::string& where() const noexcept { return where_; }

private:
  std::string where_;
};

/// A value that must be finite is NaN or Inf (a network output, a loss, a solver residual).
/// Callers that can recover (the DCDM safeguard falls back to a classical PC) catch this type
/// rather than matching message text.
class NonFiniteError : public Error {
public:
  using Error::Error;
};

namespace detail {
[[noreturn]] void throw_error(const char* file, int line, const std::string& message);
[[noreturn]] void throw_petsc_error(const char* file, int line, PetscErrorCode code, const char* expr);
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace physml

/// Throw physml::Error with a message assembled from the streamable arguments.
#define PHYSML_THROW(...) ::physml::detail::throw_error(__FILE__, __LINE__, ::physml::detail::concat(__VA_ARGS__))

/// Check a condition on input; throw physml::Error with the message if it fails.
#define PHYSML_CHECK(cond, ...)                                                          \
  do {                                                                                   \
    if (!(cond)) ::physml::detail::throw_error(__FILE__, __LINE__, ::physml::detail::concat(__VA_ARGS__)); \
  } while (0)

/// Call a PETSc function and throw physml::Error (with PETSc's own message) if it fails.
#define PHYSML_PETSC(expr)                                                             \
  do {                                                                                 \
    PetscErrorCode physml_ierr_ = (expr);                                              \
    if (physml_ierr_) ::physml::detail::throw_petsc_error(__FILE__, __LINE__, physml_ierr_, #expr); \
  } while (0)

/// At a PETSc callback boundary (a function PETSc calls, returning PetscErrorCode):
/// run the statement and convert any C++ exception into a PETSc error with the
/// exception's message, so it propagates through PETSc's error stack.
#define PHYSML_PETSC_CALLBACK(comm, ...)                                                \
  do {                                                                                 \
    try {                                                                              \
      __VA_ARGS__;                                                                     \
    } catch (const std::exception& physml_e_) {                                        \
      SETERRQ((comm), PETSC_ERR_LIB, "%s", physml_e_.what());                          \
    } catch (...) {                                                                    \
      SETERRQ((comm), PETSC_ERR_LIB, "unknown C++ exception");                         \
    }                                                                                  \
  } while (0)
