/* SPDX-License-Identifier: MIT */
/* Shared set-up of the hv1 fuzzers (no cmocka: failures abort): a mock-port
 * partition with RAM at 0 on the hosted platform without its log sink (the
 * fuzzers feed rejected input all the time), and a WRMSR exit helper. */
#ifndef PV_TEST_FUZZ_HV1_FIXTURE_H
#define PV_TEST_FUZZ_HV1_FIXTURE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

static struct pv_platform fuzz_quiet_platform;

/* Create the mock from @mc and a partition of @vcpus vCPUs, one VTL and RAM
 * [0, @ram) on it; aborts on failure. */
static inline void fuzz_hv1_partition(const struct pv_mock_config *mc, uint64_t ram, uint32_t vcpus,
				      struct pv_mock **mock, struct pv_partition **part)
{
	struct pv_mem_range r = {.base = pv_gpa(0), .size = ram, .kind = PV_MEM_RAM};
	fuzz_quiet_platform = *pv_platform_hosted();
	fuzz_quiet_platform.log = NULL;
	struct pv_partition_config pc = {.vcpu_count = vcpus,
					 .vtl_count = 1,
					 .ranges = &r,
					 .range_count = 1,
					 .platform = &fuzz_quiet_platform};
	if (pv_mock_create(mc, mock))
		abort();
	pc.port = pv_mock_port_ops(*mock);
	pc.port_ctx = *mock;
	if (pv_partition_create(&pc, part))
		abort();
}

/* A WRMSR exit on vCPU @vcpu, dispatched as a port would; the outcome is not checked. */
static inline void fuzz_hv1_wrmsr(struct pv_partition *part, uint32_t vcpu, uint32_t index,
				  uint64_t value)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_MSR_WRITE;
	e.u.msr.index = index;
	e.u.msr.value = value;
	pv_vcpu_dispatch(pv_partition_vcpu(part, vcpu), &e);
}

#endif /* PV_TEST_FUZZ_HV1_FIXTURE_H */
