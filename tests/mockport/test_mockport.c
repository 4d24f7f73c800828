/* SPDX-License-Identifier: MIT */
/* Tests of the mock port: every documented behaviour, mostly by calling its
 * operations table directly (as the core would). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

struct env {
	struct pv_mock *mock;
	const struct pv_port_ops *ops;
	void *pdata;
	void *vdata[2];
};

static void env_open(struct env *e, uint32_t caps)
{
	struct pv_mock_config mc = {.caps = caps};
	memset(e, 0, sizeof(*e));
	assert_int_equal(pv_mock_create(&mc, &e->mock), PV_OK);
	e->ops = pv_mock_port_ops(e->mock);
	assert_non_null(e->ops);
	assert_int_equal(e->ops->partition_create(e->mock, NULL, NULL, &e->pdata), PV_OK);
	assert_int_equal(e->ops->vcpu_create(e->pdata, 0, NULL, &e->vdata[0]), PV_OK);
	assert_int_equal(e->ops->vcpu_create(e->pdata, 1, NULL, &e->vdata[1]), PV_OK);
}

static void env_close(struct env *e)
{
	e->ops->vcpu_destroy(e->vdata[0]);
	e->ops->vcpu_destroy(e->vdata[1]);
	e->ops->partition_destroy(e->pdata);
	assert_int_equal(pv_mock_live_vcpus(e->mock), 0);
	assert_false(pv_mock_partition_live(e->mock));
	pv_mock_destroy(e->mock);
}

static struct pv_exit io_exit(uint16_t port, uint8_t size, bool wr, uint32_t data)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_IO;
	x.u.io.port = port;
	x.u.io.size = size;
	x.u.io.is_write = wr;
	x.u.io.count = 1;
	x.u.io.data = data;
	return x;
}

static void test_create_args(void **state)
{
	(void)state;
	struct pv_mock *m = (struct pv_mock *)1;
	assert_int_equal(pv_mock_create(NULL, NULL), PV_EINVAL);
	struct pv_mock_config bad = {.caps = 1u << 20};
	assert_int_equal(pv_mock_create(&bad, &m), PV_EINVAL);
	assert_null(m);
	struct pv_mock_config badk = {.end_kind = PV_EXIT_KIND_COUNT};
	assert_int_equal(pv_mock_create(&badk, &m), PV_EINVAL);
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	const struct pv_port_ops *o = pv_mock_port_ops(m);
	assert_string_equal(o->name, "mock");
	assert_int_equal(o->caps, 0);
	assert_null(o->timer_create);
	assert_null(o->msr_filter_update);
	assert_null(o->irq_line);
	assert_null(o->msi);
	assert_non_null(o->cpuid_update);
	assert_non_null(o->hypercall_code);
	assert_null(pv_mock_port_ops(NULL));
	pv_mock_destroy(m);
	pv_mock_destroy(NULL);
}

static void test_caps_select_ops(void **state)
{
	(void)state;
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS | PV_PORT_CAP_MSR_FILTER |
					    PV_PORT_CAP_IRQCHIP | PV_PORT_CAP_CPUID_EXITS};
	struct pv_mock *m;
	assert_int_equal(pv_mock_create(&mc, &m), PV_OK);
	const struct pv_port_ops *o = pv_mock_port_ops(m);
	assert_int_equal(o->caps, mc.caps);
	assert_non_null(o->timer_create);
	assert_non_null(o->timer_arm);
	assert_non_null(o->timer_cancel);
	assert_non_null(o->timer_destroy);
	assert_non_null(o->msr_filter_update);
	assert_non_null(o->irq_line);
	assert_non_null(o->msi);
	pv_mock_destroy(m);
}

static void test_one_partition_at_a_time(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	void *p2 = NULL;
	assert_int_equal(e.ops->partition_create(e.mock, NULL, NULL, &p2), PV_EBUSY);
	void *v = NULL;
	assert_int_equal(e.ops->vcpu_create(e.pdata, 0, NULL, &v), PV_EEXIST);
	assert_int_equal(e.ops->vcpu_create(e.pdata, PV_MAX_VCPUS, NULL, &v), PV_EINVAL);
	assert_int_equal(pv_mock_live_vcpus(e.mock), 2);
	env_close(&e);
}

static void test_script_then_end(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	struct pv_exit s[2] = {io_exit(0x80, 1, true, 0x55), io_exit(0x60, 2, false, 0)};
	s[0].inject.kind = PV_EVENT_NMI; /* must be cleared by the port */
	assert_int_equal(pv_mock_set_script(e.mock, 0, s, 2), PV_OK);
	struct pv_exit x;
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_IO);
	assert_int_equal(x.u.io.port, 0x80);
	assert_int_equal(x.u.io.data, 0x55);
	assert_int_equal(x.inject.kind, PV_EVENT_NONE);
	assert_int_equal(e.ops->vcpu_complete(e.vdata[0], &x), PV_OK);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(x.u.io.port, 0x60);
	x.u.io.data = 0xBEEF;
	assert_int_equal(e.ops->vcpu_complete(e.vdata[0], &x), PV_OK);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_SHUTDOWN);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_SHUTDOWN);
	/* vCPU 1 has no script */
	assert_int_equal(e.ops->vcpu_run(e.vdata[1], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_SHUTDOWN);
	assert_int_equal(pv_mock_set_end_kind(e.mock, 1, PV_EXIT_INTERNAL_ERROR), PV_OK);
	assert_int_equal(e.ops->vcpu_run(e.vdata[1], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_INTERNAL_ERROR);
	assert_int_equal(pv_mock_set_end_kind(e.mock, 1, PV_EXIT_KIND_COUNT), PV_EINVAL);

	assert_int_equal(pv_mock_completion_count(e.mock, 0), 2);
	struct pv_exit c;
	assert_int_equal(pv_mock_completion_get(e.mock, 0, 1, &c), PV_OK);
	assert_int_equal(c.u.io.data, 0xBEEF);
	assert_int_equal(pv_mock_completion_get(e.mock, 0, 2, &c), PV_ENOENT);
	assert_int_equal(pv_mock_completion_get(e.mock, 7, 0, &c), PV_ENOENT);
	assert_int_equal(pv_mock_script_position(e.mock, 0), 2);
	assert_int_equal(pv_mock_run_count(e.mock, 0), 4);
	assert_int_equal(pv_mock_completions_total(e.mock, 0), 2);
	/* the IN completion landed in AX */
	struct pv_regs r;
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RAX], 0xBEEF);
	env_close(&e);
}

