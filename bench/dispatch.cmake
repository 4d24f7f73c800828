# SPDX-License-Identifier: MIT
# dispatch: cost of dispatching a port-I/O exit to a registered handler through
# the mock port and the dispatcher (1 and 64 registered ranges), against the
# same mock run+complete with a direct handler call (the limit).
# bench/callgrind_dispatch.sh counts instructions per dispatch under callgrind.
add_executable(bench_dispatch ${CMAKE_CURRENT_LIST_DIR}/bench_dispatch.c)
target_compile_options(bench_dispatch PRIVATE ${PV_WARNINGS})
target_link_libraries(bench_dispatch PRIVATE paravisor_static)
