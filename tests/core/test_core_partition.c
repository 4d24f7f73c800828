/* SPDX-License-Identifier: MIT */
/* Partition lifecycle: good and bad configurations, port and allocation
 * failures at every creation step, with leak checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#include "core_test.h"

/* A fresh config on @mock using the counting platform @p and @ranges. */
static struct pv_partition_config cfg_for(struct pv_mock *mock, struct ct_platform *p,
					  const struct pv_mem_range *ranges, size_t n)
{
	struct pv_partition_config pc = {
		.vcpu_count = 2,
		.vtl_count = 1,
		.isolation = PV_ISOLATION_NONE,
		.ranges = ranges,
		.range_count = n,
		.port = pv_mock_port_ops(mock),
		.port_ctx = mock,
		.platform = &p->pf,
	};
	return pc;
}

static const struct pv_mem_range one_ram = {{0x0}, 0x4000, PV_MEM_RAM};

/* Expect creation to fail with @want and leave nothing behind. */
static void expect_create_fails(struct pv_mock *mock, struct ct_platform *p,
				const struct pv_partition_config *pc, pv_err_t want)
{
	struct pv_partition *part = (struct pv_partition *)(uintptr_t)0x1;
	assert_int_equal(pv_partition_create(pc, &part), want);
	assert_null(part);
	assert_int_equal(p->live, 0);
	assert_int_equal(pv_mock_live_vcpus(mock), 0);
	assert_int_equal(pv_mock_live_ram_maps(mock), 0);
	assert_false(pv_mock_partition_live(mock));
}

static void test_create_good(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_CPUID_EXITS, 3);
	assert_int_equal(pv_partition_vcpu_count(e.part), 3);
	assert_int_equal(pv_partition_vtl_count(e.part), 2);
	assert_int_equal(pv_partition_isolation(e.part), PV_ISOLATION_NONE);
	assert_ptr_equal(pv_partition_port(e.part), pv_mock_port_ops(e.mock));
	assert_ptr_equal(pv_partition_platform(e.part), &e.plat.pf);
	assert_ptr_equal(pv_partition_port_data(e.part), e.mock);
	assert_ptr_equal(pv_mock_partition(e.mock), e.part);
	assert_int_equal(pv_mock_live_vcpus(e.mock), 3);
	/* RAM ranges only were mapped: 4 of them */
	assert_int_equal(pv_mock_live_ram_maps(e.mock), 4);
	for (uint32_t i = 0; i < 3; i++) {
		struct pv_vcpu *v = pv_partition_vcpu(e.part, i);
		assert_non_null(v);
		assert_int_equal(pv_vcpu_index(v), i);
		assert_ptr_equal(pv_vcpu_partition(v), e.part);
		assert_ptr_equal(pv_mock_vcpu(e.mock, i), v);
		assert_non_null(pv_vcpu_port_data(v));
		for (uint32_t j = 0; j < i; j++)
			assert_ptr_not_equal(v, pv_partition_vcpu(e.part, j));
	}
	assert_null(pv_partition_vcpu(e.part, 3));
	assert_null(pv_partition_vcpu(e.part, UINT32_MAX));
	assert_null(pv_partition_vcpu(NULL, 0));
	struct pv_stats st;
	memset(&st, 0xAB, sizeof(st));
	pv_partition_get_stats(e.part, &st);
	struct pv_stats zero;
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&st, &zero, sizeof(st));
	pv_partition_get_stats(e.part, NULL);
	memset(&st, 0xAB, sizeof(st));
	pv_partition_get_stats(NULL, &st);
	assert_memory_equal(&st, &zero, sizeof(st));
	assert_int_equal(pv_partition_vcpu_count(NULL), 0);
	assert_int_equal(pv_partition_vtl_count(NULL), 0);
	assert_null(pv_partition_port(NULL));
	assert_null(pv_partition_port_data(NULL));
	ct_close(&e);
	pv_partition_destroy(NULL);
}

