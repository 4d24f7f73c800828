/* SPDX-License-Identifier: MIT */
/* Ring buffer unit tests: layout, wraparound, full/empty, exact fit,
 * interrupt suppression, hostile indices and descriptors, copy-once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus/ring.h"

struct tring {
	uint8_t *mem;
	uint64_t size;
	bool oob;                     /* an access outside the ring was attempted */
	unsigned widx_reads;          /* reads covering the write index */
	unsigned data_reads[1 << 14]; /* per data byte read count (small rings only) */
	bool count_data;
};

static pv_err_t t_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct tring *t = ctx;
	size_t i;

	if (off > t->size || len > t->size - off) {
		t->oob = true;
		return PV_ERANGE;
	}
	if (off < 4 && off + len > 0)
		t->widx_reads++;
	if (t->count_data && off >= 4096)
		for (i = 0; i < len && off - 4096 + i < (1u << 14); i++)
			t->data_reads[off - 4096 + i]++;
	memcpy(buf, t->mem + off, len);
	return PV_OK;
}

static pv_err_t t_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct tring *t = ctx;

	if (off > t->size || len > t->size - off) {
		t->oob = true;
		return PV_ERANGE;
	}
	memcpy(t->mem + off, buf, len);
	return PV_OK;
}

/* One shared ring memory with a producer view and a consumer view. */
struct pair {
	struct tring t;
	struct vmb_ring prod, cons;
};

static struct pair *pair_new(uint32_t data_size)
{
	struct pair *p = calloc(1, sizeof(*p));
	struct vmb_ring_io io = {t_read, t_write, NULL};

	assert_non_null(p);
	p->t.size = 4096 + data_size;
	p->t.mem = calloc(1, p->t.size);
	assert_non_null(p->t.mem);
	io.ctx = &p->t;
	assert_int_equal(vmb_ring_init(&p->prod, &io, p->t.size), PV_OK);
	assert_int_equal(vmb_ring_init(&p->cons, &io, p->t.size), PV_OK);
	assert_int_equal(vmb_ring_reset(&p->prod, 1), PV_OK);
	return p;
}

static void pair_free(struct pair *p)
{
	assert_false(p->t.oob);
	free(p->t.mem);
	free(p);
}

static uint32_t ctl(struct pair *p, uint32_t off)
{
	uint32_t v;

	memcpy(&v, p->t.mem + off, 4);
	return v;
}

static void set_ctl(struct pair *p, uint32_t off, uint32_t v)
{
	memcpy(p->t.mem + off, &v, 4);
}

static pv_err_t put(struct pair *p, uint64_t tid, const void *data, uint32_t len, bool *sig)
{
	struct vmb_ring_buf b = {data, len};
	uint32_t needed;

	return vmb_ring_write(&p->prod, 6, 1, tid, &b, 1, sig, &needed);
}

static void test_init_rejects(void **state)
{
	struct vmb_ring r;
	struct tring t = {0};
	struct vmb_ring_io io = {t_read, t_write, &t};

	(void)state;
	assert_int_equal(vmb_ring_init(&r, &io, 4096), PV_EINVAL);
	assert_int_equal(vmb_ring_init(&r, &io, 4096 + 20), PV_EINVAL);
	assert_int_equal(vmb_ring_init(&r, &io, 4096 + 32), PV_EINVAL);
	assert_int_equal(vmb_ring_init(&r, &io, 4096 + 64), PV_OK);
	io.read = NULL;
	assert_int_equal(vmb_ring_init(&r, &io, 8192), PV_EINVAL);
}

static void test_empty_and_roundtrip(void **state)
{
	struct pair *p = pair_new(4096);
	uint8_t buf[256], data[13];
	uint32_t len = 0;
	bool sig;
	int i;

	(void)state;
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_ENOENT);
	for (i = 0; i < 13; i++)
		data[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(put(p, 0x1122334455667788ull, data, 13, &sig), PV_OK);
	assert_true(sig);
	/* layout: descriptor, payload padded to 8, trailer with start offset */
	assert_int_equal(ctl(p, 0), 16 + 16 + 8);
	assert_int_equal(p->t.mem[4096], 6);
	assert_int_equal(p->t.mem[4096 + 2], 2);
	assert_int_equal(p->t.mem[4096 + 4], 4);
	assert_int_equal(p->t.mem[4096 + 6], 1);
	assert_memory_equal(p->t.mem + 4096 + 16, data, 13);
	assert_int_equal(p->t.mem[4096 + 29], 0);
	assert_int_equal(ctl(p, 4096 + 32), 0);
	assert_int_equal(ctl(p, 4096 + 36), 0);

	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(len, 32);
	assert_memory_equal(buf + 16, data, 13);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_ENOENT);
	/* read index is published only on commit */
	assert_int_equal(ctl(p, 4), 0);
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
	assert_false(sig);
	assert_int_equal(ctl(p, 4), 40);
	pair_free(p);
}

