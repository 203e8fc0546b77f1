# `physml generate`: small data sets, resume, bad input, MPI rank independence.
set(gen_dir ${CMAKE_CURRENT_BINARY_DIR}/generate_data)
file(MAKE_DIRECTORY ${gen_dir})

physml_cli_test(NAME cli.generate.darcy_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${gen_dir}/darcy.h5 ${gen_dir}/darcy.h5.partial
  ABSENT ${gen_dir}/darcy.h5 ${gen_dir}/darcy.h5.partial PROPERTIES LABELS cli FIXTURES_SETUP gen_darcy_clean)
physml_cli_test(NAME cli.generate.darcy COMMAND physml_cli generate darcy -output ${gen_dir}/darcy.h5 -ntrain 3 -ntest 2
  -darcy_resolution 33 -darcy_downsample 2 -seed 5 -snapshots ${gen_dir}/png -snapshot_count 1
  OUTPUT "generating 5 of 5 darcy samples" "wrote .*darcy.h5' \\(content checksum [0-9a-f]+\\)"
  CREATES ${gen_dir}/darcy.h5 ${gen_dir}/png/darcy_0.png ${gen_dir}/png/darcy_0.vti ABSENT ${gen_dir}/darcy.h5.partial
  PROPERTIES LABELS cli FIXTURES_REQUIRED gen_darcy_clean FIXTURES_SETUP gen_darcy)
# Rerunning a complete data set does nothing and leaves the file as it was.
physml_cli_test(NAME cli.generate.darcy_rerun_is_noop COMMAND physml_cli generate darcy -output ${gen_dir}/darcy.h5
  -ntrain 3 -ntest 2 -darcy_resolution 33 -darcy_downsample 2 -seed 5
  OUTPUT "darcy.h5' is already complete \\(5 samples\\); nothing to do" UNCHANGED ${gen_dir}/darcy.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED gen_darcy)
# The same file with other settings is refused (error, exit code 1) and left as it was.
physml_cli_test(NAME cli.generate.darcy_settings_differ EXIT 1 COMMAND physml_cli generate darcy
  -output ${gen_dir}/darcy.h5 -ntrain 3 -ntest 2 -darcy_resolution 33 -darcy_downsample 2 -seed 6
  OUTPUT "physml generate: error: Dataset file .*darcy.h5. already exists with different settings \\(seed: 5 in the file, 6 requested\\)" UNCHANGED ${gen_dir}/darcy.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED gen_darcy)

# Bad input: exit code 1, a message naming the offending value, no output file.
physml_cli_test(NAME cli.generate.unknown_pde EXIT 1 COMMAND physml_cli generate heat -output ${gen_dir}/x.h5
  OUTPUT "physml generate: error: unknown data generator 'heat'; expected one of: darcy, poisson, helmholtz, burgers, navier-stokes" ABSENT ${gen_dir}/x.h5 ${gen_dir}/x.h5.partial PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.bad_resolution EXIT 1 COMMAND physml_cli generate darcy -output ${gen_dir}/x.h5
  -darcy_resolution 0
  OUTPUT "physml generate: error: option -darcy_resolution = 0 is out of range: expected 3 or more" ABSENT ${gen_dir}/x.h5 ${gen_dir}/x.h5.partial
  PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.bad_tau EXIT 1 COMMAND physml_cli generate navier-stokes -output ${gen_dir}/x.h5
  -navier_stokes_tau -1
  OUTPUT "physml generate: error: option -navier_stokes_tau = -1 must be positive" ABSENT ${gen_dir}/x.h5 ${gen_dir}/x.h5.partial
  PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.unwritable EXIT 1 COMMAND physml_cli generate darcy -output /nonexistent/dir/x.h5
  OUTPUT "physml generate: error: output directory '/nonexistent/dir' does not exist" PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.not_converged_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${gen_dir}/noconv.h5
  ${gen_dir}/noconv.h5.partial ABSENT ${gen_dir}/noconv.h5 ${gen_dir}/noconv.h5.partial
  PROPERTIES LABELS cli FIXTURES_SETUP gen_noconv_clean)
# A sample whose solve does not converge is not written, and the command fails.
physml_cli_test(NAME cli.generate.not_converged EXIT 1 COMMAND physml_cli generate darcy -output ${gen_dir}/noconv.h5
  -ntrain 1 -ntest 0 -darcy_resolution 33 -darcy_pc_type none -darcy_ksp_max_it 2
  OUTPUT "sample train\\[0\\] not written: Poisson solve did not converge: DIVERGED_ITS"
         "physml generate: error: 1 sample\\(s\\) failed and were not written"
  ABSENT ${gen_dir}/noconv.h5 PROPERTIES LABELS cli FIXTURES_REQUIRED gen_noconv_clean)

