# physml_add_layer(NAME DEPS <targets...>)
#
# Creates the library target physml_<NAME> (alias PhysML::<NAME>) from
#   <NAME>/src/*.cpp                   sources
#   <NAME>/include/physml/<NAME>/*.hpp public headers
# A layer only sees the include directories of the layers it links, so an
# #include from a layer to its right in DESIGN.md fails to compile: the build
# enforces the layer direction.
set(PHYSML_WARNINGS -Wall -Wextra -Wno-unused-parameter)

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
  install(TARGETS ${target} EXPORT PhysMLTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/include/physml" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  set_property(GLOBAL APPEND PROPERTY PHYSML_LAYERS ${target})
endfunction()

# One precompiled LibTorch header, built once and reused by every target that
# compiles torch code (libraries, tests, benchmarks, the CLI).
function(physml_use_torch_pch target)
  if(NOT PHYSML_USE_PCH)
    return()
  endif()
  if(NOT TARGET physml_torch_pch)
    file(WRITE "${PROJECT_BINARY_DIR}/physml_torch_pch.cpp" "// precompiled-header carrier\n")
    add_library(physml_torch_pch OBJECT "${PROJECT_BINARY_DIR}/physml_torch_pch.cpp")
    # Same flags as every consumer (PETSc adds -D_FORTIFY_SOURCE), or GCC rejects the PCH.
    target_link_libraries(physml_torch_pch PUBLIC physml_torch PkgConfig::PETSC MPI::MPI_CXX)
    target_compile_options(physml_torch_pch PRIVATE ${PHYSML_WARNINGS})
    target_precompile_headers(physml_torch_pch PRIVATE <torch/torch.h>)
  endif()
  target_precompile_headers(${target} REUSE_FROM physml_torch_pch)
endfunction()
