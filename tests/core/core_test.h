/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the core unit tests: a counting platform table (leak
 * checks, allocation-failure injection, log capture) and a partition on the
 * mock port with a standard memory map.
 */
#ifndef PV_TESTS_CORE_TEST_H
#define PV_TESTS_CORE_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

/* A platform table that wraps the hosted one and counts every resource. */
struct ct_platform {
	struct pv_platform pf;
	long live;      /* allocations + locks + events not yet released */
	long created;   /* resources created so far */
	long fail_at;   /* 1-based creation number that fails; 0 = none */
	long log_count; /* messages received by the sink */
	enum pv_log_level last_level;
	char last_sub[32];
	char last_msg[512];
};

/* Initialise @p as a counting copy of the hosted platform, logging at DEBUG. */
void ct_platform_init(struct ct_platform *p);

/* A test environment: the mock, the partition and its platform. */
struct ct_env {
	struct pv_mock *mock;
	struct ct_platform plat;
	struct pv_partition *part;
	struct pv_vcpu *vcpu[4];
};

/* Standard map used by ct_open():
 *   RAM  [0x0,        0x10000)   RAM  [0x10000, 0x20000)  (adjacent)
 *   hole [0x20000,    0x30000)
 *   MMIO [0x30000,    0x31000)   RAM  [0x31000, 0x33000)
 *   RESERVED [0x40000, 0x41000)
 *   RAM  [2^64 - 0x2000, 2^64)  (top of the address space) */
#define CT_RANGE_COUNT 7
extern const struct pv_mem_range ct_ranges[CT_RANGE_COUNT];

/* Create a mock with @caps and a partition of @vcpus vCPUs and 2 VTLs on the
 * standard map. Asserts success. */
void ct_open(struct ct_env *e, uint32_t caps, uint32_t vcpus);
/* Same with a mock configuration (caps, no_recording...). */
void ct_open_cfg(struct ct_env *e, const struct pv_mock_config *mc, uint32_t vcpus);
/* Destroy everything and assert that nothing leaked (platform resources,
 * mock vCPUs, RAM mappings, timers). */
void ct_close(struct ct_env *e);

/* Exit constructors. */
struct pv_exit ct_io(uint16_t port, uint8_t size, bool is_write, uint32_t data);
struct pv_exit ct_mmio(uint64_t gpa, uint8_t size, bool is_write, uint64_t data);
struct pv_exit ct_msr(bool is_write, uint32_t index, uint64_t value);
struct pv_exit ct_cpuid(uint32_t leaf, uint32_t subleaf);
struct pv_exit ct_kind(enum pv_exit_kind kind);

/* Run one exit through the mock and the dispatcher on vCPU @idx and return
 * the completion the port received. Asserts success. */
struct pv_exit ct_run1(struct ct_env *e, uint32_t idx, const struct pv_exit *x);

#endif /* PV_TESTS_CORE_TEST_H */
