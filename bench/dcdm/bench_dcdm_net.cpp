// Timing of one DCDM network application (docs/results-dcdm.md, "Network speed"):
// the from64 net (random weights; speed does not depend on them) at several grids, with
// the direct oneDNN convolution path (default) and with LibTorch's own Conv dispatch (the
// path used before the fix), float32 under NoGradGuard, float64, and with autograd on;
// and the whole solver step NetworkDirection::apply (PETSc Vec in, Vec out).
// usage: bench_dcdm_net [-threads 1] [-grids3 16,32,64] [-grids2 256,1024] [-reps 3]
#include "physml/core/environment.hpp"
#include "physml/core/options.hpp"
#include "physml/operators/dcdm_net.hpp"
#include "physml/solvers/linear/dcdm.hpp"

#include <petscvec.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>

namespace op = physml::operators;

namespace {

double seconds(const std::function<void()>& f, int reps) {
  f();  // warm-up (oneDNN primitive creation, allocator)
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}

void row(int dim, int64_t n, const char* path, double s) {
  std::printf("| %d | %lld | %s | %.4f |\n", dim, static_cast<long long>(n), path, s);
  std::fflush(stdout);
}

void bench_grid(int dim, int64_t n, int reps) {
  torch::manual_seed(0);
  auto net = std::make_shared<op::DCDMNetImpl>(op::DCDMNetOptions(dim));
  net->eval();
  std::vector<int64_t> shape = {1, 1, n, n};
  if (dim == 3) shape.push_back(n);
  const at::Tensor x = torch::randn(shape);
  {
    torch::NoGradGuard ng;
    net->set_onednn(true);
    const at::Tensor y1 = net->forward(x);
    row(dim, n, "float32, NoGrad, oneDNN direct (new default)", seconds([&] { net->forward(x); }, reps));
    net->set_onednn(false);
    const at::Tensor y0 = net->forward(x);
    std::printf("|   |   | (max |difference| of the two paths: %.2e, max |y| %.2e) |   |\n",
                (y1 - y0).abs().max().item<double>(), y0.abs().max().item<double>());
    row(dim, n, "float32, NoGrad, LibTorch Conv dispatch (old)", seconds([&] { net->forward(x); }, reps));
    net->set_onednn(true);
  }
  row(dim, n, "float32, autograd on, oneDNN direct", seconds([&] { net->forward(x); }, reps));
  {
    torch::NoGradGuard ng;
    net->to(torch::kDouble);
    const at::Tensor xd = x.to(torch::kDouble);
    row(dim, n, "float64, NoGrad (native path)", seconds([&] { net->forward(xd); }, reps));
    net->to(torch::kFloat);
  }
  // The solver's step: r (PETSc Vec, float64) -> r/|r| -> float32 net -> q (Vec).
  std::vector<int64_t> grid(dim, n);
  physml::solvers::NetworkDirection dir(net, grid);
  Vec r, q;
  const PetscInt cells = static_cast<PetscInt>(x.numel());
  VecCreateSeq(PETSC_COMM_SELF, cells, &r);
  VecDuplicate(r, &q);
  VecSetRandom(r, nullptr);
  row(dim, n, "NetworkDirection::apply (solver step, Vec->Vec)", seconds([&] { dir.apply(r, q); }, reps));
  VecDestroy(&r);
  VecDestroy(&q);
}

}  // namespace

int main(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options o("");
  at::set_num_threads(static_cast<int>(o.get_int("threads", 1)));
  const int reps = static_cast<int>(o.get_int("reps", 3));
  const auto g3 = o.get_int_list("grids3", {16, 32, 64});
  const auto g2 = o.get_int_list("grids2", {256, 1024});
  physml::check_no_unused_options();
  std::printf("LibTorch threads %d, oneDNN available %d, seconds per forward (mean of %d after a warm-up)\n\n",
              at::get_num_threads(), static_cast<int>(at::hasMKLDNN()), reps);
  std::printf("| dim | N | path | s / call |\n|---|---|---|---|\n");
  for (auto n : g3) bench_grid(3, n, reps);
  for (auto n : g2) bench_grid(2, n, reps);
  return 0;
}
