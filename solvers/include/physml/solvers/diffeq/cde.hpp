#pragma once
/// \file cde.hpp
/// Controlled differential equations dz = f(z) dX(t) (Kidger et al. 2020, neural CDEs):
/// continuous paths X interpolating irregular, partially observed series (NaN = missing),
/// the CDE solve on top of odeint, and depth-2 log-signature windows for long series.

#include "physml/solvers/diffeq/ode.hpp"
#include "physml/solvers/diffeq/vector_field.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace physml::solvers::diffeq {

/// A piecewise-cubic path X: on [t_i, t_{i+1}], X(t) = a_i + b_i s + c_i s^2 + d_i s^3 with
/// s = t - t_i. Coefficients are [batch, intervals, channels]; they are differentiable
/// functions of the data, so gradients flow into the observations.
class CubicPath {
public:
  /// Piecewise linear interpolation (X continuous, X' jumps at knots).
  static CubicPath linear(const at::Tensor& ts, const at::Tensor& x);
  /// Rectilinear (causal) interpolation (Morrill et al. 2021): on a virtual time 0, 1, ...,
  /// 2T-2, time moves first and the channels jump second; the output has channel 0 = time
  /// followed by the C data channels; missing values are forward-filled.
  static CubicPath rectilinear(const at::Tensor& ts, const at::Tensor& x);
  /// Hermite cubic with backward differences (Kidger et al. 2021, torchcde's recommended
  /// causal scheme): X'(t_i) = (x_i - x_{i-1}) / (t_i - t_{i-1}); X and X' continuous.
  static CubicPath hermite(const at::Tensor& ts, const at::Tensor& x);
  /// Natural cubic spline: X, X', X'' continuous, X'' = 0 at both ends (tridiagonal solve).
  static CubicPath natural_cubic(const at::Tensor& ts, const at::Tensor& x);

  /// X(t) for t [batch] (each element at its own time) -> [batch, channels].
  at::Tensor evaluate(const at::Tensor& t) const;
  /// dX/dt(t) -> [batch, channels] (right derivative at knots).
  at::Tensor derivative(const at::Tensor& t) const;
  /// d2X/dt2(t) -> [batch, channels].
  at::Tensor second_derivative(const at::Tensor& t) const;

  const at::Tensor& knots() const { return t_; }  ///< [T] (virtual time for rectilinear)
  std::int64_t channels() const { return a_.size(2); }
  std::int64_t batch() const { return a_.size(0); }
  /// Coefficients [batch, T-1, channels] of s^0..s^3.
  const at::Tensor& a() const { return a_; }
  const at::Tensor& b() const { return b_; }
  const at::Tensor& c() const { return c_; }
  const at::Tensor& d() const { return d_; }

private:
  CubicPath(at::Tensor t, at::Tensor a, at::Tensor b, at::Tensor c, at::Tensor d);
  at::Tensor gather(const at::Tensor& coef, const at::Tensor& idx) const;
  at::Tensor locate(const at::Tensor& t, at::Tensor& s) const;
  at::Tensor t_, a_, b_, c_, d_;
};

/// Fill NaNs of x [batch, T, C] channel by channel: linear interpolation in time between
/// observed values, constant before the first / after the last one, zeros for an all-NaN
/// channel. (`causal` = forward fill instead of interpolation.)
at::Tensor fill_missing(const at::Tensor& ts, const at::Tensor& x, bool causal = false);

/// Solve dz = f(t, z) dX(t) with z(ts[0]) = z0 [batch, hidden]; f returns [batch, hidden,
/// channels]. The knots of X are the natural step boundaries: with a fixed-step method use dt
/// = the smallest gap. Returns [len(ts), batch, hidden]; gradients as in OdeOptions.
at::Tensor cdeint(const VectorField& f, const CubicPath& X, const at::Tensor& z0, const at::Tensor& ts,
                  const OdeOptions& options = {});

/// Depth-2 log-signature windows (Morrill et al. 2021, "Neural rough differential equations"):
/// splits x [batch, T, C] (piecewise linear between samples, NaNs filled) into windows of
/// `window` intervals and returns {knots [W+1] (window end times), path [batch, W+1, C + C(C-1)/2]}:
/// the cumulative sum of each window's log-signature (increment, then Lévy areas A_ij, i<j).
/// Driving a CDE by the linear interpolation of this path is the log-ODE method.
std::pair<at::Tensor, at::Tensor> logsig_windows(const at::Tensor& ts, const at::Tensor& x, std::int64_t window);

}  // namespace physml::solvers::diffeq
