# SPDX-License-Identifier: MIT
# install(): headers, static and shared libraries, paravisor.pc and the CMake
# package (paravisorConfig.cmake, version file, exported targets
# paravisor::paravisor and paravisor::paravisor_static).

set(PV_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/paravisor)

install(TARGETS paravisor paravisor_static EXPORT paravisorTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/paravisor DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/include/paravisor/version.h
  ${CMAKE_CURRENT_BINARY_DIR}/include/paravisor/config.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/paravisor)

install(EXPORT paravisorTargets NAMESPACE paravisor:: DESTINATION ${PV_CMAKE_INSTALL_DIR}
  FILE paravisorTargets.cmake)
configure_package_config_file(cmake/paravisorConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/paravisorConfig.cmake INSTALL_DESTINATION ${PV_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/paravisorConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/paravisorConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/paravisorConfigVersion.cmake DESTINATION ${PV_CMAKE_INSTALL_DIR})

# pkg-config: private dependencies come from PV_LINK_LIBS. Absolute paths and
# plain names become -l flags; libtpms (the only one with a Debian .pc file)
# also goes to Requires.private.
set(pv_pc_libs "")
set(pv_pc_requires "")
foreach(l ${PV_EXTRA_LIBS})
  if(TARGET ${l})
    get_target_property(l_items ${l} INTERFACE_LINK_LIBRARIES)
    if(NOT l_items)
      continue()
    endif()
  else()
    set(l_items ${l})
  endif()
  foreach(item ${l_items})
    if(item MATCHES "^-")
      list(APPEND pv_pc_libs ${item})
    elseif(item MATCHES "/lib([^/]+)\\.(so|a)(\\.[0-9.]+)?$")
      list(APPEND pv_pc_libs -l${CMAKE_MATCH_1})
      if(CMAKE_MATCH_1 STREQUAL "tpms")
        list(APPEND pv_pc_requires libtpms)
      endif()
    elseif(item MATCHES "^[A-Za-z0-9_+.-]+$")
      list(APPEND pv_pc_libs -l${item})
    endif()
  endforeach()
endforeach()
list(APPEND pv_pc_libs -pthread)
list(REMOVE_DUPLICATES pv_pc_libs)
if(pv_pc_requires)
  list(REMOVE_DUPLICATES pv_pc_requires)
endif()
string(REPLACE ";" " " PV_PC_LIBS_PRIVATE "${pv_pc_libs}")
string(REPLACE ";" ", " PV_PC_REQUIRES_PRIVATE "${pv_pc_requires}")
# A relocatable .pc file: the prefix is found relative to the file itself.
file(RELATIVE_PATH PV_PC_PREFIX_REL /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" PV_PC_PREFIX_REL "${PV_PC_PREFIX_REL}")
configure_file(cmake/paravisor.pc.in ${CMAKE_CURRENT_BINARY_DIR}/paravisor.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/paravisor.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
