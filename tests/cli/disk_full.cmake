# A full disk under the commands (docs/bad-inputs.md): physml generate, train and simulate
# writing into a 64 KiB tmpfs (tests/cli/disk_full.sh, a private mount namespace, real ENOSPC)
# stop at the first failed write with exit code 1 and a message naming the file and the
# system's reason, without a crash, without a published (final) file, and, for generate and
# simulate, with the resumable ".partial" file kept. Skipped where a tmpfs cannot be mounted.
find_program(PHYSML_SH sh)
find_program(PHYSML_UNSHARE unshare)
if(PHYSML_SH AND PHYSML_UNSHARE)
  set(df ${CMAKE_CURRENT_BINARY_DIR}/disk_full)
  function(disk_full_test name)
    cmake_parse_arguments(PARSE_ARGV 1 A "" "" "OUTPUT;NOT_OUTPUT;COMMAND")
    physml_cli_test(NAME cli.disk_full.${name} EXIT 1
      OUTPUT ${A_OUTPUT} "disk_full.sh: exit code 1"
      NOT_OUTPUT ${A_NOT_OUTPUT} "left: .*\\.tmp-" "[Ss]egmentation|SIGSEGV|core dumped"
      COMMAND ${PHYSML_SH} ${CMAKE_CURRENT_SOURCE_DIR}/disk_full.sh 64 ${df}_${name} $<TARGET_FILE:physml_cli> ${A_COMMAND}
      PROPERTIES LABELS cli TIMEOUT 120 FIXTURES_REQUIRED bad_inputs SKIP_REGULAR_EXPRESSION "disk_full.sh: SKIP")
  endfunction()
  disk_full_test(generate
    OUTPUT "physml generate: error: cannot write '.*/out.h5.partial' \\(sample train\\[0\\]\\): .*No space left on device"
      "left: out.h5.partial "
    NOT_OUTPUT "sample\\(s\\) failed" "left: out.h5 "
    COMMAND generate darcy -output ${df}_generate/out.h5 -ntrain 100 -ntest 2 -darcy_resolution 17 -threads 1)
  disk_full_test(train
    OUTPUT "physml train: error: cannot write dataset .* in HDF5 file '.*/run/last.h5' \\(HDF5: file write failed: No space left on device\\)"
    NOT_OUTPUT "left: run/last.h5" "left: run/best.h5"
    COMMAND train -model fno -fno_width 32 -fno_modes 4 -data ${bad_dir}/darcy.h5 -output ${df}_train/run -epochs 1
      -batch_size 2 -threads 1)
  disk_full_test(simulate
    OUTPUT "physml simulate: error: cannot write rows of dataset .* in HDF5 file '.*/traj.h5.partial' \\(HDF5: file write failed: No space left on device\\)"
      "left: traj.h5.partial "
    NOT_OUTPUT "left: traj.h5 "
    COMMAND simulate -output ${df}_simulate/traj.h5 -frames 20 -mpm_dim 2 -mpm_cells 16 -threads 1)
endif()
