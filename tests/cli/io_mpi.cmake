# One HDF5 file written by 2 MPI ranks at once (parallel HDF5; docs/parallel.md): the
# ParallelHDF5MPI.* GoogleTest cases of test_io on 2 ranks (tests/io/test_parallel_hdf5.cpp; the
# one-rank ParallelHDF5.* case runs as its own ctest, not here, so the two never share a directory).
physml_mpi_gtest(NAME io.mpi.parallel_hdf5 TARGET test_io FILTER *ParallelHDF5MPI* COUNT 5)
