/* SPDX-License-Identifier: MIT */
/* Save/restore of the VMBus server: round trip into a fresh server with the
 * guest continuing where it was, and hostile records (every byte corrupted,
 * every truncation) rejected without crashing or leaking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus_fake.h"

struct tdev {
	unsigned opens, openeds, closes, packets;
	uint8_t last[64];
};

static pv_err_t d_open(void *ctx, struct pv_vmbus_channel *chan)
{
	(void)chan;
	((struct tdev *)ctx)->opens++;
	return PV_OK;
}

static void d_opened(void *ctx, struct pv_vmbus_channel *chan)
{
	(void)chan;
	((struct tdev *)ctx)->openeds++;
}

static void d_close(void *ctx, struct pv_vmbus_channel *chan)
{
	(void)chan;
	((struct tdev *)ctx)->closes++;
}

static void d_packet(void *ctx, struct pv_vmbus_channel *chan, const struct pv_vmbus_packet *pkt)
{
	struct tdev *d = ctx;

	(void)chan;
	d->packets++;
	memcpy(d->last, pkt->data, pkt->len < 64 ? pkt->len : 64);
}

static const struct pv_vmbus_device_ops ops = {d_open, d_opened, d_close, d_packet, NULL};

static struct pv_vmbus_device_desc desc_for(struct tdev *d, uint8_t tag)
{
	struct pv_vmbus_device_desc desc;

	memset(&desc, 0, sizeof(desc));
	memset(desc.class_id.b, 0x40 + tag, 16);
	memset(desc.instance_id.b, 0x50 + tag, 16);
	desc.ops = &ops;
	desc.ctx = d;
	return desc;
}

struct side {
	struct fake_host h;
	struct pv_vmbus *vmbus;
	struct tdev dev[3];
	struct pv_vmbus_channel *chan[3];
};

/* Add devices @order[0..n) (tags) to a fresh server. */
static void side_init(struct side *s, const uint8_t *order, unsigned n)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	fake_init(&s->h);
	s->vmbus = fake_server(&s->h, 2);
	for (i = 0; i < n; i++) {
		struct pv_vmbus_device_desc d = desc_for(&s->dev[order[i]], order[i]);

		assert_int_equal(pv_vmbus_device_add(s->vmbus, &d, &s->chan[order[i]]), PV_OK);
	}
}

static void side_fini(struct side *s)
{
	pv_vmbus_destroy(s->vmbus);
	assert_int_equal(fake_handlers(&s->h), 0);
	fake_fini(&s->h);
}

/* Build a busy source server; returns the record. */
static uint8_t *make_record(struct side *a, struct fake_guest_chan *gc, size_t *len)
{
	static const uint8_t order[] = {0, 1, 2};
	uint8_t data[24];
	struct vmb_ring_buf b = {data, sizeof(data)};
	uint32_t relids[4], needed, plen;
	uint8_t pkt[256], m[64] = {0};
	uint8_t *rec;
	bool sig;
	size_t need = 0;
	int i;

	side_init(a, order, 3);
	guest_connect(&a->h, PV_VMBUS_VERSION_5_2, true);
	assert_int_equal(guest_request_offers(&a->h, relids, 4), 3);
	assert_int_equal(
		guest_open(&a->h, gc, pv_vmbus_channel_relid(a->chan[0]), 0xE1E10, 0x100000, 8, 4),
		0);
	/* move the ring positions away from zero */
	memset(data, 0x11, sizeof(data));
	for (i = 0; i < 5; i++) {
		assert_int_equal(vmb_ring_write(&gc->tx, 6, 0, (uint64_t)i, &b, 1, &sig, &needed),
				 PV_OK);
		assert_int_equal(pv_vmbus_send(a->chan[0], 6, 0, (uint64_t)i, data, 8), PV_OK);
	}
	assert_int_equal(fake_signal(&a->h, gc->conn_id), PV_OK);
	assert_int_equal(a->dev[0].packets, 5);
	for (i = 0; i < 3; i++)
		assert_int_equal(vmb_ring_read(&gc->rx, pkt, sizeof(pkt), &plen), PV_OK);
	assert_int_equal(vmb_ring_commit_read(&gc->rx, &sig), PV_OK);
	/* a second complete GPADL, and an incomplete one on channel 1 */
	assert_int_equal(guest_gpadl(&a->h, pv_vmbus_channel_relid(a->chan[1]), 7, 0x200000, 3), 0);
	wr32(m, 8);
	wr32(m + 8, pv_vmbus_channel_relid(a->chan[1]));
	wr32(m + 12, 8);
	wr16(m + 16, 8 + 8 * 30);
	wr16(m + 18, 1);
	wr32(m + 20, 30 * 4096);
	wr64(m + 28, 0x300);
	assert_int_equal(fake_send(&a->h, 1, m, 36), PV_OK);
	/* channel 2 rescinded, not yet released */
	assert_int_equal(pv_vmbus_device_rescind(a->chan[2]), PV_OK);
	fake_expect(&a->h, 2);

	assert_int_equal(pv_vmbus_save(a->vmbus, NULL, 0, &need), PV_ERANGE);
	assert_true(need > 40);
	rec = malloc(need);
	assert_int_equal(pv_vmbus_save(a->vmbus, rec, need - 1, len), PV_ERANGE);
	assert_int_equal(pv_vmbus_save(a->vmbus, rec, need, len), PV_OK);
	assert_int_equal(*len, need);
	return rec;
}

