// Outside project using the installed PhysML: one small, checked call into every layer
// (core, mesh, io, physics, operators, solvers, simulators, train, embed), so that the program
// needs every installed library at run time. Prints one line per layer and exits with 1
// if any result is wrong.
#include <physml/core/environment.hpp>
#include <physml/core/options.hpp>
#include <physml/core/version.hpp>
#include <physml/core/views.hpp>
#include <physml/embed/model.hpp>
#include <physml/embed/physml_c.h>
#include <physml/io/hdf5.hpp>
#include <physml/mesh/grid.hpp>
#include <physml/operators/mgno.hpp>
#include <physml/physics/random_field.hpp>
#include <physml/simulators/poisson.hpp>
#include <physml/solvers/diffeq/ode.hpp>
#include <physml/train/losses.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {
int failures = 0;
void report(const char* layer, bool ok, const std::string& what) {
  std::printf("consumer: %-10s %s  %s\n", layer, ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}
}  // namespace

int run(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options opts("consumer_");
  const long n = opts.get_int("n", 5);
  const std::string h5 = opts.get_string("h5", "consumer.h5");

  // core: a torch view of a PETSc Vec, written through without a copy.
  Vec v;
  VecCreateSeq(PETSC_COMM_SELF, static_cast<PetscInt>(n), &v);
  VecSet(v, 2.0);
  double sum = 0;
  {
    auto t = physml::as_tensor(v);
    t.mul_(3.0);
  }
  VecSum(v, &sum);
  VecDestroy(&v);
  report("core", sum == 6.0 * static_cast<double>(n), "n=" + std::to_string(n) + ", sum=" + std::to_string(sum));

  // mesh: a 9 x 17 vertex grid on the unit square (x first: 9 points in x, h_y = 1/16).
  physml::mesh::Grid grid(physml::mesh::GridOptions({9, 17}));
  report("mesh", grid.numel() == 153 && std::abs(grid.spacing(1) - 1.0 / 16) < 1e-15,
         "grid " + std::to_string(grid.numel()) + " points");

  // io: a tensor written to an HDF5 file (temporary name, renamed by commit) and read back.
  const auto a = torch::arange(12, torch::kDouble).reshape({3, 4});
  {
    auto f = physml::io::H5File::create(h5);
    f.write("a", a);
    f.commit();
  }
  const auto back = physml::io::H5File::open(h5).read("a");
  report("io", back.sizes() == a.sizes() && torch::equal(back, a), "HDF5 round trip " + h5);

  // physics: a Gaussian random field draw (zero mean, deterministic in the seed).
  physml::physics::GaussianRandomFieldOptions go;
  go.shape = {16, 16};
  physml::physics::GaussianRandomField grf(go);
  const auto g1 = grf.sample(7), g2 = grf.sample(7);
  report("physics", g1.sizes() == torch::IntArrayRef({16, 16}) && torch::equal(g1, g2) && g1.std().item<double>() > 0 &&
                        std::abs(g1.mean().item<double>()) < 1e-10,
         "random field std " + std::to_string(g1.std().item<double>()));

  // operators: a tiny MgNO, forward on a batch of two 16 x 16 fields.
  physml::operators::MgNO model(physml::operators::MgNOOptions(1, 1).channels(4).levels(3).layers(1));
  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  torch::NoGradGuard no_grad;
  const auto y = model->forward(g1.to(torch::kFloat).reshape({1, 1, 16, 16}).repeat({2, 1, 1, 1}));
  // 4 channels, 3 levels, 1 layer: V-cycle 1070 + 1x1 bypass 8 + head 4 parameters.
  report("operators", params == 1082 && y.sizes() == torch::IntArrayRef({2, 1, 16, 16}) && torch::isfinite(y).all().item<bool>(),
         "MgNO " + std::to_string(params) + " parameters, output [2, 1, 16, 16]");

  // solvers: dy/dt = -y on [0, 1] with dopri5, against exp(-1).
  namespace de = physml::solvers::diffeq;
  de::VectorField decay([](const torch::Tensor&, const torch::Tensor& s) { return -s; });
  const auto ys = de::odeint(decay, torch::ones({1, 1}, torch::kDouble), torch::tensor({0.0, 1.0}, torch::kDouble),
                             de::OdeOptions().rtol(1e-10).atol(1e-12));
  const double err = std::abs(ys[-1].item<double>() - std::exp(-1.0));
  char buf[64];
  std::snprintf(buf, sizeof buf, "odeint error %.1e", err);
  report("solvers", err < 1e-8, buf);

  // simulators: -Laplace(u) = 1 on a 17 x 17 vertex grid, u = 0 on the boundary (max u ~ 0.0737).
  physml::simulators::PoissonProblem pb;
  pb.shape = {17, 17};
  pb.source = torch::ones({17, 17}, torch::kDouble);
  const auto u = physml::simulators::solve_poisson(pb);
  const double umax = u.max().item<double>();
  report("simulators", umax > 0.07 && umax < 0.076, "Poisson max u " + std::to_string(umax));

  // train: the relative L2 error of a prediction 10 % too large is 0.1.
  const auto target = u.reshape({1, 1, 17, 17});
  const double rel = physml::train::relative_lp_loss(1.1 * target, target).item<double>();
  report("train", std::abs(rel - 0.1) < 1e-12, "relative L2 " + std::to_string(rel));

  // embed: an MgNO as an embedded model on caller memory (no copy of the input) gives the
  // MgNO's own output; the C API reports a missing file as a code with a message.
  {
    physml::embed::Model embedded(model.ptr());
    auto x = torch::randn({1, 1, 16, 16});
    auto y_direct = embedded.forward(x);
    std::vector<float> y(256);
    embedded.forward({physml::embed::ArrayView(x.data_ptr(), torch::kFloat32, {1, 1, 16, 16})},
                     {physml::embed::ArrayView(y.data(), torch::kFloat32, {1, 1, 16, 16})});
    physml_model* none = nullptr;
    const int status = physml_model_load("consumer_no_such_model.pt", nullptr, &none);
    report("embed",
           torch::equal(torch::from_blob(y.data(), {1, 1, 16, 16}), y_direct) && status == PHYSML_ERR_FILE_NOT_FOUND &&
               std::string(physml_last_error()).find("does not exist") != std::string::npos,
           std::string("C API: ") + physml_status_name(status));
  }

  std::printf("consumer: PhysML %s, %d failure(s)\n", PHYSML_VERSION_STRING, failures);
  return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: error: %s\n", e.what());
    return 1;
  }
}
