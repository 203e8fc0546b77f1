# `physml generate`: small data sets, resume, bad input, MPI rank independence.
set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/generate_data)
file(MAKE_DIRECTORY ${gen_dir})

add_test(NAME cli.generate.darcy_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${gen_dir}/darcy.h5 ${gen_dir}/darcy.h5.partial)
set_tests_properties(cli.generate.darcy_clean PROPERTIES LABELS cli FIXTURES_SETUP gen_darcy_clean)
add_test(NAME cli.generate.darcy COMMAND physml_cli generate darcy -output ${gen_dir}/darcy.h5 -ntrain 3 -ntest 2
         -darcy_resolution 33 -darcy_downsample 2 -seed 5 -snapshots ${gen_dir}/png -snapshot_count 1)
set_tests_properties(cli.generate.darcy PROPERTIES LABELS cli FIXTURES_REQUIRED gen_darcy_clean
  FIXTURES_SETUP gen_darcy PASS_REGULAR_EXPRESSION "wrote .*darcy.h5' \\(content checksum [0-9a-f]+\\)")
add_test(NAME cli.generate.darcy_rerun_is_noop COMMAND physml_cli generate darcy -output ${gen_dir}/darcy.h5 -ntrain 3
         -ntest 2 -darcy_resolution 33 -darcy_downsample 2 -seed 5)
set_tests_properties(cli.generate.darcy_rerun_is_noop PROPERTIES LABELS cli FIXTURES_REQUIRED gen_darcy
  PASS_REGULAR_EXPRESSION "already complete")
add_test(NAME cli.generate.darcy_settings_differ COMMAND physml_cli generate darcy -output ${gen_dir}/darcy.h5 -ntrain 3
         -ntest 2 -darcy_resolution 33 -darcy_downsample 2 -seed 6)
set_tests_properties(cli.generate.darcy_settings_differ PROPERTIES LABELS cli FIXTURES_REQUIRED gen_darcy
  PASS_REGULAR_EXPRESSION "seed")

add_test(NAME cli.generate.unknown_pde COMMAND physml_cli generate heat -output ${gen_dir}/x.h5)
set_tests_properties(cli.generate.unknown_pde PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "unknown PDE 'heat'")
add_test(NAME cli.generate.bad_resolution COMMAND physml_cli generate darcy -output ${gen_dir}/x.h5 -darcy_resolution 0)
set_tests_properties(cli.generate.bad_resolution PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "-darcy_resolution = 0 must be positive")
add_test(NAME cli.generate.bad_tau COMMAND physml_cli generate navier-stokes -output ${gen_dir}/x.h5 -navier_stokes_tau -1)
set_tests_properties(cli.generate.bad_tau PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "-navier_stokes_tau = -1 must be positive")
add_test(NAME cli.generate.unwritable COMMAND physml_cli generate darcy -output /nonexistent/dir/x.h5)
set_tests_properties(cli.generate.unwritable PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "'/nonexistent/dir' does not exist")
add_test(NAME cli.generate.not_converged_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${gen_dir}/noconv.h5 ${gen_dir}/noconv.h5.partial)
set_tests_properties(cli.generate.not_converged_clean PROPERTIES LABELS cli FIXTURES_SETUP gen_noconv_clean)
add_test(NAME cli.generate.not_converged COMMAND physml_cli generate darcy -output ${gen_dir}/noconv.h5 -ntrain 1 -ntest 0
         -darcy_resolution 33 -darcy_pc_type none -darcy_ksp_max_it 2)
set_tests_properties(cli.generate.not_converged PROPERTIES LABELS cli FIXTURES_REQUIRED gen_noconv_clean
  PASS_REGULAR_EXPRESSION "not written: Poisson solve did not converge: DIVERGED_ITS")

foreach(pde poisson burgers navier-stokes)
  add_test(NAME cli.generate.${pde}_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${gen_dir}/${pde}.h5 ${gen_dir}/${pde}.h5.partial)
  set_tests_properties(cli.generate.${pde}_clean PROPERTIES LABELS cli FIXTURES_SETUP gen_${pde}_clean)
endforeach()
add_test(NAME cli.generate.poisson COMMAND physml_cli generate poisson -output ${gen_dir}/poisson.h5 -ntrain 2 -ntest 1
         -poisson_dim 3 -poisson_resolution 9)