foreach(pde poisson burgers navier-stokes)
  physml_cli_test(NAME cli.generate.${pde}_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${gen_dir}/${pde}.h5 ${gen_dir}/${pde}.h5.partial
    ABSENT ${gen_dir}/${pde}.h5 ${gen_dir}/${pde}.h5.partial PROPERTIES LABELS cli FIXTURES_SETUP gen_${pde}_clean)
endforeach()
set(gen_poisson_args -ntrain 2 -ntest 1 -poisson_dim 3 -poisson_resolution 9)
set(gen_burgers_args -ntrain 2 -ntest 1 -burgers_resolution 128 -burgers_downsample 2 -burgers_final_time 0.2)
set(gen_navier-stokes_args -ntrain 3 -ntest 1 -navier_stokes_resolution 16 -navier_stokes_dt 0.01 -navier_stokes_steps 2
    -navier_stokes_batch 2 -snapshots ${gen_dir}/png)
foreach(pde poisson burgers navier-stokes)
  physml_cli_test(NAME cli.generate.${pde} COMMAND physml_cli generate ${pde} -output ${gen_dir}/${pde}.h5 ${gen_${pde}_args}
    OUTPUT "wrote '.*${pde}.h5' \\(content checksum [0-9a-f]+\\)"
    CREATES ${gen_dir}/${pde}.h5 ABSENT ${gen_dir}/${pde}.h5.partial
    PROPERTIES LABELS cli FIXTURES_REQUIRED gen_${pde}_clean)
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
  physml_cli_test(NAME cli.generate.mpi_darcy_same_as_serial COMMAND ${CMAKE_COMMAND} -DMPIEXEC=${PHYSML_MPIEXEC}
    -DEXE=$<TARGET_FILE:physml_cli> -DPDE=darcy -DDIR=${gen_dir} "-DARGS=-darcy_resolution;17" -P ${cmp_script}
    OUTPUT "same data on 1 and 2 ranks: [0-9a-f]+" PROPERTIES LABELS "cli;mpi")
  physml_cli_test(NAME cli.generate.mpi_navier_stokes_same_as_serial COMMAND ${CMAKE_COMMAND} -DMPIEXEC=${PHYSML_MPIEXEC}
    -DEXE=$<TARGET_FILE:physml_cli> -DPDE=navier-stokes -DDIR=${gen_dir}/ns
    "-DARGS=-navier_stokes_resolution;16;-navier_stokes_dt;0.01;-navier_stokes_steps;1;-navier_stokes_batch;2"
    -P ${cmp_script} OUTPUT "same data on 1 and 2 ranks: [0-9a-f]+" PROPERTIES LABELS "cli;mpi")
  file(MAKE_DIRECTORY ${gen_dir}/ns)
endif()

physml_cli_test(NAME cli.generate.helmholtz_clean COMMAND ${CMAKE_COMMAND} -E rm -f ${gen_dir}/helmholtz.h5
  ${gen_dir}/helmholtz.h5.partial ABSENT ${gen_dir}/helmholtz.h5 ${gen_dir}/helmholtz.h5.partial
  PROPERTIES LABELS cli FIXTURES_SETUP gen_helmholtz_clean)
physml_cli_test(NAME cli.generate.helmholtz COMMAND physml_cli generate helmholtz -output ${gen_dir}/helmholtz.h5 -ntrain 2
  -ntest 1 -helmholtz_resolution 41 -helmholtz_omega 300
  OUTPUT "wrote '.*helmholtz.h5' \\(content checksum [0-9a-f]+\\)"
  CREATES ${gen_dir}/helmholtz.h5 ABSENT ${gen_dir}/helmholtz.h5.partial PROPERTIES LABELS cli FIXTURES_REQUIRED gen_helmholtz_clean)

# ---------------------------------------------------------------------------------------
# Read-back checks with an independent reader (tests/cli/generate_check.cpp: Dataset reader
# + VTK's XML readers): snapshots, interrupt and resume, the valid split.
add_executable(physml_generate_check ${CMAKE_CURRENT_SOURCE_DIR}/generate_check.cpp)
target_link_libraries(physml_generate_check PRIVATE PhysML::physml)
target_compile_options(physml_generate_check PRIVATE ${PHYSML_WARNINGS})
physml_use_torch_pch(physml_generate_check)

