#include "physml/physics/constitutive_batch.hpp"

#include "physml/core/error.hpp"

#include <torch/torch.h>

#include <exception>
#include <mutex>

namespace physml::physics {
namespace {

template <typename T>
using RowMat3 = Eigen::Matrix<T, 3, 3, Eigen::RowMajor>;

/// out[i] = f(F[i]) for every particle; the first exception of any thread is rethrown.
template <typename Fn>
at::Tensor per_particle(const char* who, const at::Tensor& F, Fn&& f) {
  PHYSML_CHECK(F.defined() && F.dim() == 3 && F.size(1) == 3 && F.size(2) == 3, who,
               " expects F of shape [N, 3, 3], got ", F.defined() ? F.sizes() : c10::IntArrayRef{});
  PHYSML_CHECK(F.device().is_cpu(), who, " runs on CPU tensors, got F on ", F.device());
  PHYSML_CHECK(F.scalar_type() == torch::kFloat || F.scalar_type() == torch::kDouble, who,
               " expects float32 or float64 F, got ", F.scalar_type());
  const auto Fc = F.detach().contiguous();
  auto out = torch::empty_like(Fc);
  std::exception_ptr error;
  std::mutex m;
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const T* in = Fc.data_ptr<T>();
    T* o = out.data_ptr<T>();
    at::parallel_for(0, Fc.size(0), 64, [&](std::int64_t b, std::int64_t e) {
      try {
        for (std::int64_t i = b; i < e; ++i) {
          const Mat3<T> Fi = Eigen::Map<const RowMat3<T>>(in + 9 * i);
          Eigen::Map<RowMat3<T>>(o + 9 * i) = f(Fi);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!error) error = std::current_exception();
      }
    });
  };
  if (Fc.scalar_type() == torch::kDouble)
    run(double{});
  else
    run(float{});
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace

at::Tensor batch_kirchhoff(const Material& material, const at::Tensor& F) {
  return per_particle("batch_kirchhoff", F, [&](const auto& Fi) { return material.kirchhoff(Fi); });
}

at::Tensor batch_project(const Material& material, const at::Tensor& F_trial) {
  return per_particle("batch_project", F_trial, [&](const auto& Fi) { return material.project(Fi); });
}

}  // namespace physml::physics