static void test_script_repeat_and_rep_data(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	uint8_t src[6] = {1, 2, 3, 4, 5, 6};
	struct pv_exit s = io_exit(0x3f8, 2, true, 0);
	s.u.io.count = 3;
	s.u.io.rep_data = src;
	assert_int_equal(pv_mock_set_script_repeat(e.mock, 0, &s, 1), PV_OK);
	memset(src, 0, sizeof(src)); /* copied at set time */
	for (int i = 0; i < 5; i++) {
		struct pv_exit x;
		assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
		assert_int_equal(x.kind, PV_EXIT_IO);
		assert_non_null(x.u.io.rep_data);
		assert_ptr_not_equal(x.u.io.rep_data, src);
		assert_int_equal(x.u.io.rep_data[5], 6);
		x.u.io.rep_data[0] = (uint8_t)(0xA0 + i);
		assert_int_equal(e.ops->vcpu_complete(e.vdata[0], &x), PV_OK);
	}
	assert_int_equal(pv_mock_script_position(e.mock, 0), 5);
	struct pv_exit c;
	assert_int_equal(pv_mock_completion_get(e.mock, 0, 3, &c), PV_OK);
	assert_non_null(c.u.io.rep_data);
	assert_int_equal(c.u.io.rep_data[0], 0xA3);
	assert_int_equal(c.u.io.rep_data[1], 2);
	/* bad scripts */
	assert_int_equal(pv_mock_set_script_repeat(e.mock, 0, &s, 0), PV_EINVAL);
	assert_int_equal(pv_mock_set_script(e.mock, 0, NULL, 1), PV_EINVAL);
	assert_int_equal(pv_mock_set_script(e.mock, PV_MAX_VCPUS, &s, 1), PV_EINVAL);
	s.u.io.count = PV_MOCK_MAX_REP_BYTES;
	assert_int_equal(pv_mock_set_script(e.mock, 0, &s, 1), PV_EINVAL);
	/* a hostile exit without buffer passes through unchanged */
	s.u.io.count = 0xFFFFFFFFu;
	s.u.io.rep_data = NULL;
	assert_int_equal(pv_mock_set_script(e.mock, 0, &s, 1), PV_OK);
	struct pv_exit x;
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(x.u.io.count, 0xFFFFFFFFu);
	assert_null(x.u.io.rep_data);
	assert_int_equal(pv_mock_set_script(e.mock, 0, NULL, 0), PV_OK);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_SHUTDOWN);
	env_close(&e);
}

struct cb_state {
	int calls;
	int completes;
	uint32_t last_vcpu;
};

static pv_err_t exit_cb(void *ctx, uint32_t idx, uint64_t seq, struct pv_exit *x)
{
	struct cb_state *s = ctx;
	s->calls++;
	s->last_vcpu = idx;
	if (seq == 3)
		return PV_EIO;
	x->kind = PV_EXIT_CPUID;
	x->u.cpuid.leaf = (uint32_t)seq;
	x->inject.kind = PV_EVENT_NMI; /* cleared by the port */
	return PV_OK;
}

static void complete_cb(void *ctx, uint32_t idx, const struct pv_exit *x)
{
	struct cb_state *s = ctx;
	(void)idx;
	(void)x;
	s->completes++;
}

static void test_exit_callback(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	struct cb_state cs = {0};
	assert_int_equal(pv_mock_set_exit_callback(e.mock, 1, exit_cb, &cs), PV_OK);
	assert_int_equal(pv_mock_set_complete_callback(e.mock, 1, complete_cb, &cs), PV_OK);
	struct pv_exit x;
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(e.ops->vcpu_run(e.vdata[1], &x), PV_OK);
		assert_int_equal(x.kind, PV_EXIT_CPUID);
		assert_int_equal(x.u.cpuid.leaf, i);
		assert_int_equal(x.inject.kind, PV_EVENT_NONE);
		x.u.cpuid.ebx = 0x1234;
		assert_int_equal(e.ops->vcpu_complete(e.vdata[1], &x), PV_OK);
	}
	assert_int_equal(e.ops->vcpu_run(e.vdata[1], &x), PV_EIO);
	assert_int_equal(cs.calls, 4);
	assert_int_equal(cs.completes, 3);
	assert_int_equal(cs.last_vcpu, 1);
	struct pv_regs r;
	assert_int_equal(pv_mock_get_regs(e.mock, 1, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RBX], 0x1234);
	assert_int_equal(pv_mock_set_exit_callback(e.mock, 1, NULL, NULL), PV_OK);
	assert_int_equal(e.ops->vcpu_run(e.vdata[1], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_SHUTDOWN);
	env_close(&e);
}

static void test_completion_applies_registers(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	struct pv_regs r;
	memset(&r, 0, sizeof(r));
	r.gpr[PV_RAX] = 0x1111111111111111ull;
	assert_int_equal(pv_mock_set_regs(e.mock, 0, &r), PV_OK);
	struct pv_exit x = io_exit(0x70, 1, false, 0xAB);
	assert_int_equal(e.ops->vcpu_complete(e.vdata[0], &x), PV_OK);
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RAX], 0x11111111111111ABull);
	x = io_exit(0x70, 4, false, 0xCAFEF00D);
	assert_int_equal(e.ops->vcpu_complete(e.vdata[0], &x), PV_OK);
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RAX], 0xCAFEF00Dull);
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_MSR_READ;
	x.u.msr.value = 0x1122334455667788ull;
	assert_int_equal(e.ops->vcpu_complete(e.vdata[0], &x), PV_OK);
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RAX], 0x55667788u);
	assert_int_equal(r.gpr[PV_RDX], 0x11223344u);
	/* an injected fault instead of completing leaves registers alone */
	x.u.msr.value = 0;
	x.inject.kind = PV_EVENT_EXCEPTION;
	x.inject.vector = PV_VEC_GP;
	assert_int_equal(e.ops->vcpu_complete(e.vdata[0], &x), PV_OK);
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RAX], 0x55667788u);
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_HYPERCALL;
	x.u.hypercall.result = 0x77;
	assert_int_equal(e.ops->vcpu_complete(e.vdata[0], &x), PV_OK);
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RAX], 0x77);
	assert_int_equal(pv_mock_completion_count(e.mock, 0), 5);
	env_close(&e);
}

