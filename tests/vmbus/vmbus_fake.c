/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "paravisor/platform.h"
#include "vmbus_fake.h"

static pv_err_t f_post(void *ctx, uint32_t vp, uint8_t sint, uint32_t type, const void *payload,
		       uint32_t size)
{
	struct fake_host *h = ctx;
	struct fake_msg *m;

	if (type != 1 || size > 240 || size < 8)
		return PV_EINVAL;
	if (h->busy_budget) {
		h->busy_budget--;
		return PV_EBUSY;
	}
	if (h->nmsgs - h->msg_head >= FAKE_MAX_MSGS)
		return PV_EBUSY;
	m = &h->msgs[h->nmsgs % FAKE_MAX_MSGS];
	m->vp = vp;
	m->sint = sint;
	m->size = size;
	memcpy(m->data, payload, size);
	h->nmsgs++;
	return PV_OK;
}

static pv_err_t f_signal(void *ctx, uint32_t vp, uint8_t sint, uint32_t flag)
{
	struct fake_host *h = ctx;

	__atomic_add_fetch(&h->nsignals, 1, __ATOMIC_RELAXED);
	h->last_signal_vp = vp;
	h->last_signal_sint = sint;
	h->last_signal_flag = flag;
	return PV_OK;
}

static pv_err_t f_reg_msg(void *ctx, uint32_t conn, pv_hv1_message_fn fn, void *fn_ctx)
{
	struct fake_host *h = ctx;

	if (conn >= 8 || h->msg_fn[conn])
		return PV_EEXIST;
	h->msg_fn[conn] = fn;
	h->msg_ctx[conn] = fn_ctx;
	return PV_OK;
}

static pv_err_t f_unreg_msg(void *ctx, uint32_t conn)
{
	struct fake_host *h = ctx;

	if (conn >= 8 || !h->msg_fn[conn])
		return PV_ENOENT;
	h->msg_fn[conn] = NULL;
	return PV_OK;
}

static pv_err_t f_reg_evt(void *ctx, uint32_t conn, pv_hv1_event_fn fn, void *fn_ctx)
{
	struct fake_host *h = ctx;
	unsigned i;

	for (i = 0; i < h->nevt; i++)
		if (h->evt[i].fn && h->evt[i].conn == conn)
			return PV_EEXIST;
	for (i = 0; i < FAKE_MAX_EVT; i++) {
		if (!h->evt[i].fn) {
			h->evt[i].conn = conn;
			h->evt[i].fn = fn;
			h->evt[i].ctx = fn_ctx;
			if (i >= h->nevt)
				h->nevt = i + 1;
			return PV_OK;
		}
	}
	return PV_ENOMEM;
}

static pv_err_t f_unreg_evt(void *ctx, uint32_t conn)
{
	struct fake_host *h = ctx;
	unsigned i;

	for (i = 0; i < h->nevt; i++) {
		if (h->evt[i].fn && h->evt[i].conn == conn) {
			h->evt[i].fn = NULL;
			return PV_OK;
		}
	}
	return PV_ENOENT;
}

static pv_err_t f_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct fake_host *h = ctx;

	if (gpa > FAKE_RAM_SIZE || len > FAKE_RAM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(buf, h->ram + gpa, len);
	return PV_OK;
}

static pv_err_t f_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct fake_host *h = ctx;

	if (gpa > FAKE_RAM_SIZE || len > FAKE_RAM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(h->ram + gpa, buf, len);
	return PV_OK;
}

void fake_init(struct fake_host *h)
{
	memset(h, 0, sizeof(*h));
	h->ram = calloc(1, FAKE_RAM_SIZE);
	assert_non_null(h->ram);
	h->ops.ctx = h;
	h->ops.post_message = f_post;
	h->ops.signal_event = f_signal;
	h->ops.register_message_handler = f_reg_msg;
	h->ops.unregister_message_handler = f_unreg_msg;
	h->ops.register_event_handler = f_reg_evt;
	h->ops.unregister_event_handler = f_unreg_evt;
	h->ops.mem_read = f_read;
	h->ops.mem_write = f_write;
}