# Snapshots: generate 3 samples (train 2, test 1) in float64 with -snapshot_count 2; the PNG
# and VTK files of samples 0 (train[0]) and 1 (train[1]) exist, none of sample 2, and the VTK
# arrays equal the stored samples (grid dimensions, spacing, values; a .pvd series for NS).
set(snap_script ${CMAKE_CURRENT_BINARY_DIR}/generate_snapshots.cmake)
file(WRITE ${snap_script} [=[
set(d ${DIR}/snap_${STEM})
file(REMOVE_RECURSE ${d})
file(MAKE_DIRECTORY ${d})
execute_process(COMMAND ${EXE} generate ${PDE} -output ${d}/data.h5 -ntrain 2 -ntest 1 -dtype float64
                -snapshots ${d}/snap -snapshot_count 2 ${ARGS} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "generate failed (${rc}):\n${out}\n${err}")
endif()
foreach(i 0 1)
  if(NOT EXISTS ${d}/snap/${STEM}_${i}.png)
    message(FATAL_ERROR "missing ${d}/snap/${STEM}_${i}.png")
  endif()
  if(MODE STREQUAL "pvd")
    set(check pvd ${d}/data.h5 train ${i} ${d}/snap/${STEM}_${i}.pvd ${OUT})
  else()
    set(check vti ${d}/data.h5 train ${i} ${d}/snap/${STEM}_${i}.vti ${IN}=inputs ${OUT}=outputs)
  endif()
  execute_process(COMMAND ${CHECK} ${check} OUTPUT_VARIABLE cout ERROR_VARIABLE cerr RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${cout}${cerr}")
  endif()
  message("${cout}")
endforeach()
file(GLOB extra ${d}/snap/${STEM}_2*)
if(extra)
  message(FATAL_ERROR "snapshot of sample 2 written although -snapshot_count 2: ${extra}")
endif()
message("snapshots verified")
]=])
foreach(case
    "darcy|darcy|vti|a|u|-darcy_resolution;17"
    "poisson|poisson|vti|f|u|-poisson_dim;3;-poisson_resolution;7"
    "helmholtz|helmholtz|vti|c|u|-helmholtz_resolution;21;-helmholtz_omega;100"
    "burgers|burgers|vti|u0|u|-burgers_resolution;64;-burgers_final_time;0.05"
    "navier-stokes|navier_stokes|pvd|w0|w|-navier_stokes_resolution;16;-navier_stokes_dt;0.01;-navier_stokes_steps;2;-navier_stokes_batch;2")
  string(REPLACE "|" ";" f "${case}")
  list(GET f 0 pde)
  list(GET f 1 stem)
  list(GET f 2 mode)
  list(GET f 3 in)
  list(GET f 4 out)
  list(SUBLIST f 5 -1 args)
  physml_cli_test(NAME cli.generate.snapshots_${pde} COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:physml_cli>
    -DCHECK=$<TARGET_FILE:physml_generate_check> -DDIR=${gen_dir} -DPDE=${pde} -DSTEM=${stem} -DMODE=${mode}
    -DIN=${in} -DOUT=${out} "-DARGS=${args}" -P ${snap_script}
    OUTPUT "snapshots verified" PROPERTIES LABELS cli)
endforeach()

# Interrupt and resume: a run that receives SIGINT after K written samples (the test hook
# -test_interrupt_after raises the real signal, handled like Ctrl-C) exits with 130 and keeps
# only FILE.partial; the same command then completes it, and the data equal an
# uninterrupted run bit for bit (all three splits, including -nvalid). With FULL (darcy): the
# train and test splits equal a run without a valid split, and refused reruns (other split
# sizes / seed) leave the partial and the finished file byte for byte intact.
set(resume_script ${CMAKE_CURRENT_BINARY_DIR}/generate_resume.cmake)
file(WRITE ${resume_script} [=[
set(d ${DIR}/resume_${NAME})
file(REMOVE_RECURSE ${d})
file(MAKE_DIRECTORY ${d})
function(run expect_rc)
  execute_process(COMMAND ${EXE} generate ${PDE} ${ARGN} ${ARGS} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL expect_rc)
    message(FATAL_ERROR "expected exit code ${expect_rc}, got ${rc}: ${ARGN}\n${out}\n${err}")
  endif()
  set(log "${out}${err}" PARENT_SCOPE)
endfunction()
function(expect regex)
  if(NOT log MATCHES "${regex}")
    message(FATAL_ERROR "output does not match '${regex}':\n${log}")
  endif()
endfunction()
set(split_args -ntrain 3 -ntest 1 -nvalid 1)
run(130 -output ${d}/run.h5 ${split_args} -test_interrupt_after 2)
expect("interrupted by signal 2 after writing 2 sample\\(s\\) in this run; '.*run.h5.partial' holds 2 of 5 samples")
if(EXISTS ${d}/run.h5 OR NOT EXISTS ${d}/run.h5.partial)
  message(FATAL_ERROR "after the interrupt: expected only run.h5.partial")
endif()
if(FULL)
  file(SHA256 ${d}/run.h5.partial before)
  run(1 -output ${d}/run.h5 -ntrain 3 -ntest 1 -nvalid 2)
  expect("split_sizes")
  file(SHA256 ${d}/run.h5.partial after)
  if(NOT before STREQUAL after)
    message(FATAL_ERROR "a refused rerun modified the partial file")
  endif()
endif()
run(0 -output ${d}/run.h5 ${split_args})
expect("generating 3 of 5 ${PDE} samples")
run(0 -output ${d}/ref.h5 ${split_args})
expect("${PDE}  5/5  100%  [0-9.]+ it/s  ETA")  # progress with rate and ETA
execute_process(COMMAND ${CHECK} compare ${d}/run.h5 ${d}/ref.h5 OUTPUT_VARIABLE c1 ERROR_VARIABLE e1 RESULT_VARIABLE rc1)
if(NOT rc1 EQUAL 0)
  message(FATAL_ERROR "resumed vs uninterrupted: ${c1}${e1}")
endif()
if(FULL)
  run(0 -output ${d}/novalid.h5 -ntrain 3 -ntest 1)
  execute_process(COMMAND ${CHECK} compare ${d}/novalid.h5 ${d}/ref.h5 train test OUTPUT_VARIABLE c2 ERROR_VARIABLE e2 RESULT_VARIABLE rc2)
  if(NOT rc2 EQUAL 0)
    message(FATAL_ERROR "train/test without a valid split: ${c2}${e2}")
  endif()
  file(SHA256 ${d}/ref.h5 before)
  run(1 -output ${d}/ref.h5 ${split_args} -seed 9)
  expect("seed")
  file(SHA256 ${d}/ref.h5 after)
  if(NOT before STREQUAL after)
    message(FATAL_ERROR "a refused rerun modified the finished file")
  endif()
endif()
message("resumed data identical: ${c1}")
]=])
physml_cli_test(NAME cli.generate.resume_darcy COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:physml_cli>
  -DCHECK=$<TARGET_FILE:physml_generate_check> -DDIR=${gen_dir} -DNAME=darcy -DPDE=darcy -DFULL=1
  "-DARGS=-darcy_resolution;17" -P ${resume_script}
  OUTPUT "resumed data identical: ok" PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.resume_navier_stokes COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:physml_cli>
  -DCHECK=$<TARGET_FILE:physml_generate_check> -DDIR=${gen_dir} -DNAME=ns -DPDE=navier-stokes
  "-DARGS=-navier_stokes_resolution;16;-navier_stokes_dt;0.01;-navier_stokes_steps;1;-navier_stokes_batch;2"
  -P ${resume_script} OUTPUT "resumed data identical: ok" PROPERTIES LABELS cli)

physml_cli_test(NAME cli.generate.bad_nvalid EXIT 1 COMMAND physml_cli generate darcy -output ${gen_dir}/x.h5 -nvalid -1
  OUTPUT "physml generate: error: -nvalid -1: expected a non-negative split size" ABSENT ${gen_dir}/x.h5 ${gen_dir}/x.h5.partial
  PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.no_samples EXIT 1 COMMAND physml_cli generate darcy -output ${gen_dir}/x.h5 -ntrain 0 -ntest 0
  OUTPUT "physml generate: error: -ntrain / -ntest / -nvalid are all 0: expected at least one sample"
  ABSENT ${gen_dir}/x.h5 ${gen_dir}/x.h5.partial PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.bad_downsample EXIT 1 COMMAND physml_cli generate burgers -output ${gen_dir}/x.h5
  -burgers_resolution 100 -burgers_downsample 3
  OUTPUT "physml generate: error: option -burgers_downsample = 3 does not divide the resolution 100"
  ABSENT ${gen_dir}/x.h5 ${gen_dir}/x.h5.partial PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.bad_choice EXIT 1 COMMAND physml_cli generate darcy -output ${gen_dir}/x.h5 -darcy_preset medium
  OUTPUT "physml generate: error: option -darcy_preset: unknown value 'medium'; expected one of: smooth, rough" ABSENT ${gen_dir}/x.h5 ${gen_dir}/x.h5.partial
  PROPERTIES LABELS cli)
physml_cli_test(NAME cli.generate.misspelled_option EXIT 1 COMMAND physml_cli generate darcy -output ${gen_dir}/x.h5 -ntrain 1
  -ntest 0 -darcy_resolution 9 -darcy_tua 2
  OUTPUT "physml generate: error: unknown option -darcy_tua" ABSENT ${gen_dir}/x.h5 ${gen_dir}/x.h5.partial
  PROPERTIES LABELS cli)

# A sample whose solve fails is not written: the command fails naming PETSc's reason, no
# final file appears and the partial file keeps the sample missing (a rerun retries it).
set(noconv_script ${CMAKE_CURRENT_BINARY_DIR}/generate_noconv.cmake)
file(WRITE ${noconv_script} [=[
file(REMOVE ${DIR}/noconv2.h5 ${DIR}/noconv2.h5.partial)
foreach(attempt 1 2)
  execute_process(COMMAND ${EXE} generate darcy -output ${DIR}/noconv2.h5 -ntrain 1 -ntest 0 -darcy_resolution 17
                  -darcy_pc_type none -darcy_ksp_max_it 2 OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "generating 1 of 1 darcy samples.*1 sample\\(s\\) failed and were not written \\(first: Poisson solve did not converge: DIVERGED_ITS")
    message(FATAL_ERROR "attempt ${attempt}: rc ${rc}\n${out}\n${err}")
  endif()
  if(EXISTS ${DIR}/noconv2.h5 OR NOT EXISTS ${DIR}/noconv2.h5.partial)
    message(FATAL_ERROR "expected only the partial file after a failed solve")
  endif()
endforeach()
message("failed sample not written")
]=])
physml_cli_test(NAME cli.generate.not_converged_not_written COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:physml_cli>
  -DDIR=${gen_dir} -P ${noconv_script} OUTPUT "failed sample not written" PROPERTIES LABELS cli)

# An existing output that is not a Dataset file is refused and left as it was.
set(foreign_script ${CMAKE_CURRENT_BINARY_DIR}/generate_foreign.cmake)
file(WRITE ${foreign_script} [=[
file(WRITE ${DIR}/foreign.h5 "not an HDF5 file\n")
execute_process(COMMAND ${EXE} generate darcy -output ${DIR}/foreign.h5 -ntrain 1 -ntest 0 -darcy_resolution 9
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
file(READ ${DIR}/foreign.h5 content)
if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "foreign.h5' is not an HDF5 file" OR NOT content STREQUAL "not an HDF5 file\n"
   OR EXISTS ${DIR}/foreign.h5.partial)
  message(FATAL_ERROR "rc ${rc}, file now '${content}':\n${out}\n${err}")
endif()
message("foreign file refused and intact")
]=])
physml_cli_test(NAME cli.generate.foreign_output_intact COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:physml_cli>
  -DDIR=${gen_dir} -P ${foreign_script} OUTPUT "foreign file refused and intact" PROPERTIES LABELS cli)

# -help lists the data-set keys and the named generator's keys with defaults and meanings
# (PETSc's format), and generates nothing.
physml_cli_test(NAME cli.generate.dash_help COMMAND physml_cli generate darcy -help -output ${gen_dir}/help.h5
  OUTPUT "-ntrain <now 32 : formerly 32>: samples of the train split" "-darcy_resolution <now 85 : formerly 85>: vertices per side"
         "-darcy_preset <now smooth : formerly smooth>: .*\\(smooth\\|rough\\)"
  ABSENT ${gen_dir}/help.h5 ${gen_dir}/help.h5.partial PROPERTIES LABELS cli)
# A solver option the first solve would read is not "unused" on a rerun that solves nothing.
physml_cli_test(NAME cli.generate.rerun_with_solver_options COMMAND physml_cli generate darcy -output ${gen_dir}/darcy.h5
  -ntrain 3 -ntest 2 -darcy_resolution 33 -darcy_downsample 2 -seed 5 -darcy_mg_levels_ksp_max_it 3
  OUTPUT "darcy.h5' is already complete \\(5 samples\\); nothing to do" NOT_OUTPUT "unused option" UNCHANGED ${gen_dir}/darcy.h5
  PROPERTIES LABELS cli FIXTURES_REQUIRED gen_darcy)