static void test_register_recording(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	struct pv_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = 0xFFF0;
	assert_int_equal(e.ops->set_regs(e.vdata[0], &r), PV_OK);
	r.rip = 0x1000;
	assert_int_equal(e.ops->set_regs(e.vdata[0], &r), PV_OK);
	assert_int_equal(pv_mock_regs_write_count(e.mock, 0), 2);
	struct pv_regs got;
	assert_int_equal(pv_mock_regs_write_get(e.mock, 0, 0, &got), PV_OK);
	assert_int_equal(got.rip, 0xFFF0);
	assert_int_equal(e.ops->get_regs(e.vdata[0], &got), PV_OK);
	assert_int_equal(got.rip, 0x1000);
	assert_int_equal(pv_mock_regs_write_get(e.mock, 0, 2, &got), PV_ENOENT);

	struct pv_sregs s;
	memset(&s, 0, sizeof(s));
	s.cr0 = 0x80000011;
	s.cs.selector = 0x10;
	assert_int_equal(e.ops->set_sregs(e.vdata[1], &s), PV_OK);
	assert_int_equal(pv_mock_sregs_write_count(e.mock, 1), 1);
	assert_int_equal(pv_mock_sregs_write_count(e.mock, 0), 0);
	struct pv_sregs gs;
	assert_int_equal(pv_mock_sregs_write_get(e.mock, 1, 0, &gs), PV_OK);
	assert_int_equal(gs.cs.selector, 0x10);
	assert_int_equal(e.ops->get_sregs(e.vdata[1], &gs), PV_OK);
	assert_int_equal(gs.cr0, 0x80000011);
	/* test-side writes are not recorded */
	assert_int_equal(pv_mock_set_sregs(e.mock, 1, &s), PV_OK);
	assert_int_equal(pv_mock_sregs_write_count(e.mock, 1), 1);

	uint64_t v = 1;
	assert_int_equal(e.ops->get_msr(e.vdata[0], 0x10, &v), PV_OK);
	assert_int_equal(v, 0);
	assert_int_equal(e.ops->set_msr(e.vdata[0], 0x10, 0xABCD), PV_OK);
	assert_int_equal(e.ops->get_msr(e.vdata[0], 0x10, &v), PV_OK);
	assert_int_equal(v, 0xABCD);
	assert_int_equal(pv_mock_get_msr(e.mock, 0, 0x10, &v), PV_OK);
	assert_int_equal(v, 0xABCD);
	assert_int_equal(pv_mock_set_msr(e.mock, 0, 0x1B, 0xFEE00900), PV_OK);
	assert_int_equal(e.ops->get_msr(e.vdata[0], 0x1B, &v), PV_OK);
	assert_int_equal(v, 0xFEE00900);
	assert_int_equal(pv_mock_msr_write_count(e.mock, 0), 1);
	uint32_t idx;
	assert_int_equal(pv_mock_msr_write_get(e.mock, 0, 0, &idx, &v), PV_OK);
	assert_int_equal(idx, 0x10);
	assert_int_equal(v, 0xABCD);
	for (uint32_t i = 0; i < 300; i++) {
		pv_err_t rc = pv_mock_set_msr(e.mock, 1, 0x1000 + i, i);
		assert_int_equal(rc, i < 256 ? PV_OK : PV_ENOMEM);
	}
	pv_mock_clear_records(e.mock);
	assert_int_equal(pv_mock_regs_write_count(e.mock, 0), 0);
	assert_int_equal(pv_mock_msr_write_count(e.mock, 0), 0);
	assert_int_equal(e.ops->get_regs(e.vdata[0], &got), PV_OK);
	assert_int_equal(got.rip, 0x1000); /* state kept */
	env_close(&e);
}

static void test_inject_and_pending(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	struct pv_event ev = {.kind = PV_EVENT_INTERRUPT, .vector = 0x30};
	assert_int_equal(e.ops->inject(e.vdata[0], &ev), PV_OK);
	ev.vector = 0x31;
	assert_int_equal(e.ops->inject(e.vdata[0], &ev), PV_OK);
	assert_int_equal(pv_mock_inject_count(e.mock, 0), 2);
	assert_int_equal(pv_mock_pending_events(e.mock, 0), 2);
	struct pv_event got;
	assert_int_equal(pv_mock_inject_get(e.mock, 0, 1, &got), PV_OK);
	assert_int_equal(got.vector, 0x31);
	assert_int_equal(pv_mock_inject_get(e.mock, 0, 2, &got), PV_ENOENT);
	struct pv_exit x;
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(pv_mock_pending_events(e.mock, 0), 0);
	assert_int_equal(pv_mock_inject_count(e.mock, 0), 2);
	assert_int_equal(e.ops->inject(e.vdata[0], NULL), PV_EINVAL);
	env_close(&e);
}

static void test_fail_injection(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	struct pv_exit x;
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_VCPU_RUN, 2, PV_EPORT), PV_OK);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_EPORT);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(pv_mock_op_calls(e.mock, PV_MOCK_OP_VCPU_RUN), 3);

	assert_int_equal(pv_mock_fail_op_from(e.mock, PV_MOCK_OP_SET_REGS, 1, PV_EIO), PV_OK);
	struct pv_regs r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(e.ops->set_regs(e.vdata[0], &r), PV_EIO);
	assert_int_equal(e.ops->set_regs(e.vdata[0], &r), PV_EIO);
	assert_int_equal(pv_mock_regs_write_count(e.mock, 0), 0); /* failed calls do nothing */
	pv_mock_clear_failures(e.mock);
	assert_int_equal(e.ops->set_regs(e.vdata[0], &r), PV_OK);

	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_STOP, 1, PV_EIO), PV_EINVAL);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_COUNT, 1, PV_EIO), PV_EINVAL);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_INJECT, 0, PV_EIO), PV_EINVAL);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_INJECT, 1, PV_OK), PV_EINVAL);
	assert_int_equal(pv_mock_fail_op(NULL, PV_MOCK_OP_INJECT, 1, PV_EIO), PV_EINVAL);
	assert_string_equal(pv_mock_op_name(PV_MOCK_OP_VCPU_RUN), "vcpu_run");
	assert_string_equal(pv_mock_op_name(PV_MOCK_OP_ISOLATION_OP), "isolation_op");
	assert_string_equal(pv_mock_op_name(PV_MOCK_OP_COUNT), "unknown");
	for (int op = 0; op < PV_MOCK_OP_COUNT; op++)
		assert_string_not_equal(pv_mock_op_name((enum pv_mock_op)op), "unknown");
	assert_int_equal(pv_mock_op_calls(e.mock, PV_MOCK_OP_COUNT), 0);

	void *p = NULL;
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_MAP_RAM, 1, PV_ENOMEM), PV_OK);
	assert_int_equal(e.ops->map_ram(e.pdata, pv_gpa(0), 4096, &p), PV_ENOMEM);
	assert_int_equal(pv_mock_live_ram_maps(e.mock), 0);
	env_close(&e);
}

