# physml_cli_test(NAME name [EXIT code] [OUTPUT regex...] [NOT_OUTPUT regex...]
#                 [UNCHANGED file...] [CREATES file...] [ABSENT file...]
#                 COMMAND exe args... [PROPERTIES prop value ...])
#
# A ctest test that runs one command and checks what it did, not only what it printed:
#   EXIT       the exit code the command must return (default 0);
#   OUTPUT     regular expressions that must all match the combined stdout + stderr;
#   NOT_OUTPUT regular expressions that must not match it;
#   UNCHANGED  files that must exist before the run and keep their content (SHA256 before
#              and after), e.g. the data a refused command was pointed at;
#   CREATES    files that must exist after the run (removed before it): what the command is
#              for, e.g. its data file or plots;
#   ABSENT     files that must not exist after the run (removed before it), e.g. the output
#              a command given bad input must not create.
# ctest's PASS_REGULAR_EXPRESSION ignores the exit code (and WILL_FAIL only inverts it), so
# every command-line test goes through this instead: the command runs under
# `cmake -P physml_check_command.cmake`, which prints the command and its output (shown by
# `ctest --output-on-failure`) and fails with the reason when any check fails.
# COMMAND's first word may be a target name (replaced by $<TARGET_FILE:...>); arguments may
# contain generator expressions and semicolons. PROPERTIES go to set_tests_properties.
set(PHYSML_CHECK_COMMAND_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/physml_check_command.cmake")

function(physml_cli_test)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "NAME;EXIT" "OUTPUT;NOT_OUTPUT;UNCHANGED;CREATES;ABSENT;COMMAND;PROPERTIES")
  if(NOT ARG_NAME OR NOT ARG_COMMAND)
    message(FATAL_ERROR "physml_cli_test: NAME and COMMAND are required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "physml_cli_test(${ARG_NAME}): unexpected arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT DEFINED ARG_EXIT)
    set(ARG_EXIT 0)
  endif()
  if(NOT ARG_EXIT MATCHES "^[0-9]+$")
    message(FATAL_ERROR "physml_cli_test(${ARG_NAME}): EXIT must be a number, got '${ARG_EXIT}'")
  endif()
  # The expectations go into a small CMake file (bracket arguments: any character survives);
  # file(GENERATE) resolves generator expressions such as $<TARGET_FILE:physml_cli>.
  set(q "==")
  set(spec "set(EXPECT_EXIT ${ARG_EXIT})\n")
  list(GET ARG_COMMAND 0 exe)
  if(TARGET ${exe})
    list(REMOVE_AT ARG_COMMAND 0)
    list(PREPEND ARG_COMMAND "$<TARGET_FILE:${exe}>")
  endif()
  foreach(kind COMMAND OUTPUT NOT_OUTPUT UNCHANGED CREATES ABSENT)
    set(n 0)
    foreach(v IN LISTS ARG_${kind})
      if(v MATCHES "\\]${q}\\]")
        message(FATAL_ERROR "physml_cli_test(${ARG_NAME}): '${v}' contains ]${q}]")
      endif()
      string(APPEND spec "set(${kind}_${n} [${q}[${v}]${q}])\n")
      math(EXPR n "${n} + 1")
    endforeach()
    string(APPEND spec "set(${kind}_COUNT ${n})\n")
  endforeach()
  string(MAKE_C_IDENTIFIER "${ARG_NAME}" file_name)
  set(spec_file "${CMAKE_CURRENT_BINARY_DIR}/command_checks/${file_name}.cmake")
  file(GENERATE OUTPUT "${spec_file}" CONTENT "${spec}")
  add_test(NAME ${ARG_NAME} COMMAND ${CMAKE_COMMAND} -DSPEC=${spec_file} -P ${PHYSML_CHECK_COMMAND_SCRIPT})
  if(ARG_PROPERTIES)
    set_tests_properties(${ARG_NAME} PROPERTIES ${ARG_PROPERTIES})
  endif()
  # Under the sanitizers: the options of cmake/sanitizer-options.env (as for the GoogleTest
  # programs, tests/CMakeLists.txt).
  if(PHYSML_SANITIZE)
    set_property(TEST ${ARG_NAME} APPEND PROPERTY ENVIRONMENT ${PHYSML_SANITIZER_ENV})
  endif()
endfunction()

# physml_mpi_gtest(NAME name TARGET test_x FILTER pattern COUNT n): the GoogleTest cases of
# test_x matching `pattern` on 2 MPI ranks (mpiexec --oversubscribe); both ranks must report
# n passed tests and none skipped or failed (a count, so that a case lost from the filter fails).
function(physml_mpi_gtest)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "NAME;TARGET;FILTER;COUNT" "")
  find_program(PHYSML_MPIEXEC NAMES mpirun mpiexec)
  if(NOT PHYSML_MPIEXEC)
    return()
  endif()
  physml_cli_test(NAME ${ARG_NAME}
    COMMAND ${PHYSML_MPIEXEC} --allow-run-as-root --oversubscribe -n 2 $<TARGET_FILE:${ARG_TARGET}>
      --gtest_filter=${ARG_FILTER} --gtest_color=no
    OUTPUT "\\[  PASSED  \\] ${ARG_COUNT} tests.*\\[  PASSED  \\] ${ARG_COUNT} tests" NOT_OUTPUT "SKIPPED" "\\[  FAILED  \\]"
    PROPERTIES LABELS "unit;mpi" ENVIRONMENT "${PHYSML_TEST_ENV}" TIMEOUT 300)
endfunction()
