#pragma once
/// \file data_parallel.hpp
/// Data-parallel training over MPI (what train::Trainer uses on several ranks): the slice of a
/// global batch each rank trains on, and sums over ranks of gradients (bucketed into a few flat
/// buffers, one MPI_Allreduce per bucket), of scalars and of parameters' equality checks, on a
/// duplicate of the caller's communicator (PETSc's by default), as TorchFort does. LibTorch 1.13
/// has no DistributedDataParallel in C++; this is the part of it PhysML needs.

#include <ATen/core/Tensor.h>
#include <petscsys.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace physml::train {

/// The contiguous part [first, second) of a global batch of `n` samples that rank `rank` of
/// `ranks` trains on: ranks 0 .. n % ranks - 1 take n / ranks + 1 samples, the others n / ranks
/// (none when n < ranks); the parts cover 0 .. n - 1 in rank order.
std::pair<std::int64_t, std::int64_t> rank_slice(std::int64_t n, int rank, int ranks);

/// Reductions over the ranks of a communicator for data-parallel training. On one rank it
/// duplicates nothing and makes no MPI call: every reduction is the identity.
class DataParallel {
public:
  /// Duplicates `comm` once (MPI_Comm_dup, collective over `comm`) when it has more than one
  /// rank. `bucket_elements` is the capacity of one flat buffer of gradients (elements; a
  /// tensor larger than that gets a bucket of its own).
  explicit DataParallel(MPI_Comm comm = PETSC_COMM_WORLD, std::int64_t bucket_elements = std::int64_t(1) << 22);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// More than one rank.
  bool distributed() const { return size_ > 1; }
  /// The duplicated communicator (MPI_COMM_NULL on one rank).
  MPI_Comm comm() const { return comm_; }

  /// Sum of `values` over ranks, in place (float64, one MPI_Allreduce).
  void allreduce_sum(std::vector<double>& values) const;
  /// Minimum of `values` over ranks, in place (float64, one MPI_Allreduce).
  void allreduce_min(std::vector<double>& values) const;
  /// Replace every gradient of `parameters` by the sum over ranks of `scale` times it, in
  /// buckets of float32 / float64 values (one MPI_Allreduce each; CUDA gradients go through
  /// host buffers). `defined_anywhere[i]` says whether parameter i has a gradient on some rank
  /// (e.g. a flag per parameter summed with allreduce_sum): those are reduced, a rank without
  /// the gradient contributing zeros and receiving the sum; the others stay undefined on every
  /// rank (as on one rank, where the optimizer skips them). Throws physml::Error for a gradient
  /// of another dtype.
  void allreduce_gradients(const std::vector<at::Tensor>& parameters, const std::vector<bool>& defined_anywhere,
                           double scale) const;
  /// Copy rank 0's values of `tensors` (parameters, buffers) into every rank's, in place,
  /// bucketed by dtype (MPI_Bcast). Shapes must agree on every rank.
  void broadcast(const std::vector<at::Tensor>& tensors) const;
  /// MPI_Allreduce calls made so far (the buckets of allreduce_gradients count one each).
  std::int64_t allreduce_calls() const { return calls_; }

private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::int64_t bucket_elements_;
  mutable std::int64_t calls_ = 0;
};

}  // namespace physml::train