static void test_wraparound(void **state)
{
	struct pair *p = pair_new(512);
	uint8_t data[200], buf[512];
	uint32_t len, i, wraps = 0, prev = 0;
	bool sig;

	(void)state;
	for (i = 0; i < 200; i++) {
		uint32_t n = 1 + (i * 37) % 180, j, start = p->prod.priv;

		for (j = 0; j < n; j++)
			data[j] = (uint8_t)(i + j);
		assert_int_equal(put(p, i, data, n, &sig), PV_OK);
		/* trailer holds the packet's start offset in its high half */
		{
			uint32_t tpos = (start + 16 + ((n + 7) & ~7u)) % 512, hi;

			memcpy(&hi, p->t.mem + 4096 + tpos + 4, 4);
			assert_int_equal(hi, start);
		}
		assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
		assert_int_equal(len, 16 + ((n + 7) & ~7u));
		assert_int_equal(buf[8], (uint8_t)i);
		assert_memory_equal(buf + 16, data, n);
		assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
		if (p->cons.priv < prev)
			wraps++;
		prev = p->cons.priv;
	}
	assert_true(wraps > 10);
	pair_free(p);
}

static void test_full_and_exact_fit(void **state)
{
	struct pair *p = pair_new(256);
	uint8_t data[256], buf[512];
	uint32_t len, free_bytes, n = 0;
	bool sig;
	pv_err_t e;

	(void)state;
	memset(data, 0x5a, sizeof(data));
	/* biggest packet for an empty ring: total (packet + trailer) = 248 < 256 */
	assert_int_equal(put(p, 1, data, 256 - 8 - 8 - 16 + 1, &sig), PV_ERANGE);
	assert_int_equal(put(p, 1, data, 256 - 8 - 8 - 16, &sig), PV_OK);
	assert_int_equal(vmb_ring_free_bytes(&p->prod, &free_bytes), PV_OK);
	assert_int_equal(free_bytes, 8);
	assert_int_equal(put(p, 2, data, 0, &sig), PV_EBUSY);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(len, 240);
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);

	/* fill with 32-byte packets (+ 8 trailer = 40 bytes each) */
	while ((e = put(p, n, data, 16, &sig)) == PV_OK)
		n++;
	assert_int_equal(e, PV_EBUSY);
	assert_int_equal(n, 6); /* 6 * 40 = 240 < 256, 7 * 40 = 280 */
	assert_int_equal(vmb_ring_free_bytes(&p->prod, &free_bytes), PV_OK);
	assert_int_equal(free_bytes, 16);
	/* exactly fits after one packet is consumed: 40 < 56 */
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
	assert_int_equal(put(p, 99, data, 16, &sig), PV_OK);
	assert_int_equal(put(p, 100, data, 16, &sig), PV_EBUSY);
	n = 0;
	while (vmb_ring_read(&p->cons, buf, sizeof(buf), &len) == PV_OK)
		n++;
	assert_int_equal(n, 6);
	pair_free(p);
}

static void test_interrupt_suppression(void **state)
{
	struct pair *p = pair_new(1024);
	uint8_t data[64] = {0}, buf[256];
	uint32_t len;
	bool sig;

	(void)state;
	/* empty -> non-empty signals; non-empty -> more does not */
	assert_int_equal(put(p, 1, data, 8, &sig), PV_OK);
	assert_true(sig);
	assert_int_equal(put(p, 2, data, 8, &sig), PV_OK);
	assert_false(sig);
	/* drain; next write signals again */
	while (vmb_ring_read(&p->cons, buf, sizeof(buf), &len) == PV_OK)
		;
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
	assert_int_equal(put(p, 3, data, 8, &sig), PV_OK);
	assert_true(sig);
	/* reader masked interrupts: never signal */
	while (vmb_ring_read(&p->cons, buf, sizeof(buf), &len) == PV_OK)
		;
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
	set_ctl(p, 8, 1);
	assert_int_equal(put(p, 4, data, 8, &sig), PV_OK);
	assert_false(sig);
	set_ctl(p, 8, 0);
	/* reader consumed but not yet published: no signal (it will re-check) */
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(put(p, 5, data, 8, &sig), PV_OK);
	assert_false(sig);
	while (vmb_ring_read(&p->cons, buf, sizeof(buf), &len) == PV_OK)
		;
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
	assert_false(sig); /* no pending_send_sz */
	pair_free(p);
}

