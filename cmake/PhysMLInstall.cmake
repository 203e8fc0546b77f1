include(CMakePackageConfigHelpers)
install(TARGETS physml EXPORT PhysMLTargets)
install(EXPORT PhysMLTargets NAMESPACE PhysML:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/PhysML)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/PhysMLConfig.cmake.in
  ${PROJECT_BINARY_DIR}/PhysMLConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/PhysML)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/PhysMLConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/PhysMLConfig.cmake ${PROJECT_BINARY_DIR}/PhysMLConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/PhysMLDependencies.cmake DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/PhysML)
