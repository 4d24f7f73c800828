/* SPDX-License-Identifier: MIT */
/* Device services: interrupt routing (router or port irqchip), the clock
 * and one-shot timers on the mock's controllable clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#include "core_test.h"

struct route_log {
	int calls;
	bool is_msi;
	uint32_t gsi;
	bool level;
	uint64_t address;
	uint32_t data;
	pv_err_t ret;
};

static pv_err_t router(void *ctx, bool is_msi, uint32_t gsi, bool level, uint64_t address,
		       uint32_t data)
{
	struct route_log *l = ctx;
	l->calls++;
	l->is_msi = is_msi;
	l->gsi = gsi;
	l->level = level;
	l->address = address;
	l->data = data;
	return l->ret;
}

static void test_irq_without_irqchip(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_irq_set(e.part, 4, true), PV_ENOTSUP);
	assert_int_equal(pv_msi_send(e.part, 0xFEE00000, 0x30), PV_ENOTSUP);
	struct route_log l = {0};
	pv_irq_set_router(e.part, router, &l);
	assert_int_equal(pv_irq_set(e.part, 4, true), PV_OK);
	assert_int_equal(l.calls, 1);
	assert_false(l.is_msi);
	assert_int_equal(l.gsi, 4);
	assert_true(l.level);
	assert_int_equal(pv_msi_send(e.part, 0xFEE01000, 0x4031), PV_OK);
	assert_int_equal(l.calls, 2);
	assert_true(l.is_msi);
	assert_int_equal(l.address, 0xFEE01000);
	assert_int_equal(l.data, 0x4031);
	l.ret = PV_EBUSY;
	assert_int_equal(pv_irq_set(e.part, 5, false), PV_EBUSY);
	assert_int_equal(pv_msi_send(e.part, 0xFEE00000, 0x30), PV_EBUSY);
	pv_irq_set_router(e.part, NULL, NULL);
	assert_int_equal(pv_irq_set(e.part, 4, true), PV_ENOTSUP);
	assert_int_equal(l.calls, 4);
	assert_int_equal(pv_irq_set(NULL, 4, true), PV_EINVAL);
	assert_int_equal(pv_msi_send(NULL, 0, 0), PV_EINVAL);
	pv_irq_set_router(NULL, router, &l);
	ct_close(&e);
}

static void test_irq_with_irqchip(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_IRQCHIP, 1);
	assert_int_equal(pv_irq_set(e.part, 4, true), PV_OK);
	assert_int_equal(pv_irq_set(e.part, 4, false), PV_OK);
	assert_int_equal(pv_msi_send(e.part, 0xFEE02000, 0x41), PV_OK);
	assert_int_equal(pv_mock_irq_count(e.mock), 3);
	struct pv_mock_irq irq;
	assert_int_equal(pv_mock_irq_get(e.mock, 1, &irq), PV_OK);
	assert_false(irq.is_msi);
	assert_int_equal(irq.gsi, 4);
	assert_false(irq.level);
	assert_int_equal(pv_mock_irq_get(e.mock, 2, &irq), PV_OK);
	assert_true(irq.is_msi);
	assert_int_equal(irq.address, 0xFEE02000);
	/* port errors come back */
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_IRQ_LINE, 1, PV_EPORT), PV_OK);
	assert_int_equal(pv_irq_set(e.part, 1, true), PV_EPORT);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_MSI, 1, PV_EIO), PV_OK);
	assert_int_equal(pv_msi_send(e.part, 0xFEE00000, 0x30), PV_EIO);
	/* a router takes precedence over the irqchip */
	struct route_log l = {0};
	pv_irq_set_router(e.part, router, &l);
	assert_int_equal(pv_irq_set(e.part, 9, true), PV_OK);
	assert_int_equal(l.calls, 1);
	assert_int_equal(pv_mock_irq_count(e.mock), 3);
	ct_close(&e);
}

struct fire_log {
	int n;
	int order[16];
	uint64_t when[16];
	struct ct_env *e;
};

static struct fire_log g_fire;

static void on_timer(void *ctx)
{
	int id = (int)(intptr_t)ctx;
	if (g_fire.n < 16) {
		g_fire.order[g_fire.n] = id;
		g_fire.when[g_fire.n] = pv_clock_ns(g_fire.e->part);
	}
	g_fire.n++;
}

static void test_clock(void **state)
{
	(void)state;
	struct ct_env e;
	struct pv_mock_config mc = {.clock_start_ns = 5000};
	ct_open_cfg(&e, &mc, 1);
	assert_int_equal(pv_clock_ns(e.part), 5000);
	pv_mock_advance_clock(e.mock, 123);
	assert_int_equal(pv_clock_ns(e.part), 5123);
	assert_int_equal(pv_clock_ns(NULL), 0);
	/* no timers on this port */
	struct pv_timer *t = (struct pv_timer *)(uintptr_t)1;
	assert_int_equal(pv_timer_create(e.part, on_timer, NULL, &t), PV_ENOTSUP);
	assert_null(t);
	ct_close(&e);
}

