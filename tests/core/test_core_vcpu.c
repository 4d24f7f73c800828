/* SPDX-License-Identifier: MIT */
/* The vCPU run loop: scripts to the end, stop from another thread, HLT
 * waits, port failures, register access and event injection. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core_test.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_script_to_shutdown(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	struct pv_exit s[5] = {ct_io(0x80, 1, true, 1), ct_mmio(0x30000, 4, false, 0),
			       ct_cpuid(0, 0), ct_kind(PV_EXIT_INTERRUPT_WINDOW),
			       ct_kind(PV_EXIT_SHUTDOWN)};
	assert_int_equal(pv_mock_set_script(e.mock, 0, s, 5), PV_OK);
	/* would follow the shutdown if the loop did not stop there */
	struct pv_exit last;
	memset(&last, 0xCC, sizeof(last));
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_SHUTDOWN);
	assert_int_equal(pv_mock_script_position(e.mock, 0), 5);
	/* every exit was completed, in order, the shutdown included */
	assert_int_equal(pv_mock_completion_count(e.mock, 0), 5);
	for (size_t i = 0; i < 5; i++) {
		struct pv_exit c;
		assert_int_equal(pv_mock_completion_get(e.mock, 0, i, &c), PV_OK);
		assert_int_equal(c.kind, s[i].kind);
	}
	for (int k = 0; k < PV_EXIT_KIND_COUNT; k++) {
		uint64_t want = (k == PV_EXIT_IO || k == PV_EXIT_MMIO || k == PV_EXIT_CPUID ||
				 k == PV_EXIT_INTERRUPT_WINDOW || k == PV_EXIT_SHUTDOWN);
		assert_int_equal(pv_vcpu_exit_count(e.vcpu[0], (enum pv_exit_kind)k), want);
	}
	/* last may be NULL */
	assert_int_equal(pv_mock_set_script(e.mock, 0, s, 1), PV_OK);
	assert_int_equal(pv_vcpu_run(e.vcpu[0], NULL), PV_OK);
	assert_int_equal(pv_vcpu_run(NULL, &last), PV_EINVAL);
	assert_int_equal(pv_vcpu_run_once(NULL, &last), PV_EINVAL);
	assert_int_equal(pv_vcpu_run_once(e.vcpu[0], NULL), PV_EINVAL);
	ct_close(&e);
}

static void test_loop_ending_kinds(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	struct pv_exit x = ct_kind(PV_EXIT_PORT_SPECIFIC);
	x.u.port.code = 0xC0DE;
	x.u.port.data[3] = 0x1234;
	struct pv_exit s[2] = {ct_io(0x80, 1, true, 1), x};
	assert_int_equal(pv_mock_set_script(e.mock, 0, s, 2), PV_OK);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_PORT_SPECIFIC);
	assert_int_equal(last.u.port.code, 0xC0DE);
	assert_int_equal(last.u.port.data[3], 0x1234);
	x = ct_kind(PV_EXIT_INTERNAL_ERROR);
	x.u.error.code = -5;
	x.u.error.data[0] = 42;
	assert_int_equal(pv_mock_set_script(e.mock, 0, &x, 1), PV_OK);
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_INTERNAL_ERROR);
	assert_int_equal(last.u.error.code, -5);
	assert_int_equal(last.u.error.data[0], 42);
	x = ct_kind(PV_EXIT_STOPPED);
	assert_int_equal(pv_mock_set_script(e.mock, 0, &x, 1), PV_OK);
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	/* the configurable end kind of the mock */
	assert_int_equal(pv_mock_set_end_kind(e.mock, 0, PV_EXIT_INTERNAL_ERROR), PV_OK);
	assert_int_equal(pv_mock_set_script(e.mock, 0, NULL, 0), PV_OK);
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_INTERNAL_ERROR);
	ct_close(&e);
}

struct runner {
	struct pv_vcpu *vcpu;
	struct pv_exit last;
	pv_err_t rc;
	pthread_t th;
};

