add_test(NAME cli.info COMMAND physml_cli info)
set_tests_properties(cli.info PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "LibTorch +1\\.13.*PETSc +Petsc Release Version 3\\.18.*VTK +9\\..*HDF5 +1\\.10.*FFTW +fftw-3.*Eigen +3\\..*BLAS +(OpenBLAS|BLIS|reference BLAS|unknown).*LAPACK +.*oneDNN +")
add_test(NAME cli.unknown_option COMMAND physml_cli info -thraeds 2)
set_tests_properties(cli.unknown_option PROPERTIES LABELS cli WILL_FAIL TRUE)
add_test(NAME cli.unknown_option_message COMMAND physml_cli info -thraeds 2)
set_tests_properties(cli.unknown_option_message PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "unknown or unused option.*-thraeds")
add_test(NAME cli.unknown_command COMMAND physml_cli frobnicate)
set_tests_properties(cli.unknown_command PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "unknown command 'frobnicate'")

# A YAML options file is read, and the command line overrides it.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/threads.yaml "threads: 1\n")
add_test(NAME cli.yaml_file COMMAND physml_cli info -options_file_yaml ${CMAKE_CURRENT_BINARY_DIR}/threads.yaml)
set_tests_properties(cli.yaml_file PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "threads +1 ")
add_test(NAME cli.command_line_overrides_yaml
  COMMAND physml_cli info -options_file_yaml ${CMAKE_CURRENT_BINARY_DIR}/threads.yaml -threads 2)
set_tests_properties(cli.command_line_overrides_yaml PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "threads +2 ")
