# ctest: darcy_data (the example driver) and `physml generate darcy` with the same options
# write the same data set: same settings (generator, parameters, grid, seed, splits, shapes,
# dtype) and every stored byte identical (checked by tests/cli/generate_check.cpp, which reads
# the files back without the generator code).
set(args -ntrain 2 -ntest 1 -nvalid 1 -seed 3 -darcy_resolution 17 -darcy_downsample 2 -threads 1)
file(REMOVE ${DIR}/example.h5 ${DIR}/example.h5.partial ${DIR}/cli.h5 ${DIR}/cli.h5.partial)
execute_process(COMMAND ${EXAMPLE} ${args} -output ${DIR}/example.h5 RESULT_VARIABLE rc1 OUTPUT_VARIABLE o1 ERROR_VARIABLE e1)
execute_process(COMMAND ${CLI} generate darcy ${args} -output ${DIR}/cli.h5 RESULT_VARIABLE rc2 OUTPUT_VARIABLE o2 ERROR_VARIABLE e2)
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "darcy_data (${rc1}):\n${o1}${e1}\nphysml generate (${rc2}):\n${o2}${e2}")
endif()
execute_process(COMMAND ${CHECK} compare ${DIR}/example.h5 ${DIR}/cli.h5 RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "files differ:\n${o}${e}")
endif()
message("darcy_data and physml generate darcy: identical data sets (${o})")
