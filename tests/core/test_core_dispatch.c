/* SPDX-License-Identifier: MIT */
/* Exit dispatch: I/O, MMIO and MSR tables, CPUID table, filters, default
 * policy and malformed exits. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core_test.h"

/* What a handler saw. */
struct seen {
	int calls;
	uintptr_t ctx;
	uint64_t offset;
	uint8_t size;
	bool is_write;
	uint64_t data;
	struct pv_vcpu *vcpu;
	uint32_t values[16]; /* data of each call */
	pv_err_t ret;        /* what to return */
	uint64_t reply;      /* value for reads */
};

static struct seen g_seen;

static pv_err_t io_fn(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size, bool is_write,
		      uint32_t *data)
{
	struct seen *s = &g_seen;
	if (s->calls < 16)
		s->values[s->calls] = *data;
	s->calls++;
	s->ctx = (uintptr_t)ctx;
	s->offset = offset;
	s->size = size;
	s->is_write = is_write;
	s->data = *data;
	s->vcpu = vcpu;
	if (!is_write)
		*data = (uint32_t)s->reply + (uint32_t)(s->calls - 1);
	return s->ret;
}

static pv_err_t mmio_fn(void *ctx, struct pv_vcpu *vcpu, uint64_t offset, uint8_t size,
			bool is_write, uint64_t *data)
{
	struct seen *s = &g_seen;
	s->calls++;
	s->ctx = (uintptr_t)ctx;
	s->offset = offset;
	s->size = size;
	s->is_write = is_write;
	s->data = *data;
	s->vcpu = vcpu;
	if (!is_write)
		*data = s->reply;
	return s->ret;
}

static pv_err_t msr_fn(void *ctx, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
		       uint64_t *value)
{
	struct seen *s = &g_seen;
	s->calls++;
	s->ctx = (uintptr_t)ctx;
	s->offset = index;
	s->is_write = is_write;
	s->data = *value;
	s->vcpu = vcpu;
	if (!is_write)
		*value = s->reply;
	return s->ret;
}

static int reset_seen(void **state)
{
	(void)state;
	memset(&g_seen, 0, sizeof(g_seen));
	return 0;
}

static struct pv_stats stats(struct ct_env *e)
{
	struct pv_stats st;
	pv_partition_get_stats(e->part, &st);
	return st;
}

/* ---- I/O ---------------------------------------------------------------- */