static void test_ram(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	void *a = NULL, *b = NULL;
	assert_int_equal(e.ops->map_ram(e.pdata, pv_gpa(0x100000), 0x2000, &a), PV_OK);
	assert_int_equal(e.ops->map_ram(e.pdata, pv_gpa(0x200000), 0x1000, &b), PV_OK);
	assert_int_equal(pv_mock_live_ram_maps(e.mock), 2);
	uint8_t *pa = a;
	assert_int_equal(pa[0x1FFF], 0);
	pa[0x1FFF] = 9;
	uint8_t *q = pv_mock_ram_ptr(e.mock, pv_gpa(0x101FFF), 1);
	assert_ptr_equal(q, pa + 0x1FFF);
	assert_int_equal(*q, 9);
	assert_null(pv_mock_ram_ptr(e.mock, pv_gpa(0x101FFF), 2));
	assert_null(pv_mock_ram_ptr(e.mock, pv_gpa(0xFFFFF), 1));
	assert_null(pv_mock_ram_ptr(e.mock, pv_gpa(0x102000), 1));
	void *c = NULL;
	assert_int_equal(e.ops->map_ram(e.pdata, pv_gpa(0), 0, &c), PV_EINVAL);
	assert_int_equal(e.ops->map_ram(e.pdata, pv_gpa(UINT64_MAX - 0xFFF), 0x2000, &c),
			 PV_EINVAL);
	e.ops->unmap_ram(e.pdata, pv_gpa(0x200000), 0x1000, b);
	assert_int_equal(pv_mock_live_ram_maps(e.mock), 1);
	assert_int_equal(pv_mock_op_calls(e.mock, PV_MOCK_OP_UNMAP_RAM), 1);
	/* partition_destroy releases the rest */
	env_close(&e);
}

static void test_cpuid_update(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	struct pv_cpuid_entry t[2] = {
		{.leaf = 1, .any_subleaf = true, .eax = 0x806F8},
		{.leaf = 7, .subleaf = 0, .ebx = 0x42},
	};
	struct pv_cpuid_entry got;
	size_t n = 0;
	assert_int_equal(pv_mock_cpuid_entries(e.mock, 0, NULL, 0, &n), PV_ENOENT);
	assert_int_equal(e.ops->cpuid_update(e.vdata[0], t, 2), PV_OK);
	assert_int_equal(pv_mock_cpuid_update_count(e.mock, 0), 1);
	assert_int_equal(pv_mock_cpuid_lookup(e.mock, 0, 1, 99, &got), PV_OK);
	assert_int_equal(got.eax, 0x806F8);
	assert_int_equal(pv_mock_cpuid_lookup(e.mock, 0, 7, 0, &got), PV_OK);
	assert_int_equal(got.ebx, 0x42);
	assert_int_equal(pv_mock_cpuid_lookup(e.mock, 0, 7, 1, &got), PV_ENOENT);
	assert_int_equal(pv_mock_cpuid_lookup(e.mock, 1, 1, 0, &got), PV_ENOENT);
	struct pv_cpuid_entry out[1];
	assert_int_equal(pv_mock_cpuid_entries(e.mock, 0, out, 1, &n), PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].leaf, 1);
	assert_int_equal(e.ops->cpuid_update(e.vdata[0], NULL, 0), PV_OK);
	assert_int_equal(pv_mock_cpuid_entries(e.mock, 0, NULL, 0, &n), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(e.ops->cpuid_update(e.vdata[0], NULL, 3), PV_EINVAL);
	assert_int_equal(pv_mock_cpuid_update_count(e.mock, 0), 2);
	env_close(&e);
}

