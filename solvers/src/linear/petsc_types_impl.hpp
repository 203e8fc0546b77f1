#pragma once
// The constructors of PhysML's PETSc types, for the one registration (registration.cpp).
#include <petscksp.h>

namespace physml::solvers {

PetscErrorCode KSPCreate_DCDM(KSP ksp);   // ksp_dcdm.cpp
PetscErrorCode PCCreate_DCDM(PC pc);      // pc_dcdm.cpp
PetscErrorCode PCCreate_PhysML(PC pc);    // pc_physml.cpp

}  // namespace physml::solvers