static void *run_thread(void *p)
{
	struct runner *r = p;
	__atomic_store_n(&r->rc, pv_vcpu_run(r->vcpu, &r->last), __ATOMIC_SEQ_CST);
	return NULL;
}

static void start(struct runner *r, struct pv_vcpu *v)
{
	memset(r, 0, sizeof(*r));
	r->vcpu = v;
	r->rc = -100;
	assert_int_equal(pthread_create(&r->th, NULL, run_thread, r), 0);
}

static void test_stop_from_other_thread(void **state)
{
	(void)state;
	struct ct_env e;
	struct pv_mock_config mc = {.no_recording = true};
	ct_open_cfg(&e, &mc, 1);
	struct pv_exit out = ct_io(0x80, 1, true, 0);
	assert_int_equal(pv_mock_set_script_repeat(e.mock, 0, &out, 1), PV_OK);
	struct runner r;
	start(&r, e.vcpu[0]);
	while (pv_mock_run_count(e.mock, 0) < 1000)
		sched_yield();
	pv_vcpu_stop(e.vcpu[0]);
	pthread_join(r.th, NULL);
	assert_int_equal(r.rc, PV_OK);
	assert_int_equal(r.last.kind, PV_EXIT_STOPPED);
	assert_true(pv_vcpu_exit_count(e.vcpu[0], PV_EXIT_IO) >= 999);
	/* the stop was consumed: the next run goes on with the guest */
	struct pv_exit s[2] = {ct_io(0x80, 1, true, 0), ct_kind(PV_EXIT_SHUTDOWN)};
	assert_int_equal(pv_mock_set_script(e.mock, 0, s, 2), PV_OK);
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &r.last), PV_OK);
	assert_int_equal(r.last.kind, PV_EXIT_SHUTDOWN);
	/* a stop before the run returns at once */
	assert_int_equal(pv_mock_set_script(e.mock, 0, s, 2), PV_OK);
	pv_vcpu_stop(e.vcpu[0]);
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &r.last), PV_OK);
	assert_int_equal(r.last.kind, PV_EXIT_STOPPED);
	assert_int_equal(pv_mock_script_position(e.mock, 0), 0);
	pv_vcpu_stop(NULL);
	ct_close(&e);
}

static void test_stop_blocked_guest(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 2);
	/* vCPU 1 "runs forever" inside the port */
	assert_int_equal(pv_mock_set_block_when_done(e.mock, 1, true), PV_OK);
	struct runner r;
	start(&r, e.vcpu[1]);
	while (pv_mock_run_count(e.mock, 1) < 1)
		sched_yield();
	sleep_ms(20);
	assert_int_equal(__atomic_load_n(&r.rc, __ATOMIC_SEQ_CST), -100);
	pv_vcpu_stop(e.vcpu[1]);
	pthread_join(r.th, NULL);
	assert_int_equal(r.rc, PV_OK);
	assert_int_equal(r.last.kind, PV_EXIT_STOPPED);
	ct_close(&e);
}

/* Give vCPU 0 the script @s (an HLT first), run it on @r's thread and wait
 * until the first run has come back from the port, i.e. the vCPU halted. */
static void run_until_halted(struct ct_env *e, struct runner *r, const struct pv_exit *s, size_t n)
{
	assert_int_equal(pv_mock_set_script(e->mock, 0, s, n), PV_OK);
	start(r, e->vcpu[0]);
	while (pv_mock_run_count(e->mock, 0) < 1)
		sched_yield();
}

/* HLT, then an I/O exit and SHUTDOWN; stop vCPU 0 while it waits in the HLT. */
static void stop_in_hlt(struct ct_env *e, struct runner *r)
{
	struct pv_exit s[3] = {ct_kind(PV_EXIT_HLT), ct_io(0x80, 1, true, 0),
			       ct_kind(PV_EXIT_SHUTDOWN)};
	run_until_halted(e, r, s, 3);
	sleep_ms(20);
	pv_vcpu_stop(e->vcpu[0]);
	pthread_join(r->th, NULL);
}