static void test_roundtrip(void **state)
{
	static const uint8_t order[] = {2, 1, 0}; /* different relids before restore */
	struct side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct fake_guest_chan gc, gc2;
	struct pv_vmbus_stats st;
	uint8_t data[8] = {7, 7, 7, 7, 7, 7, 7, 7}, pkt[256], m[240] = {0};
	struct vmb_ring_buf bb = {data, sizeof(data)};
	uint32_t needed, plen, relid0, relid1, relid2;
	size_t len;
	uint8_t *rec;
	bool sig;
	int n;

	(void)state;
	rec = make_record(a, &gc, &len);
	relid0 = pv_vmbus_channel_relid(a->chan[0]);
	relid1 = pv_vmbus_channel_relid(a->chan[1]);
	relid2 = pv_vmbus_channel_relid(a->chan[2]);

	/* b gets the guest memory and a rescinded device is not re-added */
	side_init(b, order + 1, 2);
	memcpy(b->h.ram, a->h.ram, FAKE_RAM_SIZE);
	assert_int_not_equal(pv_vmbus_channel_relid(b->chan[0]), relid0);
	assert_int_equal(pv_vmbus_restore(b->vmbus, rec, len), PV_OK);
	assert_int_equal(pv_vmbus_version(b->vmbus), PV_VMBUS_VERSION_5_2);
	assert_int_equal(pv_vmbus_get_state(b->vmbus), PV_VMBUS_OFFERS_SENT);
	assert_int_equal(pv_vmbus_channel_relid(b->chan[0]), relid0);
	assert_int_equal(pv_vmbus_channel_relid(b->chan[1]), relid1);
	assert_true(pv_vmbus_channel_is_open(b->chan[0]));
	assert_false(pv_vmbus_channel_is_open(b->chan[1]));
	assert_int_equal(b->dev[0].opens, 1);
	assert_int_equal(b->dev[0].openeds, 1);
	pv_vmbus_get_stats(b->vmbus, &st);
	assert_int_equal(st.gpadls, 3);
	assert_int_equal(fake_pending(&b->h), 0);
	/* restoring twice is refused */
	assert_int_equal(pv_vmbus_restore(b->vmbus, rec, len), PV_ESTATE);

	/* the guest carries on with its ring state */
	memset(&gc2, 0, sizeof(gc2));
	gc2.relid = relid0;
	gc2.conn_id = 0x2000 | relid0;
	fake_ring_view(&b->h, &gc2.tx, 0x100000, 4 * 4096);
	fake_ring_view(&b->h, &gc2.rx, 0x100000 + 4 * 4096, 4 * 4096);
	gc2.tx.priv = gc.tx.priv;
	gc2.rx.priv = gc.rx.priv;
	gc2.rx.committed = gc.rx.committed;
	assert_int_equal(vmb_ring_write(&gc2.tx, 6, 0, 99, &bb, 1, &sig, &needed), PV_OK);
	assert_true(sig);
	assert_int_equal(fake_signal(&b->h, gc2.conn_id), PV_OK);
	assert_int_equal(b->dev[0].packets, 1);
	assert_memory_equal(b->dev[0].last, data, 8);
	/* the two packets the guest had not read are still there, then a new one */
	assert_int_equal(pv_vmbus_send(b->chan[0], 6, 0, 1234, data, 8), PV_OK);
	n = 0;
	while (vmb_ring_read(&gc2.rx, pkt, sizeof(pkt), &plen) == PV_OK)
		n++;
	assert_int_equal(n, 3);
	assert_int_equal(pkt[8], 1234 & 0xff);
	/* the incomplete GPADL completes with its body */
	wr32(m, 9);
	wr32(m + 12, 8);
	for (n = 0; n < 28; n++)
		wr64(m + 16 + 8 * n, 0x301 + (uint64_t)n);
	assert_int_equal(fake_send(&b->h, 1, m, 16 + 8 * 28), PV_OK);
	wr32(m, 9);
	wr64(m + 16, 0x400);
	assert_int_equal(fake_send(&b->h, 1, m, 16 + 8), PV_OK);
	{
		const struct fake_msg *r = fake_expect(&b->h, 10);

		assert_int_equal(rd32(r->data + 12), 8);
		assert_int_equal(rd32(r->data + 16), 0);
	}
	/* the rescinded relid is released and freed */
	guest_msg_relid(&b->h, 13, relid2);
	assert_int_equal(fake_pending(&b->h), 0);
	pv_vmbus_get_stats(b->vmbus, &st);
	assert_int_equal(st.unexpected, 0);
	/* the ring GPADL is in use again: teardown refused while open */
	wr32(m, 11);
	wr32(m + 8, relid0);
	wr32(m + 12, 0xE1E10);
	assert_int_equal(fake_send(&b->h, 1, m, 16), PV_OK);
	assert_int_equal(fake_pending(&b->h), 0);

	side_fini(b);
	side_fini(a);
	free(rec);
	free(a);
	free(b);
}