static void test_io_register_args(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_io_register(NULL, 0x10, 1, io_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_io_register(e.part, 0x10, 1, NULL, NULL), PV_EINVAL);
	assert_int_equal(pv_io_register(e.part, 0x10, 0, io_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_io_register(e.part, 0xFFFF, 2, io_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_io_register(e.part, 0x0, 0x10001, io_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_io_register(e.part, 0xFFFF, 1, io_fn, NULL), PV_OK);
	assert_int_equal(pv_io_unregister(e.part, 0xFFFF), PV_OK);
	/* the whole space at once */
	assert_int_equal(pv_io_register(e.part, 0x0, 0x10000, io_fn, NULL), PV_OK);
	assert_int_equal(pv_io_register(e.part, 0x1234, 1, io_fn, NULL), PV_EEXIST);
	assert_int_equal(pv_io_unregister(e.part, 0x0), PV_OK);
	assert_int_equal(pv_io_unregister(e.part, 0x0), PV_ENOENT);
	assert_int_equal(pv_io_unregister(NULL, 0x0), PV_EINVAL);
	ct_close(&e);
}

/* Regression: base + count used to be computed in 32 bits, so a huge count
 * wrapped and passed the "past port 0xFFFF" check (fixed in 6c7018e). */
static void test_io_register_count_wrap(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_io_register(e.part, 0x1, 0xFFFFFFFFu, io_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_io_register(e.part, 0x10, 0xFFFFFFF0u, io_fn, NULL), PV_EINVAL);
	ct_close(&e);
}

static void test_io_overlap(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_io_register(e.part, 0x100, 0x10, io_fn, NULL), PV_OK); /* 100-10f */
	assert_int_equal(pv_io_register(e.part, 0x100, 0x10, io_fn, NULL), PV_EEXIST);
	assert_int_equal(pv_io_register(e.part, 0x0F8, 0x09, io_fn, NULL), PV_EEXIST); /* ..100 */
	assert_int_equal(pv_io_register(e.part, 0x10F, 0x08, io_fn, NULL), PV_EEXIST); /* 10f.. */
	assert_int_equal(pv_io_register(e.part, 0x104, 0x02, io_fn, NULL), PV_EEXIST); /* inside */
	assert_int_equal(pv_io_register(e.part, 0x0F0, 0x40, io_fn, NULL), PV_EEXIST); /* around */
	assert_int_equal(pv_io_register(e.part, 0x0F8, 0x08, io_fn, NULL), PV_OK);     /* ..0ff */
	assert_int_equal(pv_io_register(e.part, 0x110, 0x08, io_fn, NULL), PV_OK);     /* 110.. */
	assert_int_equal(pv_io_unregister(e.part, 0x104), PV_ENOENT); /* not a base */
	assert_int_equal(pv_io_unregister(e.part, 0x100), PV_OK);
	assert_int_equal(pv_io_register(e.part, 0x104, 0x02, io_fn, NULL), PV_OK);
	ct_close(&e);
}

static void test_io_handler_args(void **state)
{
	struct ct_env e;
	ct_open(&e, 0, 2);
	assert_int_equal(pv_io_register(e.part, 0x3F8, 8, io_fn, (void *)(uintptr_t)0xC0), PV_OK);
	/* OUT: offset, width, masked data, the right vCPU */
	struct pv_exit x = ct_io(0x3FB, 1, true, 0xABCD12);
	struct pv_exit c = ct_run1(&e, 1, &x);
	assert_int_equal(g_seen.calls, 1);
	assert_int_equal(g_seen.ctx, 0xC0);
	assert_int_equal(g_seen.offset, 3);
	assert_int_equal(g_seen.size, 1);
	assert_true(g_seen.is_write);
	assert_int_equal(g_seen.data, 0x12);
	assert_ptr_equal(g_seen.vcpu, e.vcpu[1]);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	/* IN: the reply is masked to the access width */
	g_seen.reply = 0x12345678;
	g_seen.calls = 0;
	x = ct_io(0x3F8, 2, false, 0);
	c = ct_run1(&e, 0, &x);
	assert_false(g_seen.is_write);
	assert_int_equal(g_seen.offset, 0);
	assert_int_equal(c.u.io.data, 0x5678);
	g_seen.calls = 0;
	x = ct_io(0x3FF, 4, false, 0);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(g_seen.offset, 7);
	assert_int_equal(c.u.io.data, 0x12345678);
	/* a failing handler: IN returns all ones, counted */
	g_seen.ret = PV_EIO;
	x = ct_io(0x3F9, 1, false, 0);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.u.io.data, 0xFF);
	x = ct_io(0x3F9, 1, true, 0);
	ct_run1(&e, 0, &x);
	assert_int_equal(stats(&e).handler_errors, 2);
	ct_close(&e);
}

static void test_io_string(void **state)
{
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_io_register(e.part, 0x1F0, 8, io_fn, NULL), PV_OK);
	/* OUTS: one call per element, in order */
	uint16_t words[4] = {0x1111, 0x2222, 0x3333, 0x4444};
	struct pv_exit x = ct_io(0x1F0, 2, true, 0);
	x.u.io.count = 4;
	x.u.io.rep_data = (uint8_t *)words;
	ct_run1(&e, 0, &x);
	assert_int_equal(g_seen.calls, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(g_seen.values[i], words[i]);
	/* INS: the port's buffer receives each reply */
	g_seen.calls = 0;
	g_seen.reply = 0xA0;
	uint8_t bytes[3] = {0, 0, 0};
	x = ct_io(0x1F7, 1, false, 0);
	x.u.io.count = 3;
	x.u.io.rep_data = bytes;
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(g_seen.calls, 3);
	assert_int_equal(g_seen.offset, 7);
	assert_non_null(c.u.io.rep_data);
	assert_int_equal(c.u.io.rep_data[0], 0xA0);
	assert_int_equal(c.u.io.rep_data[1], 0xA1);
	assert_int_equal(c.u.io.rep_data[2], 0xA2);
	/* unhandled INS fills all ones; unhandled OUTS is counted once */
	uint32_t dw[2] = {0, 0};
	x = ct_io(0x500, 4, false, 0);
	x.u.io.count = 2;
	x.u.io.rep_data = (uint8_t *)dw;
	c = ct_run1(&e, 0, &x);
	uint32_t got[2];
	memcpy(got, c.u.io.rep_data, 8);
	assert_int_equal(got[0], 0xFFFFFFFFu);
	assert_int_equal(got[1], 0xFFFFFFFFu);
	x.u.io.is_write = true;
	ct_run1(&e, 0, &x);
	struct pv_stats st = stats(&e);
	assert_int_equal(st.io_unhandled_reads, 1);
	assert_int_equal(st.io_unhandled_writes, 1);
	ct_close(&e);
}

static void test_io_default_policy(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	static const struct {
		uint8_t size;
		uint32_t want;
	} w[] = {{1, 0xFF}, {2, 0xFFFF}, {4, 0xFFFFFFFFu}};
	for (size_t i = 0; i < 3; i++) {
		struct pv_exit x = ct_io(0x80, w[i].size, false, 0x5A5A5A5A);
		struct pv_exit c = ct_run1(&e, 0, &x);
		assert_int_equal(c.u.io.data, w[i].want);
		assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	}
	struct pv_exit x = ct_io(0x80, 1, true, 0x12);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	struct pv_stats st = stats(&e);
	assert_int_equal(st.io_unhandled_reads, 3);
	assert_int_equal(st.io_unhandled_writes, 1);
	assert_int_equal(st.exits[PV_EXIT_IO], 4);
	assert_int_equal(st.bad_exits, 0);
	ct_close(&e);
}

static void test_io_malformed(void **state)
{
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_io_register(e.part, 0x0, 0x10000, io_fn, NULL), PV_OK);
	struct pv_exit bad[5];
	bad[0] = ct_io(0x10, 3, false, 0);
	bad[1] = ct_io(0x10, 0, true, 0);
	bad[2] = ct_io(0x10, 8, false, 0);
	bad[3] = ct_io(0x10, 1, false, 0);
	bad[3].u.io.count = 0;
	bad[4] = ct_io(0x10, 4, false, 0); /* string I/O without a buffer */
	bad[4].u.io.count = 0xFFFFFFFFu;
	for (int i = 0; i < 5; i++)
		ct_run1(&e, 0, &bad[i]);
	assert_int_equal(g_seen.calls, 0); /* never reached the handler */
	assert_int_equal(stats(&e).bad_exits, 5);
	ct_close(&e);
}

/* 64 ranges registered in scrambled order; every edge and gap is checked. */
static void test_io_lookup_64(void **state)
{
	struct ct_env e;
	ct_open(&e, 0, 1);
	for (unsigned k = 0; k < 64; k++) {
		unsigned i = (k * 37) % 64; /* 37 is coprime with 64 */
		assert_int_equal(pv_io_register(e.part, (uint16_t)(0x1000 + i * 0x10), 4 + (i % 5),
						io_fn, (void *)(uintptr_t)(i + 1)),
				 PV_OK);
	}
	struct pv_vcpu *v = e.vcpu[0];
	for (unsigned i = 0; i < 64; i++) {
		uint16_t base = (uint16_t)(0x1000 + i * 0x10);
		unsigned len = 4 + (i % 5);
		for (unsigned off = 0; off < 0x10; off++) {
			struct pv_exit x = ct_io((uint16_t)(base + off), 1, false, 0);
			g_seen.calls = 0;
			g_seen.reply = 0x11;
			assert_int_equal(pv_vcpu_dispatch(v, &x), PV_OK);
			if (off < len) {
				assert_int_equal(g_seen.calls, 1);
				assert_int_equal(g_seen.ctx, i + 1);
				assert_int_equal(g_seen.offset, off);
				assert_int_equal(x.u.io.data, 0x11);
			} else {
				assert_int_equal(g_seen.calls, 0);
				assert_int_equal(x.u.io.data, 0xFF);
			}
		}
	}
	struct pv_exit x = ct_io(0x0FFF, 1, false, 0);
	assert_int_equal(pv_vcpu_dispatch(v, &x), PV_OK);
	assert_int_equal(x.u.io.data, 0xFF);
	x = ct_io(0x1400, 1, false, 0);
	assert_int_equal(pv_vcpu_dispatch(v, &x), PV_OK);
	assert_int_equal(x.u.io.data, 0xFF);
	/* remove every other one; the rest still resolve */
	for (unsigned i = 0; i < 64; i += 2)
		assert_int_equal(pv_io_unregister(e.part, (uint16_t)(0x1000 + i * 0x10)), PV_OK);
	for (unsigned i = 0; i < 64; i++) {
		g_seen.calls = 0;
		x = ct_io((uint16_t)(0x1000 + i * 0x10 + 3), 1, true, 0);
		assert_int_equal(pv_vcpu_dispatch(v, &x), PV_OK);
		assert_int_equal(g_seen.calls, i % 2);
		if (i % 2)
			assert_int_equal(g_seen.ctx, i + 1);
	}
	ct_close(&e);
}

