# SPDX-License-Identifier: MIT
# 'docs' target: the HTML API reference from docs/Doxyfile, warnings as
# errors (an undocumented public declaration fails it). Output in
# <build>/docs/html. tests/docs registers the same command as the ctest
# test 'docs_build' so missing documentation fails the test suite.
find_program(PV_DOXYGEN doxygen)
if(PV_DOXYGEN)
  set(PV_DOCS_COMMAND ${CMAKE_COMMAND} -E env
    PV_SRC_DIR=${CMAKE_CURRENT_SOURCE_DIR}
    PV_BUILD_DIR=${CMAKE_CURRENT_BINARY_DIR}
    PV_DOCS_OUT=${CMAKE_CURRENT_BINARY_DIR}/docs
    PV_VERSION=${PROJECT_VERSION}
    ${PV_DOXYGEN} ${CMAKE_CURRENT_SOURCE_DIR}/docs/Doxyfile)
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/docs
    COMMAND ${PV_DOCS_COMMAND}
    COMMAND ${CMAKE_COMMAND} -E echo "API reference: ${CMAKE_CURRENT_BINARY_DIR}/docs/html/index.html"
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    COMMENT "Building the API reference with doxygen (warnings are errors)"
    VERBATIM)
else()
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E echo "doxygen is not installed: run scripts/deps.sh"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()
