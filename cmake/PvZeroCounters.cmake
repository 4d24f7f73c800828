# SPDX-License-Identifier: MIT
# cmake -DDIR=<build dir> -P PvZeroCounters.cmake: delete the gcov counters
# (*.gcda) under DIR so a coverage run starts from zero.
file(GLOB_RECURSE gcda ${DIR}/*.gcda)
if(gcda)
  file(REMOVE ${gcda})
endif()
