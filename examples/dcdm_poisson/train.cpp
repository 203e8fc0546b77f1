// Train a DCDM network for a pressure-Poisson scene (Kaneda et al. 2023, data and loss of their code):
//   1. assemble the scene's matrix A (poisson_scene.hpp, the same as dcdm_poisson),
//   2. Lanczos with full reorthogonalization from A·ξ, Ritz pairs,
//   3. training right-hand sides b = Σ c_j y_j (9× weight on the low 55%), normalized,
//   4. Adam on the scale-invariant DCDM loss; the model is saved after every epoch.
//
//   ./dcdm_train -n 16 -dim 3 -lanczos_steps 200 -samples 800 -epochs 20 -o dcdm16.h5
//
// Options: -n -dim -obstacle sphere|box|spheres|random|plume|none -radius -nobstacles
// -scene_seed -surface (scene, poisson_scene.hpp), -variant from64|from128, -mask (mask channel),
// -lanczos_steps, -samples, -epochs, -batch, -lr, -seed, -o FILE, -data FILE (also save the data).
#include "poisson_scene.hpp"

#include "physml/core/environment.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/random.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "physml/solvers/linear/lanczos.hpp"
#include "physml/train/dcdm_train.hpp"

#include <torch/torch.h>

namespace {
// Reference "networks" for the loss-plateau diagnosis (docs/results-dcdm.md): the mean
// DCDM loss of q = b, of q = k Jacobi (ω = 2/3) or k CG iterations from x0 = 0, and of
// q = A⁻¹b (CG to 1e-12 relative, batched, double). Solid rows are identity rows in A,
// b vanishes there, so every reference also vanishes on solid cells.
void report_reference_losses(const at::Tensor& A_in, const at::Tensor& b_in) {
  const at::Tensor A = A_in.to(torch::kDouble).coalesce();
  const at::Tensor b = b_in.to(torch::kDouble);
  auto apply = [&](const at::Tensor& x) { return physml::operators::sparse_apply(A, x); };
  auto loss = [&](const at::Tensor& q) { return physml::operators::dcdm_loss(q, b, apply).item<double>(); };
  auto cg = [&](int iters, double rtol) {
    at::Tensor x = torch::zeros_like(b), r = b.clone(), p = r.clone();
    at::Tensor rr = (r * r).sum(1, true);
    const at::Tensor stop = rtol * rtol * rr;
    for (int k = 0; k < iters; ++k) {
      if ((rr <= stop).all().item<bool>()) break;
      const at::Tensor Ap = apply(p);
      const at::Tensor alpha = torch::where(rr > stop, rr / (p * Ap).sum(1, true), torch::zeros_like(rr));
      x = x + alpha * p;
      r = r - alpha * Ap;
      const at::Tensor rr_new = (r * r).sum(1, true);
      p = r + (rr_new / rr.clamp_min(1e-300)) * p;
      rr = rr_new;
    }
    return x;
  };
  // diag(A) from the sparse entries (A.to_dense() would need n² doubles: 8.6 GB at 32³).
  const at::Tensor on_diag = A.indices()[0] == A.indices()[1];
  const at::Tensor diag = torch::zeros({A.size(0)}, torch::kDouble)
                              .index_add_(0, A.indices()[0].masked_select(on_diag), A.values().masked_select(on_diag))
                              .reshape({1, -1});
  auto jacobi = [&](int iters) {
    at::Tensor x = torch::zeros_like(b);
    for (int k = 0; k < iters; ++k) x = x + (2.0 / 3.0) * (b - apply(x)) / diag;
    return x;
  };
  physml::log_info("reference losses on the training vectors: identity q=b ", loss(b), ", Jacobi(5) ", loss(jacobi(5)),
                   ", Jacobi(20) ", loss(jacobi(20)), ", CG(5) ", loss(cg(5, 0)), ", CG(20) ", loss(cg(20, 0)),
                   ", exact A^-1 b (CG 1e-12) ", loss(cg(100000, 1e-12)));
}
}  // namespace

