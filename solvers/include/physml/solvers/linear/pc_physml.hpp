#pragma once
/// \file pc_physml.hpp
/// PC type "physml": any registered model that maps a residual to a correction (or any
/// Operator set in code) as a PETSc preconditioner. After register_petsc_types() (or
/// -dll_append libphysml_solvers.so) an unmodified PETSc program uses it with
///
///   -ksp_type fgmres -pc_type physml -pc_physml_model mgno.h5
///   -ksp_type fcg    -pc_type physml -pc_physml_model mgno.h5 -pc_physml_pad 1
///
/// The correction z = M(r) of a network is not linear in r, so the Krylov method must be a
/// flexible one: FCG (left preconditioning; FCG's A-orthogonalization against earlier
/// directions and its line search do not assume a fixed linear PC), FGMRES or GCR (right).
/// Plain CG and GMRES assume the same linear preconditioner in every iteration; with a
/// network they may stagnate or converge to a wrong answer without noticing.
///
/// What one apply does (z = PC(r), r the residual):
///   1. z = ModelOperator(r) (model_operator.hpp): r scaled to the RMS size of the training
///      inputs, zero-padded by -pc_physml_pad, through the model, cropped, and divided by
///      the input scale again (exact for a linear model);
///   2. -pc_physml_scale energy (default): z <- alpha z with alpha = (z, r)/(z, A z), the
///      step that minimizes the A-norm of the error along z (SPD A; one extra MatMult);
///      `residual`: alpha = (A z, r)/(A z, A z), the 2-norm minimal-residual step (any A);
///      `linear`: z as it comes. A line search makes the correction right in size whatever
///      the scaling of A (the Poisson matrix with or without the h^2 factor, other units than
///      the training data), so the PC is correct in any KSP, Richardson and PCCOMPOSITE
///      cycles included. A flexible Krylov method alone absorbs a constant factor anyway.
///      Measured (docs/library.md): inside a SOR / model / SOR cycle the energy step beats
///      the 2-norm step (13 against 23 FCG iterations at 65^2), since the 2-norm of the
///      residual is dominated by the high frequencies the model does not get right.
/// A NaN/Inf correction is a PETSc error carrying physml::NonFiniteError's message.
///
/// Options (prefix = the PC's prefix):
///   -pc_physml_model FILE        PhysML Checkpoint of any registered model (operators::load)
///                                mapping 1 channel to 1 (mgno, fno, normalized, dcdm, ...)
///   -pc_physml_grid nx,ny[,nz]   grid of the unknowns, x first (default: the DMDA of the
///                                PC or of the matrix, else a square/cube of the system size)
///   -pc_physml_pad P             zero padding around the grid before the model (0); 1 for a
///                                model trained on the vertex grid including its Dirichlet
///                                boundary points when the system holds only the interior
///   -pc_physml_input_rms R       RMS entry size of the model input (0: from the model's x
///                                normalizer statistics if it has one, else 1)
///   -pc_physml_scale energy|residual|linear   output scaling (energy)
///   -pc_physml_dtype float32|float64      precision the model runs in (float32)

#include "physml/solvers/linear/operator.hpp"
#include "physml/solvers/linear/petsc_types.hpp"

#include <petscksp.h>

#include <memory>

namespace physml::solvers {

/// Use `op` (square, of the size of the PC's matrix, or any_size) as the correction of a PC
/// of type "physml", instead of -pc_physml_model. The line search option still applies.
/// Throws physml::Error if the PC is not of type physml.
void pc_physml_set_operator(PC pc, std::shared_ptr<Operator> op);
/// The operator a PC of type physml applies (null before setup from options).
std::shared_ptr<Operator> pc_physml_operator(PC pc);
/// Number of applications since the PC was created.
int pc_physml_applications(PC pc);

}  // namespace physml::solvers
