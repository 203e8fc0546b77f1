// Data-parallel gradient sums overlapped with backward (train::OverlappedReduction) against the
// same buckets summed after backward returns (DataParallel::allreduce_gradients), on the 2-D FNO
// of the Darcy recipe (FNOOptions defaults, 64^2, batch 4 per rank). Alternates the two modes
// `-repeats` times; prints per step the median backward time, the time from the end of backward
// until every rank holds the summed gradients, and the whole step (forward, backward, sums).
// usage: mpirun -n 2 bench_overlap [-threads 1] [-repeats 5] [-steps 10] [-bucket_elements 262144] [-n 64]
#include "physml/core/environment.hpp"
#include "physml/core/error.hpp"
#include "physml/operators/fno.hpp"
#include "physml/train/data_parallel.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Times {
  std::vector<double> backward, after, step;
  std::size_t in_backward = 0, buckets = 0;
};

}  // namespace

int main(int argc, char** argv) {
  physml::Environment env(argc, argv);
  try {
    PetscInt repeats = 5, steps = 10, n = 64, bucket = physml::train::kDefaultBucketElements;
    PHYSML_PETSC(PetscOptionsGetInt(nullptr, nullptr, "-repeats", &repeats, nullptr));
    PHYSML_PETSC(PetscOptionsGetInt(nullptr, nullptr, "-steps", &steps, nullptr));
    PHYSML_PETSC(PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr));
    PHYSML_PETSC(PetscOptionsGetInt(nullptr, nullptr, "-bucket_elements", &bucket, nullptr));
    PHYSML_CHECK(repeats >= 1 && steps >= 1 && n >= 16 && bucket >= 1, "bench_overlap: -repeats, -steps >= 1, -n >= 16, "
                 "-bucket_elements >= 1 expected");
    physml::train::DataParallel dp(PETSC_COMM_WORLD, bucket);
    PHYSML_CHECK(dp.distributed(), "bench_overlap: run it on several ranks (mpirun -n 2 bench_overlap)");
    torch::manual_seed(0);
    auto model = std::make_shared<physml::operators::FNOImpl>(physml::operators::FNOOptions(1, 1));
    const auto params = model->parameters();
    std::int64_t count = 0;
    for (const auto& p : params) count += p.numel();
    torch::manual_seed(1 + dp.rank());
    const auto x = torch::randn({4, 1, n, n}), y = torch::randn({4, 1, n, n});
    const std::vector<bool> defined(params.size(), true);
    physml::train::OverlappedReduction overlap(dp, params);
    PHYSML_CHECK(overlap.active(), "bench_overlap: the reduction cannot overlap for this model");
    Times times[2];  // 0: after backward, 1: overlapped
    auto step = [&](bool overlapped, Times& t) {
      for (const auto& p : params)
        if (p.grad().defined()) p.mutable_grad().zero_();
      MPI_Barrier(PETSC_COMM_WORLD);
      const double t0 = MPI_Wtime();
      if (overlapped) overlap.begin(0.5);
      auto loss = torch::mse_loss(model->forward(x), y);
      const double t1 = MPI_Wtime();
      loss.backward();
      const double t2 = MPI_Wtime();
      if (overlapped) {
        overlap.finish();
        overlap.apply(defined);
        t.in_backward = overlap.posted_in_backward();
        t.buckets = overlap.buckets();
      } else {
        dp.allreduce_gradients(params, defined, 0.5);
      }
      const double t3 = MPI_Wtime();
      t.backward.push_back(t2 - t1);
      t.after.push_back(t3 - t2);
      t.step.push_back(t3 - t0);
    };
    for (int k = 0; k < 2; ++k) step(k == 1, times[k]);  // warm-up, not recorded
    for (auto& t : times) t = Times{};
    for (PetscInt r = 0; r < repeats; ++r)
      for (int k = 0; k < 2; ++k)
        for (PetscInt s = 0; s < steps; ++s) step(k == 1, times[k]);
    if (dp.rank() == 0) {
      std::printf("FNO-2D %lld parameters (%.2f MB of float32 gradients), %lldx%lld, batch 4 per rank, %d ranks, "
                  "buckets of %lld values; %lld x %lld steps per mode, alternated\n",
                  static_cast<long long>(count), 4.0 * count / 1e6, static_cast<long long>(n),
                  static_cast<long long>(n), dp.size(), static_cast<long long>(bucket),
                  static_cast<long long>(repeats), static_cast<long long>(steps));
      std::printf("| gradient sums | backward ms | end of backward -> summed gradients ms | step ms | buckets posted in backward |\n");
      std::printf("|---|---|---|---|---|\n");
      const char* names[2] = {"after backward (default)", "overlapped (`-overlap_reduction true`)"};
      for (int k = 0; k < 2; ++k)
        std::printf("| %s | %.2f | %.3f | %.2f | %s |\n", names[k], 1e3 * median(times[k].backward),
                    1e3 * median(times[k].after), 1e3 * median(times[k].step),
                    k == 0 ? "-" : (std::to_string(times[k].in_backward) + " of " + std::to_string(times[k].buckets)).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_overlap: %s\n", e.what());
    return 1;
  }
  return 0;
}
