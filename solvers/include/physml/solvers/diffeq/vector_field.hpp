#pragma once
/// \file vector_field.hpp
/// A vector field f(t, y) for the differential-equation solvers: wraps a std::function or
/// any torch::nn::Module with `forward(t, y)` (or `forward(y)` for autonomous fields), and
/// knows its trainable parameters (needed by the adjoint methods) and its evaluation count.

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace physml::solvers::diffeq {

namespace detail {
template <typename M, typename = void>
struct has_ty_forward : std::false_type {};
template <typename M>
struct has_ty_forward<M, std::void_t<decltype(std::declval<M&>().forward(std::declval<at::Tensor>(),
                                                                          std::declval<at::Tensor>()))>>
    : std::true_type {};

/// T is a TORCH_MODULE holder (derived from torch::nn::ModuleHolder<T::ContainedType>).
template <typename T, typename = void>
struct is_module_holder : std::false_type {};
template <typename T>
struct is_module_holder<T, std::void_t<typename T::ContainedType>>
    : std::is_base_of<torch::nn::ModuleHolder<typename T::ContainedType>, T> {};
}  // namespace detail

/// A (possibly learned) vector field f(t, y).
/// Called with t of shape [batch] (each batch element may sit at its own time; dtype of y)
/// and y of shape [batch, state...]; must return a tensor of the shape of y.
/// Copies share the evaluation counter.
class VectorField {
public:
  using Fn = std::function<at::Tensor(const at::Tensor& t, const at::Tensor& y)>;

  /// Wrap a callable f(t, y). `parameters` are the tensors the field depends on that should
  /// receive gradients from the adjoint methods (backprop finds them through autograd anyway).
  /// (A template constrained away from module holders: asking whether a holder converts to a
  /// std::function instantiates LibTorch's forward-return-type trait, a hard error for a
  /// forward(y) module.)
  template <typename F,
            typename = std::enable_if_t<std::conjunction_v<std::negation<std::is_same<std::decay_t<F>, VectorField>>,
                                                           std::negation<detail::is_module_holder<std::decay_t<F>>>,
                                                           std::is_constructible<Fn, F>>>>
  VectorField(F fn, std::vector<at::Tensor> parameters = {})
      : fn_(std::move(fn)), params_(std::move(parameters)), nfe_(std::make_shared<std::int64_t>(0)) {}

  /// Wrap a module with `forward(t, y)` or `forward(y)`; its parameters() are used.
  template <typename M, typename = std::enable_if_t<std::is_base_of_v<torch::nn::Module, M>>>
  VectorField(std::shared_ptr<M> module) : VectorField(from_module(module), module->parameters()) {}

  /// Wrap a module holder (the TORCH_MODULE type) with `forward(t, y)` or `forward(y)`.
  template <typename H, typename = std::enable_if_t<detail::is_module_holder<H>::value>, typename = void>
  VectorField(const H& holder) : VectorField(holder.ptr()) {}

  /// Evaluate f(t, y); t is [batch] (any dtype, converted to y's), y is [batch, state...].
  at::Tensor operator()(const at::Tensor& t, const at::Tensor& y) const;

  /// Tensors that receive gradients in the adjoint methods.
  const std::vector<at::Tensor>& parameters() const { return params_; }
  /// Number of evaluations since construction or reset_nfe() (shared by copies).
  std::int64_t nfe() const { return *nfe_; }
  void reset_nfe() const { *nfe_ = 0; }

private:
  template <typename M>
  static Fn from_module(std::shared_ptr<M> m) {
    if constexpr (detail::has_ty_forward<M>::value) {
      return [m](const at::Tensor& t, const at::Tensor& y) { return m->forward(t, y); };
    } else {
      return [m](const at::Tensor&, const at::Tensor& y) { return m->forward(y); };
    }
  }
  Fn fn_;
  std::vector<at::Tensor> params_;
  std::shared_ptr<std::int64_t> nfe_;
};

}  // namespace physml::solvers::diffeq