static void test_default_platform(void **state)
{
	(void)state;
	struct pv_mock *m;
	struct ct_platform p;
	ct_platform_init(&p);
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	struct pv_partition_config pc = cfg_for(m, &p, &one_ram, 1);
	pc.platform = NULL; /* hosted default */
	struct pv_partition *part;
	assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
	assert_ptr_equal(pv_partition_platform(part), pv_platform_hosted());
	pv_partition_destroy(part);
	pv_mock_destroy(m);
}

static void test_bad_counts(void **state)
{
	(void)state;
	struct pv_mock *m;
	struct ct_platform p;
	ct_platform_init(&p);
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	struct pv_partition_config pc = cfg_for(m, &p, &one_ram, 1);
	struct pv_partition *part;

	assert_int_equal(pv_partition_create(&pc, NULL), PV_EINVAL);
	expect_create_fails(m, &p, NULL, PV_EINVAL);
	pc.vcpu_count = 0;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	pc.vcpu_count = PV_MAX_VCPUS + 1;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	pc.vcpu_count = UINT32_MAX;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	pc.vcpu_count = 1;
	pc.vtl_count = 0;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	pc.vtl_count = PV_MAX_VTLS + 1;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	pc.vtl_count = 1;
	pc.isolation = (enum pv_isolation_type)7;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	pc.isolation = PV_ISOLATION_NONE;
	pc.range_count = 0;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	pc.range_count = 1;
	pc.ranges = NULL;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	struct pv_mem_range many[PV_MAX_MEM_RANGES + 1];
	for (unsigned i = 0; i <= PV_MAX_MEM_RANGES; i++)
		many[i] = (struct pv_mem_range){pv_gpa((uint64_t)i * 0x2000), 0x1000, PV_MEM_MMIO};
	pc.ranges = many;
	pc.range_count = PV_MAX_MEM_RANGES + 1;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	/* the limits themselves are fine */
	pc.range_count = PV_MAX_MEM_RANGES;
	pc.vcpu_count = PV_MAX_VCPUS;
	pc.vtl_count = PV_MAX_VTLS;
	pc.isolation = PV_ISOLATION_TDX;
	assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
	assert_int_equal(pv_mock_live_vcpus(m), PV_MAX_VCPUS);
	assert_int_equal(pv_partition_isolation(part), PV_ISOLATION_TDX);
	assert_non_null(pv_partition_vcpu(part, PV_MAX_VCPUS - 1));
	struct pv_mem_range r;
	assert_int_equal(pv_mem_lookup(part, pv_gpa(63 * 0x2000 + 0xFFF), &r), PV_OK);
	assert_int_equal(pv_mem_lookup(part, pv_gpa(63 * 0x2000 + 0x1000), &r), PV_ENOENT);
	pv_partition_destroy(part);
	assert_int_equal(p.live, 0);
	assert_int_equal(pv_mock_live_vcpus(m), 0);
	pv_mock_destroy(m);
}

