#pragma once
/// \file petsc_types.hpp
/// PhysML's PETSc type registrations: KSP "dcdm" (dcdm.hpp), PC "dcdm" (dcdm.hpp) and
/// PC "physml" (pc_physml.hpp). Loading libphysml_solvers.so with -dll_append registers
/// them by itself (PetscDLLibraryRegister_physml_solvers), so an unmodified PETSc program
/// gains -ksp_type dcdm, -pc_type dcdm and -pc_type physml.

namespace physml::solvers {

/// Register KSP type "dcdm", PC types "dcdm" and "physml" with PETSc (idempotent; again
/// after a PetscFinalize + PetscInitialize). Also applies -threads N to LibTorch, for host
/// programs that do not start a physml::Environment.
void register_petsc_types();

}  // namespace physml::solvers