/* ---- MMIO ------------------------------------------------------------- */

static void test_mmio_register(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_mmio_register(NULL, pv_gpa(0x30000), 0x100, mmio_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30000), 0, mmio_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30000), 0x100, NULL, NULL), PV_EINVAL);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(UINT64_MAX), 2, mmio_fn, NULL), PV_ERANGE);
	/* over RAM, or straddling into RAM */
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x1000), 0x100, mmio_fn, NULL), PV_EEXIST);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30F00), 0x200, mmio_fn, NULL),
			 PV_EEXIST);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x1FFFF), 1, mmio_fn, NULL), PV_EEXIST);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x20000), 1, mmio_fn, NULL), PV_OK);
	/* overlaps among MMIO registrations */
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30100), 0x100, mmio_fn, NULL), PV_OK);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30180), 0x100, mmio_fn, NULL),
			 PV_EEXIST);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30080), 0x81, mmio_fn, NULL), PV_EEXIST);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30080), 0x80, mmio_fn, NULL), PV_OK);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30200), 0x80, mmio_fn, NULL), PV_OK);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30000), 0x1000, mmio_fn, NULL),
			 PV_EEXIST);
	/* the very top of the address space is not RAM here: a 1-byte range there */
	assert_int_equal(
		pv_mmio_register(e.part, pv_gpa(0xFFFFFFFFFFFFD000ull), 0x1000, mmio_fn, NULL),
		PV_OK);
	assert_int_equal(
		pv_mmio_register(e.part, pv_gpa(0xFFFFFFFFFFFFD000ull), 0x1001, mmio_fn, NULL),
		PV_EEXIST);
	assert_int_equal(pv_mmio_unregister(e.part, pv_gpa(0x30180)), PV_ENOENT);
	assert_int_equal(pv_mmio_unregister(e.part, pv_gpa(0x30100)), PV_OK);
	assert_int_equal(pv_mmio_unregister(e.part, pv_gpa(0x30100)), PV_ENOENT);
	assert_int_equal(pv_mmio_unregister(NULL, pv_gpa(0x30100)), PV_EINVAL);
	ct_close(&e);
}

static void test_mmio_dispatch(void **state)
{
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(
		pv_mmio_register(e.part, pv_gpa(0x30000), 0x1000, mmio_fn, (void *)(uintptr_t)0x77),
		PV_OK);
	g_seen.reply = 0x1122334455667788ull;
	static const struct {
		uint8_t size;
		uint64_t mask;
	} w[] = {{1, 0xFF}, {2, 0xFFFF}, {4, 0xFFFFFFFFull}, {8, ~0ull}};
	for (size_t i = 0; i < 4; i++) {
		struct pv_exit x = ct_mmio(0x30FF0 + i, w[i].size, false, 0);
		struct pv_exit c = ct_run1(&e, 0, &x);
		assert_int_equal(g_seen.offset, 0xFF0 + i);
		assert_int_equal(g_seen.size, w[i].size);
		assert_int_equal(c.u.mmio.data, g_seen.reply & w[i].mask);
		x = ct_mmio(0x30008, w[i].size, true, 0xF0E0D0C0B0A09080ull);
		ct_run1(&e, 0, &x);
		assert_true(g_seen.is_write);
		assert_int_equal(g_seen.data, 0xF0E0D0C0B0A09080ull & w[i].mask);
		assert_int_equal(g_seen.ctx, 0x77);
	}
	/* unhandled: reads all ones of the width, writes ignored, both counted */
	struct pv_exit x = ct_mmio(0x50000, 2, false, 0x1234);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.u.mmio.data, 0xFFFF);
	x = ct_mmio(0x50000, 8, false, 0);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.u.mmio.data, ~0ull);
	x = ct_mmio(0x50000, 4, true, 0);
	ct_run1(&e, 0, &x);
	/* a failing handler reads all ones */
	g_seen.ret = PV_EIO;
	x = ct_mmio(0x30000, 4, false, 0);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.u.mmio.data, 0xFFFFFFFFull);
	/* malformed widths never reach the handler */
	int calls = g_seen.calls;
	x = ct_mmio(0x30000, 3, false, 0);
	ct_run1(&e, 0, &x);
	x = ct_mmio(0x30000, 16, true, 0); /* size 0 means "emulate": test_core_mmio_emulate */
	ct_run1(&e, 0, &x);
	assert_int_equal(g_seen.calls, calls);
	struct pv_stats st = stats(&e);
	assert_int_equal(st.mmio_unhandled_reads, 2);
	assert_int_equal(st.mmio_unhandled_writes, 1);
	assert_int_equal(st.handler_errors, 1);
	assert_int_equal(st.bad_exits, 2);
	ct_close(&e);
}

/* ---- MSR ----------------------------------------------------------------- */