void fake_fini(struct fake_host *h)
{
	free(h->ram);
	h->ram = NULL;
}

struct pv_vmbus *fake_server(struct fake_host *h, uint32_t vcpus)
{
	struct pv_vmbus_config cfg;
	struct pv_vmbus *vmbus = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.host_ops = &h->ops;
	cfg.platform = pv_platform_hosted();
	cfg.vcpu_count = vcpus;
	assert_int_equal(pv_vmbus_create(&cfg, &vmbus), PV_OK);
	assert_non_null(h->msg_fn[1]);
	assert_non_null(h->msg_fn[4]);
	return vmbus;
}

pv_err_t fake_send(struct fake_host *h, uint32_t conn, const void *msg, uint32_t size)
{
	if (conn >= 8 || !h->msg_fn[conn])
		return PV_ENOENT;
	return h->msg_fn[conn](h->msg_ctx[conn], NULL, conn, 1, msg, size);
}

pv_err_t fake_signal(struct fake_host *h, uint32_t conn)
{
	unsigned i;

	for (i = 0; i < h->nevt; i++)
		if (h->evt[i].fn && h->evt[i].conn == conn)
			return h->evt[i].fn(h->evt[i].ctx, NULL, conn, 0);
	return PV_ENOENT;
}

unsigned fake_handlers(struct fake_host *h)
{
	unsigned i, n = 0;

	for (i = 0; i < 8; i++)
		n += h->msg_fn[i] != NULL;
	for (i = 0; i < h->nevt; i++)
		n += h->evt[i].fn != NULL;
	return n;
}

unsigned fake_pending(struct fake_host *h)
{
	return h->nmsgs - h->msg_head;
}

const struct fake_msg *fake_pop(struct fake_host *h)
{
	if (h->msg_head == h->nmsgs)
		return NULL;
	return &h->msgs[h->msg_head++ % FAKE_MAX_MSGS];
}

const struct fake_msg *fake_expect(struct fake_host *h, uint32_t type)
{
	const struct fake_msg *m = fake_pop(h);

	assert_non_null(m);
	assert_int_equal(rd32(m->data), type);
	return m;
}

void guest_connect(struct fake_host *h, uint32_t version, bool expect_ok)
{
	uint8_t m[40] = {0};
	const struct fake_msg *r;

	wr32(m, 14);
	wr32(m + 8, version);
	wr32(m + 12, 0);
	if (version >= 0x50000)
		m[16] = 2;
	assert_int_equal(fake_send(h, version >= 0x50000 ? 4 : 1, m, sizeof(m)), PV_OK);
	r = fake_expect(h, 15);
	assert_true(r->size >= 16);
	assert_int_equal(r->sint, 2);
	assert_int_equal(r->data[8], expect_ok ? 1 : 0);
	if (expect_ok && version >= 0x50000)
		assert_int_equal(rd32(r->data + 12), 1);
}

unsigned guest_request_offers(struct fake_host *h, uint32_t *relids, unsigned max)
{
	uint8_t m[8] = {0};
	const struct fake_msg *r;
	unsigned n = 0;

	wr32(m, 3);
	assert_int_equal(fake_send(h, 1, m, sizeof(m)), PV_OK);
	while ((r = fake_pop(h)) != NULL) {
		if (rd32(r->data) == 4)
			return n;
		assert_int_equal(rd32(r->data), 1);
		assert_int_equal(r->size, 196);
		if (n < max)
			relids[n] = rd32(r->data + 184);
		n++;
	}
	fail_msg("no ALLOFFERS_DELIVERED");
	return n;
}

