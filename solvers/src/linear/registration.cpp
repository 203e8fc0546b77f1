// The one registration of PhysML's PETSc types (KSP dcdm, PC dcdm, PC physml), and the entry
// point PETSc calls when libphysml_solvers.so is loaded with -dll_append.
#include "physml/solvers/linear/petsc_types.hpp"

#include "petsc_types_impl.hpp"
#include "physml/core/blas.hpp"
#include "physml/core/error.hpp"
#include "physml/core/options.hpp"

namespace physml::solvers {

namespace {

bool types_registered = false;

/// PetscFinalize empties PETSc's KSP and PC type lists: forget the registration then, so a
/// later PetscInitialize + register_petsc_types() registers the types again.
PetscErrorCode forget_registration() {
  types_registered = false;
  return 0;
}

}  // namespace

void register_petsc_types() {
  if (types_registered) return;
  // A host program without a physml::Environment still gets -threads N for LibTorch.
  Options global;
  if (global.has("threads")) physml::set_num_threads(static_cast<int>(global.get_int("threads", 1)));
  PHYSML_PETSC(KSPRegister("dcdm", KSPCreate_DCDM));
  PHYSML_PETSC(PCRegister("dcdm", PCCreate_DCDM));
  PHYSML_PETSC(PCRegister("physml", PCCreate_PhysML));
  PHYSML_PETSC(PetscRegisterFinalize(forget_registration));
  types_registered = true;
}

}  // namespace physml::solvers

/// Entry point PETSc calls when libphysml_solvers.so is loaded with -dll_append: an
/// unmodified PETSc program gains -ksp_type dcdm, -pc_type dcdm and -pc_type physml.
extern "C" PetscErrorCode PetscDLLibraryRegister_physml_solvers(void) {
  PHYSML_PETSC_CALLBACK(PETSC_COMM_SELF, physml::solvers::register_petsc_types());
  return 0;
}