static void test_pending_send_size(void **state)
{
	struct pair *p = pair_new(1024);
	uint8_t data[128] = {0}, buf[256];
	uint32_t len, free_bytes;
	bool sig;
	int n = 0;

	(void)state;
	while (put(p, 1, data, 112, &sig) == PV_OK) /* 128 + 8 = 136 per packet */
		n++;
	assert_int_equal(n, 7);
	assert_int_equal(vmb_ring_free_bytes(&p->prod, &free_bytes), PV_OK);
	assert_int_equal(free_bytes, 1024 - 7 * 136);
	/* writer wants 300 bytes */
	assert_int_equal(vmb_ring_set_pending(&p->prod, 300), PV_OK);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
	assert_false(sig); /* 72 -> 208: still <= 300 */
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
	assert_true(sig); /* 208 -> 344: crossed above 300 */
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(vmb_ring_commit_read(&p->cons, &sig), PV_OK);
	assert_false(sig); /* already above: no second signal */
	pair_free(p);
}

static void test_hostile_indices(void **state)
{
	struct pair *p = pair_new(1024);
	uint8_t data[8] = {0}, buf[2048];
	uint32_t len;
	bool sig;

	(void)state;
	/* unaligned write index */
	set_ctl(p, 0, 12);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_EBADMSG);
	assert_true(p->cons.broken);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_EBADMSG);
	pair_free(p);

	/* write index outside the data area */
	p = pair_new(1024);
	set_ctl(p, 0, 1024);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_EBADMSG);
	pair_free(p);
	p = pair_new(1024);
	set_ctl(p, 0, 0xfffffff8u);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_EBADMSG);
	pair_free(p);

	/* producer side: hostile read index */
	p = pair_new(1024);
	set_ctl(p, 4, 0x80000000u);
	assert_int_equal(put(p, 1, data, 8, &sig), PV_EBADMSG);
	assert_true(p->prod.broken);
	pair_free(p);
	p = pair_new(1024);
	set_ctl(p, 4, 7);
	assert_int_equal(vmb_ring_attach_consumer(&p->cons), PV_EBADMSG);
	pair_free(p);
}

/* Forge a descriptor at data offset 0 and a write index; expect rejection. */
static void forged(uint16_t off8, uint16_t len8, uint32_t widx, pv_err_t want)
{
	struct pair *p = pair_new(1024);
	uint8_t buf[2048];
	uint32_t len;

	p->t.mem[4096 + 0] = 6;
	p->t.mem[4096 + 2] = (uint8_t)off8;
	p->t.mem[4096 + 3] = (uint8_t)(off8 >> 8);
	p->t.mem[4096 + 4] = (uint8_t)len8;
	p->t.mem[4096 + 5] = (uint8_t)(len8 >> 8);
	set_ctl(p, 0, widx);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), want);
	if (want == PV_EBADMSG)
		assert_true(p->cons.broken);
	pair_free(p);
}

static void test_hostile_descriptors(void **state)
{
	(void)state;
	forged(2, 4, 40, PV_OK);             /* sane: 32 bytes + trailer */
	forged(2, 4, 32, PV_EBADMSG);        /* trailer missing */
	forged(2, 5, 40, PV_EBADMSG);        /* longer than available */
	forged(1, 4, 40, PV_EBADMSG);        /* data offset inside the descriptor */
	forged(5, 4, 40, PV_EBADMSG);        /* data offset past the end */
	forged(0, 0, 40, PV_EBADMSG);        /* zero length */
	forged(2, 1, 40, PV_EBADMSG);        /* shorter than a descriptor */
	forged(2, 0xffff, 1016, PV_EBADMSG); /* huge */
	forged(2, 2, 16, PV_EBADMSG);        /* fewer than 24 bytes available */
	forged(2, 126, 1016, PV_OK);         /* 1008 + 8: whole ring minus one slot */
}

static void test_oversized_packet_skipped(void **state)
{
	struct pair *p = pair_new(4096);
	uint8_t data[600] = {0}, buf[128];
	uint32_t len;
	bool sig;

	(void)state;
	data[0] = 0x77;
	assert_int_equal(put(p, 1, data, 600, &sig), PV_OK);
	assert_int_equal(put(p, 2, data, 8, &sig), PV_OK);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_ERANGE);
	assert_int_equal(len, 16 + 600);
	assert_false(p->cons.broken);
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(buf[8], 2);
	pair_free(p);
}

static void test_copy_once(void **state)
{
	struct pair *p = pair_new(4096);
	uint8_t data[100], buf[256];
	uint32_t len, i;
	bool sig;

	(void)state;
	memset(data, 1, sizeof(data));
	assert_int_equal(put(p, 1, data, 100, &sig), PV_OK);
	p->t.widx_reads = 0;
	p->t.count_data = true;
	assert_int_equal(vmb_ring_read(&p->cons, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(p->t.widx_reads, 1);
	for (i = 0; i < len; i++)
		assert_int_equal(p->t.data_reads[i], 1);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_empty_and_roundtrip),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_full_and_exact_fit),
		cmocka_unit_test(test_interrupt_suppression),
		cmocka_unit_test(test_pending_send_size),
		cmocka_unit_test(test_hostile_indices),
		cmocka_unit_test(test_hostile_descriptors),
		cmocka_unit_test(test_oversized_packet_skipped),
		cmocka_unit_test(test_copy_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
