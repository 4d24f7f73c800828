/* SPDX-License-Identifier: MIT */
/* Shared fixture of the hv1 unit tests: a mock-port partition with 16 MiB of
 * RAM at 0, an MMIO hole at 0xFEC00000, and helpers that push MSR and
 * hypercall exits through pv_vcpu_dispatch() as a port would. */
#ifndef HV1_FIXTURE_H
#define HV1_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "paravisor/hv1.h"
#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

#define RAM_SIZE 0x1000000ull
#define MMIO_BASE 0xFEC00000ull
#define HC_PAGE 0x2000ull
#define IN_PAGE 0x10000ull
#define OUT_PAGE 0x11000ull
#define SIMP_PAGE 0x20000ull
#define SIEFP_PAGE 0x21000ull
#define TSC_PAGE 0x22000ull

#define MSR_GUEST_OS_ID 0x40000000u
#define MSR_HYPERCALL 0x40000001u
#define MSR_VP_INDEX 0x40000002u
#define MSR_VP_RUNTIME 0x40000010u
#define MSR_TIME_REF_COUNT 0x40000020u
#define MSR_REFERENCE_TSC 0x40000021u
#define MSR_TSC_FREQUENCY 0x40000022u
#define MSR_APIC_FREQUENCY 0x40000023u
#define MSR_EOI 0x40000070u
#define MSR_ICR 0x40000071u
#define MSR_TPR 0x40000072u
#define MSR_VP_ASSIST 0x40000073u
#define MSR_SCONTROL 0x40000080u
#define MSR_SVERSION 0x40000081u
#define MSR_SIEFP 0x40000082u
#define MSR_SIMP 0x40000083u
#define MSR_EOM 0x40000084u
#define MSR_SINT(n) (0x40000090u + (n))
#define MSR_STIMER_CONFIG(n) (0x400000B0u + 2u * (n))
#define MSR_STIMER_COUNT(n) (0x400000B1u + 2u * (n))

#define LINUX_OS_ID 0x810000060100C000ull

struct fx {
	struct pv_mock *mock;
	struct pv_partition *part;
	struct pv_hv1 *hv1;
};

/* Hosted platform without the stderr sink: rejected-input warnings are expected. */
static struct pv_platform fx_quiet_platform;

static inline int fx_init(struct fx *f, uint32_t caps, uint32_t nvcpu,
			  const struct pv_hv1_config *cfg)
{
	memset(f, 0, sizeof(*f));
	fx_quiet_platform = *pv_platform_hosted();
	fx_quiet_platform.log = NULL;
	struct pv_mock_config mc = {.caps = caps, .clock_start_ns = 1000000000ull};
	if (pv_mock_create(&mc, &f->mock))
		return -1;
	struct pv_mem_range ranges[2] = {
		{.base = pv_gpa(0), .size = RAM_SIZE, .kind = PV_MEM_RAM},
		{.base = pv_gpa(MMIO_BASE), .size = 0x1000, .kind = PV_MEM_MMIO},
	};
	struct pv_partition_config pc = {
		.vcpu_count = nvcpu,
		.vtl_count = 1,
		.isolation = PV_ISOLATION_NONE,
		.ranges = ranges,
		.range_count = 2,
		.port = pv_mock_port_ops(f->mock),
		.port_ctx = f->mock,
		.platform = &fx_quiet_platform,
	};
	if (pv_partition_create(&pc, &f->part))
		return -1;
	if (pv_hv1_create(f->part, cfg, &f->hv1))
		return -1;
	return 0;
}

static inline void fx_fini(struct fx *f)
{
	pv_hv1_destroy(f->hv1);
	pv_partition_destroy(f->part);
	pv_mock_destroy(f->mock);
}

static inline struct pv_vcpu *fx_vcpu(struct fx *f, uint32_t i)
{
	return pv_partition_vcpu(f->part, i);
}

