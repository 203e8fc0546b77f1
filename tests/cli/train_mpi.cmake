# Data-parallel training on 2 MPI ranks (docs/parallel.md), as generate.cmake's MPI tests call
# mpiexec (--allow-run-as-root --oversubscribe).
#  - train.mpi.data_parallel: the DataParallel* GoogleTest cases of test_train on 2 ranks
#    (bucketed allreduce, broadcast, batch B on 2 ranks = 2B on 1 rank in process, failures).
#  - cli.train.mpi_same_as_doubled_batch: `physml train` of the tiny MgNO with -batch_size 3 on
#    2 ranks (7 samples: the last global batch leaves rank 1 without samples) against 6 on 1
#    rank (same weights to 1e-5) and 3 on 1 rank (different: the check can fail); rank 1 runs in a
#    directory of its own and must write nothing there; a 2-rank checkpoint resumed on 1 rank and
#    a 1-rank one resumed on 2 ranks end where the uninterrupted runs end.
find_program(PHYSML_MPIEXEC NAMES mpirun mpiexec)
find_program(PHYSML_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT PHYSML_MPIEXEC)
  return()
endif()

physml_mpi_gtest(NAME train.mpi.data_parallel TARGET test_train FILTER *DataParallel* COUNT 13)

execute_process(COMMAND ${PHYSML_PYTHON3} -c "import h5py" RESULT_VARIABLE physml_no_h5py OUTPUT_QUIET ERROR_QUIET)
if(NOT PHYSML_PYTHON3 OR NOT physml_no_h5py EQUAL 0)
  message(STATUS "cli.train.mpi_same_as_doubled_batch needs python3 with h5py; not added")
  return()
endif()

set(train_mpi_script ${CMAKE_CURRENT_BINARY_DIR}/train_mpi_compare.cmake)
file(WRITE ${train_mpi_script} [=[
set(common train ${CFG} -data ${DATA} -train_count 7 -threads 1)
set(mpi ${MPIEXEC} --allow-run-as-root --oversubscribe)
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR}/r0 ${DIR}/r1)
# run(NAME command...): must exit 0; its output in out_NAME.
function(run name)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY ${DIR} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(out_${name} "${out}${err}" PARENT_SCOPE)
endfunction()
function(same a b what)
  execute_process(COMMAND ${PY} ${CMP} ${a} ${b} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what}: ${out}${err}")
  endif()
  message("${what}: ${out}")
endfunction()
function(count_matches text regex expected what)
  string(REGEX MATCHALL "${regex}" m "${text}")
  list(LENGTH m n)
  if(NOT n EQUAL expected)
    message(FATAL_ERROR "${what}: '${regex}' printed ${n} times, expected ${expected}:\n${text}")
  endif()
endfunction()

# 2 ranks, batch 3 each; rank 1 in ${DIR}/r1 (relative -output): only rank 0 may write.
run(two ${mpi} -n 1 -wdir ${DIR}/r0 ${EXE} ${common} -batch_size 3 -output out
            : -n 1 -wdir ${DIR}/r1 ${EXE} ${common} -batch_size 3 -output out)
count_matches("${out_two}" "epoch 2 +train loss" 1 "2 ranks")
count_matches("${out_two}" "checkpoints: out/last.h5" 1 "2 ranks")
foreach(f last.h5 best.h5 log.csv loss.png figures/sample0.png)
  if(NOT EXISTS ${DIR}/r0/out/${f})
    message(FATAL_ERROR "rank 0 did not write out/${f}")
  endif()
endforeach()
file(GLOB_RECURSE by_rank1 LIST_DIRECTORIES true ${DIR}/r1/*)
if(by_rank1)
  message(FATAL_ERROR "rank 1 wrote files: ${by_rank1}")
endif()
file(STRINGS ${DIR}/r0/out/log.csv log)
list(LENGTH log n)
if(NOT n EQUAL 3)
  message(FATAL_ERROR "log.csv of 2 ranks has ${n} lines, expected a header and 2 epochs: ${log}")
endif()
message("rank 1 wrote no files; rank 0 wrote out/last.h5, best.h5, log.csv, loss.png, figures/")

run(one6 ${EXE} ${common} -batch_size 6 -output ${DIR}/one6)
run(one3 ${EXE} ${common} -batch_size 3 -output ${DIR}/one3)
same(${DIR}/r0/out/last.h5 ${DIR}/one6/last.h5 "2 ranks x 3 against 1 rank x 6" --same 1e-5)
same(${DIR}/r0/out/last.h5 ${DIR}/one3/last.h5 "2 ranks x 3 against 1 rank x 3" --differ 1e-3)

# Resume on another rank count: the global batch is then batch_size x the new ranks.
run(two_stop ${mpi} -n 2 ${EXE} ${common} -batch_size 3 -stop_after 1 -output ${DIR}/r21)
run(one_resume ${EXE} ${common} -batch_size 6 -resume ${DIR}/r21/last.h5 -output ${DIR}/r21)
if(NOT out_one_resume MATCHES "r21/last.h5 at epoch 1")
  message(FATAL_ERROR "1 rank did not resume at epoch 1:\n${out_one_resume}")
endif()
same(${DIR}/r21/last.h5 ${DIR}/r0/out/last.h5 "2 ranks for 1 epoch, resumed on 1 rank" --same 1e-5)
run(one_stop ${EXE} ${common} -batch_size 6 -stop_after 1 -output ${DIR}/r12)
run(two_resume ${mpi} -n 2 ${EXE} ${common} -batch_size 3 -resume ${DIR}/r12/last.h5 -output ${DIR}/r12)
count_matches("${out_two_resume}" "r12/last.h5 at epoch 1" 1 "2 ranks resuming")
same(${DIR}/r12/last.h5 ${DIR}/one6/last.h5 "1 rank for 1 epoch, resumed on 2 ranks" --same 1e-5)
message("data-parallel physml train: all checks passed")
]=])
physml_cli_test(NAME cli.train.mpi_same_as_doubled_batch
  COMMAND ${CMAKE_COMMAND} -DMPIEXEC=${PHYSML_MPIEXEC} -DEXE=$<TARGET_FILE:physml_cli> -DPY=${PHYSML_PYTHON3}
    -DCMP=${CMAKE_CURRENT_SOURCE_DIR}/check/compare_checkpoints.py -DCFG=${CMAKE_CURRENT_BINARY_DIR}/tiny_mgno.yaml
    -DDATA=${cli_train_data} -DDIR=${CMAKE_CURRENT_BINARY_DIR}/train_mpi -P ${train_mpi_script}
  OUTPUT "2 ranks x 3 against 1 rank x 6: max relative difference" "rank 1 wrote no files"
    "1 rank for 1 epoch, resumed on 2 ranks: max relative difference" "data-parallel physml train: all checks passed"
  PROPERTIES LABELS "cli;mpi" FIXTURES_REQUIRED cli_train_data TIMEOUT 600)
