#pragma once
/// \file data_parallel.hpp
/// Data-parallel training over MPI (what train::Trainer uses on several ranks): the slice of a
/// global batch each rank trains on, and sums over ranks of gradients (bucketed into a few flat
/// buffers, one MPI_Allreduce per bucket), of scalars and of parameters' equality checks, on a
/// duplicate of the caller's communicator (PETSc's by default), as TorchFort does. LibTorch 1.13
/// has no DistributedDataParallel in C++; this (with OverlappedReduction, its reducer that sums
/// buckets while backward still runs) is the part of it PhysML needs.

#include <ATen/core/Tensor.h>
#include <petscsys.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace torch::autograd {
struct Node;
}

namespace physml::train {

/// Capacity of one gradient bucket by default (elements): 1 MiB of float32, so that with an
/// OverlappedReduction a model of a few MB is summed in several buckets, the first of which
/// leaves while backward still runs (DistributedDataParallel's first bucket is 1 MiB too).
inline constexpr std::int64_t kDefaultBucketElements = std::int64_t(1) << 18;

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
  explicit DataParallel(MPI_Comm comm = PETSC_COMM_WORLD, std::int64_t bucket_elements = kDefaultBucketElements);
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
  /// MPI_Allreduce calls made so far (the buckets of allreduce_gradients and of an
  /// OverlappedReduction count one each).
  std::int64_t allreduce_calls() const { return calls_; }
  /// Capacity of one gradient bucket (elements).
  std::int64_t bucket_elements() const { return bucket_elements_; }

private:
  friend class OverlappedReduction;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  std::int64_t bucket_elements_;
  mutable std::int64_t calls_ = 0;
};

/// Gradient sums over the ranks overlapped with backward (DistributedDataParallel's reducer, for
/// LibTorch 1.13's C++ API, which has none). The parameters are cut into buckets of consecutive
/// tensors taken in reverse order (backward produces the last layers' gradients first), of one
/// dtype each and up to `dp.bucket_elements()` values (a larger tensor alone). A post hook on every
/// parameter's AccumulateGrad node (it runs in `loss.backward()` once the gradient is
/// accumulated; `torch::autograd::grad` does not run it) marks the gradient ready; a bucket whose
/// gradients are all ready is copied into its flat buffer (times `scale`) and summed with
/// MPI_Iallreduce right away, while backward goes on, buckets leaving in their fixed order on every
/// rank (bucket k only after bucket k - 1, so the collectives match). finish() posts the buckets
/// backward did not complete, from the gradients as they are (zeros where a rank has none), and
/// waits for all; apply() writes the sums into the gradients.
///
/// A gradient accumulated again after its bucket left (a second backward pass in one step) is
/// reported by late(): the sums are then stale, and the caller reduces the gradients as they are
/// with DataParallel::allreduce_gradients instead (Trainer agrees on that over the ranks).
///
/// Active only on several ranks, with every parameter a float32 or float64 CPU tensor that
/// requires grad: on CUDA, AccumulateGrad runs on LibTorch's device threads, where an MPI call
/// would need MPI_THREAD_MULTIPLE; the caller then uses allreduce_gradients after backward. The
/// hooks are removed by the destructor.
class OverlappedReduction {
public:
  /// Registers the hooks (inactive: none). `dp` must outlive this object.
  OverlappedReduction(const DataParallel& dp, std::vector<at::Tensor> parameters);
  ~OverlappedReduction();
  OverlappedReduction(const OverlappedReduction&) = delete;
  OverlappedReduction& operator=(const OverlappedReduction&) = delete;

  /// See the class comment; when false, every other call is refused.
  bool active() const { return active_; }
  /// Arms the hooks for one step: gradients enter the sum multiplied by `scale`. Call after
  /// zeroing the gradients and before backward.
  void begin(double scale);
  /// Posts every bucket not yet posted and waits for all of them. Collective over the ranks:
  /// every rank calls it once per begin(), whether or not it ran backward.
  void finish();
  /// On this rank, a gradient was accumulated after its bucket had been posted.
  bool late() const { return late_; }
  /// After finish(): parameter i's gradient becomes the sum over ranks of scale times it where
  /// `defined_anywhere[i]` (a rank without one receives the sum), and stays undefined elsewhere.
  void apply(const std::vector<bool>& defined_anywhere);
  /// Number of buckets.
  std::size_t buckets() const;
  /// Buckets of the last step posted from inside backward (the rest were posted by finish()).
  std::size_t posted_in_backward() const { return posted_in_backward_; }

  struct Bucket;  // (implementation)
  /// Called by the hook of parameter `index` (implementation).
  void on_gradient_ready(std::size_t index);

private:
  void post(std::size_t bucket, bool in_backward);
  void progress();

  const DataParallel& dp_;
  std::vector<at::Tensor> parameters_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<std::uintptr_t> hook_keys_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_;  // parameter -> bucket
  std::vector<char> ready_;             // parameter's gradient accumulated in this step
  std::vector<MPI_Request> requests_;
  bool active_ = false, armed_ = false, late_ = false, finished_ = false;
  double scale_ = 1.0;
  std::size_t next_post_ = 0, posted_in_backward_ = 0;
};

}  // namespace physml::train