static void test_hlt_waits_for_inject(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	struct pv_exit s[2] = {ct_kind(PV_EXIT_HLT), ct_io(0x80, 1, true, 0)};
	struct runner r;
	run_until_halted(&e, &r, s, 2);
	sleep_ms(50);
	/* halted: not re-entered, not returned */
	assert_int_equal(pv_mock_run_count(e.mock, 0), 1);
	assert_int_equal(__atomic_load_n(&r.rc, __ATOMIC_SEQ_CST), -100);
	struct pv_event ev = {.kind = PV_EVENT_INTERRUPT, .vector = 0x40};
	assert_int_equal(pv_vcpu_inject(e.vcpu[0], &ev), PV_OK);
	pthread_join(r.th, NULL);
	assert_int_equal(r.rc, PV_OK);
	assert_int_equal(r.last.kind, PV_EXIT_SHUTDOWN);
	assert_int_equal(pv_mock_inject_count(e.mock, 0), 1);
	assert_int_equal(pv_mock_pending_events(e.mock, 0), 0); /* delivered on re-entry */
	assert_int_equal(pv_vcpu_exit_count(e.vcpu[0], PV_EXIT_HLT), 1);
	ct_close(&e);
}

static void test_hlt_stop(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	struct runner r;
	stop_in_hlt(&e, &r);
	assert_int_equal(r.rc, PV_OK);
	assert_int_equal(r.last.kind, PV_EXIT_STOPPED);
	assert_int_equal(pv_mock_script_position(e.mock, 0), 1);
	ct_close(&e);
}

/* Regression: a stop that ended an HLT wait was consumed by the core while
 * the port's stop request stayed pending, so the NEXT pv_vcpu_run returned
 * PV_EXIT_STOPPED at once without running the guest (fixed in 6c7018e). */
static void test_hlt_stop_then_resume(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	struct runner r;
	stop_in_hlt(&e, &r);
	assert_int_equal(r.last.kind, PV_EXIT_STOPPED);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_SHUTDOWN);
	assert_int_equal(pv_mock_script_position(e.mock, 0), 3);
	ct_close(&e);
}

static void test_hlt_with_irqchip(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_IRQCHIP, 1);
	struct pv_exit s[3] = {ct_kind(PV_EXIT_HLT), ct_kind(PV_EXIT_HLT), ct_io(0x80, 1, true, 0)};
	assert_int_equal(pv_mock_set_script(e.mock, 0, s, 3), PV_OK);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_OK); /* no wait */
	assert_int_equal(last.kind, PV_EXIT_SHUTDOWN);
	assert_int_equal(pv_vcpu_exit_count(e.vcpu[0], PV_EXIT_HLT), 2);
	ct_close(&e);
}

static void test_port_failures_in_loop(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	struct pv_exit out = ct_io(0x80, 1, true, 0);
	assert_int_equal(pv_mock_set_script_repeat(e.mock, 0, &out, 1), PV_OK);
	/* the third run fails: two completions, the error returned, logged */
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_VCPU_RUN, 3, PV_EPORT), PV_OK);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_EPORT);
	assert_int_equal(pv_mock_completion_count(e.mock, 0), 2);
	assert_int_equal(e.plat.last_level, PV_LOG_ERROR);
	assert_string_equal(e.plat.last_sub, "core");
	/* a failed completion ends the loop with its error */
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_VCPU_COMPLETE, 2, PV_EIO), PV_OK);
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_EIO);
	assert_int_equal(pv_mock_completion_count(e.mock, 0), 3);
	/* run_once reports the same errors */
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_VCPU_RUN, 1, PV_EBUSY), PV_OK);
	assert_int_equal(pv_vcpu_run_once(e.vcpu[0], &last), PV_EBUSY);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_VCPU_COMPLETE, 1, PV_EBUSY), PV_OK);
	assert_int_equal(pv_vcpu_run_once(e.vcpu[0], &last), PV_EBUSY);
	assert_int_equal(pv_vcpu_run_once(e.vcpu[0], &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_IO);
	ct_close(&e);
}

