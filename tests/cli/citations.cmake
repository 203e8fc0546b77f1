# Citations name the paper and section in words (or a doc in the repository), never a notes
# file that lives outside it; `physml generate --help` is where a user reads them.
physml_cli_test(NAME cli.generate.help COMMAND physml_cli generate --help
  OUTPUT "Kovachki, Li et al., \"Neural Operator\", JMLR 2023" NOT_OUTPUT "references/"
  PROPERTIES LABELS cli)
physml_cli_test(NAME repo.no_outside_references
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -P ${CMAKE_CURRENT_SOURCE_DIR}/check/no_outside_references.cmake
  OUTPUT "no citation of an outside notes file in [0-9]+ files" PROPERTIES LABELS unit)