/* RDMSR; returns true when it completed, false when the guest got #GP. */
static inline bool rdmsr(struct fx *f, uint32_t vcpu, uint32_t index, uint64_t *value)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_MSR_READ;
	e.u.msr.index = index;
	assert_int_equal(pv_vcpu_dispatch(fx_vcpu(f, vcpu), &e), PV_OK);
	if (e.inject.kind == PV_EVENT_EXCEPTION) {
		assert_int_equal(e.inject.vector, PV_VEC_GP);
		return false;
	}
	if (value)
		*value = e.u.msr.value;
	return true;
}

static inline bool wrmsr(struct fx *f, uint32_t vcpu, uint32_t index, uint64_t value)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_MSR_WRITE;
	e.u.msr.index = index;
	e.u.msr.value = value;
	assert_int_equal(pv_vcpu_dispatch(fx_vcpu(f, vcpu), &e), PV_OK);
	if (e.inject.kind == PV_EVENT_EXCEPTION) {
		assert_int_equal(e.inject.vector, PV_VEC_GP);
		return false;
	}
	return true;
}

static inline uint64_t rd(struct fx *f, uint32_t vcpu, uint32_t index)
{
	uint64_t v = 0xDEADull;
	assert_true(rdmsr(f, vcpu, index, &v));
	return v;
}

/* Issue a hypercall exit; returns RAX, or UINT64_MAX if #UD was injected. */
static inline uint64_t hcall(struct fx *f, uint32_t vcpu, uint64_t control, uint64_t in,
			     uint64_t out)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_HYPERCALL;
	e.u.hypercall.control = control;
	e.u.hypercall.input = in;
	e.u.hypercall.output = out;
	e.u.hypercall.is_64bit = true;
	e.u.hypercall.result = 0xBADull;
	assert_int_equal(pv_vcpu_dispatch(fx_vcpu(f, vcpu), &e), PV_OK);
	if (e.inject.kind == PV_EVENT_EXCEPTION) {
		assert_int_equal(e.inject.vector, PV_VEC_UD);
		return UINT64_MAX;
	}
	return e.u.hypercall.result;
}

static inline void enable_hypercalls(struct fx *f)
{
	assert_true(wrmsr(f, 0, MSR_GUEST_OS_ID, LINUX_OS_ID));
	assert_true(wrmsr(f, 0, MSR_HYPERCALL, HC_PAGE | 1u));
}

static inline void gmem_write(struct fx *f, uint64_t gpa, const void *buf, size_t len)
{
	assert_int_equal(pv_mem_write(f->part, PV_ACCESS_PARAVISOR, pv_gpa(gpa), buf, len), PV_OK);
}

static inline void gmem_read(struct fx *f, uint64_t gpa, void *buf, size_t len)
{
	assert_int_equal(pv_mem_read(f->part, PV_ACCESS_PARAVISOR, pv_gpa(gpa), buf, len), PV_OK);
}

static inline uint32_t gmem_u32(struct fx *f, uint64_t gpa)
{
	uint32_t v;
	gmem_read(f, gpa, &v, 4);
	return v;
}

static inline uint64_t gmem_u64(struct fx *f, uint64_t gpa)
{
	uint64_t v;
	gmem_read(f, gpa, &v, 8);
	return v;
}

/* Enable SCONTROL, SIMP, SIEFP and SINT @sint with @vector on vCPU @vcpu. */
static inline void synic_enable(struct fx *f, uint32_t vcpu, uint8_t sint, uint8_t vector)
{
	uint64_t off = (uint64_t)vcpu * 0x2000u;
	assert_true(wrmsr(f, vcpu, MSR_SIMP, (SIMP_PAGE + 0x10000u + off) | 1u));
	assert_true(wrmsr(f, vcpu, MSR_SIEFP, (SIEFP_PAGE + 0x10000u + off) | 1u));
	assert_true(wrmsr(f, vcpu, MSR_SINT(sint), vector));
	assert_true(wrmsr(f, vcpu, MSR_SCONTROL, 1));
}

static inline uint64_t simp_of(uint32_t vcpu)
{
	return SIMP_PAGE + 0x10000u + (uint64_t)vcpu * 0x2000u;
}

static inline uint64_t siefp_of(uint32_t vcpu)
{
	return SIEFP_PAGE + 0x10000u + (uint64_t)vcpu * 0x2000u;
}

#endif /* HV1_FIXTURE_H */
