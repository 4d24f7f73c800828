# SPDX-License-Identifier: MIT
# bench_hv1: hv1 paths (reference-counter MSR, fast HvSignalEvent, HvPostMessage,
# host message delivery) against a trivial registered MSR dispatched in the same run.
add_executable(bench_hv1 ${CMAKE_CURRENT_LIST_DIR}/bench_hv1.c)
target_compile_options(bench_hv1 PRIVATE ${PV_WARNINGS})
target_link_libraries(bench_hv1 PRIVATE paravisor_static)
