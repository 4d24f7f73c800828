/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture for the device tests: a one-vCPU partition on the mock port
 * (with timers), an interrupt router that records line levels, and helpers
 * that send guest I/O and MMIO accesses through the real dispatcher.
 */
#ifndef PV_TESTS_DEVTEST_H
#define PV_TESTS_DEVTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

#define DEVTEST_MAX_GSI 32u

struct devtest {
	struct pv_mock *mock;
	struct pv_partition *part;
	struct pv_vcpu *vcpu;
	bool level[DEVTEST_MAX_GSI];
	unsigned edges[DEVTEST_MAX_GSI]; /* rising edges seen */
	unsigned calls[DEVTEST_MAX_GSI];
};

static inline pv_err_t devtest_router(void *ctx, bool is_msi, uint32_t gsi, bool level,
				      uint64_t address, uint32_t data)
{
	struct devtest *t = ctx;
	(void)address;
	(void)data;
	if (is_msi || gsi >= DEVTEST_MAX_GSI)
		return PV_OK;
	if (level && !t->level[gsi])
		t->edges[gsi]++;
	t->level[gsi] = level;
	t->calls[gsi]++;
	return PV_OK;
}

/* caps: PV_PORT_CAP_TIMERS or 0 (no timers). Returns 0 on success. */
static inline int devtest_init(struct devtest *t, uint32_t caps)
{
	memset(t, 0, sizeof(*t));
	struct pv_mock_config mc = {.caps = caps, .clock_start_ns = 1000000000ull};
	if (pv_mock_create(&mc, &t->mock) != PV_OK)
		return -1;
	struct pv_mem_range ram = {pv_gpa(0), 2u << 20, PV_MEM_RAM};
	struct pv_partition_config pc = {
		.vcpu_count = 1,
		.vtl_count = 1,
		.isolation = PV_ISOLATION_NONE,
		.ranges = &ram,
		.range_count = 1,
		.port = pv_mock_port_ops(t->mock),
		.port_ctx = t->mock,
	};
	if (pv_partition_create(&pc, &t->part) != PV_OK)
		return -1;
	t->vcpu = pv_partition_vcpu(t->part, 0);
	pv_irq_set_router(t->part, devtest_router, t);
	return 0;
}

static inline void devtest_fini(struct devtest *t)
{
	pv_partition_destroy(t->part);
	pv_mock_destroy(t->mock);
}

static inline uint32_t devtest_in(struct devtest *t, uint16_t port, uint8_t size)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_IO;
	e.u.io.port = port;
	e.u.io.size = size;
	e.u.io.count = 1;
	pv_vcpu_dispatch(t->vcpu, &e);
	return e.u.io.data;
}

static inline void devtest_out(struct devtest *t, uint16_t port, uint8_t size, uint32_t v)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_IO;
	e.u.io.port = port;
	e.u.io.size = size;
	e.u.io.is_write = true;
	e.u.io.count = 1;
	e.u.io.data = v;
	pv_vcpu_dispatch(t->vcpu, &e);
}

static inline uint64_t devtest_mmio_read(struct devtest *t, uint64_t gpa, uint8_t size)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_MMIO;
	e.u.mmio.gpa = pv_gpa(gpa);
	e.u.mmio.size = size;
	pv_vcpu_dispatch(t->vcpu, &e);
	return e.u.mmio.data;
}

static inline void devtest_mmio_write(struct devtest *t, uint64_t gpa, uint8_t size, uint64_t v)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_MMIO;
	e.u.mmio.gpa = pv_gpa(gpa);
	e.u.mmio.size = size;
	e.u.mmio.is_write = true;
	e.u.mmio.data = v;
	pv_vcpu_dispatch(t->vcpu, &e);
}

static inline uint64_t devtest_handler_errors(struct devtest *t)
{
	struct pv_stats s;
	pv_partition_get_stats(t->part, &s);
	return s.handler_errors;
}

#endif /* PV_TESTS_DEVTEST_H */