static void test_timers(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_TIMERS, 1);
	memset(&g_fire, 0, sizeof(g_fire));
	g_fire.e = &e;
	struct pv_timer *t[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pv_timer_create(e.part, on_timer, (void *)(intptr_t)i, &t[i]),
				 PV_OK);
	assert_int_equal(pv_mock_live_timers(e.mock), 3);
	assert_int_equal(pv_timer_arm(t[0], 3000), PV_OK);
	assert_int_equal(pv_timer_arm(t[1], 1000), PV_OK);
	assert_int_equal(pv_timer_arm(t[2], 2000), PV_OK);
	/* re-arming replaces the deadline */
	assert_int_equal(pv_timer_arm(t[2], 500), PV_OK);
	assert_int_equal(pv_mock_advance_clock(e.mock, 999), 1);
	assert_int_equal(g_fire.n, 1);
	assert_int_equal(g_fire.order[0], 2);
	assert_int_equal(g_fire.when[0], 500);
	assert_int_equal(pv_mock_advance_clock(e.mock, 10000), 2);
	assert_int_equal(g_fire.order[1], 1);
	assert_int_equal(g_fire.order[2], 0);
	assert_int_equal(g_fire.when[2], 3000);
	/* one-shot: nothing more */
	assert_int_equal(pv_mock_advance_clock(e.mock, 10000), 0);
	/* cancel */
	assert_int_equal(pv_timer_arm(t[0], pv_clock_ns(e.part) + 10), PV_OK);
	pv_timer_cancel(t[0]);
	assert_int_equal(pv_mock_advance_clock(e.mock, 100), 0);
	pv_timer_cancel(NULL);
	/* a past deadline fires as soon as possible */
	assert_int_equal(pv_timer_arm(t[1], 0), PV_OK);
	assert_int_equal(pv_mock_advance_clock(e.mock, 0), 1);
	/* errors */
	assert_int_equal(pv_timer_arm(NULL, 0), PV_EINVAL);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_TIMER_ARM, 1, PV_EBUSY), PV_OK);
	assert_int_equal(pv_timer_arm(t[1], 1), PV_EBUSY);
	struct pv_timer *x = NULL;
	assert_int_equal(pv_timer_create(NULL, on_timer, NULL, &x), PV_EINVAL);
	assert_int_equal(pv_timer_create(e.part, NULL, NULL, &x), PV_EINVAL);
	assert_int_equal(pv_timer_create(e.part, on_timer, NULL, NULL), PV_EINVAL);
	long live = e.plat.live;
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_TIMER_CREATE, 1, PV_EPORT), PV_OK);
	assert_int_equal(pv_timer_create(e.part, on_timer, NULL, &x), PV_EPORT);
	assert_null(x);
	assert_int_equal(e.plat.live, live); /* nothing leaked */
	e.plat.fail_at = e.plat.created + 1;
	assert_int_equal(pv_timer_create(e.part, on_timer, NULL, &x), PV_ENOMEM);
	e.plat.fail_at = 0;
	assert_int_equal(pv_mock_live_timers(e.mock), 3);
	for (int i = 0; i < 3; i++)
		pv_timer_destroy(t[i]);
	pv_timer_destroy(NULL);
	assert_int_equal(pv_mock_live_timers(e.mock), 0);
	ct_close(&e);
}

/* Timers the embedder forgot are destroyed with the partition (ct_close
 * asserts no live mock timer and no leaked allocation remains). */
static void test_timers_die_with_partition(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_TIMERS, 1);
	struct pv_timer *t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pv_timer_create(e.part, on_timer, NULL, &t[i]), PV_OK);
	assert_int_equal(pv_timer_arm(t[0], 1000000), PV_OK);
	pv_timer_destroy(t[1]); /* destroying one leaves the other on the list */
	assert_int_equal(pv_mock_live_timers(e.mock), 1);
	ct_close(&e);
}

static void test_timers_need_all_ops(void **state)
{
	(void)state;
	struct pv_mock *m;
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS};
	assert_int_equal(pv_mock_create(&mc, &m), PV_OK);
	struct pv_port_ops ops = *pv_mock_port_ops(m);
	ops.timer_cancel = NULL;
	struct pv_partition_config pc = {.vcpu_count = 1,
					 .vtl_count = 1,
					 .ranges = ct_ranges,
					 .range_count = 1,
					 .port = &ops,
					 .port_ctx = m};
	struct pv_partition *part;
	assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
	struct pv_timer *t;
	assert_int_equal(pv_timer_create(part, on_timer, NULL, &t), PV_ENOTSUP);
	pv_partition_destroy(part);
	pv_mock_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_irq_without_irqchip),
		cmocka_unit_test(test_irq_with_irqchip),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_timers_die_with_partition),
		cmocka_unit_test(test_timers_need_all_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
