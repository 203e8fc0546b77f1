# One HDF5 file written by 2 MPI ranks at once (parallel HDF5; docs/parallel.md): the
# ParallelHDF5MPI.* GoogleTest cases of test_io on 2 ranks (tests/io/test_parallel_hdf5.cpp; the
# one-rank ParallelHDF5.* case runs as its own ctest, not here, so the two never share a directory).
find_program(PHYSML_MPIEXEC NAMES mpirun mpiexec)
if(NOT PHYSML_MPIEXEC)
  return()
endif()
physml_cli_test(NAME io.mpi.parallel_hdf5
  COMMAND ${PHYSML_MPIEXEC} --allow-run-as-root --oversubscribe -n 2 $<TARGET_FILE:test_io> --gtest_filter=*ParallelHDF5MPI* --gtest_color=no
  OUTPUT "\\[  PASSED  \\] 5 tests.*\\[  PASSED  \\] 5 tests" NOT_OUTPUT "SKIPPED" "\\[  FAILED  \\]"
  PROPERTIES LABELS "unit;mpi" ENVIRONMENT "${PHYSML_TEST_ENV}" TIMEOUT 300)
