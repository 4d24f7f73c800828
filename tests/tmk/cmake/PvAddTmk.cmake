# SPDX-License-Identifier: MIT
# pv_add_tmk(NAME <name> SOURCES <guest files...>
#            [RUNNER_SETUP <host C file>] [GUEST_INCLUDES <dirs...>]
#            [HOST_SOURCES <more host files...>] [HOST_LIBS <libs...>]
#            [MODES noirqchip|irqchip ...] [TIMEOUT <seconds>] [LABELS <labels...>]
#            [EXPECT_FAIL])
#
# Builds the guest image <name>_image.elf and a cmocka runner <name>
# (tests/tmk/host + your RUNNER_SETUP, which defines `const struct tmk_setup
# tmk_setup`), and registers one ctest per mode: <name> (no irqchip) and/or
# <name>_irqchip. Tests exit 77 = SKIPPED when /dev/kvm is unusable. TIMEOUT (default 60 s)
# arms the runner's watchdog; ctest gets 30 s more. EXPECT_FAIL inverts the verdict (for
# the framework's own self-tests: a failing or hanging guest must be reported as failed).
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/TmkGuest.cmake)

function(pv_add_tmk)
  cmake_parse_arguments(T "EXPECT_FAIL" "NAME;RUNNER_SETUP;TIMEOUT"
                        "SOURCES;GUEST_INCLUDES;HOST_SOURCES;HOST_LIBS;MODES;LABELS" ${ARGN})
  if(NOT T_MODES)
    set(T_MODES noirqchip)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_RUNNER_SETUP)
    set(T_RUNNER_SETUP ${PV_TMK_DIR}/host/default_setup.c)
  endif()
  pv_tmk_guest(NAME ${T_NAME}_image SOURCES ${T_SOURCES} INCLUDES ${T_GUEST_INCLUDES})
  get_property(img TARGET ${T_NAME}_image PROPERTY TMK_IMAGE)

  add_executable(${T_NAME} ${PV_TMK_DIR}/host/tmk_runner_main.c ${T_RUNNER_SETUP} ${T_HOST_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${CMOCKA_INCLUDE} ${PROJECT_SOURCE_DIR}/lib
    ${PROJECT_SOURCE_DIR}/tests ${PV_TMK_DIR}/host ${PV_TMK_DIR}/include)
  target_compile_options(${T_NAME} PRIVATE ${PV_WARNINGS} -Wno-missing-prototypes)
  target_link_libraries(${T_NAME} PRIVATE pv_tmk_host paravisor_static ${CMOCKA_LIB} ${T_HOST_LIBS})
  add_dependencies(${T_NAME} ${T_NAME}_image)

  math(EXPR timeout_ms "${T_TIMEOUT} * 1000")
  math(EXPR ctest_timeout "${T_TIMEOUT} + 30")
  set(expect)
  if(T_EXPECT_FAIL)
    set(expect --expect-fail)
  endif()
  foreach(mode ${T_MODES})
    if(mode STREQUAL "irqchip")
      set(tname ${T_NAME}_irqchip)
      set(extra --irqchip)
    else()
      set(tname ${T_NAME})
      set(extra)
    endif()
    add_test(NAME ${tname} COMMAND ${T_NAME} --image ${img} --timeout-ms ${timeout_ms} ${extra} ${expect})
    set_tests_properties(${tname} PROPERTIES SKIP_RETURN_CODE 77 LABELS "tmk;${T_LABELS}"
                         TIMEOUT ${ctest_timeout})
  endforeach()
endfunction()
