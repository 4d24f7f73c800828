# SPDX-License-Identifier: MIT
# kvm_io: port-I/O exits per second through a raw KVM_RUN loop (the limit) versus through
# libparavisor's kvm port and dispatcher, and their ratio. Prints SKIPPED without /dev/kvm.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  add_executable(bench_kvm_io ${CMAKE_CURRENT_LIST_DIR}/bench_kvm_io.c)
  target_compile_options(bench_kvm_io PRIVATE ${PV_WARNINGS})
  target_include_directories(bench_kvm_io PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(bench_kvm_io PRIVATE paravisor_static)
endif()
