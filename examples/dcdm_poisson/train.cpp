// Train a DCDM network for a pressure-Poisson scene (Kaneda et al. 2023, data and loss of their code):
//   1. assemble the scene's matrix A (poisson_scene.hpp, the same as dcdm_poisson),
//   2. Lanczos with full reorthogonalization from A·ξ, Ritz pairs,
//   3. training right-hand sides b = Σ c_j y_j (9× weight on the low 55%), normalized,
//   4. the scale-invariant DCDM loss trained by the library's Trainer (train::DCDMTask):
//      OUT/last.h5 after every epoch (the model), OUT/best.h5, OUT/log.csv, OUT/loss.png.
//
//   ./dcdm_train -n 16 -dim 3 -lanczos_steps 200 -samples 800 -epochs 20 -lr 1e-3 -output run16
//   ./dcdm_train -n 32 -dim 3 -lanczos_steps 300 -samples 600 -data ritz32.h5   # data only
//   mpirun -n 2 ./dcdm_train ...   # Lanczos distributed, the data gathered, data-parallel training
//
// Options (-help lists them with defaults): the scene's -n -dim -obstacle
// sphere|box|spheres|random|plume|none -radius -obstacle_x -nobstacles -scene_seed -surface
// (poisson_scene.hpp), -lanczos_steps, -samples, -data FILE (save the Ritz data); the network's
// -dcdm_variant, -dcdm_mask_channel, ... (DCDMNetOptions); the trainer's -epochs, -batch_size,
// -lr, -seed (also of the Lanczos start and the combinations), -output DIR, -stop_after, ...
// (TrainerOptions, DCDM defaults: train::dcdm_trainer_options) and -valid_fraction,
// -dcdm_valid_solves N (select best.h5 by the mean DCDM iterations of N held-out solves),
// -dcdm_valid_rtol, -dcdm_valid_max_its, -dcdm_valid_seed (DCDMTaskOptions). Without -output nothing is trained (write the data with -data).
#include "poisson_scene.hpp"

#include "physml/core/collective.hpp"
#include "physml/core/environment.hpp"
#include "physml/core/log.hpp"
#include "physml/core/options.hpp"
#include "physml/core/options_reader.hpp"
#include "physml/core/random.hpp"
#include "physml/solvers/linear/dcdm.hpp"
#include "physml/solvers/linear/lanczos.hpp"
#include "physml/train/dcdm_train.hpp"

#include <petscao.h>
#include <petscdmda.h>
#include <torch/torch.h>

#include <vector>

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
/// The DMDA's matrix renumbered in grid order (x fastest), distributed in PETSc's default
/// row split: a DMDA's global order is per-rank blocks, which would make the Lanczos start
/// vector, and so the Ritz data, depend on the rank count. On one rank the orders agree.
Mat grid_order(DM da, Mat A) {
  int ranks = 1;
  MPI_Comm_size(PetscObjectComm((PetscObject)A), &ranks);
  if (ranks == 1) {
    PHYSML_PETSC(PetscObjectReference((PetscObject)A));
    return A;
  }
  PetscInt N, nlocal = PETSC_DECIDE, start = 0;
  PHYSML_PETSC(MatGetSize(A, &N, nullptr));
  PHYSML_PETSC(PetscSplitOwnership(PetscObjectComm((PetscObject)A), &nlocal, &N));
  MPI_Exscan(&nlocal, &start, 1, MPIU_INT, MPI_SUM, PetscObjectComm((PetscObject)A));
  int rank = 0;
  MPI_Comm_rank(PetscObjectComm((PetscObject)A), &rank);
  if (rank == 0) start = 0;
  std::vector<PetscInt> rows(static_cast<size_t>(nlocal));
  for (PetscInt i = 0; i < nlocal; ++i) rows[static_cast<size_t>(i)] = start + i;  // grid (natural) indices
  AO ao;
  PHYSML_PETSC(DMDAGetAO(da, &ao));
  PHYSML_PETSC(AOApplicationToPetsc(ao, nlocal, rows.data()));  // -> the DMDA's global indices
  IS is;
  PHYSML_PETSC(ISCreateGeneral(PetscObjectComm((PetscObject)A), nlocal, rows.data(), PETSC_COPY_VALUES, &is));
  Mat B;
  PHYSML_PETSC(MatCreateSubMatrix(A, is, is, MAT_INITIAL_MATRIX, &B));
  ISDestroy(&is);
  return B;
}

