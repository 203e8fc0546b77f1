#include "physml/solvers/linear/system_io.hpp"

#include "physml/core/collective.hpp"
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

LinearSystem load_linear_system_hdf5(const std::string& path, MPI_Comm comm) {
  PetscMPIInt rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  // Every rank reads its own block of rows (hyperslabs of the CSR arrays: nothing is read
  // twice, nothing funnels through rank 0) and checks it; a bad file stops every rank with the
  // message of the lowest rank that found the problem.
  std::int64_t rows = 0, cols = 0, nnz = 0, rstart = 0, rend = 0;
  at::Tensor row_ptr, col_idx, values, b;
  run_collectively(comm, [&] {
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
    rows = f.attribute_int("/", "rows");
    cols = f.attribute_int("/", "cols");
    PHYSML_CHECK(rows > 0 && cols > 0, "linear system: '", path, "' has rows = ", rows, ", cols = ", cols,
                 "; expected positive sizes");
    PHYSML_CHECK(rows == cols, "linear system: '", path, "' holds a non-square matrix (", rows, " x ", cols,
                 "); expected a square matrix");
    const struct {
      const char* name;
      c10::ScalarType dtype;
      std::int64_t length;  // -1: any
    } expected[] = {{"A/row_ptr", torch::kLong, rows + 1}, {"A/col_idx", torch::kLong, -1},
                    {"A/values", torch::kDouble, -1}, {"b", torch::kDouble, rows}};
    for (const auto& e : expected) {
      const auto shape = f.shape(e.name);
      PHYSML_CHECK(shape.size() == 1 && (e.length < 0 || shape[0] == e.length), "linear system: '", path,
                   "': dataset '", e.name, "' has shape ", at::IntArrayRef(shape), ", expected [",
                   e.length < 0 ? std::string("nnz") : std::to_string(e.length), "]");
      PHYSML_CHECK(f.dtype(e.name) == e.dtype, "linear system: '", path, "': dataset '", e.name, "' is ",
                   c10::toString(f.dtype(e.name)), ", expected ", c10::toString(e.dtype));
    }
    nnz = f.shape("A/col_idx")[0];
    PHYSML_CHECK(f.shape("A/values")[0] == nnz, "linear system: '", path, "': A/values has ", f.shape("A/values")[0],
                 " entries but A/col_idx has ", nnz, "; expected them equal");
    // PETSc's default split of the rows (PetscSplitOwnership): the first rows % size ranks one more.
    const std::int64_t base = rows / size, extra = rows % size;
    rstart = rank * base + std::min<std::int64_t>(rank, extra);
    rend = rstart + base + (rank < extra ? 1 : 0);
    row_ptr = f.read_rows("A/row_ptr", rstart, rend + 1);
    const auto* rp = row_ptr.data_ptr<int64_t>();
    if (rstart == 0) PHYSML_CHECK(rp[0] == 0, "linear system: '", path, "': A/row_ptr[0] = ", rp[0], ", expected 0");
    for (std::int64_t i = rstart; i < rend; ++i) {
      PHYSML_CHECK(rp[i + 1 - rstart] >= rp[i - rstart], "linear system: '", path, "': A/row_ptr decreases at row ", i,
                   " (", rp[i - rstart], " -> ", rp[i + 1 - rstart], "); expected non-decreasing row pointers");
    }
    if (rend == rows)
      PHYSML_CHECK(rp[rows - rstart] == nnz, "linear system: '", path, "': A/row_ptr[", rows, "] = ", rp[rows - rstart],
                   " but A/col_idx has ", nnz, " entries; expected them equal");
    const std::int64_t lo = rp[0], hi = rp[rend - rstart];
    PHYSML_CHECK(lo >= 0 && hi <= nnz, "linear system: '", path, "': A/row_ptr of rows [", rstart, ", ", rend,
                 ") points to entries [", lo, ", ", hi, ") outside the ", nnz, " of A/col_idx");
    col_idx = f.read_rows("A/col_idx", lo, hi);
    values = f.read_rows("A/values", lo, hi);
    b = f.read_rows("b", rstart, rend);
    if (hi > lo) {
      const auto cmin = col_idx.min().item<int64_t>(), cmax = col_idx.max().item<int64_t>();
      PHYSML_CHECK(cmin >= 0 && cmax < cols, "linear system: '", path, "': A/col_idx has entries in [", cmin, ", ", cmax,
                   "], expected 0 <= column < ", cols);
      PHYSML_CHECK(torch::isfinite(values).all().item<bool>(), "linear system: '", path, "': A/values contains NaN or Inf");
    }
    PHYSML_CHECK(torch::isfinite(b).all().item<bool>(), "linear system: '", path, "': b contains NaN or Inf");
  });

  LinearSystem s;
  const auto nl = static_cast<PetscInt>(rend - rstart);
  const auto* rp = row_ptr.data_ptr<int64_t>();
  const auto* ci = col_idx.data_ptr<int64_t>();
  const auto* v = values.data_ptr<double>();
  std::vector<PetscInt> diag(static_cast<size_t>(nl)), off(static_cast<size_t>(nl));
  for (PetscInt i = 0; i < nl; ++i) {
    for (std::int64_t k = rp[i] - rp[0]; k < rp[i + 1] - rp[0]; ++k) {
      if (ci[k] >= rstart && ci[k] < rend) ++diag[i];
      else ++off[i];
    }
  }
  const auto n = static_cast<PetscInt>(rows);
  PHYSML_PETSC(MatCreateAIJ(comm, nl, nl, n, n, 0, diag.data(), 0, off.data(), &s.A));
  std::vector<PetscInt> c;
  for (PetscInt i = 0; i < nl; ++i) {
    const PetscInt r = static_cast<PetscInt>(rstart) + i;
    c.assign(ci + (rp[i] - rp[0]), ci + (rp[i + 1] - rp[0]));
    // ADD_VALUES: a duplicate (row, column) entry in the file is summed, as in COO/scipy.
    PHYSML_PETSC(MatSetValues(s.A, 1, &r, static_cast<PetscInt>(c.size()), c.data(), v + (rp[i] - rp[0]), ADD_VALUES));
  }
  PHYSML_PETSC(MatAssemblyBegin(s.A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatAssemblyEnd(s.A, MAT_FINAL_ASSEMBLY));
  PHYSML_PETSC(MatCreateVecs(s.A, nullptr, &s.b));  // A's row layout (a VECSEQ on one rank)
  PetscScalar* bb;
  PHYSML_PETSC(VecGetArray(s.b, &bb));
  if (nl > 0) std::memcpy(bb, b.data_ptr<double>(), sizeof(double) * static_cast<size_t>(nl));
  PHYSML_PETSC(VecRestoreArray(s.b, &bb));
  return s;
}

void save_linear_system_hdf5(const std::string& path, Mat A, Vec b) {
  MPI_Comm comm = PetscObjectComm((PetscObject)A);
  PetscMPIInt ranks = 1;
  MPI_Comm_size(comm, &ranks);
  // Every rank writes its own rows of A (CSR with global row pointers) and its own entries of
  // b, as hyperslabs of one file (parallel HDF5 on several ranks); nothing is gathered.
  PetscInt m = 0, n = 0, nb = 0, rstart = 0, rend = 0, bstart = 0, bend = 0;
  std::vector<int64_t> rp, ci;
  std::vector<double> vals;
  std::int64_t offset = 0, nnz = 0;
  run_collectively(comm, [&] {
    PHYSML_PETSC(MatGetSize(A, &m, &n));
    PHYSML_PETSC(VecGetSize(b, &nb));
    PHYSML_CHECK(nb == m, "save_linear_system_hdf5: b has ", nb, " entries, A has ", m, " rows");
    PHYSML_CHECK(m == n, "save_linear_system_hdf5: A is ", m, " x ", n, "; expected a square matrix");
    PetscMPIInt same = 0;
    PHYSML_CHECK(MPI_Comm_compare(comm, PetscObjectComm((PetscObject)b), &same) == MPI_SUCCESS &&
                     (same == MPI_IDENT || same == MPI_CONGRUENT),
                 "save_linear_system_hdf5: A and b live on different communicators");
    PHYSML_PETSC(MatGetOwnershipRange(A, &rstart, &rend));
    PHYSML_PETSC(VecGetOwnershipRange(b, &bstart, &bend));
    for (PetscInt i = rstart; i < rend; ++i) {
      PetscInt nc;
      const PetscInt* cols;
      const PetscScalar* v;
      PHYSML_PETSC(MatGetRow(A, i, &nc, &cols, &v));
      rp.push_back(static_cast<int64_t>(ci.size()));
      for (PetscInt j = 0; j < nc; ++j) {
        ci.push_back(cols[j]);
        vals.push_back(v[j]);
      }
      PHYSML_PETSC(MatRestoreRow(A, i, &nc, &cols, &v));
    }
  });
  // This rank's entries start after those of the lower ranks (whose rows come first).
  std::int64_t local = static_cast<std::int64_t>(ci.size());
  MPI_Exscan(&local, &offset, 1, MPI_INT64_T, MPI_SUM, comm);
  PetscMPIInt rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) offset = 0;  // (MPI_Exscan leaves rank 0's result undefined)
  MPI_Allreduce(&local, &nnz, 1, MPI_INT64_T, MPI_SUM, comm);
  for (auto& r : rp) r += offset;
  if (rank == ranks - 1) rp.push_back(nnz);  // row_ptr[m], written by the last rank only (its rend is m)

  const PetscScalar* bb;
  PHYSML_PETSC(VecGetArrayRead(b, &bb));
  at::Tensor bt = torch::from_blob(const_cast<PetscScalar*>(bb), {bend - bstart}, torch::kDouble).clone();
  PHYSML_PETSC(VecRestoreArrayRead(b, &bb));
  auto f = io::H5File::create(path, comm);
  io::stamp_file(f, kFormat, kFormatVersion);
  f.set_attribute("/", "rows", static_cast<std::int64_t>(m));
  f.set_attribute("/", "cols", static_cast<std::int64_t>(n));
  f.create_dataset("A/row_ptr", torch::kLong, {m + 1});
  f.create_dataset("A/col_idx", torch::kLong, {nnz});
  f.create_dataset("A/values", torch::kDouble, {nnz});
  f.create_dataset("b", torch::kDouble, {m});
  f.write_rows("A/row_ptr", rstart, torch::tensor(rp, torch::kLong).reshape({static_cast<int64_t>(rp.size())}));
  f.write_rows("A/col_idx", offset, torch::tensor(ci, torch::kLong).reshape({local}));
  f.write_rows("A/values", offset, torch::tensor(vals, torch::kDouble).reshape({local}));
  f.write_rows("b", bstart, bt);
  f.commit();
}

LinearSystem load_linear_system_petsc(const std::string& path, MPI_Comm comm) {
  PHYSML_CHECK(std::filesystem::exists(path), "linear system: file '", path, "' does not exist");
  LinearSystem s;
  PetscViewer viewer;
  PHYSML_PETSC(PetscViewerBinaryOpen(comm, path.c_str(), FILE_MODE_READ, &viewer));
  PHYSML_PETSC(MatCreate(comm, &s.A));
  PHYSML_PETSC(MatSetFromOptions(s.A));
  PetscErrorCode ierr = MatLoad(s.A, viewer);
  if (ierr) {
    PetscViewerDestroy(&viewer);
    s.destroy();
    PHYSML_THROW("linear system: '", path, "' is neither a PhysML HDF5 linear system nor a PETSc binary file starting with a Mat");
  }
  PHYSML_PETSC(VecCreate(comm, &s.b));
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

LinearSystem load_linear_system(const std::string& path, MPI_Comm comm) {
  PHYSML_CHECK(std::filesystem::exists(path), "linear system: file '", path, "' does not exist");
  return is_hdf5_file(path) ? load_linear_system_hdf5(path, comm) : load_linear_system_petsc(path, comm);
}

}  // namespace physml::solvers