static void test_missing_device_and_bad_headers(void **state)
{
	static const uint8_t only1[] = {1}, all[] = {0, 1};
	struct side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct fake_guest_chan gc;
	size_t len;
	uint8_t *rec = NULL, *bad;

	(void)state;
	rec = make_record(a, &gc, &len);
	side_init(b, only1, 1);
	assert_int_equal(pv_vmbus_restore(b->vmbus, rec, len), PV_ENOENT);
	assert_int_equal(pv_vmbus_get_state(b->vmbus), PV_VMBUS_DISCONNECTED);
	side_fini(b);

	side_init(b, all, 2);
	bad = malloc(len);
	memcpy(bad, rec, len);
	bad[0] ^= 1;
	assert_int_equal(pv_vmbus_restore(b->vmbus, bad, len), PV_EVERSION);
	memcpy(bad, rec, len);
	bad[4] = 2;
	assert_int_equal(pv_vmbus_restore(b->vmbus, bad, len), PV_EVERSION);
	assert_int_equal(pv_vmbus_restore(b->vmbus, rec, len - 8), PV_EVERSION);
	assert_int_equal(pv_vmbus_restore(b->vmbus, rec, 10), PV_EVERSION);
	/* still usable afterwards */
	memcpy(b->h.ram, a->h.ram, FAKE_RAM_SIZE);
	assert_int_equal(pv_vmbus_restore(b->vmbus, rec, len), PV_OK);
	free(bad);
	side_fini(b);
	side_fini(a);
	free(rec);
	free(a);
	free(b);
}

/* Every single-byte corruption: no crash, no leak; on failure nothing is left. */
static void test_corruption_sweep(void **state)
{
	static const uint8_t all[] = {0, 1};
	struct side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct fake_guest_chan gc;
	size_t len, i, ok = 0, bad = 0;
	uint8_t *rec, *mut;

	(void)state;
	rec = make_record(a, &gc, &len);
	mut = malloc(len);
	for (i = 0; i < len; i++) {
		static const uint8_t flips[] = {0x01, 0x80, 0xff};
		size_t f;

		for (f = 0; f < sizeof(flips); f++) {
			struct pv_vmbus_stats st;
			pv_err_t e;

			memcpy(mut, rec, len);
			mut[i] ^= flips[f];
			side_init(b, all, 2);
			e = pv_vmbus_restore(b->vmbus, mut, len);
			if (e == PV_OK) {
				ok++;
			} else {
				bad++;
				pv_vmbus_get_stats(b->vmbus, &st);
				assert_int_equal(st.gpadls, 0);
				assert_int_equal(pv_vmbus_get_state(b->vmbus),
						 PV_VMBUS_DISCONNECTED);
				assert_false(pv_vmbus_channel_is_open(b->chan[0]));
			}
			side_fini(b);
		}
	}
	assert_true(bad > 0);
	assert_true(ok > 0); /* e.g. reserved bytes and the payload of packets */
	free(mut);
	side_fini(a);
	free(rec);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_missing_device_and_bad_headers),
		cmocka_unit_test(test_corruption_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
