# Driver for the install.package test (cmake -P). Installs PhysML into a fresh prefix that is
# not the configure-time CMAKE_INSTALL_PREFIX (so nothing can work only because the libraries
# point at where the build thought they would go), then checks what a user gets there:
#   1. every installed PhysML library and bin/physml resolve their PhysML libraries inside
#      the prefix (ldd; the install RPATH is $ORIGIN-relative);
#   2. the installed `physml info` starts and reports;
#   3. an outside project (consumer/) finds the package with find_package(PhysML), builds
#      against it, and its program (one call into every layer) runs and reports "ok";
#   4. the prefix still works after being moved (`physml info` from the moved copy).
# Variables: PHYSML_BUILD, PREFIX, CONFIG_PREFIX (the build's CMAKE_INSTALL_PREFIX),
# CONSUMER_SRC, CONSUMER_BUILD.
cmake_minimum_required(VERSION 3.20)
get_filename_component(prefix_abs "${PREFIX}" ABSOLUTE)
get_filename_component(config_abs "${CONFIG_PREFIX}" ABSOLUTE)
if(prefix_abs STREQUAL config_abs)
  message(FATAL_ERROR "the test prefix must differ from CMAKE_INSTALL_PREFIX (${CONFIG_PREFIX})")
endif()
set(moved "${PREFIX}-moved")
file(REMOVE_RECURSE ${PREFIX} ${moved} ${CONSUMER_BUILD})

# run(<expected exit code> <command...>): fails unless the exit code matches; output in `out`.
function(run expect)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE o)
  if(NOT "${rc}" STREQUAL "${expect}")
    message(FATAL_ERROR "command failed (exit code ${rc}, expected ${expect}): ${ARGN}\n${o}")
  endif()
  set(out "${o}" PARENT_SCOPE)
endfunction()
function(expect regex)
  if(NOT "${out}" MATCHES "${regex}")
    message(FATAL_ERROR "output does not match '${regex}':\n${out}")
  endif()
endfunction()

run(0 ${CMAKE_COMMAND} --install ${PHYSML_BUILD} --prefix ${PREFIX})
foreach(f include/physml/core/error.hpp include/physml/core/version.hpp include/physml/embed/physml_c.h bin/physml
    lib/cmake/PhysML/PhysMLConfig.cmake)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "install is missing ${f}")
  endif()
endforeach()

# 1. Where the loader finds the PhysML libraries of each installed binary.
get_filename_component(libdir "${PREFIX}/lib" REALPATH)
set(layers core mesh io physics operators solvers simulators train embed)
foreach(layer ${layers})
  if(NOT EXISTS ${PREFIX}/lib/libphysml_${layer}.so)
    message(FATAL_ERROR "install is missing the layer library lib/libphysml_${layer}.so")
  endif()
endforeach()
# The layers plus, when Fortran was enabled, the Fortran module of the C API.
file(GLOB libs ${PREFIX}/lib/libphysml_*.so)
list(LENGTH libs nlibs)
set(expected 9)
if(EXISTS ${PREFIX}/lib/libphysml_embed_fortran.so)
  set(expected 10)
  if(NOT EXISTS ${PREFIX}/include/physml/fortran/physml.mod)
    message(FATAL_ERROR "install has libphysml_embed_fortran.so but not include/physml/fortran/physml.mod")
  endif()
endif()
if(NOT nlibs EQUAL expected)
  message(FATAL_ERROR "expected ${expected} PhysML libraries in ${PREFIX}/lib, found ${nlibs}: ${libs}")
endif()
foreach(bin ${libs} ${PREFIX}/bin/physml)
  run(0 ldd ${bin})
  string(REGEX MATCHALL "libphysml_[a-z]+\\.so[.0-9]* => [^\n]*" deps "${out}")
  foreach(d IN LISTS deps)
    string(REGEX REPLACE "^.* => ([^ ]*).*$" "\\1" path "${d}")
    get_filename_component(dir "${path}" DIRECTORY)
    get_filename_component(dir "${dir}" REALPATH)
    if(NOT path MATCHES "^/" OR NOT dir STREQUAL libdir)
      message(FATAL_ERROR "${bin}: ${d} (expected a library in ${libdir}; see the install RPATH)")
    endif()
  endforeach()
  message("ldd ${bin}: PhysML libraries from the prefix")
endforeach()

# 2. The installed command runs.
run(0 ${PREFIX}/bin/physml info)
expect("PhysML +0\\.")
message("installed physml info: ok")

# 3. An outside project against the installed package.
run(0 ${CMAKE_COMMAND} -S ${CONSUMER_SRC} -B ${CONSUMER_BUILD} -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_BUILD_TYPE=Release)
run(0 ${CMAKE_COMMAND} --build ${CONSUMER_BUILD})
run(0 ${CONSUMER_BUILD}/consumer -consumer_n 7 -consumer_h5 ${CONSUMER_BUILD}/consumer.h5)
message("${out}")
foreach(layer core mesh io physics operators solvers simulators train embed)
  expect("consumer: ${layer} +ok ")
endforeach()
expect("consumer: core +ok +n=7, sum=42")
expect("consumer: PhysML [0-9.]+, 0 failure\\(s\\)")

# 3b. examples/driver, the ~100-line driver of the docs, against the installed package: it
#     generates data, trains, evaluates and solves with the network as a PETSc preconditioner.
if(DRIVER_SRC)
  file(REMOVE_RECURSE ${DRIVER_BUILD})
  run(0 ${CMAKE_COMMAND} -S ${DRIVER_SRC} -B ${DRIVER_BUILD} -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_BUILD_TYPE=Release)
  run(0 ${CMAKE_COMMAND} --build ${DRIVER_BUILD})
  execute_process(COMMAND ${DRIVER_BUILD}/driver -ntrain 16 -nvalid 4 -ntest 2 -epochs 2 -mgno_channels 8 -mgno_levels 3
                          -mgno_layers 2 -threads 1 -progress false
                  WORKING_DIRECTORY ${DRIVER_BUILD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "examples/driver failed (exit code ${rc}):\n${out}${err}")
  endif()
  set(out "${out}${err}")
  expect("trained 2 epochs: valid L2 [0-9.e+-]+")
  expect("test: relative L2 [0-9.e+-]+ \\(max [0-9.e+-]+\\) over 2 samples")
  expect("iterations to 1e-8: CG [0-9]+, CG\\+ICC [0-9]+, FGMRES\\+SOR/SOR [0-9]+, FGMRES\\+SOR/network/SOR [0-9]+")
  message("examples/driver against the installed package: ok")
endif()

# 4. The prefix is relocatable.
file(RENAME ${PREFIX} ${moved})
run(0 ${moved}/bin/physml info)
expect("PhysML +0\\.")
file(RENAME ${moved} ${PREFIX})
message("moved prefix: physml info ok")
message("install test passed")
