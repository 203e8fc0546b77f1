physml_cli_test(NAME cli.info COMMAND physml_cli info
  OUTPUT "LibTorch +1\\.13.*PETSc +Petsc Release Version 3\\.18.*VTK +9\\..*HDF5 +1\\.10.*FFTW +fftw-3.*Eigen +3\\..*BLAS +OpenBLAS.*LAPACK +.*oneDNN +"
  PROPERTIES LABELS cli)
# A misspelled option is an error (exit code 1), with a message naming it.
physml_cli_test(NAME cli.unknown_option EXIT 1 COMMAND physml_cli info -thraeds 2 PROPERTIES LABELS cli)
physml_cli_test(NAME cli.unknown_option_message EXIT 1 COMMAND physml_cli info -thraeds 2
  OUTPUT "physml info: error: unknown or unused option.*-thraeds" PROPERTIES LABELS cli)
# An unknown command exits with 2 and lists the commands.
physml_cli_test(NAME cli.unknown_command EXIT 2 COMMAND physml_cli frobnicate
  OUTPUT "physml: unknown command 'frobnicate'" "usage: physml <command>" PROPERTIES LABELS cli)

# A YAML options file is read, and the command line overrides it.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/threads.yaml "threads: 1\n")
physml_cli_test(NAME cli.yaml_file COMMAND physml_cli info -options_file_yaml ${CMAKE_CURRENT_BINARY_DIR}/threads.yaml
  OUTPUT "threads +1 " PROPERTIES LABELS cli)
physml_cli_test(NAME cli.command_line_overrides_yaml
  COMMAND physml_cli info -options_file_yaml ${CMAKE_CURRENT_BINARY_DIR}/threads.yaml -threads 2
  OUTPUT "threads +2 " PROPERTIES LABELS cli)

# No arguments: the overview and exit code 1; --help: the overview and exit code 0.
physml_cli_test(NAME cli.no_arguments EXIT 1 COMMAND physml_cli OUTPUT "usage: physml <command>.*generate" PROPERTIES LABELS cli)
physml_cli_test(NAME cli.help COMMAND physml_cli --help OUTPUT "usage: physml <command>.*generate" PROPERTIES LABELS cli)