int main(int argc, char** argv) {
  try {
    physml::Environment env(argc, argv);
    physml::Options o;
    const long n = o.get_int("n", 16), dim = o.get_int("dim", 3);
    scene::Obstacle obstacle;
    obstacle.shape = o.get_choice("obstacle", scene::shape_names(), "sphere");
    obstacle.radius = o.get_real("radius", 0.2);
    obstacle.cx = o.get_real("obstacle_x", 0.5);
    obstacle.surface = o.get_real("surface", 1.0);
    const long count = o.get_int("nobstacles", 4);
    const long scene_seed = o.get_int("scene_seed", 1);
    const int steps = static_cast<int>(o.get_int("lanczos_steps", 200));
    const long samples = o.get_int("samples", 800);
    const std::uint64_t seed = static_cast<std::uint64_t>(o.get_int("seed", 0));
    physml::train::DCDMTrainOptions t;
    t.epochs = static_cast<int>(o.get_int("epochs", 10));
    t.batch_size = static_cast<int>(o.get_int("batch", 10));
    t.lr = o.get_real("lr", 1e-3);
    t.seed = seed;
    t.checkpoint = o.get_string("o", "dcdm.h5");
    const std::string data_path = o.get_string("data", "");
    const std::string variant = o.get_choice("variant", {"from64", "from128"}, "from64");
    const bool mask_channel = o.get_bool("mask", false);
    physml::check_no_unused_options();
    PHYSML_CHECK(dim == 2 || dim == 3, "-dim must be 2 or 3, got ", dim);
    PHYSML_CHECK(count >= 0, "-nobstacles must be >= 0, got ", count);
    scene::configure(obstacle, static_cast<int>(dim), static_cast<int>(count), static_cast<unsigned>(scene_seed));

    physml::seed_everything(seed);
    DM da;
    if (dim == 2) {
      PHYSML_PETSC(DMDACreate2d(PETSC_COMM_SELF, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n, 1, 1, 1, 1,
                                nullptr, nullptr, &da));
    } else {
      PHYSML_PETSC(DMDACreate3d(PETSC_COMM_SELF, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n,
                                n, 1, 1, 1, 1, 1, nullptr, nullptr, nullptr, &da));
    }
    PHYSML_PETSC(DMSetUp(da));
    Mat A;
    PHYSML_PETSC(DMCreateMatrix(da, &A));
    PHYSML_PETSC(scene::assemble(da, obstacle, A));
    std::vector<int64_t> grid(dim, n);

    physml::Timer timer;
    Vec v0 = physml::solvers::lanczos_start_vector(A, seed);
    auto l = physml::solvers::lanczos(A, v0, steps);
    auto ritz = physml::solvers::ritz_pairs(l);
    physml::log_info("Lanczos: ", l.steps(), " steps, ", ritz.values.size(), " Ritz pairs in [", ritz.values(0), ", ",
                     ritz.values(ritz.values.size() - 1), "], ", physml::format_duration(timer.seconds()));
    physml::train::RitzDataset data;
    data.b = physml::solvers::ritz_training_vectors(ritz, samples, seed + 1);
    data.A = physml::solvers::sparse_from_mat(A, torch::kDouble);
    data.grid = grid;
    data.mask = physml::solvers::solid_mask_from_matrix(A);
    // Solid cells are not unknowns: the solver's residuals vanish there, so train on the
    // fluid part of each Ritz combination (renormalized).
    data.b = data.b * data.mask.reshape({1, -1});
    data.b = data.b / data.b.norm(2, 1, true).clamp_min(1e-30);
    if (!data_path.empty()) physml::train::save_ritz_dataset(data_path, data);

    physml::operators::DCDMNet net(physml::operators::DCDMNetOptions(static_cast<int>(dim))
                                       .variant(variant)
                                       .mask_channel(mask_channel)
                                       .train_grid(grid));
    timer.reset();
    report_reference_losses(data.A, data.b);
    const double before = physml::train::evaluate_dcdm(*net, data.b, data.A, grid, data.mask);
    auto hist = physml::train::train_dcdm(*net, data.b, data.A, grid, t, data.mask);
    if (hist.train_loss.empty()) {
      physml::log_info("loss: untrained ", before, " (no epochs)");
      hist.train_loss.push_back(before);
      hist.valid_loss.push_back(before);
    }
    physml::log_info("loss: untrained ", before, ", after ", t.epochs, " epochs: train ", hist.train_loss.back(), " valid ",
                     hist.valid_loss.back(), " (", physml::format_duration(timer.seconds()), "); ",
                     t.epochs > 0 ? "model saved to " + t.checkpoint : std::string("no epochs, no model written"));
    for (size_t e = 0; e < hist.train_loss.size(); ++e)
      physml::log_info("epoch ", e + 1, " train ", hist.train_loss[e], " valid ", hist.valid_loss[e]);
    VecDestroy(&v0);
    MatDestroy(&A);
    DMDestroy(&da);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dcdm_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
