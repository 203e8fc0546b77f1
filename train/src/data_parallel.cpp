#include "physml/train/data_parallel.hpp"

#include "physml/core/error.hpp"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
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

// ---- OverlappedReduction ---------------------------------------------------------------

struct OverlappedReduction::Bucket {
  std::vector<std::size_t> members;  // parameter indices, in the order of the buffer
  std::vector<std::int64_t> offsets;
  at::Tensor buffer;                 // flat, CPU, the members' dtype
  std::size_t ready = 0;             // members whose gradient is ready in this step
  bool posted = false;
};

namespace {

/// Runs after AccumulateGrad has added a backward pass's gradient into the parameter's .grad.
class ReadyHook : public torch::autograd::FunctionPostHook {
public:
  ReadyHook(OverlappedReduction* owner, std::size_t index) : owner_(owner), index_(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    owner_->on_gradient_ready(index_);
    return outputs;
  }

private:
  OverlappedReduction* owner_;
  std::size_t index_;
};

}  // namespace

OverlappedReduction::OverlappedReduction(const DataParallel& dp, std::vector<at::Tensor> parameters)
    : dp_(dp), parameters_(std::move(parameters)) {
  if (!dp_.distributed() || parameters_.empty()) return;
  for (const auto& p : parameters_) {
    const auto t = p.scalar_type();
    if (!p.defined() || !p.requires_grad() || !p.is_leaf() || !p.device().is_cpu() ||
        (t != at::kFloat && t != at::kDouble))
      return;  // inactive: the caller reduces after backward
  }
  // Buckets in reverse parameter order, one dtype each.
  bucket_of_.assign(parameters_.size(), 0);
  std::int64_t count = 0;
  for (std::size_t k = parameters_.size(); k-- > 0;) {
    const auto& p = parameters_[k];
    const bool fits = !buckets_.empty() && p.scalar_type() == parameters_[buckets_.back().members.front()].scalar_type() &&
                      count + p.numel() <= dp_.bucket_elements();
    if (!fits) {
      buckets_.emplace_back();
      count = 0;
    }
    auto& b = buckets_.back();
    b.members.push_back(k);
    b.offsets.push_back(count);
    count += p.numel();
    bucket_of_[k] = buckets_.size() - 1;
  }
  for (auto& b : buckets_) {
    const auto& last = parameters_[b.members.back()];
    b.buffer = torch::empty({b.offsets.back() + last.numel()}, torch::TensorOptions().dtype(last.scalar_type()));
  }
  ready_.assign(parameters_.size(), 0);
  requests_.assign(buckets_.size(), MPI_REQUEST_NULL);
  for (std::size_t k = 0; k < parameters_.size(); ++k) {
    auto acc = torch::autograd::impl::grad_accumulator(parameters_[k]);
    PHYSML_CHECK(acc != nullptr, "OverlappedReduction: parameter ", k, " has no gradient accumulator");
    hook_keys_.push_back(acc->add_post_hook(std::make_unique<ReadyHook>(this, k)));
    accumulators_.push_back(std::move(acc));
  }
  active_ = true;
}

OverlappedReduction::~OverlappedReduction() {
  for (std::size_t k = 0; k < accumulators_.size(); ++k) accumulators_[k]->del_post_hook(hook_keys_[k]);
  // Requests still pending (an exception between begin() and finish(), which Trainer does not
  // let happen) complete once the other ranks post theirs: waiting here could hang, and MPI
  // forbids freeing a nonblocking collective's request, so their buffers are kept alive for the
  // MPI library to write into (a deliberate leak on a path that ends the run anyway).
  static std::vector<at::Tensor> orphaned;
  for (std::size_t k = 0; k < requests_.size(); ++k)
    if (requests_[k] != MPI_REQUEST_NULL) orphaned.push_back(buckets_[k].buffer);
}

void OverlappedReduction::begin(double scale) {
  PHYSML_CHECK(active_, "OverlappedReduction::begin: inactive (one rank, or a parameter that is not a float32/float64 "
                        "CPU leaf requiring grad)");
  PHYSML_CHECK(!armed_, "OverlappedReduction::begin: the previous step was not finished");
  scale_ = scale;
  std::fill(ready_.begin(), ready_.end(), 0);
  for (auto& b : buckets_) {
    b.ready = 0;
    b.posted = false;
  }
  next_post_ = 0;
  posted_in_backward_ = 0;
  late_ = false;
  finished_ = false;
  armed_ = true;
}

void OverlappedReduction::on_gradient_ready(std::size_t index) {
  if (!armed_) return;  // a backward pass outside a step (e.g. a task's own)
  auto& b = buckets_[bucket_of_[index]];
  if (b.posted) {
    late_ = true;
    return;
  }
  if (!ready_[index]) {
    ready_[index] = 1;
    ++b.ready;
  }
  while (next_post_ < buckets_.size() && buckets_[next_post_].ready == buckets_[next_post_].members.size())
    post(next_post_, /*in_backward=*/true);
  progress();
}

void OverlappedReduction::post(std::size_t k, bool in_backward) {
  torch::NoGradGuard no_grad;
  auto& b = buckets_[k];
  for (std::size_t m = 0; m < b.members.size(); ++m) {
    const auto& p = parameters_[b.members[m]];
    auto part = b.buffer.slice(0, b.offsets[m], b.offsets[m] + p.numel());
    const auto& g = p.grad();
    if (g.defined())
      part.copy_(g.detach().reshape(-1));
    else
      part.zero_();
  }
  if (scale_ != 1.0) b.buffer.mul_(scale_);
  ++dp_.calls_;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, b.buffer.data_ptr(), static_cast<int>(b.buffer.numel()),
                           mpi_type(b.buffer.scalar_type()), MPI_SUM, dp_.comm(), &requests_[k]),
            "MPI_Iallreduce (gradients)");
  b.posted = true;
  next_post_ = k + 1;
  if (in_backward) ++posted_in_backward_;
}

void OverlappedReduction::progress() {
  // Open MPI advances a nonblocking collective only inside MPI calls: test the posted ones.
  if (next_post_ == 0) return;
  int done = 0;
  check_mpi(MPI_Testall(static_cast<int>(next_post_), requests_.data(), &done, MPI_STATUSES_IGNORE),
            "MPI_Testall (gradients)");
}

void OverlappedReduction::finish() {
  PHYSML_CHECK(armed_, "OverlappedReduction::finish without begin()");
  while (next_post_ < buckets_.size()) post(next_post_, /*in_backward=*/false);
  armed_ = false;  // a hook firing from now on would find its bucket posted; nothing to wait for
  check_mpi(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE),
            "MPI_Waitall (gradients)");
  finished_ = true;
}

void OverlappedReduction::apply(const std::vector<bool>& defined_anywhere) {
  PHYSML_CHECK(finished_, "OverlappedReduction::apply before finish()");
  PHYSML_CHECK(defined_anywhere.size() == parameters_.size(), "OverlappedReduction::apply: ",
               defined_anywhere.size(), " flags for ", parameters_.size(), " parameters");
  torch::NoGradGuard no_grad;
  for (const auto& b : buckets_) {
    for (std::size_t m = 0; m < b.members.size(); ++m) {
      const auto i = b.members[m];
      if (!defined_anywhere[i]) continue;
      auto& p = parameters_[i];
      auto part = b.buffer.slice(0, b.offsets[m], b.offsets[m] + p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(part);
      else
        p.mutable_grad() = part.clone();
    }
  }
  finished_ = false;
}

std::size_t OverlappedReduction::buckets() const { return buckets_.size(); }

}  // namespace physml::train