static void test_msr_dispatch(void **state)
{
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_msr_register(NULL, 0x10, 1, msr_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_msr_register(e.part, 0x10, 0, msr_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_msr_register(e.part, 0x10, 1, NULL, NULL), PV_EINVAL);
	assert_int_equal(pv_msr_register(e.part, 0xFFFFFFFF, 2, msr_fn, NULL), PV_EINVAL);
	assert_int_equal(pv_msr_register(e.part, 0xFFFFFFFF, 1, msr_fn, NULL), PV_OK);
	assert_int_equal(pv_msr_register(e.part, 0x40000000, 0x100, msr_fn, (void *)(uintptr_t)5),
			 PV_OK);
	assert_int_equal(pv_msr_register(e.part, 0x400000FF, 1, msr_fn, NULL), PV_EEXIST);
	assert_int_equal(pv_msr_register(e.part, 0x3FFFFFFF, 2, msr_fn, NULL), PV_EEXIST);
	/* read and write reach the handler */
	g_seen.reply = 0xAABBCCDD11223344ull;
	struct pv_exit x = ct_msr(false, 0x40000073, 0);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(c.u.msr.value, g_seen.reply);
	assert_int_equal(g_seen.offset, 0x40000073);
	assert_int_equal(g_seen.ctx, 5);
	assert_false(g_seen.is_write);
	x = ct_msr(true, 0x40000001, 0x1234);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_true(g_seen.is_write);
	assert_int_equal(g_seen.data, 0x1234);
	/* unknown MSRs take #GP(0), reads and writes */
	for (int wr = 0; wr < 2; wr++) {
		x = ct_msr(wr, 0xC0000080, 0);
		c = ct_run1(&e, 0, &x);
		assert_int_equal(c.inject.kind, PV_EVENT_EXCEPTION);
		assert_int_equal(c.inject.vector, PV_VEC_GP);
		assert_true(c.inject.has_error_code);
		assert_int_equal(c.inject.error_code, 0);
	}
	assert_int_equal(stats(&e).msr_unhandled, 2);
	/* a handler error is #GP as well */
	g_seen.ret = PV_EINVAL;
	x = ct_msr(false, 0x40000000, 0);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_EXCEPTION);
	assert_int_equal(c.inject.vector, PV_VEC_GP);
	/* unregister */
	assert_int_equal(pv_msr_unregister(e.part, 0x40000001), PV_ENOENT);
	assert_int_equal(pv_msr_unregister(e.part, 0x40000000), PV_OK);
	g_seen.ret = PV_OK;
	x = ct_msr(false, 0x40000000, 0);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.vector, PV_VEC_GP);
	assert_int_equal(pv_msr_unregister(NULL, 0), PV_EINVAL);
	/* no filter calls on a port without MSR_FILTER */
	assert_int_equal(pv_mock_op_calls(e.mock, PV_MOCK_OP_MSR_FILTER_UPDATE), 0);
	ct_close(&e);
}

/* Regression: a failing MSR handler injected #GP but was not counted in
 * pv_stats::handler_errors, unlike I/O and MMIO (fixed in 6c7018e). */
static void test_msr_handler_error_counted(void **state)
{
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_msr_register(e.part, 0x10, 1, msr_fn, NULL), PV_OK);
	g_seen.ret = PV_EIO;
	struct pv_exit x = ct_msr(true, 0x10, 1);
	ct_run1(&e, 0, &x);
	assert_int_equal(stats(&e).handler_errors, 1);
	ct_close(&e);
}

static void test_msr_filter_port(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_MSR_FILTER, 1);
	assert_int_equal(pv_msr_register(e.part, 0x40000000, 0x10, msr_fn, NULL), PV_OK);
	assert_int_equal(pv_msr_register(e.part, 0x1B, 1, msr_fn, NULL), PV_OK);
	assert_int_equal(pv_mock_msr_filter_update_count(e.mock), 2);
	/* each update is the complete set */
	struct pv_msr_range r[4];
	size_t n = 0;
	assert_int_equal(pv_mock_msr_filter_get(e.mock, 1, r, 4, &n), PV_OK);
	assert_int_equal(n, 2);
	assert_true(pv_mock_msr_filtered(e.mock, 0x1B));
	assert_true(pv_mock_msr_filtered(e.mock, 0x4000000F));
	assert_false(pv_mock_msr_filtered(e.mock, 0x40000010));
	assert_int_equal(pv_msr_unregister(e.part, 0x1B), PV_OK);
	assert_false(pv_mock_msr_filtered(e.mock, 0x1B));
	assert_true(pv_mock_msr_filtered(e.mock, 0x40000000));
	/* the port refuses: the registration fails and is not kept */
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_MSR_FILTER_UPDATE, 1, PV_EPORT), PV_OK);
	assert_int_equal(pv_msr_register(e.part, 0x1B, 1, msr_fn, NULL), PV_EPORT);
	assert_false(pv_mock_msr_filtered(e.mock, 0x1B));
	struct pv_exit x = ct_msr(false, 0x1B, 0);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.vector, PV_VEC_GP);
	assert_int_equal(pv_msr_unregister(e.part, 0x1B), PV_ENOENT);
	assert_int_equal(pv_msr_register(e.part, 0x1B, 1, msr_fn, NULL), PV_OK);
	assert_true(pv_mock_msr_filtered(e.mock, 0x1B));
	/* out of memory building the filter set: refused, nothing kept */
	e.plat.fail_at = e.plat.created + 2; /* table, then the range array */
	assert_int_equal(pv_msr_register(e.part, 0x20, 1, msr_fn, NULL), PV_ENOMEM);
	e.plat.fail_at = 0;
	assert_int_equal(pv_msr_unregister(e.part, 0x20), PV_ENOENT);
	ct_close(&e);
}

/* Regression: when the first MSR registration of a partition was refused by
 * msr_filter_update, a second refused registration "rolled back" to the
 * first refused table, making the failed registration live (fixed in
 * 6c7018e). */
static void test_msr_filter_refused_twice(void **state)
{
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_MSR_FILTER, 1);
	assert_int_equal(pv_mock_fail_op_from(e.mock, PV_MOCK_OP_MSR_FILTER_UPDATE, 1, PV_EPORT),
			 PV_OK);
	assert_int_equal(pv_msr_register(e.part, 0x100, 1, msr_fn, NULL), PV_EPORT);
	assert_int_equal(pv_msr_register(e.part, 0x200, 1, msr_fn, NULL), PV_EPORT);
	pv_mock_clear_failures(e.mock);
	struct pv_exit x = ct_msr(false, 0x100, 0);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(g_seen.calls, 0);
	assert_int_equal(c.inject.vector, PV_VEC_GP);
	assert_int_equal(pv_msr_unregister(e.part, 0x100), PV_ENOENT);
	ct_close(&e);
}

