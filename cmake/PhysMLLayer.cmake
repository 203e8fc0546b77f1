# physml_add_layer(NAME DEPS <targets...>)
#
# Creates the library target physml_<NAME> (alias PhysML::<NAME>) from
#   <NAME>/src/*.cpp                   sources
#   <NAME>/include/physml/<NAME>/*.hpp public headers
# A layer only sees the include directories of the layers it links, so an
# #include from a layer to its right in DESIGN.md fails to compile: the build
# enforces the layer direction.
# Shared layers are linked with -z defs: every symbol a layer uses must come from the
# libraries it links (a call into a layer to its right fails at link time, not at load time).
# Every public header is compiled alone (physml_<NAME>_headers, PHYSML_CHECK_HEADERS): a header
# that needs another include first fails the build.
set(PHYSML_WARNINGS -Wall -Wextra -Wno-unused-parameter)
option(PHYSML_CHECK_HEADERS "Compile every public header alone (one generated translation unit each)" ON)

function(physml_add_layer NAME)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  set(target physml_${NAME})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp")
  file(GLOB_RECURSE hdrs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/include/physml/*.hpp")
  if(NOT srcs)
    set(srcs "${CMAKE_CURRENT_BINARY_DIR}/${target}_empty.cpp")
    file(WRITE "${srcs}" "// ${target} has no sources yet\n")
  endif()
  add_library(${target} ${srcs} ${hdrs})
  add_library(PhysML::${NAME} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${NAME}
    OUTPUT_NAME physml_${NAME} VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  target_compile_options(${target} PRIVATE ${PHYSML_WARNINGS})
  physml_use_torch_pch(${target})
  # Installed next to each other: find the other layers in the same directory.
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
  # (Not under the sanitizers: their runtime symbols are resolved only in the final program.)
  if(BUILD_SHARED_LIBS AND NOT PHYSML_SANITIZE)
    target_link_options(${target} PRIVATE "LINKER:-z,defs")
  endif()
  if(PHYSML_CHECK_HEADERS)
    physml_check_headers(${target} "${CMAKE_CURRENT_SOURCE_DIR}/include" ${hdrs})
  endif()
  install(TARGETS ${target} EXPORT PhysMLTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/include/physml" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set_property(GLOBAL APPEND PROPERTY PHYSML_LAYERS ${target})
endfunction()

# physml_check_headers(target include_dir headers...): an OBJECT library <target>_headers with
# one translation unit per header that only does `#include <physml/...>`, compiled with the
# target's include directories and flags but without the precompiled LibTorch header (which
# would hide a missing #include <torch/...>).
function(physml_check_headers target include_dir)
  set(tus "")
  foreach(h ${ARGN})
    file(RELATIVE_PATH rel "${include_dir}" "${h}")
    string(MAKE_C_IDENTIFIER "${rel}" stem)
    set(tu "${CMAKE_CURRENT_BINARY_DIR}/header_check/${stem}.cpp")
    set(content "// Generated: ${rel} compiles on its own.\n#include <${rel}>\n")
    if(EXISTS "${tu}")
      file(READ "${tu}" old)
    else()
      set(old "")
    endif()
    if(NOT old STREQUAL content)
      file(WRITE "${tu}" "${content}")
    endif()
    list(APPEND tus "${tu}")
  endforeach()
  if(NOT tus)
    return()
  endif()
  add_library(${target}_headers OBJECT ${tus})
  target_link_libraries(${target}_headers PRIVATE ${target})
  target_compile_options(${target}_headers PRIVATE ${PHYSML_WARNINGS})
endfunction()

# One precompiled LibTorch header, built once and reused by every target that
# compiles torch code (libraries, tests, benchmarks, the CLI).
function(physml_use_torch_pch target)
  if(NOT PHYSML_USE_PCH)
    return()
  endif()
  if(NOT TARGET physml_torch_pch)
    # Written once: rewriting it at every configure rebuilt the precompiled header each time.
    if(NOT EXISTS "${PROJECT_BINARY_DIR}/physml_torch_pch.cpp")
      file(WRITE "${PROJECT_BINARY_DIR}/physml_torch_pch.cpp" "// precompiled-header carrier\n")
    endif()
    add_library(physml_torch_pch OBJECT "${PROJECT_BINARY_DIR}/physml_torch_pch.cpp")
    # Same flags as every consumer (PETSc adds -D_FORTIFY_SOURCE), or GCC rejects the PCH.
    target_link_libraries(physml_torch_pch PUBLIC physml_torch PkgConfig::PETSC MPI::MPI_CXX)
    target_compile_options(physml_torch_pch PRIVATE ${PHYSML_WARNINGS})
    target_precompile_headers(physml_torch_pch PRIVATE <torch/torch.h>)
  endif()
  target_precompile_headers(${target} REUSE_FROM physml_torch_pch)
endfunction()