static void test_bad_ranges(void **state)
{
	(void)state;
	struct pv_mock *m;
	struct ct_platform p;
	ct_platform_init(&p);
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	static const struct {
		struct pv_mem_range r[2];
		size_t n;
		pv_err_t want;
	} cases[] = {
		/* unaligned base, unaligned size, empty */
		{{{{0x800}, 0x1000, PV_MEM_RAM}}, 1, PV_EINVAL},
		{{{{0x1000}, 0x1800, PV_MEM_RAM}}, 1, PV_EINVAL},
		{{{{0x1000}, 0, PV_MEM_MMIO}}, 1, PV_EINVAL},
		/* wraps past the top; ends exactly at the top is fine */
		{{{{0xFFFFFFFFFFFFF000ull}, 0x2000, PV_MEM_MMIO}}, 1, PV_EINVAL},
		{{{{0xFFFFFFFFFFFFF000ull}, 0x1000, PV_MEM_RAM}}, 1, PV_OK},
		{{{{0x0}, 0xFFFFFFFFFFFFF000ull, PV_MEM_RESERVED}}, 1, PV_OK},
		/* bad kind */
		{{{{0x0}, 0x1000, (enum pv_mem_kind)3}}, 1, PV_EINVAL},
		/* identical, partial, contained, same base; adjacent is fine */
		{{{{0x0}, 0x2000, PV_MEM_RAM}, {{0x0}, 0x2000, PV_MEM_MMIO}}, 2, PV_EINVAL},
		{{{{0x0}, 0x2000, PV_MEM_RAM}, {{0x1000}, 0x2000, PV_MEM_MMIO}}, 2, PV_EINVAL},
		{{{{0x1000}, 0x2000, PV_MEM_RAM}, {{0x0}, 0x2000, PV_MEM_MMIO}}, 2, PV_EINVAL},
		{{{{0x0}, 0x4000, PV_MEM_RAM}, {{0x1000}, 0x1000, PV_MEM_MMIO}}, 2, PV_EINVAL},
		{{{{0x1000}, 0x1000, PV_MEM_RAM}, {{0x0}, 0x4000, PV_MEM_MMIO}}, 2, PV_EINVAL},
		{{{{0x0}, 0x1000, PV_MEM_RAM}, {{0x0}, 0x4000, PV_MEM_MMIO}}, 2, PV_EINVAL},
		{{{{0x1000}, 0x1000, PV_MEM_RAM}, {{0x0}, 0x1000, PV_MEM_RAM}}, 2, PV_OK},
		{{{{0x0}, 0x1000, PV_MEM_RAM}, {{0x1000}, 0x1000, PV_MEM_MMIO}}, 2, PV_OK},
		/* wrap hidden by a valid first range */
		{{{{0x0}, 0x1000, PV_MEM_RAM}, {{0xFFFFFFFFFFFFF000ull}, 0x1000000, PV_MEM_RAM}},
		 2,
		 PV_EINVAL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pv_partition_config pc = cfg_for(m, &p, cases[i].r, cases[i].n);
		if (cases[i].want != PV_OK) {
			expect_create_fails(m, &p, &pc, cases[i].want);
			continue;
		}
		struct pv_partition *part;
		assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
		pv_partition_destroy(part);
		assert_int_equal(p.live, 0);
		assert_int_equal(pv_mock_live_ram_maps(m), 0);
	}
	pv_mock_destroy(m);
}

/* Offsets of the mandatory members of struct pv_port_ops. */
static const size_t mandatory_ops[] = {
	offsetof(struct pv_port_ops, name),
	offsetof(struct pv_port_ops, partition_create),
	offsetof(struct pv_port_ops, partition_destroy),
	offsetof(struct pv_port_ops, map_ram),
	offsetof(struct pv_port_ops, vcpu_create),
	offsetof(struct pv_port_ops, vcpu_destroy),
	offsetof(struct pv_port_ops, vcpu_run),
	offsetof(struct pv_port_ops, vcpu_complete),
	offsetof(struct pv_port_ops, get_regs),
	offsetof(struct pv_port_ops, set_regs),
	offsetof(struct pv_port_ops, get_sregs),
	offsetof(struct pv_port_ops, set_sregs),
	offsetof(struct pv_port_ops, inject),
	offsetof(struct pv_port_ops, stop),
	offsetof(struct pv_port_ops, clock_ns),
};

static const size_t optional_ops[] = {
	offsetof(struct pv_port_ops, unmap_ram),      offsetof(struct pv_port_ops, get_msr),
	offsetof(struct pv_port_ops, set_msr),        offsetof(struct pv_port_ops, cpuid_update),
	offsetof(struct pv_port_ops, hypercall_code), offsetof(struct pv_port_ops, isolation_op),
};

static void test_missing_ops(void **state)
{
	(void)state;
	struct pv_mock *m;
	struct ct_platform p;
	ct_platform_init(&p);
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	for (size_t i = 0; i < sizeof(mandatory_ops) / sizeof(mandatory_ops[0]); i++) {
		struct pv_port_ops ops = *pv_mock_port_ops(m);
		memset((char *)&ops + mandatory_ops[i], 0, sizeof(void *));
		struct pv_partition_config pc = cfg_for(m, &p, &one_ram, 1);
		pc.port = &ops;
		expect_create_fails(m, &p, &pc, PV_EINVAL);
		assert_int_equal(pv_mock_op_calls(m, PV_MOCK_OP_PARTITION_CREATE), 0);
	}
	for (size_t i = 0; i < sizeof(optional_ops) / sizeof(optional_ops[0]); i++) {
		struct pv_port_ops ops = *pv_mock_port_ops(m);
		memset((char *)&ops + optional_ops[i], 0, sizeof(void *));
		struct pv_partition_config pc = cfg_for(m, &p, &one_ram, 1);
		pc.port = &ops;
		struct pv_partition *part;
		assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
		pv_partition_destroy(part);
		/* without unmap_ram, partition_destroy still releases the RAM */
		assert_int_equal(pv_mock_live_ram_maps(m), 0);
		assert_int_equal(p.live, 0);
	}
	struct pv_partition_config pc = cfg_for(m, &p, &one_ram, 1);
	pc.port = NULL;
	expect_create_fails(m, &p, &pc, PV_EINVAL);
	/* incomplete platform tables */
	static const size_t pf_members[] = {
		offsetof(struct pv_platform, alloc),
		offsetof(struct pv_platform, free),
		offsetof(struct pv_platform, lock_create),
		offsetof(struct pv_platform, lock_destroy),
		offsetof(struct pv_platform, lock_acquire),
		offsetof(struct pv_platform, lock_release),
		offsetof(struct pv_platform, event_create),
		offsetof(struct pv_platform, event_destroy),
		offsetof(struct pv_platform, event_wait),
		offsetof(struct pv_platform, event_signal),
	};
	for (size_t i = 0; i < sizeof(pf_members) / sizeof(pf_members[0]); i++) {
		struct ct_platform q;
		ct_platform_init(&q);
		memset((char *)&q.pf + pf_members[i], 0, sizeof(void *));
		pc = cfg_for(m, &q, &one_ram, 1);
		expect_create_fails(m, &q, &pc, PV_EINVAL);
		assert_int_equal(q.created, 0);
	}
	pv_mock_destroy(m);
}

/* A port failure at each creation step: the error comes back, nothing leaks
 * and the port sees balanced create/destroy calls. */
static void test_port_failure_each_step(void **state)
{
	(void)state;
	static const struct pv_mem_range map[3] = {
		{{0x0}, 0x2000, PV_MEM_RAM},
		{{0x100000}, 0x1000, PV_MEM_MMIO},
		{{0x200000}, 0x3000, PV_MEM_RAM},
	};
	static const struct {
		enum pv_mock_op op;
		uint64_t nth;
		pv_err_t err;
	} steps[] = {
		{PV_MOCK_OP_PARTITION_CREATE, 1, PV_EPORT},
		{PV_MOCK_OP_MAP_RAM, 1, PV_ENOMEM},
		{PV_MOCK_OP_MAP_RAM, 2, PV_EIO},
		{PV_MOCK_OP_VCPU_CREATE, 1, PV_EPORT},
		{PV_MOCK_OP_VCPU_CREATE, 2, PV_EBUSY},
		{PV_MOCK_OP_VCPU_CREATE, 3, PV_ENOMEM},
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct pv_mock *m;
		struct ct_platform p;
		ct_platform_init(&p);
		assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
		assert_int_equal(pv_mock_fail_op(m, steps[i].op, steps[i].nth, steps[i].err),
				 PV_OK);
		struct pv_partition_config pc = cfg_for(m, &p, map, 3);
		pc.vcpu_count = 3;
		expect_create_fails(m, &p, &pc, steps[i].err);
		uint64_t created = pv_mock_op_calls(m, PV_MOCK_OP_PARTITION_CREATE);
		uint64_t destroyed = pv_mock_op_calls(m, PV_MOCK_OP_PARTITION_DESTROY);
		assert_int_equal(destroyed, steps[i].op == PV_MOCK_OP_PARTITION_CREATE ? 0 : 1);
		assert_int_equal(created, 1);
		/* every vCPU the port created was destroyed, and only those */
		uint64_t vc = pv_mock_op_calls(m, PV_MOCK_OP_VCPU_CREATE);
		uint64_t vd = pv_mock_op_calls(m, PV_MOCK_OP_VCPU_DESTROY);
		if (steps[i].op == PV_MOCK_OP_VCPU_CREATE)
			assert_int_equal(vd, vc - 1);
		/* failure was logged as an error */
		assert_true(p.log_count > 0);
		assert_int_equal(p.last_level, PV_LOG_ERROR);
		/* the same mock works once the failure is gone */
		struct pv_partition *part;
		assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
		pv_partition_destroy(part);
		assert_int_equal(p.live, 0);
		pv_mock_destroy(m);
	}
}

/* A port whose map_ram claims success but returns no memory. */
static pv_err_t (*real_map_ram)(void *, pv_gpa_t, uint64_t, void **);
static pv_err_t null_map_ram(void *pdata, pv_gpa_t gpa, uint64_t size, void **hva)
{
	pv_err_t e = real_map_ram(pdata, gpa, size, hva);
	*hva = NULL; /* the mock keeps the mapping and frees it in partition_destroy */
	return e;
}

static void test_port_returns_null_ram(void **state)
{
	(void)state;
	struct pv_mock *m;
	struct ct_platform p;
	ct_platform_init(&p);
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	struct pv_port_ops ops = *pv_mock_port_ops(m);
	real_map_ram = ops.map_ram;
	ops.map_ram = null_map_ram;
	struct pv_partition_config pc = cfg_for(m, &p, &one_ram, 1);
	pc.port = &ops;
	expect_create_fails(m, &p, &pc, PV_EPORT);
	pv_mock_destroy(m);
}

/* Every platform allocation/lock/event of creation fails in turn. */
static void test_alloc_failure_each_step(void **state)
{
	(void)state;
	struct pv_mock *m;
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	long n;
	for (n = 1; n < 1000; n++) {
		struct ct_platform p;
		ct_platform_init(&p);
		p.fail_at = n;
		struct pv_partition_config pc = cfg_for(m, &p, ct_ranges, CT_RANGE_COUNT);
		pc.vcpu_count = 3;
		struct pv_partition *part = NULL;
		pv_err_t err = pv_partition_create(&pc, &part);
		if (err == PV_OK) {
			assert_true(p.created < n); /* nothing left to fail */
			pv_partition_destroy(part);
			assert_int_equal(p.live, 0);
			break;
		}
		assert_int_equal(err, PV_ENOMEM);
		assert_null(part);
		assert_int_equal(p.live, 0);
		assert_int_equal(pv_mock_live_vcpus(m), 0);
		assert_int_equal(pv_mock_live_ram_maps(m), 0);
		assert_false(pv_mock_partition_live(m));
	}
	assert_true(n > 5 && n < 1000);
	pv_mock_destroy(m);
}

static void test_two_partitions(void **state)
{
	(void)state;
	struct ct_env a, b;
	ct_open(&a, 0, 1);
	ct_open(&b, 0, 2);
	uint32_t x = 0x11111111, y = 0x22222222, r = 0;
	assert_int_equal(pv_mem_write(a.part, PV_ACCESS_PARAVISOR, pv_gpa(0x100), &x, 4), PV_OK);
	assert_int_equal(pv_mem_write(b.part, PV_ACCESS_PARAVISOR, pv_gpa(0x100), &y, 4), PV_OK);
	assert_int_equal(pv_mem_read(a.part, PV_ACCESS_PARAVISOR, pv_gpa(0x100), &r, 4), PV_OK);
	assert_int_equal(r, x);
	ct_close(&b);
	ct_close(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_good),
		cmocka_unit_test(test_default_platform),
		cmocka_unit_test(test_bad_counts),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_missing_ops),
		cmocka_unit_test(test_port_failure_each_step),
		cmocka_unit_test(test_port_returns_null_ram),
		cmocka_unit_test(test_alloc_failure_each_step),
		cmocka_unit_test(test_two_partitions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