/* ---- CPUID ------------------------------------------------------------ */

static void test_cpuid_table(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, PV_PORT_CAP_CPUID_EXITS, 4);
	/* unknown leaf: zeros, counted */
	struct pv_exit x = ct_cpuid(0x12345678, 0);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.u.cpuid.eax | c.u.cpuid.ebx | c.u.cpuid.ecx | c.u.cpuid.edx, 0);
	assert_int_equal(stats(&e).cpuid_unhandled, 1);
	assert_int_equal(pv_cpuid_set(NULL, NULL), PV_EINVAL);
	assert_int_equal(pv_cpuid_set(e.part, NULL), PV_EINVAL);
	struct pv_cpuid_entry l1 = {.leaf = 1,
				    .any_subleaf = true,
				    .eax = 0x806F8,
				    .ebx = 0xFF010800,
				    .ecx = 0x80000000,
				    .edx = 0x1};
	struct pv_cpuid_entry l7a = {.leaf = 7, .subleaf = 0, .eax = 1, .ebx = 0x70};
	struct pv_cpuid_entry l7b = {.leaf = 7, .subleaf = 1, .eax = 0, .ebx = 0x71};
	struct pv_cpuid_entry lb = {.leaf = 0xB, .subleaf = 0, .ebx = 1, .ecx = 0x100, .edx = 99};
	struct pv_cpuid_entry l1f = {.leaf = 0x1F, .any_subleaf = true, .edx = 99};
	assert_int_equal(pv_cpuid_set(e.part, &l7b), PV_OK);
	assert_int_equal(pv_cpuid_set(e.part, &l1), PV_OK);
	assert_int_equal(pv_cpuid_set(e.part, &lb), PV_OK);
	assert_int_equal(pv_cpuid_set(e.part, &l7a), PV_OK);
	assert_int_equal(pv_cpuid_set(e.part, &l1f), PV_OK);
	/* per-vCPU APIC ID patching; the rest of EBX is kept */
	for (uint32_t v = 0; v < 4; v++) {
		x = ct_cpuid(1, 0x55);
		c = ct_run1(&e, v, &x);
		assert_int_equal(c.u.cpuid.eax, 0x806F8);
		assert_int_equal(c.u.cpuid.ebx, (v << 24) | 0x010800);
		assert_int_equal(c.u.cpuid.ecx, 0x80000000);
		assert_int_equal(c.u.cpuid.edx, 1);
		x = ct_cpuid(0xB, 0);
		c = ct_run1(&e, v, &x);
		assert_int_equal(c.u.cpuid.edx, v);
		assert_int_equal(c.u.cpuid.ecx, 0x100);
		x = ct_cpuid(0x1F, 3);
		c = ct_run1(&e, v, &x);
		assert_int_equal(c.u.cpuid.edx, v);
	}
	/* subleaves */
	x = ct_cpuid(7, 1);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.u.cpuid.ebx, 0x71);
	x = ct_cpuid(7, 2);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.u.cpuid.ebx, 0);
	/* get returns the unpatched entry */
	struct pv_cpuid_entry got;
	assert_int_equal(pv_cpuid_get(e.part, 1, 9, &got), PV_OK);
	assert_int_equal(got.ebx, 0xFF010800);
	assert_int_equal(pv_cpuid_get(e.part, 7, 0, &got), PV_OK);
	assert_int_equal(got.ebx, 0x70);
	assert_int_equal(pv_cpuid_get(e.part, 7, 5, &got), PV_ENOENT);
	assert_int_equal(pv_cpuid_get(e.part, 2, 0, &got), PV_ENOENT);
	assert_int_equal(pv_cpuid_get(NULL, 2, 0, &got), PV_EINVAL);
	assert_int_equal(pv_cpuid_get(e.part, 2, 0, NULL), PV_EINVAL);
	/* replace */
	l7a.ebx = 0x700;
	assert_int_equal(pv_cpuid_set(e.part, &l7a), PV_OK);
	assert_int_equal(pv_cpuid_get(e.part, 7, 0, &got), PV_OK);
	assert_int_equal(got.ebx, 0x700);
	assert_int_equal(pv_cpuid_get(e.part, 7, 1, &got), PV_OK);
	assert_int_equal(got.ebx, 0x71);
	/* remove */
	assert_int_equal(pv_cpuid_remove(e.part, 7, 0), PV_OK);
	assert_int_equal(pv_cpuid_remove(e.part, 7, 0), PV_ENOENT);
	assert_int_equal(pv_cpuid_get(e.part, 7, 1, &got), PV_OK);
	assert_int_equal(pv_cpuid_remove(NULL, 7, 0), PV_EINVAL);
	assert_int_equal(pv_cpuid_remove(e.part, 1, 1234), PV_OK); /* any-subleaf entry */
	assert_int_equal(pv_cpuid_get(e.part, 1, 0, &got), PV_ENOENT);
	/* no cpuid_update on a port with CPUID exits */
	assert_int_equal(pv_mock_op_calls(e.mock, PV_MOCK_OP_CPUID_UPDATE), 0);
	ct_close(&e);
}

