#pragma once
/// \file model_operator.hpp
/// A learned field-to-field model (any registered operators::Model mapping one channel to
/// one, e.g. an MgNO or FNO trained on f -> u pairs of a Poisson problem) as an Operator on
/// the PETSc vector of the unknowns: the residual -> correction map of a learned
/// preconditioner (PC type "physml", pc_physml.hpp).
///
/// apply(x, y), for x with n entries on a grid of shape `grid` (tensor order):
///   1. s = input_rms · sqrt(n) / ‖x‖₂   (x scaled to the RMS entry size `input_rms` of the
///      model's training inputs; a network is not scale-equivariant, so this matters);
///   2. X = s·x reshaped to [1, 1, (nz,) ny, nx], zero-padded by `pad` points on every side
///      (e.g. pad 1: the model was trained on the full vertex grid with the Dirichlet
///      boundary points, the system holds only the interior unknowns);
///   3. Y = model(X) in `dtype` on `device`, the padding cropped off again;
///   4. y = Y / s (rescale_output, the default: exact for a linear model, so y has the
///      units of A^{-1} x in the model's training units), or y = Y.
/// ‖x‖ = 0 gives y = 0. A NaN/Inf output throws physml::NonFiniteError.
///
/// Scaling of the system: if the PETSc matrix is the model's operator times a constant c
/// (the Poisson matrix scaled by h² or not), y is c times too large or small. Inside a
/// flexible Krylov method that does not matter (FCG's line search and FGMRES's least
/// squares absorb a constant); PC "physml" also offers a 1-D line search on the output
/// (-pc_physml_scale energy, its default, or residual), which makes the correction right
/// for any KSP, Richardson included.

#include "physml/solvers/linear/operator.hpp"

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace physml::operators {
class Model;
}

namespace physml::solvers {

/// How a ModelOperator maps vectors to model inputs and back (see the file comment).
struct ModelOperatorOptions {
  /// Grid of the unknowns in tensor order ([ny, nx] or [nz, ny, nx]; x fastest in the Vec).
  std::vector<int64_t> grid;
  /// Points of zero padding added on every side before the model, cropped after (>= 0).
  int64_t pad = 0;
  /// RMS entry size given to the model input; <= 0: training_input_rms(model) if the model
  /// records it, else 1.
  double input_rms = 0;
  /// y = model(s x) / s (true) or model(s x) (false).
  bool rescale_output = true;
  c10::Device device = c10::Device(c10::kCPU);
  /// Precision the model runs in. The model's parameters are converted to it (and moved to
  /// `device`) in place: a model shared through cached_model runs in the precision of the
  /// last ModelOperator built on it.
  c10::ScalarType dtype = c10::kFloat;

  ModelOperatorOptions& set_grid(std::vector<int64_t> g) { grid = std::move(g); return *this; }
  ModelOperatorOptions& set_pad(int64_t p) { pad = p; return *this; }
  ModelOperatorOptions& set_input_rms(double r) { input_rms = r; return *this; }
  ModelOperatorOptions& set_rescale_output(bool on) { rescale_output = on; return *this; }
  ModelOperatorOptions& set_device(c10::Device d) { device = d; return *this; }
  ModelOperatorOptions& set_dtype(c10::ScalarType t) { dtype = t; return *this; }
};

/// A one-channel-to-one-channel field model as an Operator (residual -> correction).
class ModelOperator : public Operator {
public:
  /// Throws physml::Error if the model's config records in/out channels other than 1 -> 1,
  /// if its dimension differs from the grid's, or if the grid/pad are invalid.
  ModelOperator(std::shared_ptr<operators::Model> model, ModelOperatorOptions options);
  PetscInt rows() const override { return n_; }
  PetscInt cols() const override { return n_; }
  /// y = M(s x)/s on the grid (file comment). x, y: sequential layout (all n entries local).
  void apply(Vec x, Vec y) override;
  std::string name() const override;
  bool linear() const override { return false; }
  const ModelOperatorOptions& options() const { return o_; }
  /// The RMS input size actually used.
  double input_rms() const { return rms_; }
  const std::shared_ptr<operators::Model>& model() const { return model_; }

private:
  std::shared_ptr<operators::Model> model_;
  ModelOperatorOptions o_;
  PetscInt n_ = 0;
  double rms_ = 1;
};

/// (in, out) channels a model's config records ("in_channels"/"out_channels", also inside a
/// "normalized" model; a "dcdm" net maps 1 (+1 mask) -> 1), or {-1, -1} if it records none.
std::pair<int64_t, int64_t> model_channels(const operators::Model& model);
/// The spatial dimension a model's config records ("dim"), or 0 if none.
int model_dim(const operators::Model& model);
/// RMS entry size of the inputs a model was trained on, from the statistics of a
/// "normalized" model's x normalizer (sqrt(mean(mean² + std²))); 0 if the model has none.
double training_input_rms(const operators::Model& model);

/// Load a model of any registered type through operators::load once per (path, modification
/// time) and return the cached copy later (a driver solving every frame reads the file once).
/// `expected_type` as in operators::load. Throws physml::Error for a missing file.
std::shared_ptr<operators::Model> cached_model(const std::string& path, const std::string& expected_type = "");
/// How many times cached_model actually read a file (for tests and logs).
int model_loads();

/// The grid of the unknowns of a system with n rows for a `dim`-D model, x first
/// ({nx, ny(, nz)}): `given` if non-empty (x first), else the sizes of a DMDA `dm` (may be
/// null), else a square/cube. `who` and `option` name the caller and its grid option in the
/// errors. Throws physml::Error naming the sizes if nothing fits.
std::vector<int64_t> resolve_grid(const std::string& who, const std::string& option, int dim, PetscInt n,
                                  const std::vector<long>& given, DM dm);

}  // namespace physml::solvers