static void test_msr_filter_irq_hypercall(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, PV_PORT_CAP_MSR_FILTER | PV_PORT_CAP_IRQCHIP);
	struct pv_msr_range r[2] = {{0x40000000, 0x100}, {0x1B, 1}};
	assert_int_equal(e.ops->msr_filter_update(e.pdata, r, 2), PV_OK);
	assert_true(pv_mock_msr_filtered(e.mock, 0x400000FF));
	assert_false(pv_mock_msr_filtered(e.mock, 0x40000100));
	assert_true(pv_mock_msr_filtered(e.mock, 0x1B));
	assert_int_equal(e.ops->msr_filter_update(e.pdata, r + 1, 1), PV_OK);
	assert_false(pv_mock_msr_filtered(e.mock, 0x40000000));
	assert_int_equal(pv_mock_msr_filter_update_count(e.mock), 2);
	struct pv_msr_range got[4];
	size_t n;
	assert_int_equal(pv_mock_msr_filter_get(e.mock, 0, got, 4, &n), PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(got[0].first, 0x40000000);
	assert_int_equal(pv_mock_msr_filter_get(e.mock, 2, got, 4, &n), PV_ENOENT);
	struct pv_msr_range bad = {0xFFFFFFFF, 2};
	assert_int_equal(e.ops->msr_filter_update(e.pdata, &bad, 1), PV_EINVAL);
	bad.count = 0;
	assert_int_equal(e.ops->msr_filter_update(e.pdata, &bad, 1), PV_EINVAL);
	assert_int_equal(pv_mock_msr_filter_update_count(e.mock), 2);

	assert_int_equal(e.ops->irq_line(e.pdata, 4, true), PV_OK);
	assert_int_equal(e.ops->msi(e.pdata, 0xFEE01000, 0x41), PV_OK);
	assert_int_equal(pv_mock_irq_count(e.mock), 2);
	struct pv_mock_irq irq;
	assert_int_equal(pv_mock_irq_get(e.mock, 0, &irq), PV_OK);
	assert_false(irq.is_msi);
	assert_int_equal(irq.gsi, 4);
	assert_true(irq.level);
	assert_int_equal(pv_mock_irq_get(e.mock, 1, &irq), PV_OK);
	assert_true(irq.is_msi);
	assert_int_equal(irq.address, 0xFEE01000);
	assert_int_equal(irq.data, 0x41);
	assert_int_equal(pv_mock_irq_get(e.mock, 2, &irq), PV_ENOENT);

	static const uint8_t want[PV_MOCK_HYPERCALL_CODE_LEN] = PV_MOCK_HYPERCALL_CODE_BYTES;
	uint8_t buf[16];
	size_t len = 0;
	assert_int_equal(e.ops->hypercall_code(e.pdata, buf, 4, &len), PV_ERANGE);
	assert_int_equal(e.ops->hypercall_code(e.pdata, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(len, PV_MOCK_HYPERCALL_CODE_LEN);
	assert_memory_equal(buf, want, len);
	assert_int_equal(buf[len - 1], 0xC3); /* ends with ret */
	env_close(&e);
}

static pv_err_t iso_cb(void *ctx, uint32_t idx, enum pv_isolation_op op, uint64_t args[6])
{
	(void)ctx;
	(void)idx;
	if (op == PV_ISO_OP_TDCALL)
		return PV_ENOTSUP;
	args[0] = 0x99;
	return PV_OK;
}

static void test_isolation_op(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	uint64_t a[6] = {0x1000, 0, 1, 0, 0, 0};
	assert_int_equal(e.ops->isolation_op(e.vdata[1], PV_ISO_OP_PVALIDATE, a), PV_OK);
	pv_mock_set_isolation_callback(e.mock, iso_cb, NULL);
	assert_int_equal(e.ops->isolation_op(e.vdata[1], PV_ISO_OP_RMPADJUST, a), PV_OK);
	assert_int_equal(a[0], 0x99);
	assert_int_equal(e.ops->isolation_op(e.vdata[1], PV_ISO_OP_TDCALL, a), PV_ENOTSUP);
	assert_int_equal(pv_mock_isolation_op_count(e.mock), 3);
	struct pv_mock_isolation_call c;
	assert_int_equal(pv_mock_isolation_op_get(e.mock, 1, &c), PV_OK);
	assert_int_equal(c.op, PV_ISO_OP_RMPADJUST);
	assert_int_equal(c.args[0], 0x1000); /* as passed in */
	assert_int_equal(c.vcpu_index, 1);
	assert_int_equal(pv_mock_isolation_op_get(e.mock, 3, &c), PV_ENOENT);
	env_close(&e);
}

struct tstate {
	struct env *e;
	int order[8];
	int n;
	void *timer[3];
	uint64_t seen_clock[8];
};

static struct tstate *g_ts;

static void tfire(void *ctx)
{
	int id = (int)(intptr_t)ctx;
	g_ts->seen_clock[g_ts->n] = pv_mock_clock(g_ts->e->mock);
	g_ts->order[g_ts->n++] = id;
	if (id == 2 && g_ts->n < 4) /* re-arm 50 ns later */
		g_ts->e->ops->timer_arm(g_ts->e->pdata, g_ts->timer[2],
					g_ts->e->ops->clock_ns(g_ts->e->pdata) + 50);
}

static void test_clock_and_timers(void **state)
{
	(void)state;
	struct env e;
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS, .clock_start_ns = 1000};
	memset(&e, 0, sizeof(e));
	assert_int_equal(pv_mock_create(&mc, &e.mock), PV_OK);
	e.ops = pv_mock_port_ops(e.mock);
	assert_int_equal(e.ops->partition_create(e.mock, NULL, NULL, &e.pdata), PV_OK);
	assert_int_equal(e.ops->vcpu_create(e.pdata, 0, NULL, &e.vdata[0]), PV_OK);
	assert_int_equal(e.ops->vcpu_create(e.pdata, 1, NULL, &e.vdata[1]), PV_OK);
	struct tstate ts = {.e = &e};
	g_ts = &ts;
	assert_int_equal(e.ops->clock_ns(e.pdata), 1000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(
			e.ops->timer_create(e.pdata, tfire, (void *)(intptr_t)i, &ts.timer[i]),
			PV_OK);
	assert_int_equal(pv_mock_live_timers(e.mock), 3);
	assert_int_equal(e.ops->timer_arm(e.pdata, ts.timer[0], 1300), PV_OK);
	assert_int_equal(e.ops->timer_arm(e.pdata, ts.timer[1], 1100), PV_OK);
	assert_int_equal(e.ops->timer_arm(e.pdata, ts.timer[2], 1100), PV_OK);
	assert_int_equal(pv_mock_armed_timers(e.mock), 3);
	uint64_t d = 0;
	assert_true(pv_mock_next_deadline(e.mock, &d));
	assert_int_equal(d, 1100);
	assert_int_equal(pv_mock_advance_clock(e.mock, 99), 0);
	assert_int_equal(pv_mock_clock(e.mock), 1099);
	/* 1100: t1 then t2 (arm order); t2 re-arms at 1150, 1200; then t0 at 1300 */
	assert_int_equal(pv_mock_advance_clock(e.mock, 301), 5);
	assert_int_equal(ts.n, 5);
	int want[5] = {1, 2, 2, 2, 0};
	uint64_t want_clock[5] = {1100, 1100, 1150, 1200, 1300};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ts.order[i], want[i]);
		assert_int_equal(ts.seen_clock[i], want_clock[i]);
	}
	assert_int_equal(pv_mock_clock(e.mock), 1400);
	assert_false(pv_mock_next_deadline(e.mock, &d));
	/* past deadline fires on the next advance, even of 0 */
	assert_int_equal(e.ops->timer_arm(e.pdata, ts.timer[0], 5), PV_OK);
	assert_int_equal(ts.n, 5);
	assert_int_equal(pv_mock_advance_clock(e.mock, 0), 1);
	assert_int_equal(ts.order[5], 0);
	/* cancel */
	assert_int_equal(e.ops->timer_arm(e.pdata, ts.timer[1], 2000), PV_OK);
	e.ops->timer_cancel(e.pdata, ts.timer[1]);
	assert_int_equal(pv_mock_advance_clock(e.mock, 10000), 0);
	/* saturation */
	pv_mock_advance_clock(e.mock, UINT64_MAX);
	assert_int_equal(pv_mock_clock(e.mock), UINT64_MAX);
	/* failure injection and bad args */
	void *t = NULL;
	assert_int_equal(e.ops->timer_create(e.pdata, NULL, NULL, &t), PV_EINVAL);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_TIMER_ARM, 1, PV_EBUSY), PV_OK);
	assert_int_equal(e.ops->timer_arm(e.pdata, ts.timer[1], 1), PV_EBUSY);
	for (int i = 0; i < 3; i++)
		e.ops->timer_destroy(e.pdata, ts.timer[i]);
	assert_int_equal(pv_mock_live_timers(e.mock), 0);
	env_close(&e);
}

struct block_arg {
	struct env *e;
	struct pv_exit x;
	pv_err_t rc;
};

static void *block_thread(void *p)
{
	struct block_arg *a = p;
	a->rc = a->e->ops->vcpu_run(a->e->vdata[0], &a->x);
	return NULL;
}

static void test_stop_and_block(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, 0);
	struct pv_exit x;
	/* stop before run: next run reports STOPPED once */
	e.ops->stop(e.vdata[0]);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_STOPPED);
	assert_int_equal(e.ops->vcpu_run(e.vdata[0], &x), PV_OK);
	assert_int_equal(x.kind, PV_EXIT_SHUTDOWN);
	/* blocking vCPU stopped from another thread */
	assert_int_equal(pv_mock_set_block_when_done(e.mock, 0, true), PV_OK);
	struct block_arg a = {.e = &e, .rc = -100};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, block_thread, &a), 0);
	while (pv_mock_run_count(e.mock, 0) < 3)
		sched_yield();
	e.ops->stop(e.vdata[0]);
	pthread_join(th, NULL);
	assert_int_equal(a.rc, PV_OK);
	assert_int_equal(a.x.kind, PV_EXIT_STOPPED);
	assert_int_equal(pv_mock_op_calls(e.mock, PV_MOCK_OP_STOP), 2);
	env_close(&e);
}

