#pragma once
/// \file collective.hpp
/// Errors in collective code: a rank that throws while the others go on into the next
/// collective call (a MatAssembly, a scatter, an MPI_Allreduce) would leave them waiting
/// forever. run_collectively makes a failure everyone's: every rank runs its part, then one
/// reduction tells each rank whether any rank failed, and all of them throw the message of the
/// lowest failing rank.

#include <mpi.h>

#include <functional>

namespace physml {

/// Runs f on this rank, then (on a communicator of more than one rank) agrees with the other
/// ranks of `comm`: if f threw on any rank, every rank throws that of the lowest failing rank
/// (its physml::Error message, prefixed "on rank R: " on the other ranks; a NonFiniteError
/// stays a NonFiniteError). Collective over comm: every rank must call it. On one rank it is f().
void run_collectively(MPI_Comm comm, const std::function<void()>& f);

}  // namespace physml
