/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_test.h"

static pthread_mutex_t ct_log_lock = PTHREAD_MUTEX_INITIALIZER;

/* Count one creation; false if this one must fail. */
static bool ct_take(struct ct_platform *p)
{
	long n = __atomic_add_fetch(&p->created, 1, __ATOMIC_SEQ_CST);
	if (p->fail_at && n == p->fail_at)
		return false;
	__atomic_add_fetch(&p->live, 1, __ATOMIC_SEQ_CST);
	return true;
}

static void ct_give(struct ct_platform *p)
{
	__atomic_sub_fetch(&p->live, 1, __ATOMIC_SEQ_CST);
}

static void *ct_alloc(void *ctx, size_t size)
{
	struct ct_platform *p = ctx;
	if (!ct_take(p))
		return NULL;
	void *m = calloc(1, size ? size : 1);
	if (!m)
		ct_give(p);
	return m;
}

static void ct_free(void *ctx, void *ptr)
{
	if (!ptr)
		return;
	free(ptr);
	ct_give(ctx);
}

static void *ct_lock_create(void *ctx)
{
	struct ct_platform *p = ctx;
	if (!ct_take(p))
		return NULL;
	return pv_platform_hosted()->lock_create(pv_platform_hosted()->ctx);
}

static void ct_lock_destroy(void *ctx, void *lock)
{
	pv_platform_hosted()->lock_destroy(pv_platform_hosted()->ctx, lock);
	ct_give(ctx);
}

static void ct_lock_acquire(void *ctx, void *lock)
{
	(void)ctx;
	pv_platform_hosted()->lock_acquire(pv_platform_hosted()->ctx, lock);
}

static void ct_lock_release(void *ctx, void *lock)
{
	(void)ctx;
	pv_platform_hosted()->lock_release(pv_platform_hosted()->ctx, lock);
}

static void *ct_event_create(void *ctx)
{
	struct ct_platform *p = ctx;
	if (!ct_take(p))
		return NULL;
	return pv_platform_hosted()->event_create(pv_platform_hosted()->ctx);
}

static void ct_event_destroy(void *ctx, void *ev)
{
	pv_platform_hosted()->event_destroy(pv_platform_hosted()->ctx, ev);
	ct_give(ctx);
}

static bool ct_event_wait(void *ctx, void *ev, uint64_t timeout_ns)
{
	(void)ctx;
	return pv_platform_hosted()->event_wait(pv_platform_hosted()->ctx, ev, timeout_ns);
}

static void ct_event_signal(void *ctx, void *ev)
{
	(void)ctx;
	pv_platform_hosted()->event_signal(pv_platform_hosted()->ctx, ev);
}

static void ct_log(void *ctx, enum pv_log_level level, const char *sub, const char *msg)
{
	struct ct_platform *p = ctx;
	pthread_mutex_lock(&ct_log_lock);
	p->log_count++;
	p->last_level = level;
	strncpy(p->last_sub, sub, sizeof(p->last_sub) - 1);
	p->last_sub[sizeof(p->last_sub) - 1] = '\0';
	strncpy(p->last_msg, msg, sizeof(p->last_msg) - 1);
	p->last_msg[sizeof(p->last_msg) - 1] = '\0';
	pthread_mutex_unlock(&ct_log_lock);
}

void ct_platform_init(struct ct_platform *p)
{
	memset(p, 0, sizeof(*p));
	p->pf.ctx = p;
	p->pf.alloc = ct_alloc;
	p->pf.free = ct_free;
	p->pf.lock_create = ct_lock_create;
	p->pf.lock_destroy = ct_lock_destroy;
	p->pf.lock_acquire = ct_lock_acquire;
	p->pf.lock_release = ct_lock_release;
	p->pf.event_create = ct_event_create;
	p->pf.event_destroy = ct_event_destroy;
	p->pf.event_wait = ct_event_wait;
	p->pf.event_signal = ct_event_signal;
	p->pf.log = ct_log;
	p->pf.log_ctx = p;
	p->pf.log_level = PV_LOG_DEBUG;
}

