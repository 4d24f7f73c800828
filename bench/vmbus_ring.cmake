# SPDX-License-Identifier: MIT
# vmbus_ring: VMBus ring throughput between a producer and a consumer thread (64 B, 256 B,
# 4 KiB packets/s and 64 KiB bytes/s) against a plain memcpy of the same bytes in the same run.
add_executable(bench_vmbus_ring ${CMAKE_CURRENT_LIST_DIR}/bench_vmbus_ring.c)
target_compile_options(bench_vmbus_ring PRIVATE ${PV_WARNINGS})
target_include_directories(bench_vmbus_ring PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(bench_vmbus_ring PRIVATE paravisor_static Threads::Threads)