static void test_no_recording(void **state)
{
	(void)state;
	struct pv_mock_config mc = {.no_recording = true};
	struct pv_mock *m;
	assert_int_equal(pv_mock_create(&mc, &m), PV_OK);
	const struct pv_port_ops *o = pv_mock_port_ops(m);
	void *pd, *vd;
	assert_int_equal(o->partition_create(m, NULL, NULL, &pd), PV_OK);
	assert_int_equal(o->vcpu_create(pd, 0, NULL, &vd), PV_OK);
	struct pv_exit s = io_exit(0x80, 1, true, 1);
	assert_int_equal(pv_mock_set_script_repeat(m, 0, &s, 1), PV_OK);
	for (int i = 0; i < 1000; i++) {
		struct pv_exit x;
		assert_int_equal(o->vcpu_run(vd, &x), PV_OK);
		assert_int_equal(o->vcpu_complete(vd, &x), PV_OK);
	}
	assert_int_equal(pv_mock_completion_count(m, 0), 0);
	assert_int_equal(pv_mock_completions_total(m, 0), 1000);
	o->vcpu_destroy(vd);
	o->partition_destroy(pd);
	pv_mock_destroy(m);
}

static void test_with_partition(void **state)
{
	(void)state;
	struct pv_mock *m;
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	struct pv_mem_range r = {pv_gpa(0), 0x10000, PV_MEM_RAM};
	struct pv_partition_config pc = {.vcpu_count = 2,
					 .vtl_count = 1,
					 .ranges = &r,
					 .range_count = 1,
					 .port = pv_mock_port_ops(m),
					 .port_ctx = m};
	struct pv_partition *part;
	assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
	assert_ptr_equal(pv_mock_partition(m), part);
	assert_ptr_equal(pv_mock_vcpu(m, 1), pv_partition_vcpu(part, 1));
	assert_null(pv_mock_vcpu(m, 2));
	assert_int_equal(pv_mock_live_vcpus(m), 2);
	assert_int_equal(pv_mock_live_ram_maps(m), 1);
	uint32_t val = 0xA5A5;
	assert_int_equal(pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(0x2000), &val, 4), PV_OK);
	uint32_t *p = pv_mock_ram_ptr(m, pv_gpa(0x2000), 4);
	assert_non_null(p);
	assert_int_equal(*p, 0xA5A5);
	pv_partition_destroy(part);
	assert_null(pv_mock_partition(m));
	assert_int_equal(pv_mock_live_vcpus(m), 0);
	assert_int_equal(pv_mock_live_ram_maps(m), 0);
	pv_mock_destroy(m);
}

/* Every query tolerates a NULL mock, unknown vCPU indexes and NULL outputs. */
static void test_hostile_queries(void **state)
{
	(void)state;
	struct pv_exit x;
	struct pv_event ev;
	struct pv_regs r;
	struct pv_sregs s;
	struct pv_cpuid_entry ce;
	struct pv_msr_range mr;
	struct pv_mock_irq irq;
	struct pv_mock_isolation_call ic;
	uint64_t v;
	size_t n;
	assert_int_equal(pv_mock_set_script(NULL, 0, NULL, 0), PV_EINVAL);
	assert_int_equal(pv_mock_set_end_kind(NULL, 0, PV_EXIT_HLT), PV_EINVAL);
	assert_int_equal(pv_mock_set_block_when_done(NULL, 0, true), PV_EINVAL);
	assert_int_equal(pv_mock_set_exit_callback(NULL, 0, NULL, NULL), PV_EINVAL);
	assert_int_equal(pv_mock_set_complete_callback(NULL, 0, NULL, NULL), PV_EINVAL);
	assert_int_equal(pv_mock_get_regs(NULL, 0, &r), PV_EINVAL);
	assert_int_equal(pv_mock_set_regs(NULL, 0, &r), PV_EINVAL);
	assert_int_equal(pv_mock_get_sregs(NULL, 0, &s), PV_EINVAL);
	assert_int_equal(pv_mock_set_sregs(NULL, 0, &s), PV_EINVAL);
	assert_int_equal(pv_mock_get_msr(NULL, 0, 0, &v), PV_EINVAL);
	assert_int_equal(pv_mock_set_msr(NULL, 0, 0, 0), PV_EINVAL);
	assert_int_equal(pv_mock_completion_count(NULL, 0), 0);
	assert_int_equal(pv_mock_completion_get(NULL, 0, 0, &x), PV_EINVAL);
	assert_int_equal(pv_mock_inject_get(NULL, 0, 0, &ev), PV_EINVAL);
	assert_int_equal(pv_mock_cpuid_lookup(NULL, 0, 0, 0, &ce), PV_EINVAL);
	assert_int_equal(pv_mock_cpuid_entries(NULL, 0, NULL, 0, &n), PV_EINVAL);
	assert_int_equal(pv_mock_msr_filter_get(NULL, 0, &mr, 1, &n), PV_EINVAL);
	assert_int_equal(pv_mock_irq_get(NULL, 0, &irq), PV_EINVAL);
	assert_int_equal(pv_mock_isolation_op_get(NULL, 0, &ic), PV_EINVAL);
	assert_int_equal(pv_mock_msr_filter_update_count(NULL), 0);
	assert_int_equal(pv_mock_irq_count(NULL), 0);
	assert_int_equal(pv_mock_isolation_op_count(NULL), 0);
	assert_false(pv_mock_msr_filtered(NULL, 0));
	assert_int_equal(pv_mock_live_vcpus(NULL), 0);
	assert_int_equal(pv_mock_live_ram_maps(NULL), 0);
	assert_int_equal(pv_mock_live_timers(NULL), 0);
	assert_int_equal(pv_mock_armed_timers(NULL), 0);
	assert_false(pv_mock_next_deadline(NULL, &v));
	assert_false(pv_mock_partition_live(NULL));
	assert_null(pv_mock_partition(NULL));
	assert_null(pv_mock_vcpu(NULL, 0));
	assert_null(pv_mock_ram_ptr(NULL, pv_gpa(0), 1));
	assert_int_equal(pv_mock_clock(NULL), 0);
	assert_int_equal(pv_mock_advance_clock(NULL, 5), 0);
	pv_mock_clear_records(NULL);
	pv_mock_clear_failures(NULL);
	pv_mock_set_isolation_callback(NULL, NULL, NULL);

	struct pv_mock *m;
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	/* unknown (never used) vCPU indexes read as empty defaults */
	assert_int_equal(pv_mock_get_regs(m, 7, &r), PV_OK);
	assert_int_equal(r.rflags, PV_RFLAGS_FIXED);
	assert_int_equal(pv_mock_get_sregs(m, 7, &s), PV_OK);
	assert_int_equal(pv_mock_get_msr(m, 7, 0x10, &v), PV_OK);
	assert_int_equal(v, 0);
	assert_int_equal(pv_mock_get_regs(m, PV_MAX_VCPUS, &r), PV_EINVAL);
	assert_int_equal(pv_mock_get_regs(m, 0, NULL), PV_EINVAL);
	assert_int_equal(pv_mock_set_regs(m, 0, NULL), PV_EINVAL);
	assert_int_equal(pv_mock_set_sregs(m, PV_MAX_VCPUS, &s), PV_EINVAL);
	assert_int_equal(pv_mock_completion_get(m, 7, 0, NULL), PV_EINVAL);
	assert_int_equal(pv_mock_inject_get(m, 7, 0, &ev), PV_ENOENT);
	assert_int_equal(pv_mock_inject_count(m, 7), 0);
	assert_int_equal(pv_mock_pending_events(m, 7), 0);
	assert_int_equal(pv_mock_regs_write_count(m, 7), 0);
	assert_int_equal(pv_mock_sregs_write_count(m, 7), 0);
	assert_int_equal(pv_mock_msr_write_count(m, 7), 0);
	assert_int_equal(pv_mock_msr_write_get(m, 7, 0, NULL, NULL), PV_ENOENT);
	assert_int_equal(pv_mock_cpuid_update_count(m, 7), 0);
	assert_int_equal(pv_mock_cpuid_lookup(m, 7, 0, 0, &ce), PV_ENOENT);
	assert_int_equal(pv_mock_cpuid_entries(m, 7, NULL, 0, &n), PV_ENOENT);
	assert_int_equal(pv_mock_cpuid_entries(m, PV_MAX_VCPUS, NULL, 0, &n), PV_EINVAL);
	assert_int_equal(pv_mock_msr_filter_get(m, 0, NULL, 1, &n), PV_EINVAL);
	assert_int_equal(pv_mock_msr_filter_get(m, 0, NULL, 0, &n), PV_ENOENT);
	assert_false(pv_mock_msr_filtered(m, 0));
	assert_int_equal(pv_mock_irq_get(m, 0, NULL), PV_EINVAL);
	assert_int_equal(pv_mock_script_position(m, 7), 0);
	assert_int_equal(pv_mock_run_count(m, PV_MAX_VCPUS), 0);
	assert_int_equal(pv_mock_completions_total(m, 7), 0);
	assert_null(pv_mock_vcpu(m, PV_MAX_VCPUS));
	assert_null(pv_mock_partition(m));
	/* port operations refuse NULL outputs */
	const struct pv_port_ops *o = pv_mock_port_ops(m);
	void *pd = NULL, *vd = NULL;
	assert_int_equal(o->partition_create(NULL, NULL, NULL, &pd), PV_EINVAL);
	assert_int_equal(o->partition_create(m, NULL, NULL, NULL), PV_EINVAL);
	assert_int_equal(o->partition_create(m, NULL, NULL, &pd), PV_OK);
	assert_int_equal(o->map_ram(pd, pv_gpa(0), 0x1000, NULL), PV_EINVAL);
	assert_int_equal(o->map_ram(pd, pv_gpa(0), 1ull << 50, &vd), PV_ENOMEM);
	assert_int_equal(o->vcpu_create(pd, 0, NULL, NULL), PV_EINVAL);
	assert_int_equal(o->vcpu_create(pd, 0, NULL, &vd), PV_OK);
	assert_int_equal(o->vcpu_run(vd, NULL), PV_EINVAL);
	assert_int_equal(o->vcpu_complete(vd, NULL), PV_EINVAL);
	assert_int_equal(o->get_regs(vd, NULL), PV_EINVAL);
	assert_int_equal(o->set_regs(vd, NULL), PV_EINVAL);
	assert_int_equal(o->get_sregs(vd, NULL), PV_EINVAL);
	assert_int_equal(o->set_sregs(vd, NULL), PV_EINVAL);
	assert_int_equal(o->get_msr(vd, 0, NULL), PV_EINVAL);
	assert_int_equal(o->isolation_op(vd, PV_ISO_OP_TDCALL, NULL), PV_EINVAL);
	assert_int_equal(o->hypercall_code(pd, NULL, 0, &n), PV_EINVAL);
	/* a never-mapped unmap is ignored */
	o->unmap_ram(pd, pv_gpa(0x1000), 0x1000, &n);
	assert_int_equal(pv_mock_op_calls(m, PV_MOCK_OP_UNMAP_RAM), 1);
	o->vcpu_destroy(vd);
	o->vcpu_destroy(vd); /* twice: counted, harmless */
	assert_int_equal(pv_mock_live_vcpus(m), 0);
	o->partition_destroy(pd);
	pv_mock_destroy(m);
}

