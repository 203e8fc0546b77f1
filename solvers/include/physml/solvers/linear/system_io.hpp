#pragma once
/// \file system_io.hpp
/// Linear systems A x = b on disk, for `physml solve` and the DCDM benchmarks: PETSc binary
/// (a Mat followed by a Vec, as MatView + VecView to one binary viewer) or a PhysML HDF5
/// linear-system file (format "physml.linear_system", CSR; docs/file-formats.md):
///
///   /A/row_ptr  int64   [n + 1]   row_ptr[0] = 0, non-decreasing, row_ptr[n] = nnz
///   /A/col_idx  int64   [nnz]     0 <= col < n, row i's entries are col_idx[row_ptr[i] : row_ptr[i+1]]
///   /A/values   float64 [nnz]     finite
///   /b          float64 [n]       finite
///   root attributes rows, cols (int64; must be equal: A is square); format, format_version
///   (optional for hand-written files; if present they must be "physml.linear_system", 1).
///
/// Both readers are collective over a communicator (PETSC_COMM_WORLD by default) and give a
/// matrix distributed by rows in PETSc's default split (MATSEQAIJ / VECSEQ on one rank,
/// MATMPIAIJ / VECMPI on several): MatLoad/VecLoad for PETSc binary; for HDF5 every rank reads
/// its own block of rows as hyperslabs of the CSR arrays and checks it, and a bad file stops
/// every rank with the message of the lowest rank that found the problem.

#include <petscmat.h>
#include <petscvec.h>

#include <string>

namespace physml::solvers {

/// A matrix and right-hand side owned by the caller (destroy with destroy()).
struct LinearSystem {
  Mat A = nullptr;
  Vec b = nullptr;
  /// MatDestroy / VecDestroy (safe to call twice).
  void destroy();
};

/// True if `path` starts with the HDF5 signature (\x89HDF\r\n\x1a\n).
bool is_hdf5_file(const std::string& path);

/// Read a system from a PhysML HDF5 linear-system file. Throws physml::Error naming the file
/// and what is wrong: missing file or dataset, non-square (rows != cols), row_ptr of the
/// wrong length / not starting at 0 / decreasing / not ending at nnz, column index out of
/// range, b of the wrong length, a dataset of the wrong dtype (int64 indices, float64 values),
/// NaN or Inf in the values or b.
LinearSystem load_linear_system_hdf5(const std::string& path, MPI_Comm comm = PETSC_COMM_WORLD);

/// Write A (any assembled square matrix that MatGetRow reads: AIJ, BAIJ, dense, ...) and b as
/// a PhysML HDF5 linear-system file, atomically (temporary, then rename). Collective over A's
/// communicator: on several ranks every rank writes its own rows of A and entries of b into
/// the one file at once (parallel HDF5 through MPI-IO; nothing is gathered), and the file is
/// the same as a one-rank write of the same matrix. Throws physml::Error on every rank if A is
/// not square, b does not fit, or the file cannot be written.
void save_linear_system_hdf5(const std::string& path, Mat A, Vec b);

/// Read a system from PETSc binary (Mat then Vec). Throws physml::Error if the file is
/// missing, holds no Mat, holds no Vec after it, or the Mat is not square / b does not fit.
LinearSystem load_linear_system_petsc(const std::string& path, MPI_Comm comm = PETSC_COMM_WORLD);

/// Read either kind, chosen by the file's content (HDF5 signature, else PETSc binary).
LinearSystem load_linear_system(const std::string& path, MPI_Comm comm = PETSC_COMM_WORLD);

}  // namespace physml::solvers