static void test_cpuid_pushed_without_exits(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 2);
	struct pv_cpuid_entry l1 = {.leaf = 1, .any_subleaf = true, .ebx = 0x00000800};
	struct pv_cpuid_entry lb = {.leaf = 0xB, .subleaf = 1, .edx = 77};
	assert_int_equal(pv_cpuid_set(e.part, &l1), PV_OK);
	assert_int_equal(pv_cpuid_set(e.part, &lb), PV_OK);
	struct pv_exit x = ct_io(0x80, 1, true, 0);
	for (uint32_t v = 0; v < 2; v++) {
		ct_run1(&e, v, &x);
		assert_int_equal(pv_mock_cpuid_update_count(e.mock, v), 1);
		struct pv_cpuid_entry got;
		assert_int_equal(pv_mock_cpuid_lookup(e.mock, v, 1, 0, &got), PV_OK);
		assert_int_equal(got.ebx, (v << 24) | 0x800);
		assert_int_equal(pv_mock_cpuid_lookup(e.mock, v, 0xB, 1, &got), PV_OK);
		assert_int_equal(got.edx, v);
		size_t n = 0;
		assert_int_equal(pv_mock_cpuid_entries(e.mock, v, NULL, 0, &n), PV_OK);
		assert_int_equal(n, 2);
	}
	/* unchanged table: not pushed again */
	ct_run1(&e, 0, &x);
	assert_int_equal(pv_mock_cpuid_update_count(e.mock, 0), 1);
	/* changed: pushed before the next entry */
	assert_int_equal(pv_cpuid_remove(e.part, 0xB, 1), PV_OK);
	ct_run1(&e, 0, &x);
	assert_int_equal(pv_mock_cpuid_update_count(e.mock, 0), 2);
	size_t n = 9;
	assert_int_equal(pv_mock_cpuid_entries(e.mock, 0, NULL, 0, &n), PV_OK);
	assert_int_equal(n, 1);
	/* a failed push fails the run and is retried next time */
	assert_int_equal(pv_cpuid_set(e.part, &lb), PV_OK);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_CPUID_UPDATE, 1, PV_EIO), PV_OK);
	assert_int_equal(pv_mock_set_script(e.mock, 1, &x, 1), PV_OK);
	struct pv_exit out;
	uint64_t runs = pv_mock_run_count(e.mock, 1);
	assert_int_equal(pv_vcpu_run_once(e.vcpu[1], &out), PV_EIO);
	assert_int_equal(pv_mock_run_count(e.mock, 1), runs); /* never entered the guest */
	assert_int_equal(pv_vcpu_run_once(e.vcpu[1], &out), PV_OK);
	assert_int_equal(pv_mock_cpuid_update_count(e.mock, 1),
			 2); /* a failed call records nothing */
	ct_close(&e);
}

/* ---- filters, hypercalls, malformed kinds -------------------------------- */

static int g_order[8];
static int g_norder;

static bool iso_filter(void *ctx, struct pv_vcpu *vcpu, struct pv_exit *x)
{
	(void)vcpu;
	g_order[g_norder++] = 1;
	if (x->kind == PV_EXIT_IO && x->u.io.port == 0x99) {
		x->u.io.port = 0x3F8; /* rewrite and pass on */
		return false;
	}
	if (x->kind == PV_EXIT_MSR_READ && x->u.msr.index == 0x42) {
		x->u.msr.value = (uintptr_t)ctx;
		return true;
	}
	return false;
}

static bool hv1_filter(void *ctx, struct pv_vcpu *vcpu, struct pv_exit *x)
{
	(void)vcpu;
	(void)ctx;
	g_order[g_norder++] = 2;
	if (x->kind == PV_EXIT_HYPERCALL) {
		x->u.hypercall.result = 0x1234;
		return true;
	}
	return false;
}

static void test_filters_in_order(void **state)
{
	struct ct_env e;
	ct_open(&e, 0, 1);
	assert_int_equal(pv_io_register(e.part, 0x3F8, 1, io_fn, NULL), PV_OK);
	assert_int_equal(pv_dispatch_set_filter(e.part, PV_FILTER_HV1, hv1_filter, NULL), PV_OK);
	assert_int_equal(pv_dispatch_set_filter(e.part, PV_FILTER_ISOLATION, iso_filter,
						(void *)(uintptr_t)7),
			 PV_OK);
	assert_int_equal(pv_dispatch_set_filter(e.part, PV_FILTER_HV1, hv1_filter, NULL),
			 PV_EEXIST);
	assert_int_equal(pv_dispatch_set_filter(e.part, PV_FILTER_STAGE_COUNT, hv1_filter, NULL),
			 PV_EINVAL);
	assert_int_equal(pv_dispatch_set_filter(NULL, PV_FILTER_HV1, NULL, NULL), PV_EINVAL);
	/* isolation first, then hv1, then the table (after the rewrite) */
	struct pv_exit x = ct_io(0x99, 1, true, 0x41);
	ct_run1(&e, 0, &x);
	assert_int_equal(g_norder, 2);
	assert_int_equal(g_order[0], 1);
	assert_int_equal(g_order[1], 2);
	assert_int_equal(g_seen.calls, 1);
	assert_int_equal(g_seen.data, 0x41);
	/* handled by isolation: hv1 and the tables never see it */
	g_norder = 0;
	x = ct_msr(false, 0x42, 0);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(g_norder, 1);
	assert_int_equal(c.u.msr.value, 7);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(stats(&e).msr_unhandled, 0);
	/* hypercalls: handled by hv1; without it, #UD */
	g_norder = 0;
	x = ct_kind(PV_EXIT_HYPERCALL);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.u.hypercall.result, 0x1234);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(pv_dispatch_set_filter(e.part, PV_FILTER_HV1, NULL, NULL), PV_OK);
	g_norder = 0;
	c = ct_run1(&e, 0, &x);
	assert_int_equal(g_norder, 1);
	assert_int_equal(c.inject.kind, PV_EVENT_EXCEPTION);
	assert_int_equal(c.inject.vector, PV_VEC_UD);
	assert_int_equal(stats(&e).hypercall_unhandled, 1);
	/* a removed stage can be set again */
	assert_int_equal(pv_dispatch_set_filter(e.part, PV_FILTER_HV1, hv1_filter, NULL), PV_OK);
	ct_close(&e);
}

