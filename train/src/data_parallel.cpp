#include "physml/train/data_parallel.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <map>

namespace physml::train {

std::pair<std::int64_t, std::int64_t> rank_slice(std::int64_t n, int rank, int ranks) {
  PHYSML_CHECK(ranks >= 1 && rank >= 0 && rank < ranks, "rank_slice: rank ", rank, " of ", ranks, " ranks");
  PHYSML_CHECK(n >= 0, "rank_slice: negative batch size ", n);
  const std::int64_t base = n / ranks, extra = n % ranks, r = rank;
  const std::int64_t first = r * base + std::min(r, extra);
  return {first, first + base + (r < extra ? 1 : 0)};
}

namespace {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, message, &length);
  PHYSML_CHECK(false, "data-parallel training: ", what, " failed: ", std::string(message, length));
}

MPI_Datatype mpi_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kByte: return MPI_UINT8_T;
    default: return MPI_DATATYPE_NULL;
  }
}

}  // namespace

DataParallel::DataParallel(MPI_Comm comm, std::int64_t bucket_elements) : bucket_elements_(bucket_elements) {
  PHYSML_CHECK(bucket_elements_ >= 1, "DataParallel: bucket_elements must be >= 1, got ", bucket_elements_);
  PHYSML_CHECK(comm != MPI_COMM_NULL, "DataParallel: null communicator (is PETSc initialized?)");
  check_mpi(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
  check_mpi(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
  if (size_ > 1) check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
}

DataParallel::~DataParallel() {
  if (comm_ == MPI_COMM_NULL) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
}

void DataParallel::allreduce_sum(std::vector<double>& values) const {
  if (size_ == 1 || values.empty()) return;
  ++calls_;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, comm_),
            "MPI_Allreduce (sum)");
}

void DataParallel::allreduce_min(std::vector<double>& values) const {
  if (size_ == 1 || values.empty()) return;
  ++calls_;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_MIN, comm_),
            "MPI_Allreduce (min)");
}

void DataParallel::allreduce_gradients(const std::vector<at::Tensor>& parameters,
                                       const std::vector<bool>& defined_anywhere, double scale) const {
  PHYSML_CHECK(defined_anywhere.size() == parameters.size(), "DataParallel::allreduce_gradients: ",
               defined_anywhere.size(), " flags for ", parameters.size(), " parameters");
  if (size_ == 1) {
    if (scale != 1.0)
      for (const auto& p : parameters)
        if (p.grad().defined()) p.mutable_grad().mul_(scale);
    return;
  }
  torch::NoGradGuard no_grad;
  // Buckets: consecutive parameters of one dtype, up to bucket_elements_ values each.
  std::map<at::ScalarType, std::vector<std::size_t>> by_type;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    if (!defined_anywhere[i]) continue;
    const auto t = parameters[i].scalar_type();
    PHYSML_CHECK(t == at::kFloat || t == at::kDouble, "data-parallel training: parameter ", i, " is of dtype ", t,
                 "; gradients are reduced in float32 or float64 (store complex weights as real [..., 2] tensors)");
    by_type[t].push_back(i);
  }
  for (const auto& [type, members] : by_type) {
    std::size_t begin = 0;
    while (begin < members.size()) {
      std::size_t end = begin;
      std::int64_t count = 0;
      while (end < members.size() && (end == begin || count + parameters[members[end]].numel() <= bucket_elements_))
        count += parameters[members[end++]].numel();
      std::vector<at::Tensor> flat;
      for (std::size_t k = begin; k < end; ++k) {
        const auto& p = parameters[members[k]];
        const auto& g = p.grad();
        flat.push_back(g.defined() ? g.detach().reshape(-1).to(torch::kCPU)
                                   : torch::zeros({p.numel()}, torch::TensorOptions().dtype(type)));
      }
      auto buffer = torch::cat(flat).contiguous();
      if (scale != 1.0) buffer.mul_(scale);
      ++calls_;
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, buffer.data_ptr(), static_cast<int>(buffer.numel()), mpi_type(type),
                              MPI_SUM, comm_),
                "MPI_Allreduce (gradients)");
      std::int64_t offset = 0;
      for (std::size_t k = begin; k < end; ++k) {
        auto& p = const_cast<at::Tensor&>(parameters[members[k]]);
        const auto n = p.numel();
        auto part = buffer.slice(0, offset, offset + n).view(p.sizes());
        if (p.grad().defined())
          p.mutable_grad().copy_(part);
        else
          p.mutable_grad() = part.to(p.device()).clone();
        offset += n;
      }
      begin = end;
    }
  }
}

void DataParallel::broadcast(const std::vector<at::Tensor>& tensors) const {
  if (size_ == 1) return;
  torch::NoGradGuard no_grad;
  std::map<at::ScalarType, std::vector<std::size_t>> by_type;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined() || tensors[i].numel() == 0) continue;
    auto t = tensors[i].scalar_type();
    if (t == at::kBool) t = at::kByte;
    PHYSML_CHECK(mpi_type(t) != MPI_DATATYPE_NULL, "data-parallel training: cannot broadcast a tensor of dtype ",
                 tensors[i].scalar_type());
    by_type[t].push_back(i);
  }
  for (const auto& [type, members] : by_type) {
    std::vector<at::Tensor> flat;
    for (auto i : members) flat.push_back(tensors[i].detach().reshape(-1).to(torch::kCPU, type));
    auto buffer = torch::cat(flat).contiguous();
    check_mpi(MPI_Bcast(buffer.data_ptr(), static_cast<int>(buffer.numel()), mpi_type(type), 0, comm_), "MPI_Bcast");
    std::int64_t offset = 0;
    for (auto i : members) {
      auto t = tensors[i];
      const auto n = t.numel();
      t.copy_(buffer.slice(0, offset, offset + n).view(t.sizes()));
      offset += n;
    }
  }
}

}  // namespace physml::train
