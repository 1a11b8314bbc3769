# `cmake --install build --prefix P`: the libraries, their public headers (P/include/mpq/<folder>,
# included as "sim/engine.hpp" like inside mpq), the mpq executable, and mpqConfig.cmake with
# its version file and the exported targets mpq::<folder>.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MPQ_LIBRARIES mpq_core mpq_graph mpq_hw mpq_sim mpq_qdq mpq_phase2 mpq_search)
set(MPQ_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/mpq)
set(MPQ_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/mpq)

foreach(lib IN LISTS MPQ_LIBRARIES)
  string(REPLACE "mpq_" "" short ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${short})
  add_library(mpq::${short} ALIAS ${lib})
  target_include_directories(${lib} INTERFACE $<INSTALL_INTERFACE:${MPQ_INSTALL_INCLUDEDIR}>)
endforeach()

install(TARGETS ${MPQ_LIBRARIES} EXPORT mpqTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS mpq RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(folder core graph hw sim search)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/ DESTINATION ${MPQ_INSTALL_INCLUDEDIR}/${folder}
          FILES_MATCHING PATTERN "*.hpp")
endforeach()

install(EXPORT mpqTargets NAMESPACE mpq:: DESTINATION ${MPQ_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mpqConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mpqConfig.cmake
                              INSTALL_DESTINATION ${MPQ_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mpqConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mpqConfig.cmake ${PROJECT_BINARY_DIR}/mpqConfigVersion.cmake
        DESTINATION ${MPQ_INSTALL_CMAKEDIR})
