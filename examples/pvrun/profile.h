/* SPDX-License-Identifier: MIT */
/*
 * pvrun --exit-profile: which I/O ports and MSRs a guest exits on, and when.
 * Device models must be frugal with exits (each costs tens of microseconds
 * when the port itself runs nested); this shows where they go.
 */
#ifndef PVRUN_PROFILE_H
#define PVRUN_PROFILE_H

#include <stdio.h>

#include "paravisor/pv.h"

/** Install the profiling filter at the isolation stage (pvrun has no
 *  isolation backend, so that stage is free); it counts and passes every
 *  exit on. One profiled partition per process: the counters are static.
 *  @p t0 is the CLOCK_MONOTONIC time the guest started. */
pv_err_t pvrun_profile_install(struct pv_partition *part, double t0);

/** Print the busiest I/O ports and MSRs and the time of the first exit. */
void pvrun_profile_report(FILE *f);

#endif
