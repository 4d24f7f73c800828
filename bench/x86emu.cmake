# SPDX-License-Identifier: MIT
# x86emu: decode+emulate cost of an MMIO store/load vs. an already-decoded dispatch.
add_executable(bench_x86emu ${CMAKE_CURRENT_LIST_DIR}/bench_x86emu.c)
target_compile_options(bench_x86emu PRIVATE ${PV_WARNINGS})
target_link_libraries(bench_x86emu PRIVATE paravisor_static)
