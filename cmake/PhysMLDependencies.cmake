# Finds PhysML's dependencies and defines imported targets for the ones that
# have no CMake package of their own. Used in-tree and by PhysMLConfig.cmake.

find_package(MPI REQUIRED COMPONENTS C CXX)
find_package(Threads REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(Torch REQUIRED)
find_package(PkgConfig REQUIRED)
# JSON metadata (Debian nlohmann-json3-dev, header-only).
find_package(nlohmann_json 3.10 REQUIRED)

# PETSc (Debian: petsc-dev installs PETSc.pc / petsc.pc)
if(NOT TARGET PkgConfig::PETSC)
  pkg_check_modules(PETSC REQUIRED IMPORTED_TARGET GLOBAL PETSc)
endif()

# FFTW double and single precision
if(NOT TARGET PkgConfig::FFTW)
  pkg_check_modules(FFTW REQUIRED IMPORTED_TARGET GLOBAL fftw3 fftw3f)
endif()

# HDF5: the Open MPI flavour, the one PETSc links.
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(WARNING "PhysML: found a serial HDF5 (${HDF5_C_LIBRARIES}); PETSc links the Open MPI flavour")
endif()
if(NOT TARGET physml_hdf5)
  add_library(physml_hdf5 INTERFACE IMPORTED GLOBAL)
  target_include_directories(physml_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
  target_link_libraries(physml_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(physml_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})
endif()

# VTK 9: XML readers/writers (+ XML parser, PNG reader), the legacy and STL surface readers
# (io/surface_mesh.hpp); no HDF5-based modules.
find_package(VTK 9 REQUIRED COMPONENTS CommonCore CommonDataModel IOXML IOXMLParser IOImage IOLegacy IOGeometry)

# PLplot: line plots and colour-mapped fields, PNG through the pngcairo device.
if(NOT TARGET PkgConfig::PLPLOT)
  pkg_check_modules(PLPLOT REQUIRED IMPORTED_TARGET GLOBAL plplot)
endif()

# torch: the Debian package puts -D_GLIBCXX_USE_CXX11_ABI=1 into TORCH_CXX_FLAGS.
if(NOT TARGET physml_torch)
  add_library(physml_torch INTERFACE IMPORTED GLOBAL)
  target_link_libraries(physml_torch INTERFACE ${TORCH_LIBRARIES})
  separate_arguments(_physml_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  target_compile_options(physml_torch INTERFACE ${_physml_torch_flags})
endif()
