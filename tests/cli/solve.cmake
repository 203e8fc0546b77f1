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