static void test_bad_kinds_and_counters(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 2);
	struct pv_exit x = ct_kind(PV_EXIT_KIND_COUNT);
	assert_int_equal(pv_vcpu_dispatch(e.vcpu[0], &x), PV_OK);
	x = ct_kind((enum pv_exit_kind)0x7FFFFFFF);
	assert_int_equal(pv_vcpu_dispatch(e.vcpu[0], &x), PV_OK);
	x = ct_kind((enum pv_exit_kind) - 1);
	assert_int_equal(pv_vcpu_dispatch(e.vcpu[1], &x), PV_OK);
	assert_int_equal(stats(&e).bad_exits, 3);
	assert_int_equal(pv_vcpu_dispatch(NULL, &x), PV_EINVAL);
	assert_int_equal(pv_vcpu_dispatch(e.vcpu[0], NULL), PV_EINVAL);
	/* a bad kind from the port inside the run loop: counted, loop goes on */
	struct pv_exit script[4] = {ct_kind((enum pv_exit_kind)99), ct_io(0x80, 1, true, 0),
				    ct_kind(PV_EXIT_INTERRUPT_WINDOW), ct_kind(PV_EXIT_NONE)};
	assert_int_equal(pv_mock_set_script(e.mock, 0, script, 4), PV_OK);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(e.vcpu[0], &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_SHUTDOWN);
	struct pv_stats st = stats(&e);
	assert_int_equal(st.bad_exits, 4);
	assert_int_equal(st.exits[PV_EXIT_IO], 1);
	assert_int_equal(st.exits[PV_EXIT_INTERRUPT_WINDOW], 1);
	assert_int_equal(st.exits[PV_EXIT_NONE], 1);
	assert_int_equal(st.exits[PV_EXIT_SHUTDOWN], 1);
	assert_int_equal(pv_vcpu_exit_count(e.vcpu[0], PV_EXIT_IO), 1);
	assert_int_equal(pv_vcpu_exit_count(e.vcpu[1], PV_EXIT_IO), 0);
	assert_int_equal(pv_vcpu_exit_count(e.vcpu[0], PV_EXIT_KIND_COUNT), 0);
	assert_int_equal(pv_vcpu_exit_count(NULL, PV_EXIT_IO), 0);
	/* stats sum over vCPUs */
	script[0] = ct_io(0x80, 1, true, 0);
	assert_int_equal(pv_mock_set_script(e.mock, 1, script, 2), PV_OK);
	assert_int_equal(pv_vcpu_run(e.vcpu[1], &last), PV_OK);
	st = stats(&e);
	assert_int_equal(st.exits[PV_EXIT_IO], 3);
	assert_int_equal(st.exits[PV_EXIT_SHUTDOWN], 2);
	assert_int_equal(st.io_unhandled_writes, 3);
	assert_int_equal(pv_vcpu_exit_count(e.vcpu[1], PV_EXIT_IO), 2);
	ct_close(&e);
}

/* Registration while a vCPU dispatches: the lock-free tables must never lose
 * the stable registration or hand out a freed table (ASan checks the latter). */
struct churn {
	struct ct_env *e;
	volatile bool stop;
	int rounds;
};

static pv_err_t stable_fn(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			  bool is_write, uint32_t *data)
{
	(void)vcpu;
	(void)offset;
	(void)size;
	(void)is_write;
	(void)data;
	__atomic_add_fetch((uint64_t *)ctx, 1, __ATOMIC_RELAXED);
	return PV_OK;
}

static void *churn_thread(void *p)
{
	struct churn *c = p;
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		for (unsigned i = 0; i < 32; i++)
			if (pv_io_register(c->e->part, (uint16_t)(0x2000 + i * 4), 4, io_fn, NULL))
				return NULL;
		for (unsigned i = 0; i < 32; i++)
			if (pv_io_unregister(c->e->part, (uint16_t)(0x2000 + i * 4)))
				return NULL;
		__atomic_add_fetch(&c->rounds, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_register_while_running(void **state)
{
	(void)state;
	struct ct_env e;
	struct pv_mock_config mc = {.no_recording = true};
	ct_open_cfg(&e, &mc, 1);
	uint64_t hits = 0;
	assert_int_equal(pv_io_register(e.part, 0x1000, 1, stable_fn, &hits), PV_OK);
	assert_int_equal(pv_io_register(e.part, 0x3000, 1, stable_fn, &hits), PV_OK);
	struct pv_exit s[2] = {ct_io(0x1000, 1, true, 0), ct_io(0x3000, 1, true, 0)};
	assert_int_equal(pv_mock_set_script_repeat(e.mock, 0, s, 2), PV_OK);
	struct churn c = {.e = &e};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, churn_thread, &c), 0);
	struct pv_exit x;
	/* Dispatch until the writer has republished the table many times, not
	 * for a fixed count: on a loaded machine the writer thread may not get
	 * a time slice during any fixed number of exits. Bounded all the same. */
	const uint64_t min_exits = 100000, max_exits = 200000000;
	uint64_t n = 0;
	while (n < max_exits &&
	       (n < min_exits || __atomic_load_n(&c.rounds, __ATOMIC_ACQUIRE) < 20)) {
		assert_int_equal(pv_vcpu_run_once(e.vcpu[0], &x), PV_OK);
		n++;
	}
	__atomic_store_n(&c.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_true(c.rounds >= 20);
	assert_int_equal(hits, n);
	assert_int_equal(stats(&e).io_unhandled_writes, 0);
	ct_close(&e);
}

/* ---- SSE MMIO emulated with the port's XMM access ------------------------- */

static uint8_t g_mmio_bytes[32];
static int g_mmio_calls;

static pv_err_t bytes_fn(void *ctx, struct pv_vcpu *vcpu, uint64_t offset, uint8_t size,
			 bool is_write, uint64_t *data)
{
	(void)ctx;
	(void)vcpu;
	g_mmio_calls++;
	if (offset + size > sizeof(g_mmio_bytes))
		return PV_ERANGE;
	if (is_write)
		memcpy(g_mmio_bytes + offset, data, size);
	else
		memcpy(data, g_mmio_bytes + offset, size);
	return PV_OK;
}

static void long_mode(struct ct_env *e, uint64_t rip, uint64_t rax)
{
	struct pv_sregs s;
	memset(&s, 0, sizeof(s));
	s.cr0 = 1;
	s.cr4 = 1u << 9; /* OSFXSR: SSE enabled, else SSE instructions #UD */
	s.efer = (1u << 8) | (1u << 10);
	s.cs = (struct pv_segment){.present = 1, .s = 1, .type = 0xB, .l = 1, .limit = 0xFFFFFFFF};
	s.ds = s.es = s.ss =
		(struct pv_segment){.present = 1, .s = 1, .type = 3, .db = 1, .limit = 0xFFFFFFFF};
	assert_int_equal(pv_mock_set_sregs(e->mock, 0, &s), PV_OK);
	struct pv_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = rip;
	r.rflags = PV_RFLAGS_FIXED;
	r.gpr[PV_RAX] = rax;
	assert_int_equal(pv_mock_set_regs(e->mock, 0, &r), PV_OK);
}

static void test_mmio_sse_with_port_xmm(void **state)
{
	(void)state;
	struct ct_env e;
	struct pv_mock_config mc = {.xmm_ops = true};
	ct_open_cfg(&e, &mc, 1);
	memset(g_mmio_bytes, 0, sizeof(g_mmio_bytes));
	g_mmio_calls = 0;
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30000), 0x1000, bytes_fn, NULL), PV_OK);
	uint8_t xmm[16][16];
	memset(xmm, 0, sizeof(xmm));
	for (int b = 0; b < 16; b++)
		xmm[0][b] = (uint8_t)(0xA0 + b);
	assert_int_equal(pv_mock_set_xmm(e.mock, 0, (const uint8_t(*)[16])xmm), PV_OK);
	/* movdqu [rax], xmm0: the 16 bytes of XMM0 reach the device */
	long_mode(&e, 0x1000, 0x30000);
	struct pv_exit x = ct_mmio(0x30000, 0, false, 0);
	static const uint8_t store[] = {0xF3, 0x0F, 0x7F, 0x00};
	memcpy(x.u.mmio.insn, store, sizeof(store));
	x.u.mmio.insn_len = sizeof(store);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_true(g_mmio_calls >= 1);
	assert_memory_equal(g_mmio_bytes, xmm[0], 16);
	struct pv_regs r;
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.rip, 0x1004);
	/* movdqu xmm1, [rax+16]: the device's bytes land in XMM1 */
	for (int b = 0; b < 16; b++)
		g_mmio_bytes[16 + b] = (uint8_t)(0x50 + b);
	long_mode(&e, 0x2000, 0x30010);
	static const uint8_t load[] = {0xF3, 0x0F, 0x6F, 0x08};
	x = ct_mmio(0x30010, 0, false, 0);
	memcpy(x.u.mmio.insn, load, sizeof(load));
	x.u.mmio.insn_len = sizeof(load);
	size_t writes = pv_mock_xmm_write_count(e.mock, 0);
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(pv_mock_xmm_write_count(e.mock, 0), writes + 1);
	assert_int_equal(pv_mock_get_xmm(e.mock, 0, xmm), PV_OK);
	assert_memory_equal(xmm[1], g_mmio_bytes + 16, 16);
	assert_int_equal(xmm[0][0], 0xA0); /* other registers untouched */
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.rip, 0x2004);
	/* the port cannot read XMM: nothing reaches the device, the guest faults */
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_GET_XMM, 1, PV_EPORT), PV_OK);
	long_mode(&e, 0x3000, 0x30000);
	x = ct_mmio(0x30000, 0, false, 0);
	memcpy(x.u.mmio.insn, store, sizeof(store));
	x.u.mmio.insn_len = sizeof(store);
	int calls = g_mmio_calls;
	c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_EXCEPTION);
	assert_int_equal(g_mmio_calls, calls);
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.rip, 0x3000);
	ct_close(&e);
}