static void test_registers(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 2);
	struct pv_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = 0xFFF0;
	r.gpr[PV_RSP] = 0x7000;
	r.rflags = PV_RFLAGS_FIXED | PV_RFLAGS_IF;
	assert_int_equal(pv_vcpu_set_regs(e.vcpu[1], &r), PV_OK);
	assert_int_equal(pv_mock_regs_write_count(e.mock, 1), 1);
	assert_int_equal(pv_mock_regs_write_count(e.mock, 0), 0);
	struct pv_regs got;
	assert_int_equal(pv_vcpu_get_regs(e.vcpu[1], &got), PV_OK);
	assert_memory_equal(&got, &r, sizeof(r));
	struct pv_sregs s;
	memset(&s, 0, sizeof(s));
	s.cr0 = 0x60000010;
	s.cs.selector = 0xF000;
	s.cs.base = 0xFFFF0000;
	assert_int_equal(pv_vcpu_set_sregs(e.vcpu[0], &s), PV_OK);
	struct pv_sregs gs;
	assert_int_equal(pv_vcpu_get_sregs(e.vcpu[0], &gs), PV_OK);
	assert_memory_equal(&gs, &s, sizeof(s));
	assert_int_equal(pv_mock_sregs_write_count(e.mock, 0), 1);
	/* port errors come back */
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_GET_REGS, 1, PV_EPORT), PV_OK);
	assert_int_equal(pv_vcpu_get_regs(e.vcpu[0], &got), PV_EPORT);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_SET_REGS, 1, PV_EIO), PV_OK);
	assert_int_equal(pv_vcpu_set_regs(e.vcpu[0], &r), PV_EIO);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_GET_SREGS, 1, PV_EPORT), PV_OK);
	assert_int_equal(pv_vcpu_get_sregs(e.vcpu[0], &gs), PV_EPORT);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_SET_SREGS, 1, PV_EIO), PV_OK);
	assert_int_equal(pv_vcpu_set_sregs(e.vcpu[0], &s), PV_EIO);
	/* NULLs */
	assert_int_equal(pv_vcpu_get_regs(NULL, &got), PV_EINVAL);
	assert_int_equal(pv_vcpu_get_regs(e.vcpu[0], NULL), PV_EINVAL);
	assert_int_equal(pv_vcpu_set_regs(NULL, &r), PV_EINVAL);
	assert_int_equal(pv_vcpu_set_regs(e.vcpu[0], NULL), PV_EINVAL);
	assert_int_equal(pv_vcpu_get_sregs(NULL, &gs), PV_EINVAL);
	assert_int_equal(pv_vcpu_set_sregs(e.vcpu[0], NULL), PV_EINVAL);
	assert_int_equal(pv_vcpu_index(NULL), 0);
	assert_null(pv_vcpu_partition(NULL));
	assert_null(pv_vcpu_port_data(NULL));
	ct_close(&e);
}