const struct pv_mem_range ct_ranges[CT_RANGE_COUNT] = {
	{{0x0}, 0x10000, PV_MEM_RAM},
	{{0x10000}, 0x10000, PV_MEM_RAM},
	{{0x30000}, 0x1000, PV_MEM_MMIO},
	{{0x31000}, 0x2000, PV_MEM_RAM},
	{{0x40000}, 0x1000, PV_MEM_RESERVED},
	{{0xFFFFFFFFFFFFE000ull}, 0x2000, PV_MEM_RAM},
	/* listed out of order on purpose: the partition sorts the map */
	{{0x50000}, 0x1000, PV_MEM_MMIO},
};

void ct_open_cfg(struct ct_env *e, const struct pv_mock_config *mc, uint32_t vcpus)
{
	memset(e, 0, sizeof(*e));
	ct_platform_init(&e->plat);
	assert_int_equal(pv_mock_create(mc, &e->mock), PV_OK);
	struct pv_partition_config pc = {
		.vcpu_count = vcpus,
		.vtl_count = 2,
		.isolation = PV_ISOLATION_NONE,
		.ranges = ct_ranges,
		.range_count = CT_RANGE_COUNT,
		.port = pv_mock_port_ops(e->mock),
		.port_ctx = e->mock,
		.platform = &e->plat.pf,
	};
	assert_int_equal(pv_partition_create(&pc, &e->part), PV_OK);
	assert_non_null(e->part);
	for (uint32_t i = 0; i < vcpus && i < 4; i++)
		e->vcpu[i] = pv_partition_vcpu(e->part, i);
}

void ct_open(struct ct_env *e, uint32_t caps, uint32_t vcpus)
{
	struct pv_mock_config mc = {.caps = caps};
	ct_open_cfg(e, &mc, vcpus);
}

void ct_close(struct ct_env *e)
{
	pv_partition_destroy(e->part);
	e->part = NULL;
	assert_int_equal(e->plat.live, 0);
	assert_int_equal(pv_mock_live_vcpus(e->mock), 0);
	assert_int_equal(pv_mock_live_ram_maps(e->mock), 0);
	assert_int_equal(pv_mock_live_timers(e->mock), 0);
	assert_false(pv_mock_partition_live(e->mock));
	pv_mock_destroy(e->mock);
	e->mock = NULL;
}

struct pv_exit ct_io(uint16_t port, uint8_t size, bool is_write, uint32_t data)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_IO;
	x.u.io.port = port;
	x.u.io.size = size;
	x.u.io.is_write = is_write;
	x.u.io.count = 1;
	x.u.io.data = data;
	return x;
}

struct pv_exit ct_mmio(uint64_t gpa, uint8_t size, bool is_write, uint64_t data)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_MMIO;
	x.u.mmio.gpa = pv_gpa(gpa);
	x.u.mmio.size = size;
	x.u.mmio.is_write = is_write;
	x.u.mmio.data = data;
	return x;
}

struct pv_exit ct_msr(bool is_write, uint32_t index, uint64_t value)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = is_write ? PV_EXIT_MSR_WRITE : PV_EXIT_MSR_READ;
	x.u.msr.index = index;
	x.u.msr.value = value;
	return x;
}

struct pv_exit ct_cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_CPUID;
	x.u.cpuid.leaf = leaf;
	x.u.cpuid.subleaf = subleaf;
	/* garbage outputs the dispatcher must overwrite */
	x.u.cpuid.eax = x.u.cpuid.ebx = x.u.cpuid.ecx = x.u.cpuid.edx = 0xDEADBEEF;
	return x;
}

struct pv_exit ct_kind(enum pv_exit_kind kind)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = kind;
	return x;
}

struct pv_exit ct_run1(struct ct_env *e, uint32_t idx, const struct pv_exit *x)
{
	size_t before = pv_mock_completion_count(e->mock, idx);
	assert_int_equal(pv_mock_set_script(e->mock, idx, x, 1), PV_OK);
	struct pv_exit got;
	assert_int_equal(pv_vcpu_run_once(pv_partition_vcpu(e->part, idx), &got), PV_OK);
	assert_int_equal(pv_mock_completion_count(e->mock, idx), before + 1);
	struct pv_exit rec;
	assert_int_equal(pv_mock_completion_get(e->mock, idx, before, &rec), PV_OK);
	/* what pv_vcpu_run_once returns is what the port completed */
	assert_int_equal(rec.kind, got.kind);
	assert_int_equal(rec.inject.kind, got.inject.kind);
	return rec;
}