add_test(NAME cli.generate.burgers COMMAND physml_cli generate burgers -output ${gen_dir}/burgers.h5 -ntrain 2 -ntest 1
         -burgers_resolution 128 -burgers_downsample 2 -burgers_final_time 0.2)
add_test(NAME cli.generate.navier-stokes COMMAND physml_cli generate navier-stokes -output ${gen_dir}/navier-stokes.h5
         -ntrain 3 -ntest 1 -navier_stokes_resolution 16 -navier_stokes_dt 0.01 -navier_stokes_steps 2
         -navier_stokes_batch 2 -snapshots ${gen_dir}/png)
foreach(pde poisson burgers navier-stokes)
  set_tests_properties(cli.generate.${pde} PROPERTIES LABELS cli FIXTURES_REQUIRED gen_${pde}_clean
    PASS_REGULAR_EXPRESSION "content checksum")
endforeach()

# One rank and two ranks must write the same data (same content checksum).
set(cmp_script ${CMAKE_CURRENT_BINARY_DIR}/generate_mpi_compare.cmake)
file(WRITE ${cmp_script} [=[
foreach(n 1 2)
  file(REMOVE ${DIR}/mpi${n}.h5 ${DIR}/mpi${n}.h5.partial)
  execute_process(COMMAND ${MPIEXEC} --allow-run-as-root --oversubscribe -n ${n} ${EXE} generate ${PDE}
                  -output ${DIR}/mpi${n}.h5 -ntrain 3 -ntest 2 ${ARGS}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "mpirun -n ${n} failed (${rc}):\n${out}\n${err}")
  endif()
  string(REGEX MATCH "content checksum ([0-9a-f]+)" m "${out}${err}")
  set(sum${n} "${CMAKE_MATCH_1}")
endforeach()
if(sum1 STREQUAL "" OR NOT sum1 STREQUAL sum2)
  message(FATAL_ERROR "1 rank: '${sum1}', 2 ranks: '${sum2}'")
endif()
message("same data on 1 and 2 ranks: ${sum1}")
]=])
find_program(PHYSML_MPIEXEC NAMES mpirun mpiexec)
if(PHYSML_MPIEXEC)
  add_test(NAME cli.generate.mpi_darcy_same_as_serial COMMAND ${CMAKE_COMMAND} -DMPIEXEC=${PHYSML_MPIEXEC}
           -DEXE=$<TARGET_FILE:physml_cli> -DPDE=darcy -DDIR=${gen_dir} "-DARGS=-darcy_resolution;17" -P ${cmp_script})
  add_test(NAME cli.generate.mpi_navier_stokes_same_as_serial COMMAND ${CMAKE_COMMAND} -DMPIEXEC=${PHYSML_MPIEXEC}
           -DEXE=$<TARGET_FILE:physml_cli> -DPDE=navier-stokes -DDIR=${gen_dir}/ns
           "-DARGS=-navier_stokes_resolution;16;-navier_stokes_dt;0.01;-navier_stokes_steps;1;-navier_stokes_batch;2"
           -P ${cmp_script})
  file(MAKE_DIRECTORY ${gen_dir}/ns)
  set_tests_properties(cli.generate.mpi_darcy_same_as_serial cli.generate.mpi_navier_stokes_same_as_serial
    PROPERTIES LABELS "cli;mpi" PASS_REGULAR_EXPRESSION "same data on 1 and 2 ranks")
endif()

add_test(NAME cli.generate.helmholtz_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${gen_dir}/helmholtz.h5 ${gen_dir}/helmholtz.h5.partial)
set_tests_properties(cli.generate.helmholtz_clean PROPERTIES LABELS cli FIXTURES_SETUP gen_helmholtz_clean)
add_test(NAME cli.generate.helmholtz COMMAND physml_cli generate helmholtz -output ${gen_dir}/helmholtz.h5 -ntrain 2
         -ntest 1 -helmholtz_resolution 41 -helmholtz_omega 300)
set_tests_properties(cli.generate.helmholtz PROPERTIES LABELS cli FIXTURES_REQUIRED gen_helmholtz_clean
  PASS_REGULAR_EXPRESSION "content checksum")
