# SPDX-License-Identifier: MIT
# Coverage targets of a -DPV_COVERAGE=ON build (gcovr over lib/ only):
#   coverage-report  print the line coverage of lib/ from the counters present
#                    (run ctest first); also writes <build>/coverage/index.html
#   coverage         reset the counters, run the unit tests, then the report
find_program(PV_GCOVR gcovr)
if(NOT PV_GCOVR)
  message(WARNING "PV_COVERAGE=ON but gcovr is not installed: the coverage targets are missing")
  return()
endif()
if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  set(pv_gcov_exe --gcov-executable "llvm-cov gcov")
else()
  set(pv_gcov_exe "")
endif()
add_custom_target(coverage-report
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/coverage
  COMMAND ${PV_GCOVR} ${pv_gcov_exe} --root ${CMAKE_CURRENT_SOURCE_DIR}
    --filter ${CMAKE_CURRENT_SOURCE_DIR}/lib/ --object-directory ${CMAKE_CURRENT_BINARY_DIR}
    --html-details ${CMAKE_CURRENT_BINARY_DIR}/coverage/index.html
    --txt ${CMAKE_CURRENT_BINARY_DIR}/coverage/summary.txt --print-summary
    --gcov-ignore-parse-errors
  WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
  COMMENT "Line coverage of lib/ (gcovr)"
  VERBATIM)
add_custom_target(coverage
  COMMAND ${CMAKE_COMMAND} -DDIR=${CMAKE_CURRENT_BINARY_DIR} -P
    ${CMAKE_CURRENT_SOURCE_DIR}/cmake/PvZeroCounters.cmake
  COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${CMAKE_CURRENT_BINARY_DIR} -j2
    --output-on-failure -LE "docs|install|freestanding|format|lab|fuzz"
  COMMAND ${CMAKE_COMMAND} --build ${CMAKE_CURRENT_BINARY_DIR} --target coverage-report
  WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
  VERBATIM)
