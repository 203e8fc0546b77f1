# `physml solve`: bad input gives a clear message (a full solve is exercised by the
# dcdm_poisson example, which writes systems with -save_system).
add_test(NAME cli.solve_missing_file COMMAND physml_cli solve nonexistent_system.bin)
set_tests_properties(cli.solve_missing_file PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "system file 'nonexistent_system.bin' does not exist")
add_test(NAME cli.solve_no_file COMMAND physml_cli solve)
set_tests_properties(cli.solve_no_file PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "expected one system file")
