# `physml solve`: bad input gives a clear message and exit code 1 (a full solve is exercised by
# the dcdm_poisson example, which writes systems with -save_system).
physml_cli_test(NAME cli.solve_missing_file EXIT 1 COMMAND physml_cli solve nonexistent_system.bin
  OUTPUT "physml solve: error: .*system file 'nonexistent_system.bin' does not exist" PROPERTIES LABELS cli)
physml_cli_test(NAME cli.solve_no_file EXIT 1 COMMAND physml_cli solve
  OUTPUT "physml solve: error: .*expected one system file \\(PETSc binary with a Mat then a Vec, or a PhysML HDF5 linear system\\), got 0 arguments" PROPERTIES LABELS cli)
# -help lists the command's own keys (and reads no system).
physml_cli_test(NAME cli.solve.help COMMAND physml_cli solve -help
  OUTPUT "-solvers <now  : formerly >: comma-separated solver names" "-history <now  : formerly >: write the residual histories as CSV"
  PROPERTIES LABELS cli)

# `mpirun -n 2 physml solve` (docs/parallel.md): the system read distributed by rows, CG+Jacobi,
# KSP dcdm with and without its safeguard (the untrained network gathered to rank 0) take
# exactly the iterations of one rank; rank 0 alone prints (one "solver" line per solver) and writes the CSV.
find_program(PHYSML_MPIEXEC NAMES mpirun mpiexec)
set(solve_mpi_dir ${CMAKE_CURRENT_BINARY_DIR}/solve_mpi)
set(solve_mpi_script ${CMAKE_CURRENT_BINARY_DIR}/solve_mpi.cmake)
file(WRITE ${solve_mpi_script} [=[
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR}/one ${DIR}/two)
foreach(cmd "poisson2d;${DIR}/poisson.h5;16" "dcdm_model;${DIR}/net.h5;3")
  execute_process(COMMAND ${FIX} ${cmd} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "bad_input_fixtures ${cmd}: ${err}")
  endif()
endforeach()
# (Jacobi as DCDM's fallback PC: PETSc's default PC is ILU on one rank, block Jacobi on several.
# The untrained network alone does not converge, so the third solver is 30 steps of DCDM without
# the safeguard and the command exits 2 on both; test_solvers' DistributedSolveMPI cases compare
# such residual histories number by number.)
set(args ${DIR}/poisson.h5 -solvers cg,dcdm,net -quiet
  -cg_ksp_type cg -cg_pc_type jacobi -cg_ksp_rtol 1e-8
  -dcdm_ksp_type dcdm -dcdm_ksp_dcdm_model ${DIR}/net.h5 -dcdm_ksp_rtol 1e-8 -dcdm_ksp_max_it 500 -dcdm_pc_type jacobi
  -net_ksp_type dcdm -net_ksp_dcdm_model ${DIR}/net.h5 -net_ksp_max_it 30
  -net_ksp_dcdm_safeguard_early_its 0 -net_ksp_dcdm_stagnation_window 0)
execute_process(COMMAND ${EXE} solve ${args} -history ${DIR}/one/h.csv RESULT_VARIABLE rc1 OUTPUT_VARIABLE out1 ERROR_VARIABLE err1)
execute_process(COMMAND ${MPIEXEC} --allow-run-as-root --oversubscribe -n 2 ${EXE} solve ${args} -history ${DIR}/two/h.csv
  RESULT_VARIABLE rc2 OUTPUT_VARIABLE out2 ERROR_VARIABLE err2 TIMEOUT 200)
if(NOT rc1 EQUAL 2 OR NOT rc2 EQUAL 2)
  message(FATAL_ERROR "physml solve: exit ${rc1} on 1 rank, ${rc2} on 2 ranks, expected 2 (the third solver stops at -net_ksp_max_it 30)\n${out1}${err1}\n---\n${out2}${err2}")
endif()
if(NOT out2 MATCHES "256 unknowns on 2 ranks")
  message(FATAL_ERROR "the 2-rank run does not say it is distributed:\n${out2}")
endif()
foreach(out out1 out2)
  string(REGEX MATCHALL "iterations  [0-9]+ \\([A-Z_]+\\)" its_${out} "${${out}}")
  string(REGEX MATCHALL "\nsolver  " solvers_${out} "\n${${out}}")
  list(LENGTH solvers_${out} n_${out})
endforeach()
list(LENGTH its_out1 n_its)
if(NOT n_its EQUAL 3 OR NOT n_out1 EQUAL 3 OR NOT n_out2 EQUAL 3)
  message(FATAL_ERROR "expected 3 solvers reported once each: ${n_out1} and ${n_out2} 'solver' lines\n${out1}\n---\n${out2}")
endif()
if(NOT its_out1 STREQUAL its_out2)
  message(FATAL_ERROR "iterations differ: 1 rank '${its_out1}', 2 ranks '${its_out2}'")
endif()
if(NOT EXISTS ${DIR}/two/h.csv)
  message(FATAL_ERROR "the 2-rank run wrote no history CSV")
endif()
message("same iterations on 2 ranks and 1 rank: ${its_out1}")
]=])
if(PHYSML_MPIEXEC)
  physml_cli_test(NAME cli.solve.mpi_same_iterations_as_serial COMMAND ${CMAKE_COMMAND} -DMPIEXEC=${PHYSML_MPIEXEC}
    -DEXE=$<TARGET_FILE:physml_cli> -DFIX=$<TARGET_FILE:physml_bad_input_fixtures> -DDIR=${solve_mpi_dir} -P ${solve_mpi_script}
    OUTPUT "same iterations on 2 ranks and 1 rank: iterations  [0-9]+ \\(CONVERGED_RTOL\\);iterations  [0-9]+ \\(CONVERGED_RTOL\\);iterations  30 \\(DIVERGED_ITS\\)"
    PROPERTIES LABELS "cli;mpi" TIMEOUT 300)
  # The DistributedSolve* GoogleTest cases of test_solvers on 2 ranks (tests/solvers/test_distributed_solve.cpp).
  physml_mpi_gtest(NAME solvers.mpi.distributed TARGET test_solvers FILTER *DistributedSolve* COUNT 8)
endif()
