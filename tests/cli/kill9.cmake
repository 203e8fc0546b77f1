# kill -9 (SIGKILL: no handler runs, unlike the SIGINT tests of generate.cmake and
# simulate.cmake) during physml generate, simulate and train, then resume: every file left
# behind is readable, at most one sample / frame / epoch is lost, and the resumed result equals
# an uninterrupted run's bit for bit (tests/cli/kill9_resume.sh, real signals).
find_program(PHYSML_BASH bash)
if(PHYSML_BASH)
  foreach(mode generate simulate train)
    physml_cli_test(NAME cli.kill9.${mode} COMMAND ${PHYSML_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/kill9_resume.sh ${mode}
      $<TARGET_FILE:physml_cli> ${CMAKE_CURRENT_BINARY_DIR}/kill9_${mode} $<TARGET_FILE:physml_trajectory_compare>
      OUTPUT "killed with SIGKILL" "kill -9 and resume: [a-z ]+identical"
      PROPERTIES LABELS cli TIMEOUT 120)
  endforeach()
endif()
