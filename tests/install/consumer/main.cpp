// Outside project using the installed PhysML: start the environment, read an
// option, view a PETSc Vec as a tensor without a copy, and report.
#include <physml/core/environment.hpp>
#include <physml/core/options.hpp>
#include <physml/core/version.hpp>
#include <physml/core/views.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  physml::Environment env(argc, argv);
  physml::Options opts("consumer_");
  long n = opts.get_int("n", 5);
  Vec v;
  VecCreateSeq(PETSC_COMM_SELF, static_cast<PetscInt>(n), &v);
  VecSet(v, 2.0);
  double sum = 0;
  {
    auto t = physml::as_tensor(v);
    t.mul_(3.0);  // writes through to the Vec
  }
  VecSum(v, &sum);
  VecDestroy(&v);
  std::printf("consumer: PhysML %s, n=%ld, sum=%g\n", PHYSML_VERSION_STRING, n, sum);
  return sum == 6.0 * static_cast<double>(n) ? 0 : 1;
}