/* Regression: XMM is written back before the GPRs, so a failing set_xmm
 * leaves RIP on the SSE load and the fault is taken there. */
static void test_mmio_sse_set_xmm_failure_keeps_rip(void **state)
{
	(void)state;
	struct ct_env e;
	struct pv_mock_config mc = {.xmm_ops = true};
	ct_open_cfg(&e, &mc, 1);
	assert_int_equal(pv_mmio_register(e.part, pv_gpa(0x30000), 0x1000, bytes_fn, NULL), PV_OK);
	static const uint8_t load[] = {0xF3, 0x0F, 0x6F, 0x08}; /* movdqu xmm1, [rax] */
	struct pv_exit x = ct_mmio(0x30010, 0, false, 0);
	memcpy(x.u.mmio.insn, load, sizeof(load));
	x.u.mmio.insn_len = sizeof(load);
	assert_int_equal(pv_mock_fail_op(e.mock, PV_MOCK_OP_SET_XMM, 1, PV_EPORT), PV_OK);
	long_mode(&e, 0x3000, 0x30010);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_EXCEPTION);
	struct pv_regs r;
	assert_int_equal(pv_mock_get_regs(e.mock, 0, &r), PV_OK);
	assert_int_equal(r.rip, 0x3000);
	ct_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_io_register_args, reset_seen),
		cmocka_unit_test_setup(test_io_overlap, reset_seen),
		cmocka_unit_test_setup(test_io_handler_args, reset_seen),
		cmocka_unit_test_setup(test_io_string, reset_seen),
		cmocka_unit_test_setup(test_io_default_policy, reset_seen),
		cmocka_unit_test_setup(test_io_malformed, reset_seen),
		cmocka_unit_test_setup(test_io_lookup_64, reset_seen),
		cmocka_unit_test_setup(test_mmio_register, reset_seen),
		cmocka_unit_test_setup(test_mmio_dispatch, reset_seen),
		cmocka_unit_test_setup(test_msr_dispatch, reset_seen),
		cmocka_unit_test_setup(test_msr_filter_port, reset_seen),
		cmocka_unit_test_setup(test_cpuid_table, reset_seen),
		cmocka_unit_test_setup(test_cpuid_pushed_without_exits, reset_seen),
		cmocka_unit_test_setup(test_filters_in_order, reset_seen),
		cmocka_unit_test_setup(test_bad_kinds_and_counters, reset_seen),
		cmocka_unit_test_setup(test_io_register_count_wrap, reset_seen),
		cmocka_unit_test_setup(test_msr_handler_error_counted, reset_seen),
		cmocka_unit_test_setup(test_msr_filter_refused_twice, reset_seen),
		cmocka_unit_test_setup(test_register_while_running, reset_seen),
		cmocka_unit_test_setup(test_mmio_sse_with_port_xmm, reset_seen),
		cmocka_unit_test_setup(test_mmio_sse_set_xmm_failure_keeps_rip, reset_seen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
