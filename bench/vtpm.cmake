# SPDX-License-Identifier: MIT
# vtpm: TPM2_GetRandom(32) and TPM2_PCR_Extend latency through the vTPM's CRB
# registers versus straight TPMLIB_Process (the limit) and swtpm's socket.
if(PV_HAVE_VTPM)
  add_executable(bench_vtpm ${CMAKE_CURRENT_LIST_DIR}/bench_vtpm.c)
  target_compile_options(bench_vtpm PRIVATE ${PV_WARNINGS})
  target_include_directories(bench_vtpm PRIVATE ${PV_TPM_INCLUDE_DIRS} ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(bench_vtpm PRIVATE paravisor_static ${PV_TPM_LIBRARIES})
endif()