/// [count, local rows] on each rank -> [count, all rows] on every rank (rows in rank order).
at::Tensor gather_columns(const at::Tensor& local, MPI_Comm comm) {
  int ranks = 1;
  MPI_Comm_size(comm, &ranks);
  if (ranks == 1) return local;
  const at::Tensor t = local.to(torch::kDouble).t().contiguous();  // [local rows, count]
  const int mine = static_cast<int>(t.numel());
  std::vector<int> counts(static_cast<size_t>(ranks)), offsets(static_cast<size_t>(ranks), 0);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 1; r < ranks; ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
  at::Tensor all = torch::empty({(offsets.back() + counts.back()) / local.size(0), local.size(0)}, torch::kDouble);
  MPI_Allgatherv(t.data_ptr<double>(), mine, MPI_DOUBLE, all.data_ptr<double>(), counts.data(), offsets.data(),
                 MPI_DOUBLE, comm);
  return all.t().contiguous().to(local.scalar_type());
}
}  // namespace

int main(int argc, char** argv) {
  try {
    physml::Environment env(argc, argv);
    physml::Options o;
    long n = 16, dim = 3, count = 4, scene_seed = 1, steps = 200, samples = 800;
    std::string data_path;
    scene::Obstacle obstacle;
    {
      physml::OptionsReader r(o, "dcdm_train: pressure-Poisson scene and its Ritz-vector training data");
      n = r.integer("n", n, "cells per side", 2);
      dim = r.integer("dim", dim, "2 or 3", 2, 3);
      obstacle.shape = r.choice("obstacle", scene::shape_names(), "sphere", "obstacle shape (poisson_scene.hpp)");
      obstacle.radius = r.real("radius", 0.2, "obstacle radius (domain units)");
      obstacle.cx = r.real("obstacle_x", 0.5, "obstacle centre x (domain units)");
      obstacle.surface = r.real("surface", 1.0, "free surface height y (1 = none)");
      count = r.integer("nobstacles", count, "obstacles of the random scene", 0);
      scene_seed = r.integer("scene_seed", scene_seed, "seed of the random scene", 0);
      steps = r.integer("lanczos_steps", steps, "Lanczos steps (Ritz pairs)", 1);
      samples = r.integer("samples", samples, "training right-hand sides (Ritz combinations)", 1);
      data_path = r.string("data", "", "also save the Ritz data to this dcdm-ritz Dataset file");
    }
    auto net_options = physml::operators::DCDMNetOptions(static_cast<int>(dim)).set_from_options(o.sub("dcdm_"));
    auto t = physml::train::dcdm_trainer_options().set_from_options(o, "Trainer (defaults of DCDM training)");
    const auto task_options = physml::train::DCDMTaskOptions().set_from_options(o);
    if (o.has("help")) return 0;
    physml::check_no_unused_options();
    PHYSML_CHECK(!t.output_dir().empty() || !data_path.empty(),
                 "nothing to do: give -output DIR (train a network) and/or -data FILE (write the Ritz data)");
    scene::configure(obstacle, static_cast<int>(dim), static_cast<int>(count), static_cast<unsigned>(scene_seed));
    const std::uint64_t seed = t.seed();

    physml::seed_everything(seed);
    // The scene on a DMDA over every rank; Lanczos runs distributed, in grid order.
    const MPI_Comm comm = PETSC_COMM_WORLD;
    int ranks = 1;
    MPI_Comm_size(comm, &ranks);
    DM da;
    if (dim == 2) {
      PHYSML_PETSC(DMDACreate2d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n, PETSC_DECIDE,
                                PETSC_DECIDE, 1, 1, nullptr, nullptr, &da));
    } else {
      PHYSML_PETSC(DMDACreate3d(comm, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DM_BOUNDARY_NONE, DMDA_STENCIL_STAR, n, n, n,
                                PETSC_DECIDE, PETSC_DECIDE, PETSC_DECIDE, 1, 1, nullptr, nullptr, nullptr, &da));
    }
    PHYSML_PETSC(DMSetUp(da));
    Mat A_dmda, A;
    PHYSML_PETSC(DMCreateMatrix(da, &A_dmda));
    PHYSML_PETSC(scene::assemble(da, obstacle, A_dmda));
    A = grid_order(da, A_dmda);
    std::vector<int64_t> grid(dim, n);

    physml::Timer timer;
    Vec v0 = physml::solvers::lanczos_start_vector(A, seed);
    auto l = physml::solvers::lanczos(A, v0, steps);
    auto ritz = physml::solvers::ritz_pairs(l);
    physml::log_info("Lanczos: ", l.steps(), " steps, ", ritz.values.size(), " Ritz pairs in [", ritz.values(0), ", ",
                     ritz.values(ritz.values.size() - 1), "], ", physml::format_duration(timer.seconds()), " on ", ranks,
                     ranks == 1 ? " rank" : " ranks");
    // Training needs the whole system on every rank (the loss applies A to whole fields; the
    // Trainer splits the batches over the ranks): the Ritz combinations' rows and A gathered.
    physml::train::RitzDataset data;
    data.b = gather_columns(physml::solvers::ritz_training_vectors(ritz, samples, seed + 1), comm);
    Mat A_whole;
    PHYSML_PETSC(MatCreateRedundantMatrix(A, ranks, MPI_COMM_NULL, MAT_INITIAL_MATRIX, &A_whole));
    data.A = physml::solvers::sparse_from_mat(A_whole, torch::kDouble);
    data.grid = grid;
    data.mask = physml::solvers::solid_mask_from_matrix(A_whole);
    MatDestroy(&A_whole);
    // Solid cells are not unknowns: the solver's residuals vanish there, so train on the
    // fluid part of each Ritz combination (renormalized).
    data.b = data.b * data.mask.reshape({1, -1});
    data.b = data.b / data.b.norm(2, 1, true).clamp_min(1e-30);
    if (!data_path.empty()) physml::run_collectively(comm, [&] {
        if (env.rank() == 0) physml::train::save_ritz_dataset(data_path, data);
      });

    report_reference_losses(data.A, data.b);
    if (!t.output_dir().empty()) {
      auto net = std::make_shared<physml::operators::DCDMNetImpl>(net_options.train_grid(grid));
      timer.reset();
      physml::train::DCDMTask task(data.b, data.A, grid, data.mask, task_options);
      const double before = physml::train::evaluate_dcdm(*net, data.b, data.A, grid, data.mask);
      physml::train::Trainer trainer(net, t);
      const auto records = trainer.fit(task);
      const auto& r = records.back();
      physml::log_info("loss: untrained ", before, ", after ", r.epoch, " epochs: train ", r.train_loss, " valid ",
                       r.metric("valid_loss"), " (", physml::format_duration(timer.seconds()), "); model saved to ",
                       t.output_dir(), "/last.h5");
      for (const auto& e : records) {
        if (task_options.valid_solves() > 0) {
          physml::log_info("epoch ", e.epoch, " train ", e.train_loss, " valid ", e.metric("valid_loss"), " valid_its ",
                           e.metric("valid_its"), " valid_relres ", e.metric("valid_relres"), " (", e.seconds, " s)");
        } else {
          physml::log_info("epoch ", e.epoch, " train ", e.train_loss, " valid ", e.metric("valid_loss"));
        }
      }
      physml::log_info("best.h5: epoch ", trainer.best_epoch(), ", ", task.criterion(), " ", trainer.best_validation());
      if (task_options.valid_solves() > 0) {
        // The cost of the criterion: one validation of the last model, its held-out solves alone.
        timer.reset();
        torch::NoGradGuard ng;
        net->eval();
        const auto m = task.validate(*net);
        physml::log_info("held-out solves of one validation: ", task_options.valid_solves(), " right-hand sides, mean ",
                         m.at("valid_its"), " iterations, ", timer.seconds(), " s (valid_loss included)");
      }
    }
    VecDestroy(&v0);
    MatDestroy(&A);
    MatDestroy(&A_dmda);
    DMDestroy(&da);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dcdm_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