static void test_inject_validation(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	static const struct pv_event bad[] = {
		{.kind = PV_EVENT_NONE},
		{.kind = (enum pv_event_kind)9, .vector = 0x30},
		{.kind = PV_EVENT_EXCEPTION, .vector = 32},
		{.kind = PV_EVENT_EXCEPTION, .vector = 255},
		{.kind = PV_EVENT_INTERRUPT, .vector = 15},
		{.kind = PV_EVENT_INTERRUPT, .vector = 0x30, .has_error_code = true},
		{.kind = PV_EVENT_NMI, .vector = 2, .has_error_code = true},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pv_vcpu_inject(e.vcpu[0], &bad[i]), PV_EINVAL);
	assert_int_equal(pv_mock_inject_count(e.mock, 0), 0);
	static const struct pv_event good[] = {
		{.kind = PV_EVENT_EXCEPTION,
		 .vector = PV_VEC_PF,
		 .has_error_code = true,
		 .error_code = 2,
		 .cr2 = 0xdead000},
		{.kind = PV_EVENT_EXCEPTION, .vector = 31},
		{.kind = PV_EVENT_INTERRUPT, .vector = 16},
		{.kind = PV_EVENT_INTERRUPT, .vector = 255},
		{.kind = PV_EVENT_NMI, .vector = 2},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(pv_vcpu_inject(e.vcpu[0], &good[i]), PV_OK);
	assert_int_equal(pv_mock_inject_count(e.mock, 0), 5);
	struct pv_event got;
	assert_int_equal(pv_mock_inject_get(e.mock, 0, 0, &got), PV_OK);
	assert_int_equal(got.vector, PV_VEC_PF);
	assert_int_equal(got.cr2, 0xdead000);
	assert_int_equal(got.error_code, 2);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_INJECT, 1, PV_EBUSY), PV_OK);
	assert_int_equal(pv_vcpu_inject(e.vcpu[0], &good[2]), PV_EBUSY);
	assert_int_equal(pv_vcpu_inject(NULL, &good[2]), PV_EINVAL);
	assert_int_equal(pv_vcpu_inject(e.vcpu[0], NULL), PV_EINVAL);
	ct_close(&e);
}

struct smp_arg {
	struct ct_env *e;
	uint32_t idx;
	pv_err_t rc;
	struct pv_exit last;
};

static void *smp_thread(void *p)
{
	struct smp_arg *a = p;
	a->rc = pv_vcpu_run(a->e->vcpu[a->idx], &a->last);
	return NULL;
}

static void test_vcpus_in_parallel(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_SMP, 4);
	enum {
		N = 500
	};
	static struct pv_exit script[4][N + 1];
	for (uint32_t v = 0; v < 4; v++) {
		for (int i = 0; i < N; i++)
			script[v][i] = ct_io((uint16_t)(0x80 + v), 1, (i & 1) != 0, (uint32_t)i);
		script[v][N] = ct_kind(PV_EXIT_SHUTDOWN);
		assert_int_equal(pv_mock_set_script(e.mock, v, script[v], N + 1), PV_OK);
	}
	pthread_t th[4];
	struct smp_arg a[4];
	for (uint32_t v = 0; v < 4; v++) {
		a[v] = (struct smp_arg){.e = &e, .idx = v, .rc = -100};
		assert_int_equal(pthread_create(&th[v], NULL, smp_thread, &a[v]), 0);
	}
	for (uint32_t v = 0; v < 4; v++) {
		pthread_join(th[v], NULL);
		assert_int_equal(a[v].rc, PV_OK);
		assert_int_equal(a[v].last.kind, PV_EXIT_SHUTDOWN);
		assert_int_equal(pv_vcpu_exit_count(e.vcpu[v], PV_EXIT_IO), N);
		struct pv_exit c;
		assert_int_equal(pv_mock_completion_get(e.mock, v, N - 2, &c), PV_OK);
		assert_int_equal(c.u.io.port, 0x80 + v);
		assert_int_equal(c.u.io.data, 0xFF); /* unhandled IN */
	}
	struct pv_stats st;
	pv_partition_get_stats(e.part, &st);
	assert_int_equal(st.exits[PV_EXIT_IO], 4 * N);
	assert_int_equal(st.io_unhandled_reads, 2 * N);
	assert_int_equal(st.io_unhandled_writes, 2 * N);
	ct_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_script_to_shutdown),
		cmocka_unit_test(test_loop_ending_kinds),
		cmocka_unit_test(test_stop_from_other_thread),
		cmocka_unit_test(test_stop_blocked_guest),
		cmocka_unit_test(test_hlt_waits_for_inject),
		cmocka_unit_test(test_hlt_stop),
		cmocka_unit_test(test_hlt_with_irqchip),
		cmocka_unit_test(test_port_failures_in_loop),
		cmocka_unit_test(test_registers),
		cmocka_unit_test(test_inject_validation),
		cmocka_unit_test(test_vcpus_in_parallel),
		cmocka_unit_test(test_hlt_stop_then_resume),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