void guest_gpadl_send(struct fake_host *h, uint32_t relid, uint32_t id, uint64_t gpa,
		      uint32_t pages)
{
	uint8_t m[240];
	uint32_t sent = 0, n, i;

	memset(m, 0, sizeof(m));
	wr32(m, 8);
	wr32(m + 8, relid);
	wr32(m + 12, id);
	wr16(m + 16, (uint16_t)(8 + 8 * pages));
	wr16(m + 18, 1);
	wr32(m + 20, pages * 4096);
	wr32(m + 24, 0);
	n = pages < 26 ? pages : 26;
	for (i = 0; i < n; i++)
		wr64(m + 28 + 8 * i, gpa / 4096 + i);
	assert_int_equal(fake_send(h, 1, m, 28 + 8 * n), PV_OK);
	sent = n;
	while (sent < pages) {
		memset(m, 0, sizeof(m));
		wr32(m, 9);
		wr32(m + 12, id);
		n = pages - sent < 28 ? pages - sent : 28;
		for (i = 0; i < n; i++)
			wr64(m + 16 + 8 * i, gpa / 4096 + sent + i);
		assert_int_equal(fake_send(h, 1, m, 16 + 8 * n), PV_OK);
		sent += n;
	}
}

uint32_t guest_gpadl(struct fake_host *h, uint32_t relid, uint32_t id, uint64_t gpa, uint32_t pages)
{
	const struct fake_msg *r;

	guest_gpadl_send(h, relid, id, gpa, pages);
	r = fake_expect(h, 10);
	assert_int_equal(rd32(r->data + 8), relid);
	assert_int_equal(rd32(r->data + 12), id);
	return rd32(r->data + 16);
}

static pv_err_t flat_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct fake_flat *f = ctx;

	if (off > f->size || len > f->size - off)
		return PV_ERANGE;
	memcpy(buf, f->base + off, len);
	return PV_OK;
}

static pv_err_t flat_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct fake_flat *f = ctx;

	if (off > f->size || len > f->size - off)
		return PV_ERANGE;
	memcpy(f->base + off, buf, len);
	return PV_OK;
}

void fake_ring_view(struct fake_host *h, struct vmb_ring *r, uint64_t gpa, uint32_t bytes)
{
	struct vmb_ring_io io;
	struct fake_flat *f;

	assert_true(h->nflats < 64);
	f = &h->flats[h->nflats++];
	f->base = h->ram + gpa;
	f->size = bytes;
	io.read = flat_read;
	io.write = flat_write;
	io.ctx = f;
	assert_int_equal(vmb_ring_init(r, &io, bytes), PV_OK);
}

uint32_t guest_open(struct fake_host *h, struct fake_guest_chan *gc, uint32_t relid,
		    uint32_t gpadl_id, uint64_t gpa, uint32_t pages, uint32_t downstream)
{
	uint8_t m[148] = {0};
	const struct fake_msg *r;

	memset(gc, 0, sizeof(*gc));
	gc->relid = relid;
	gc->conn_id = 0x2000 | relid;
	gc->ring_gpa = gpa;
	gc->pages = pages;
	gc->downstream = downstream;
	fake_ring_view(h, &gc->tx, gpa, downstream * 4096);
	fake_ring_view(h, &gc->rx, gpa + (uint64_t)downstream * 4096, (pages - downstream) * 4096);
	assert_int_equal(vmb_ring_reset(&gc->tx, 1), PV_OK);
	assert_int_equal(vmb_ring_reset(&gc->rx, 1), PV_OK);
	assert_int_equal(guest_gpadl(h, relid, gpadl_id, gpa, pages), 0);
	wr32(m, 5);
	wr32(m + 8, relid);
	wr32(m + 12, relid);
	wr32(m + 16, gpadl_id);
	wr32(m + 20, 0);
	wr32(m + 24, downstream);
	assert_int_equal(fake_send(h, 1, m, sizeof(m)), PV_OK);
	r = fake_expect(h, 6);
	assert_int_equal(rd32(r->data + 8), relid);
	assert_int_equal(rd32(r->data + 12), relid);
	return rd32(r->data + 16);
}

void guest_msg_relid(struct fake_host *h, uint32_t type, uint32_t relid)
{
	uint8_t m[16] = {0};

	wr32(m, type);
	wr32(m + 8, relid);
	assert_int_equal(fake_send(h, 1, m, type == 11 || type == 22 ? 16 : 12), PV_OK);
}