/* Failures can be injected on every operation that can fail. */
static void test_fail_every_op(void **state)
{
	(void)state;
	struct env e;
	env_open(&e, PV_PORT_CAP_TIMERS | PV_PORT_CAP_MSR_FILTER | PV_PORT_CAP_IRQCHIP);
	const struct pv_port_ops *o = e.ops;
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	struct pv_regs r;
	struct pv_sregs s;
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	uint64_t v = 0, args[6] = {0};
	void *p = NULL;
	uint8_t buf[16];
	size_t n;
	struct pv_event ev = {.kind = PV_EVENT_NMI, .vector = 2};
	struct pv_msr_range mr = {1, 1};
	struct pv_cpuid_entry ce = {.leaf = 1};
	/* a second mock with the XMM operations */
	struct pv_mock_config xc = {.xmm_ops = true};
	struct pv_mock *xm;
	void *xp, *xv;
	uint8_t xmm[16][16];
	assert_int_equal(pv_mock_create(&xc, &xm), PV_OK);
	assert_int_equal(pv_mock_port_ops(xm)->partition_create(xm, NULL, NULL, &xp), PV_OK);
	assert_int_equal(pv_mock_port_ops(xm)->vcpu_create(xp, 0, NULL, &xv), PV_OK);
	for (int op = 0; op < PV_MOCK_OP_COUNT; op++) {
		bool is_xmm = op == PV_MOCK_OP_GET_XMM || op == PV_MOCK_OP_SET_XMM;
		struct pv_mock *target = is_xmm ? xm : e.mock;
		pv_err_t arm = pv_mock_fail_op(target, (enum pv_mock_op)op, 1, PV_EIO);
		uint64_t before = pv_mock_op_calls(target, (enum pv_mock_op)op);
		pv_err_t rc = PV_OK;
		switch ((enum pv_mock_op)op) {
		case PV_MOCK_OP_PARTITION_CREATE:
			rc = o->partition_create(e.mock, NULL, NULL, &p);
			break;
		case PV_MOCK_OP_MAP_RAM:
			rc = o->map_ram(e.pdata, pv_gpa(0), 0x1000, &p);
			break;
		case PV_MOCK_OP_VCPU_CREATE:
			rc = o->vcpu_create(e.pdata, 5, NULL, &p);
			break;
		case PV_MOCK_OP_VCPU_RUN:
			rc = o->vcpu_run(e.vdata[0], &x);
			break;
		case PV_MOCK_OP_VCPU_COMPLETE:
			rc = o->vcpu_complete(e.vdata[0], &x);
			break;
		case PV_MOCK_OP_GET_REGS:
			rc = o->get_regs(e.vdata[0], &r);
			break;
		case PV_MOCK_OP_SET_REGS:
			rc = o->set_regs(e.vdata[0], &r);
			break;
		case PV_MOCK_OP_GET_SREGS:
			rc = o->get_sregs(e.vdata[0], &s);
			break;
		case PV_MOCK_OP_SET_SREGS:
			rc = o->set_sregs(e.vdata[0], &s);
			break;
		case PV_MOCK_OP_GET_MSR:
			rc = o->get_msr(e.vdata[0], 1, &v);
			break;
		case PV_MOCK_OP_SET_MSR:
			rc = o->set_msr(e.vdata[0], 1, 1);
			break;
		case PV_MOCK_OP_INJECT:
			rc = o->inject(e.vdata[0], &ev);
			break;
		case PV_MOCK_OP_TIMER_CREATE:
			rc = o->timer_create(e.pdata, NULL, NULL, &p);
			break;
		case PV_MOCK_OP_TIMER_ARM:
			rc = o->timer_arm(e.pdata, NULL, 0);
			break;
		case PV_MOCK_OP_CPUID_UPDATE:
			rc = o->cpuid_update(e.vdata[0], &ce, 1);
			break;
		case PV_MOCK_OP_MSR_FILTER_UPDATE:
			rc = o->msr_filter_update(e.pdata, &mr, 1);
			break;
		case PV_MOCK_OP_HYPERCALL_CODE:
			rc = o->hypercall_code(e.pdata, buf, sizeof(buf), &n);
			break;
		case PV_MOCK_OP_IRQ_LINE:
			rc = o->irq_line(e.pdata, 1, true);
			break;
		case PV_MOCK_OP_MSI:
			rc = o->msi(e.pdata, 0xFEE00000, 0x30);
			break;
		case PV_MOCK_OP_ISOLATION_OP:
			rc = o->isolation_op(e.vdata[0], PV_ISO_OP_PVALIDATE, args);
			break;
		case PV_MOCK_OP_GET_XMM:
			rc = pv_mock_port_ops(xm)->get_xmm(xv, xmm);
			break;
		case PV_MOCK_OP_SET_XMM:
			rc = pv_mock_port_ops(xm)->set_xmm(xv, (const uint8_t(*)[16])xmm);
			break;
		default:
			assert_int_equal(arm, PV_EINVAL); /* void operations cannot fail */
			continue;
		}
		assert_int_equal(arm, PV_OK);
		assert_int_equal(rc, PV_EIO);
		assert_int_equal(pv_mock_op_calls(target, (enum pv_mock_op)op), before + 1);
	}
	assert_int_equal(pv_mock_xmm_write_count(xm, 0), 0);
	pv_mock_port_ops(xm)->vcpu_destroy(xv);
	pv_mock_port_ops(xm)->partition_destroy(xp);
	pv_mock_destroy(xm);
	/* nothing was recorded by the failed calls */
	assert_int_equal(pv_mock_irq_count(e.mock), 0);
	assert_int_equal(pv_mock_msr_filter_update_count(e.mock), 0);
	assert_int_equal(pv_mock_isolation_op_count(e.mock), 0);
	assert_int_equal(pv_mock_inject_count(e.mock, 0), 0);
	assert_int_equal(pv_mock_completion_count(e.mock, 0), 0);
	assert_int_equal(pv_mock_live_timers(e.mock), 0);
	env_close(&e);
}

