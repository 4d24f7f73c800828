# SPDX-License-Identifier: MIT
# kvm_emu: MMIO accesses per second on the kvm port with KVM's decoded data (the limit)
# versus the MMIO emulation mode (the library's x86 emulator), and their ratio.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  add_executable(bench_kvm_emu ${CMAKE_CURRENT_LIST_DIR}/bench_kvm_emu.c)
  target_compile_options(bench_kvm_emu PRIVATE ${PV_WARNINGS})
  target_include_directories(bench_kvm_emu PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(bench_kvm_emu PRIVATE paravisor_static)
endif()
