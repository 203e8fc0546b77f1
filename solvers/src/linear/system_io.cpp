#include "physml/solvers/linear/system_io.hpp"

#include "physml/core/error.hpp"
#include "physml/io/hdf5.hpp"

#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace physml::solvers {

namespace {
constexpr const char* kFormat = "physml.linear_system";
constexpr std::int64_t kFormatVersion = 1;
}  // namespace

void LinearSystem::destroy() {
  if (A) MatDestroy(&A);
  if (b) VecDestroy(&b);
  A = nullptr;
  b = nullptr;
}

bool is_hdf5_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {};
  if (!f.read(sig, 8)) return false;
  return std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

LinearSystem load_linear_system_hdf5(const std::string& path) {
  PHYSML_CHECK(std::filesystem::exists(path), "linear system: file '", path, "' does not exist");
  auto f = io::H5File::open(path);
  if (auto fmt = f.find_attribute("/", "format")) {
    PHYSML_CHECK(std::holds_alternative<std::string>(*fmt) && std::get<std::string>(*fmt) == kFormat,
                 "linear system: '", path, "' has a 'format' attribute that is not \"", kFormat,
                 "\" (it is another kind of PhysML file)");
    io::check_format(f, kFormat, kFormatVersion);
  }
  for (const char* name : {"A/row_ptr", "A/col_idx", "A/values", "b"}) {
    PHYSML_CHECK(f.exists(name), "linear system: '", path, "' has no dataset '/", name,
                 "'; expected CSR datasets /A/row_ptr, /A/col_idx, /A/values and /b (docs/file-formats.md)");
  }
  const std::int64_t rows = f.attribute_int("/", "rows");
  const std::int64_t cols = f.attribute_int("/", "cols");
  PHYSML_CHECK(rows > 0 && cols > 0, "linear system: '", path, "' has rows = ", rows, ", cols = ", cols,
               "; expected positive sizes");
  PHYSML_CHECK(rows == cols, "linear system: '", path, "' holds a non-square matrix (", rows, " x ", cols,
               "); expected a square matrix");
  const at::Tensor row_ptr = f.read("A/row_ptr", torch::kLong, {rows + 1});
  const std::int64_t nnz = f.shape("A/col_idx").empty() ? -1 : f.shape("A/col_idx")[0];
  const at::Tensor col_idx = f.read("A/col_idx", torch::kLong, {-1});
  const at::Tensor values = f.read("A/values", torch::kDouble, {nnz});
  const at::Tensor b = f.read("b", torch::kDouble, {rows});
  const auto* rp = row_ptr.data_ptr<int64_t>();
  PHYSML_CHECK(rp[0] == 0, "linear system: '", path, "': A/row_ptr[0] = ", rp[0], ", expected 0");
  for (std::int64_t i = 0; i < rows; ++i) {
    PHYSML_CHECK(rp[i + 1] >= rp[i], "linear system: '", path, "': A/row_ptr decreases at row ", i, " (", rp[i], " -> ",
                 rp[i + 1], "); expected non-decreasing row pointers");
  }
  PHYSML_CHECK(rp[rows] == nnz, "linear system: '", path, "': A/row_ptr[", rows, "] = ", rp[rows],
               " but A/col_idx has ", nnz, " entries; expected them equal");
  if (nnz > 0) {
    const auto lo = col_idx.min().item<int64_t>(), hi = col_idx.max().item<int64_t>();
    PHYSML_CHECK(lo >= 0 && hi < cols, "linear system: '", path, "': A/col_idx has entries in [", lo, ", ", hi,
                 "], expected 0 <= column < ", cols);
    PHYSML_CHECK(torch::isfinite(values).all().item<bool>(), "linear system: '", path, "': A/values contains NaN or Inf");
  }
  PHYSML_CHECK(torch::isfinite(b).all().item<bool>(), "linear system: '", path, "': b contains NaN or Inf");

  LinearSystem s;
  std::vector<PetscInt> nnz_row(static_cast<size_t>(rows));
  for (std::int64_t i = 0; i < rows; ++i) nnz_row[i] = static_cast<PetscInt>(rp[i + 1] - rp[i]);
  PHYSML_PETSC(MatCreateSeqAIJ(PETSC_COMM_SELF, static_cast<PetscInt>(rows), static_cast<PetscInt>(cols), 0,
                               nnz_row.data(), &s.A));
  const auto* ci = col_idx.data_ptr<int64_t>();
  const auto* v = values.data_ptr<double>();
  std::vector<PetscInt> c;
  for (std::int64_t i = 0; i < rows; ++i) {
    const PetscInt r = static_cast<PetscInt>(i);
    c.assign(ci + rp[i], ci + rp[i + 1]);
    // ADD_VALUES: a duplicate (row, column) entry in the file is summed, as in COO/scipy.
    PHYSML_PETSC(MatSetValues(s.A, 1, &r, static_cast<PetscInt>(c.size()), c.data(), v + rp[i], ADD_VALUES));
  }
  PHYSML_PETSC(MatAssemblyBegin(s.A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(s.A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(VecCreateSeq(PETSC_COMM_SELF, static_cast<PetscInt>(rows), &s.b));
  PetscScalar* bb;
  PHYSML_PETSC(VecGetArray(s.b, &bb));
  std::memcpy(bb, b.data_ptr<double>(), sizeof(double) * static_cast<size_t>(rows));
  PHYSML_PETSC(VecRestoreArray(s.b, &bb));
  return s;
}

void save_linear_system_hdf5(const std::string& path, Mat A, Vec b) {
  PetscInt m, n, nb;
  PHYSML_PETSC(MatGetSize(A, &m, &n));
  PHYSML_PETSC(VecGetSize(b, &nb));
  PHYSML_CHECK(nb == m, "save_linear_system_hdf5: b has ", nb, " entries, A has ", m, " rows");
  std::vector<int64_t> rp = {0}, ci;
  std::vector<double> vals;
  for (PetscInt i = 0; i < m; ++i) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* v;
    PHYSML_PETSC(MatGetRow(A, i, &nc, &cols, &v));
    for (PetscInt j = 0; j < nc; ++j) {
      ci.push_back(cols[j]);
      vals.push_back(v[j]);
    }
    PHYSML_PETSC(MatRestoreRow(A, i, &nc, &cols, &v));
    rp.push_back(static_cast<int64_t>(ci.size()));
  }
  const PetscScalar* bb;
  PHYSML_PETSC(VecGetArrayRead(b, &bb));
  at::Tensor bt = torch::from_blob(const_cast<PetscScalar*>(bb), {nb}, torch::kDouble).clone();
  PHYSML_PETSC(VecRestoreArrayRead(b, &bb));
  auto f = io::H5File::create(path);
  io::stamp_file(f, kFormat, kFormatVersion);
  f.set_attribute("/", "rows", static_cast<std::int64_t>(m));
  f.set_attribute("/", "cols", static_cast<std::int64_t>(n));
  f.write("A/row_ptr", torch::tensor(rp, torch::kLong));
  f.write("A/col_idx", torch::tensor(ci, torch::kLong).reshape({static_cast<int64_t>(ci.size())}));
  f.write("A/values", torch::tensor(vals, torch::kDouble).reshape({static_cast<int64_t>(vals.size())}));
  f.write("b", bt);
  f.commit();
}

LinearSystem load_linear_system_petsc(const std::string& path) {
  PHYSML_CHECK(std::filesystem::exists(path), "linear system: file '", path, "' does not exist");
  LinearSystem s;
  PetscViewer viewer;
  PHYSML_PETSC(PetscViewerBinaryOpen(PETSC_COMM_WORLD, path.c_str(), FILE_MODE_READ, &viewer));
  PHYSML_PETSC(MatCreate(PETSC_COMM_WORLD, &s.A));
  PHYSML_PETSC(MatSetFromOptions(s.A));
  PetscErrorCode ierr = MatLoad(s.A, viewer);
  if (ierr) {
    PetscViewerDestroy(&viewer);
    s.destroy();
    PHYSML_THROW("linear system: '", path, "' is neither a PhysML HDF5 linear system nor a PETSc binary file starting with a Mat");
  }
  PHYSML_PETSC(VecCreate(PETSC_COMM_WORLD, &s.b));
  ierr = VecLoad(s.b, viewer);
  PetscViewerDestroy(&viewer);
  if (ierr) {
    s.destroy();
    PHYSML_THROW("linear system: '", path, "' has no right-hand side Vec after the Mat");
  }
  PetscInt m, n, nb;
  PHYSML_PETSC(MatGetSize(s.A, &m, &n));
  PHYSML_PETSC(VecGetSize(s.b, &nb));
  if (m != n || nb != m) {
    s.destroy();
    PHYSML_CHECK(m == n, "linear system: '", path, "' holds a non-square matrix (", m, " x ", n, "); expected a square matrix");
    PHYSML_THROW("linear system: '", path, "': b has ", nb, " entries, A has ", m, " rows");
  }
  return s;
}

LinearSystem load_linear_system(const std::string& path) {
  PHYSML_CHECK(std::filesystem::exists(path), "linear system: file '", path, "' does not exist");
  return is_hdf5_file(path) ? load_linear_system_hdf5(path) : load_linear_system_petsc(path);
}

}  // namespace physml::solvers