static void test_xmm(void **state)
{
	(void)state;
	struct pv_mock *m;
	assert_int_equal(pv_mock_create(NULL, &m), PV_OK);
	assert_null(pv_mock_port_ops(m)->get_xmm);
	assert_null(pv_mock_port_ops(m)->set_xmm);
	pv_mock_destroy(m);
	struct pv_mock_config mc = {.xmm_ops = true};
	assert_int_equal(pv_mock_create(&mc, &m), PV_OK);
	const struct pv_port_ops *o = pv_mock_port_ops(m);
	void *pd, *vd;
	assert_int_equal(o->partition_create(m, NULL, NULL, &pd), PV_OK);
	assert_int_equal(o->vcpu_create(pd, 1, NULL, &vd), PV_OK);
	uint8_t x[16][16], y[16][16];
	for (int r = 0; r < 16; r++)
		for (int b = 0; b < 16; b++)
			x[r][b] = (uint8_t)(r * 16 + b);
	assert_int_equal(pv_mock_set_xmm(m, 1, (const uint8_t(*)[16])x), PV_OK);
	assert_int_equal(o->get_xmm(vd, y), PV_OK);
	assert_memory_equal(x, y, sizeof(x));
	y[3][0] = 0xEE;
	assert_int_equal(o->set_xmm(vd, (const uint8_t(*)[16])y), PV_OK);
	assert_int_equal(pv_mock_xmm_write_count(m, 1), 1);
	assert_int_equal(pv_mock_get_xmm(m, 1, x), PV_OK);
	assert_int_equal(x[3][0], 0xEE);
	assert_int_equal(pv_mock_get_xmm(m, 9, x), PV_OK); /* never used: zeros */
	assert_int_equal(x[0][0], 0);
	assert_int_equal(pv_mock_get_xmm(m, PV_MAX_VCPUS, x), PV_EINVAL);
	assert_int_equal(pv_mock_set_xmm(NULL, 0, (const uint8_t(*)[16])x), PV_EINVAL);
	assert_int_equal(o->get_xmm(vd, NULL), PV_EINVAL);
	assert_int_equal(o->set_xmm(vd, NULL), PV_EINVAL);
	assert_int_equal(pv_mock_xmm_write_count(NULL, 0), 0);
	o->vcpu_destroy(vd);
	o->partition_destroy(pd);
	pv_mock_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_caps_select_ops),
		cmocka_unit_test(test_one_partition_at_a_time),
		cmocka_unit_test(test_script_then_end),
		cmocka_unit_test(test_script_repeat_and_rep_data),
		cmocka_unit_test(test_exit_callback),
		cmocka_unit_test(test_completion_applies_registers),
		cmocka_unit_test(test_register_recording),
		cmocka_unit_test(test_inject_and_pending),
		cmocka_unit_test(test_fail_injection),
		cmocka_unit_test(test_ram),
		cmocka_unit_test(test_cpuid_update),
		cmocka_unit_test(test_msr_filter_irq_hypercall),
		cmocka_unit_test(test_isolation_op),
		cmocka_unit_test(test_clock_and_timers),
		cmocka_unit_test(test_stop_and_block),
		cmocka_unit_test(test_no_recording),
		cmocka_unit_test(test_with_partition),
		cmocka_unit_test(test_hostile_queries),
		cmocka_unit_test(test_fail_every_op),
		cmocka_unit_test(test_xmm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
