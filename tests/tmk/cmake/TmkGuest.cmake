# SPDX-License-Identifier: MIT
# pv_tmk_guest(NAME <target> SOURCES <guest .c/.S files> [INCLUDES <dirs>])
#
# Builds the freestanding 64-bit TMK image ${CMAKE_CURRENT_BINARY_DIR}/<target>.elf
# (linked at 1 MiB with runtime/tmk.ld, runtime included) with the host C
# compiler but none of the project's host flags (no sanitizers, no coverage).
# The image path is stored in the target property TMK_IMAGE.
include_guard(GLOBAL)

set(PV_TMK_DIR ${CMAKE_CURRENT_LIST_DIR}/.. CACHE INTERNAL "TMK framework directory")
set(PV_TMK_GUEST_CFLAGS
  -std=gnu11 -O2 -g -ffreestanding -nostdlib -static -fno-pic -fno-pie
  -mno-red-zone -mcmodel=small -mgeneral-regs-only -fno-stack-protector
  -fno-asynchronous-unwind-tables -fno-exceptions -fcf-protection=none
  -Wall -Wextra -Werror -Wno-unused-parameter -Wno-unused-function
  CACHE INTERNAL "TMK guest compile flags")

function(pv_tmk_guest)
  cmake_parse_arguments(G "" "NAME" "SOURCES;INCLUDES" ${ARGN})
  # GCC emits the .tmk_cases entries in reverse order unless told to keep source order.
  set(order_flag)
  if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
    set(order_flag -fno-toplevel-reorder)
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${G_NAME}.elf)
  set(srcs ${PV_TMK_DIR}/runtime/start.S ${PV_TMK_DIR}/runtime/runtime.c)
  foreach(s ${G_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND srcs ${abs})
  endforeach()
  set(incs -I${PV_TMK_DIR}/runtime -I${PV_TMK_DIR}/include)
  foreach(i ${G_INCLUDES})
    get_filename_component(abs ${i} ABSOLUTE)
    list(APPEND incs -I${abs})
  endforeach()
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_C_COMPILER} ${PV_TMK_GUEST_CFLAGS} ${order_flag} ${incs}
            -Wl,--build-id=none -Wl,-T,${PV_TMK_DIR}/runtime/tmk.ld
            -Wl,-z,max-page-size=0x1000 -Wl,--no-warn-rwx-segments
            -o ${out} ${srcs}
    DEPENDS ${srcs} ${PV_TMK_DIR}/runtime/tmk.ld ${PV_TMK_DIR}/runtime/tmk.h
            ${PV_TMK_DIR}/include/tmk_proto.h
    COMMENT "Building TMK guest image ${G_NAME}.elf"
    VERBATIM)
  add_custom_target(${G_NAME} ALL DEPENDS ${out})
  set_property(TARGET ${G_NAME} PROPERTY TMK_IMAGE ${out})
endfunction()
