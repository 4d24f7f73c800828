/* SPDX-License-Identifier: MIT */
/* Channel-management server driven message by message by a scripted guest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus_fake.h"

#define RING_GPA 0x100000u
#define RING_PAGES 8u

struct tdev {
	unsigned opens, openeds, closes, packets, writables;
	bool refuse_open;
	bool echo;
	uint16_t last_type;
	uint64_t last_tid;
	uint32_t last_len;
	uint8_t last[512];
	uint32_t last_ranges;
	pv_err_t range_read_err;
	uint8_t range_bytes[64];
};

static pv_err_t d_open(void *ctx, struct pv_vmbus_channel *chan)
{
	struct tdev *d = ctx;

	(void)chan;
	d->opens++;
	return d->refuse_open ? PV_EBUSY : PV_OK;
}

static void d_opened(void *ctx, struct pv_vmbus_channel *chan)
{
	struct tdev *d = ctx;

	(void)chan;
	d->openeds++;
}

static void d_close(void *ctx, struct pv_vmbus_channel *chan)
{
	struct tdev *d = ctx;

	(void)chan;
	d->closes++;
}

static void d_packet(void *ctx, struct pv_vmbus_channel *chan, const struct pv_vmbus_packet *pkt)
{
	struct tdev *d = ctx;

	d->packets++;
	d->last_type = pkt->type;
	d->last_tid = pkt->trans_id;
	d->last_len = pkt->len;
	memcpy(d->last, pkt->data, pkt->len < sizeof(d->last) ? pkt->len : sizeof(d->last));
	d->last_ranges = pkt->range_count;
	if (pkt->range_count) {
		uint32_t n = pkt->ranges[0].byte_count < 64 ? pkt->ranges[0].byte_count : 64;

		d->range_read_err = pv_vmbus_packet_read_range(chan, pkt, 0, 0, d->range_bytes, n);
		/* one past the end of the range must be refused */
		assert_int_equal(pv_vmbus_packet_read_range(chan, pkt, 0, pkt->ranges[0].byte_count,
							    d->range_bytes, 1),
				 PV_ERANGE);
		assert_int_equal(pv_vmbus_packet_read_range(chan, pkt, pkt->range_count, 0,
							    d->range_bytes, 1),
				 PV_EINVAL);
	}
	if (d->echo)
		assert_int_equal(pv_vmbus_send_completion(chan, pkt->trans_id, pkt->data, pkt->len),
				 PV_OK);
}

static void d_writable(void *ctx, struct pv_vmbus_channel *chan)
{
	struct tdev *d = ctx;

	(void)chan;
	d->writables++;
}

static const struct pv_vmbus_device_ops dev_ops = {d_open, d_opened, d_close, d_packet, d_writable};

struct env {
	struct fake_host h;
	struct pv_vmbus *vmbus;
	struct tdev dev[2];
	struct pv_vmbus_channel *chan[2];
};

static struct pv_vmbus_device_desc desc_for(struct tdev *d, uint8_t tag)
{
	struct pv_vmbus_device_desc desc;

	memset(&desc, 0, sizeof(desc));
	memset(desc.class_id.b, 0x10 + tag, 16);
	memset(desc.instance_id.b, 0x20 + tag, 16);
	desc.offer_flags = PV_VMBUS_OFFER_NAMED_PIPE_MODE;
	desc.user_defined[0] = tag;
	desc.max_packet = 1024;
	desc.ops = &dev_ops;
	desc.ctx = d;
	return desc;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct pv_vmbus_device_desc desc;
	int i;

	fake_init(&e->h);
	e->vmbus = fake_server(&e->h, 2);
	for (i = 0; i < 2; i++) {
		desc = desc_for(&e->dev[i], (uint8_t)i);
		assert_int_equal(pv_vmbus_device_add(e->vmbus, &desc, &e->chan[i]), PV_OK);
	}
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	pv_vmbus_destroy(e->vmbus);
	assert_int_equal(fake_handlers(&e->h), 0);
	fake_fini(&e->h);
	free(e);
	return 0;
}

static struct pv_vmbus_stats stats(struct env *e)
{
	struct pv_vmbus_stats s;

	pv_vmbus_get_stats(e->vmbus, &s);
	return s;
}

/* Connect at 5.3 and take the offers. */
static void connect_all(struct env *e)
{
	uint32_t relids[4];

	guest_connect(&e->h, PV_VMBUS_VERSION_5_3, true);
	assert_int_equal(guest_request_offers(&e->h, relids, 4), 2);
}

static void open_chan0(struct env *e, struct fake_guest_chan *gc)
{
	unsigned opens = e->dev[0].opens, openeds = e->dev[0].openeds;

	assert_int_equal(guest_open(&e->h, gc, pv_vmbus_channel_relid(e->chan[0]), 0xE1E10,
				    RING_GPA, RING_PAGES, 4),
			 0);
	assert_int_equal(e->dev[0].opens, opens + 1);
	assert_int_equal(e->dev[0].openeds, openeds + 1);
	assert_true(pv_vmbus_channel_is_open(e->chan[0]));
}

static void test_versions(void **state)
{
	static const uint32_t ok[] = {0x50003, 0x50002, 0x50001, 0x50000,
				      0x40001, 0x40000, 0x30000, 0x20004};
	static const uint32_t bad[] = {0x60000, 0x10001, 0x0000D, 0x50004, 0};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct fake_host h;
		struct pv_vmbus *v;

		fake_init(&h);
		v = fake_server(&h, 1);
		/* a Linux-like guest tries newest first */
		guest_connect(&h, 0x60000, false);
		guest_connect(&h, ok[i], true);
		assert_int_equal(pv_vmbus_version(v), ok[i]);
		assert_int_equal(pv_vmbus_get_state(v), PV_VMBUS_CONNECTED);
		pv_vmbus_destroy(v);
		fake_fini(&h);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake_host h;
		struct pv_vmbus *v;

		fake_init(&h);
		v = fake_server(&h, 1);
		guest_connect(&h, bad[i], false);
		assert_int_equal(pv_vmbus_get_state(v), PV_VMBUS_DISCONNECTED);
		pv_vmbus_destroy(v);
		fake_fini(&h);
	}
}

static void test_connect_checks(void **state)
{
	struct env *e = *state;
	uint8_t m[40] = {0};
	const struct fake_msg *r;

	/* target vCPU outside the partition: refused */
	wr32(m, 14);
	wr32(m + 8, 0x50003);
	wr32(m + 12, 7);
	m[16] = 2;
	assert_int_equal(fake_send(&e->h, 4, m, 40), PV_OK);
	r = fake_expect(&e->h, 15);
	assert_int_equal(r->data[8], 0);
	/* bad message SINT: refused */
	wr32(m + 12, 1);
	m[16] = 16;
	assert_int_equal(fake_send(&e->h, 4, m, 40), PV_OK);
	r = fake_expect(&e->h, 15);
	assert_int_equal(r->data[8], 0);
	/* VTL other than 0: refused */
	m[16] = 3;
	m[17] = 1;
	assert_int_equal(fake_send(&e->h, 4, m, 40), PV_OK);
	r = fake_expect(&e->h, 15);
	assert_int_equal(r->data[8], 0);
	/* accepted on vCPU 1 SINT 3: later messages go there */
	m[17] = 0;
	assert_int_equal(fake_send(&e->h, 4, m, 40), PV_OK);
	r = fake_expect(&e->h, 15);
	assert_int_equal(r->data[8], 1);
	assert_int_equal(r->vp, 1);
	assert_int_equal(r->sint, 3);
	/* duplicate INITIATE_CONTACT while connected: dropped */
	assert_int_equal(fake_send(&e->h, 4, m, 40), PV_OK);
	assert_int_equal(fake_pending(&e->h), 0);
	assert_int_equal(stats(e).unexpected, 1);
	memset(m, 0, 8);
	wr32(m, 3);
	assert_int_equal(fake_send(&e->h, 1, m, 8), PV_OK);
	r = fake_expect(&e->h, 1);
	assert_int_equal(r->vp, 1);
	assert_int_equal(r->sint, 3);
}

static void test_before_connect(void **state)
{
	struct env *e = *state;
	static const uint32_t types[] = {3, 5, 7, 8, 9, 11, 13, 16, 22};
	uint8_t m[200] = {0};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		wr32(m, types[i]);
		wr32(m + 8, 1);
		assert_int_equal(fake_send(&e->h, 1, m, 200), PV_OK);
	}
	assert_int_equal(fake_pending(&e->h), 0);
	assert_int_equal(stats(e).unexpected, sizeof(types) / sizeof(types[0]));
	assert_int_equal(stats(e).gpadls, 0);
}

static void test_offers(void **state)
{
	struct env *e = *state;
	struct pv_vmbus_device_desc desc;
	struct pv_vmbus_channel *c3;
	struct tdev d3 = {0};
	const struct fake_msg *r;
	uint8_t m[8] = {0};

	guest_connect(&e->h, 0x40001, true);
	wr32(m, 3);
	assert_int_equal(fake_send(&e->h, 1, m, 8), PV_OK);
	r = fake_expect(&e->h, 1);
	assert_int_equal(r->size, 196);
	assert_memory_equal(r->data + 8, desc_for(&e->dev[0], 0).class_id.b, 16);
	assert_memory_equal(r->data + 24, desc_for(&e->dev[0], 0).instance_id.b, 16);
	assert_int_equal(r->data[56], PV_VMBUS_OFFER_NAMED_PIPE_MODE);
	assert_int_equal(r->data[60], 0);
	assert_int_equal(rd32(r->data + 184), pv_vmbus_channel_relid(e->chan[0]));
	assert_int_equal(r->data[188], 0xff);
	assert_int_equal(r->data[189], 0);
	assert_int_equal(r->data[190], 1);
	assert_int_equal(rd32(r->data + 192), 0x2000 | pv_vmbus_channel_relid(e->chan[0]));
	r = fake_expect(&e->h, 1);
	assert_int_equal(r->data[60], 1);
	fake_expect(&e->h, 4);
	assert_int_equal(pv_vmbus_get_state(e->vmbus), PV_VMBUS_OFFERS_SENT);
	/* duplicate REQUESTOFFERS: dropped */
	assert_int_equal(fake_send(&e->h, 1, m, 8), PV_OK);
	assert_int_equal(fake_pending(&e->h), 0);
	assert_int_equal(stats(e).unexpected, 1);
	/* hot-added device is offered at once; duplicates refused */
	desc = desc_for(&d3, 2);
	assert_int_equal(pv_vmbus_device_add(e->vmbus, &desc, &c3), PV_OK);
	r = fake_expect(&e->h, 1);
	assert_int_equal(rd32(r->data + 184), pv_vmbus_channel_relid(c3));
	assert_int_equal(pv_vmbus_device_add(e->vmbus, &desc, &c3), PV_EEXIST);
	desc.ops = NULL;
	assert_int_equal(pv_vmbus_device_add(e->vmbus, &desc, &c3), PV_EINVAL);
}

static void test_gpadl(void **state)
{
	struct env *e = *state;
	uint32_t relid;
	uint8_t m[240] = {0};
	const struct fake_msg *r;
	uint8_t pattern[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8];

	connect_all(e);
	relid = pv_vmbus_channel_relid(e->chan[0]);
	/* 64 pages: header (26 PFNs) + 2 bodies */
	assert_int_equal(guest_gpadl(&e->h, relid, 100, RING_GPA, 64), 0);
	assert_int_equal(stats(e).gpadls, 1);
	assert_int_equal(stats(e).gpadl_pages, 64);
	/* device access through the GPADL, bounds-checked */
	memcpy(e->h.ram + RING_GPA + 4096 * 30 + 4092, pattern, 8);
	assert_int_equal(pv_vmbus_gpadl_read(e->chan[0], 100, 4096 * 30 + 4092, back, 8), PV_OK);
	assert_memory_equal(back, pattern, 8);
	assert_int_equal(pv_vmbus_gpadl_read(e->chan[0], 100, 64 * 4096 - 4, back, 8), PV_ERANGE);
	assert_int_equal(pv_vmbus_gpadl_read(e->chan[0], 100, UINT64_MAX - 2, back, 8), PV_ERANGE);
	assert_int_equal(pv_vmbus_gpadl_read(e->chan[1], 100, 0, back, 8), PV_ENOENT);
	assert_int_equal(pv_vmbus_gpadl_write(e->chan[0], 100, 8, pattern, 8), PV_OK);
	assert_memory_equal(e->h.ram + RING_GPA + 8, pattern, 8);

	/* duplicate ID: dropped, the first one stays */
	guest_gpadl_send(&e->h, relid, 100, RING_GPA, 2);
	assert_int_equal(fake_pending(&e->h), 0);
	assert_int_equal(stats(e).gpadls, 1);
	/* unknown relid: failure status */
	assert_int_not_equal(guest_gpadl(&e->h, 77, 101, RING_GPA, 2), 0);
	assert_int_not_equal(guest_gpadl(&e->h, 0, 101, RING_GPA, 2), 0);
	/* body for an unknown GPADL: dropped */
	wr32(m, 9);
	wr32(m + 12, 555);
	assert_int_equal(fake_send(&e->h, 1, m, 24), PV_OK);
	assert_int_equal(fake_pending(&e->h), 0);
	/* body overflowing the announced length: failure, freed */
	memset(m, 0, sizeof(m));
	wr32(m, 8);
	wr32(m + 8, relid);
	wr32(m + 12, 102);
	wr16(m + 16, 8 + 8 * 2);
	wr16(m + 18, 1);
	wr32(m + 20, 8192);
	wr64(m + 28, 0x100);
	assert_int_equal(fake_send(&e->h, 1, m, 36), PV_OK);
	assert_int_equal(fake_pending(&e->h), 0); /* waiting for the body */
	assert_int_equal(stats(e).gpadls, 2);
	memset(m, 0, sizeof(m));
	wr32(m, 9);
	wr32(m + 12, 102);
	assert_int_equal(fake_send(&e->h, 1, m, 16 + 16), PV_OK);
	r = fake_expect(&e->h, 10);
	assert_int_not_equal(rd32(r->data + 16), 0);
	assert_int_equal(stats(e).gpadls, 1);
	/* malformed headers: zero ranges, byte count not matching PFNs, huge PFN, bad offset */
	{
		struct {
			uint16_t buflen, count;
			uint32_t bytes, offset;
			uint64_t pfn;
			uint32_t size;
		} bad[] = {
			{16, 0, 4096, 0, 1, 36},
			{16, 1, 8192, 0, 1, 36},
			{16, 1, 4096, 0, 1ull << 52, 36},
			{16, 1, 100, 4096, 1, 36},
			{16, 1, 0, 0, 1, 36},
			{24, 1, 4096, 0, 1, 44},
			{12, 1, 4096, 0, 1, 32},
			{16, 1, 4096, 0, 1, 40},
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(m, 0, sizeof(m));
			wr32(m, 8);
			wr32(m + 8, relid);
			wr32(m + 12, 200 + (uint32_t)i);
			wr16(m + 16, bad[i].buflen);
			wr16(m + 18, bad[i].count);
			wr32(m + 20, bad[i].bytes);
			wr32(m + 24, bad[i].offset);
			wr64(m + 28, bad[i].pfn);
			assert_int_equal(fake_send(&e->h, 1, m, bad[i].size), PV_OK);
			r = fake_expect(&e->h, 10);
			assert_int_equal(rd32(r->data + 12), 200 + i);
			assert_int_not_equal(rd32(r->data + 16), 0);
		}
	}
	assert_int_equal(stats(e).gpadls, 1);
	/* teardown: wrong relid and unknown ID dropped; right one answered */
	memset(m, 0, sizeof(m));
	wr32(m, 11);
	wr32(m + 8, pv_vmbus_channel_relid(e->chan[1]));
	wr32(m + 12, 100);
	assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
	wr32(m + 8, relid);
	wr32(m + 12, 999);
	assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
	assert_int_equal(fake_pending(&e->h), 0);
	wr32(m + 12, 100);
	assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
	r = fake_expect(&e->h, 12);
	assert_int_equal(rd32(r->data + 8), 100);
	assert_int_equal(stats(e).gpadls, 0);
	assert_int_equal(stats(e).gpadl_pages, 0);
	/* two ranges laid end to end: a read across the boundary */
	{
		uint8_t want[20], got[20];
		uint32_t i;

		memset(m, 0, sizeof(m));
		wr32(m, 8);
		wr32(m + 8, relid);
		wr32(m + 12, 300);
		wr16(m + 16, 40);
		wr16(m + 18, 2);
		wr32(m + 20, 100); /* range 0: 100 bytes at offset 50 of page 0x200 */
		wr32(m + 24, 50);
		wr64(m + 28, 0x200);
		wr32(m + 36, 5000); /* range 1: 5000 bytes from page 0x300 */
		wr32(m + 40, 0);
		wr64(m + 44, 0x300);
		wr64(m + 52, 0x301);
		assert_int_equal(fake_send(&e->h, 1, m, 60), PV_OK);
		r = fake_expect(&e->h, 10);
		assert_int_equal(rd32(r->data + 16), 0);
		for (i = 0; i < 20; i++)
			want[i] = (uint8_t)(i + 1);
		memcpy(e->h.ram + 0x200000 + 50 + 90, want, 10);
		memcpy(e->h.ram + 0x300000, want + 10, 10);
		assert_int_equal(pv_vmbus_gpadl_read(e->chan[0], 300, 90, got, 20), PV_OK);
		assert_memory_equal(got, want, 20);
		memcpy(e->h.ram + 0x301000 + 900, want, 4);
		assert_int_equal(pv_vmbus_gpadl_read(e->chan[0], 300, 100 + 4096 + 900, got, 4),
				 PV_OK);
		assert_memory_equal(got, want, 4);
		assert_int_equal(pv_vmbus_gpadl_read(e->chan[0], 300, 5097, got, 4), PV_ERANGE);
		wr32(m, 11);
		wr32(m + 8, relid);
		wr32(m + 12, 300);
		assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
		fake_expect(&e->h, 12);
	}
	/* at most 16 GPADLs may wait for their bodies at once */
	{
		uint32_t i;

		for (i = 0; i < 17; i++) {
			memset(m, 0, sizeof(m));
			wr32(m, 8);
			wr32(m + 8, relid);
			wr32(m + 12, 400 + i);
			wr16(m + 16, 8 + 8 * 30);
			wr16(m + 18, 1);
			wr32(m + 20, 30 * 4096);
			wr64(m + 28, 0x100);
			assert_int_equal(fake_send(&e->h, 1, m, 36), PV_OK);
		}
		r = fake_expect(&e->h, 10);
		assert_int_equal(rd32(r->data + 12), 416);
		assert_int_not_equal(rd32(r->data + 16), 0);
		assert_int_equal(fake_pending(&e->h), 0);
		assert_int_equal(stats(e).gpadls, 16);
		for (i = 0; i < 16; i++) {
			memset(m, 0, sizeof(m));
			wr32(m, 11);
			wr32(m + 8, relid);
			wr32(m + 12, 400 + i);
			assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
			fake_expect(&e->h, 12);
		}
		assert_int_equal(stats(e).gpadls, 0);
	}
	/* teardown again: dropped */
	assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
	assert_int_equal(fake_pending(&e->h), 0);
}

static void test_open_packets_close(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;
	uint8_t buf[1024], data[40];
	struct vmb_ring_buf b = {data, sizeof(data)};
	uint32_t len, needed, relid;
	bool sig;
	const struct fake_msg *r;

	connect_all(e);
	relid = pv_vmbus_channel_relid(e->chan[0]);
	open_chan0(e, &gc);
	e->dev[0].echo = true;
	memset(data, 0xab, sizeof(data));
	/* guest sends a request; the host is signalled because the ring was empty */
	assert_int_equal(vmb_ring_write(&gc.tx, 6, 1, 42, &b, 1, &sig, &needed), PV_OK);
	assert_true(sig);
	assert_int_equal(fake_signal(&e->h, gc.conn_id), PV_OK);
	assert_int_equal(e->dev[0].packets, 1);
	assert_int_equal(e->dev[0].last_tid, 42);
	assert_int_equal(e->dev[0].last_len, 40);
	assert_memory_equal(e->dev[0].last, data, 40);
	/* the echo came back as a completion and the guest was interrupted */
	assert_int_equal(e->h.nsignals, 1);
	assert_int_equal(e->h.last_signal_flag, relid);
	assert_int_equal(e->h.last_signal_sint, 2);
	assert_int_equal(vmb_ring_read(&gc.rx, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(buf[0], 0xB);
	assert_int_equal(buf[8], 42);
	assert_memory_equal(buf + 16, data, 40);
	/* host consumed: read index published */
	assert_int_equal(rd32(e->h.ram + RING_GPA + 4), rd32(e->h.ram + RING_GPA));
	/* a second open of an open channel fails, the channel stays open */
	{
		uint8_t m[148] = {0};

		wr32(m, 5);
		wr32(m + 8, relid);
		wr32(m + 16, 0xE1E10);
		wr32(m + 24, 4);
		assert_int_equal(fake_send(&e->h, 1, m, 148), PV_OK);
		r = fake_expect(&e->h, 6);
		assert_int_not_equal(rd32(r->data + 16), 0);
		assert_true(pv_vmbus_channel_is_open(e->chan[0]));
	}
	/* the ring GPADL cannot be torn down while open */
	{
		uint8_t m[16] = {0};

		wr32(m, 11);
		wr32(m + 8, relid);
		wr32(m + 12, 0xE1E10);
		assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
		assert_int_equal(fake_pending(&e->h), 0);
		guest_msg_relid(&e->h, 7, relid);
		assert_int_equal(e->dev[0].closes, 1);
		assert_false(pv_vmbus_channel_is_open(e->chan[0]));
		assert_int_equal(pv_vmbus_send(e->chan[0], 6, 0, 1, data, 8), PV_ESTATE);
		assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
		fake_expect(&e->h, 12);
	}
	/* close again: dropped */
	guest_msg_relid(&e->h, 7, relid);
	assert_int_equal(e->dev[0].closes, 1);
	assert_int_equal(fake_pending(&e->h), 0);
	/* signal for a closed channel is harmless */
	assert_int_equal(fake_signal(&e->h, gc.conn_id), PV_OK);
	assert_int_equal(stats(e).gpadls, 0);
}

static void open_expect_fail(struct env *e, uint32_t relid, uint32_t gpadl, uint32_t vp,
			     uint32_t down)
{
	uint8_t m[148] = {0};
	const struct fake_msg *r;

	wr32(m, 5);
	wr32(m + 8, relid);
	wr32(m + 12, 9);
	wr32(m + 16, gpadl);
	wr32(m + 20, vp);
	wr32(m + 24, down);
	assert_int_equal(fake_send(&e->h, 1, m, 148), PV_OK);
	r = fake_expect(&e->h, 6);
	assert_int_equal(rd32(r->data + 8), relid);
	assert_int_equal(rd32(r->data + 12), 9);
	assert_int_not_equal(rd32(r->data + 16), 0);
}

static void test_open_failures(void **state)
{
	struct env *e = *state;
	uint32_t r0, r1;

	connect_all(e);
	r0 = pv_vmbus_channel_relid(e->chan[0]);
	r1 = pv_vmbus_channel_relid(e->chan[1]);
	assert_int_equal(guest_gpadl(&e->h, r0, 1, RING_GPA, RING_PAGES), 0);
	assert_int_equal(guest_gpadl(&e->h, r1, 2, RING_GPA + 0x10000, RING_PAGES), 0);
	open_expect_fail(e, 99, 1, 0, 4); /* unknown relid */
	open_expect_fail(e, r0, 3, 0, 4); /* unknown GPADL */
	open_expect_fail(e, r0, 2, 0, 4); /* another channel's GPADL */
	open_expect_fail(e, r0, 1, 2, 4); /* vCPU out of range */
	open_expect_fail(e, r0, 1, 0, 0); /* no guest-to-host ring */
	open_expect_fail(e, r0, 1, 0, 1); /* ring without data pages */
	open_expect_fail(e, r0, 1, 0, 7); /* host-to-guest ring too small */
	open_expect_fail(e, r0, 1, 0, 8); /* offset past the end */
	open_expect_fail(e, r0, 1, 0, 0xffffffffu);
	/* corrupt ring index in guest memory at open */
	wr32(e->h.ram + RING_GPA + 4, 13);
	open_expect_fail(e, r0, 1, 0, 4);
	wr32(e->h.ram + RING_GPA + 4, 0);
	/* device refuses */
	e->dev[0].refuse_open = true;
	open_expect_fail(e, r0, 1, 0, 4);
	assert_int_equal(e->dev[0].openeds, 0);
	assert_false(pv_vmbus_channel_is_open(e->chan[0]));
	e->dev[0].refuse_open = false;
	/* now it works with the same GPADL */
	{
		uint8_t m[148] = {0};
		const struct fake_msg *r;

		wr32(m, 5);
		wr32(m + 8, r0);
		wr32(m + 16, 1);
		wr32(m + 20, 1);
		wr32(m + 24, 4);
		assert_int_equal(fake_send(&e->h, 1, m, 148), PV_OK);
		r = fake_expect(&e->h, 6);
		assert_int_equal(rd32(r->data + 16), 0);
	}
}

static void test_truncated_and_unknown(void **state)
{
	struct env *e = *state;
	static const struct {
		uint32_t type, min;
	} t[] = {{3, 8},   {5, 148}, {7, 12},  {8, 20}, {9, 16},
		 {11, 16}, {13, 12}, {14, 40}, {16, 8}, {22, 16}};
	static const uint32_t host_types[] = {0,  1,  2,  4,  6,  10, 12,         15,
					      17, 18, 19, 21, 24, 99, 0xffffffffu};
	uint8_t m[240] = {0};
	uint64_t before;
	size_t i;

	connect_all(e);
	before = stats(e).malformed;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		wr32(m, t[i].type);
		assert_int_equal(fake_send(&e->h, 1, m, t[i].min - 1), PV_OK);
		assert_int_equal(fake_send(&e->h, 1, m, 4), PV_OK);
	}
	for (i = 0; i < sizeof(host_types) / sizeof(host_types[0]); i++) {
		wr32(m, host_types[i]);
		assert_int_equal(fake_send(&e->h, 1, m, 240), PV_OK);
	}
	assert_int_equal(fake_pending(&e->h), 0);
	assert_int_equal(stats(e).malformed - before,
			 2 * sizeof(t) / sizeof(t[0]) + sizeof(host_types) / sizeof(host_types[0]));
	/* wrong SynIC message type is refused at the hypercall level */
	assert_int_equal(e->h.msg_fn[1](e->h.msg_ctx[1], NULL, 1, 2, m, 8), PV_EINVAL);
	assert_int_equal(pv_vmbus_get_state(e->vmbus), PV_VMBUS_OFFERS_SENT);
}

static void test_rescind(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;
	const struct fake_msg *r;
	uint32_t relid;
	unsigned handlers;

	connect_all(e);
	relid = pv_vmbus_channel_relid(e->chan[0]);
	open_chan0(e, &gc);
	assert_int_equal(guest_gpadl(&e->h, relid, 5, RING_GPA + 0x20000, 3), 0);
	handlers = fake_handlers(&e->h);
	assert_int_equal(pv_vmbus_device_rescind(e->chan[0]), PV_OK);
	assert_int_equal(e->dev[0].closes, 1);
	r = fake_expect(&e->h, 2);
	assert_int_equal(rd32(r->data + 8), relid);
	assert_int_equal(pv_vmbus_device_rescind(e->chan[0]), PV_ESTATE);
	/* an open racing with the rescind is dropped silently */
	{
		uint8_t m[148] = {0};

		wr32(m, 5);
		wr32(m + 8, relid);
		wr32(m + 16, 5);
		wr32(m + 24, 1);
		assert_int_equal(fake_send(&e->h, 1, m, 148), PV_OK);
		assert_int_equal(fake_pending(&e->h), 0);
	}
	/* new GPADLs for a rescinded relid fail */
	assert_int_not_equal(guest_gpadl(&e->h, relid, 6, RING_GPA, 2), 0);
	/* RELID_RELEASED for a live channel: dropped */
	guest_msg_relid(&e->h, 13, pv_vmbus_channel_relid(e->chan[1]));
	assert_int_equal(stats(e).gpadls, 2);
	/* the guest releases: every GPADL of the relid is freed, no TEARDOWN needed */
	guest_msg_relid(&e->h, 13, relid);
	assert_int_equal(stats(e).gpadls, 0);
	assert_int_equal(fake_handlers(&e->h), handlers - 1);
	assert_int_equal(fake_pending(&e->h), 0);
	/* released twice: dropped */
	guest_msg_relid(&e->h, 13, relid);
	/* rescind of a never-offered device frees it at once */
	{
		struct tdev d = {0};
		struct pv_vmbus_device_desc desc = desc_for(&d, 7);
		struct pv_vmbus_channel *c;
		struct fake_host h2;
		struct pv_vmbus *v2;

		fake_init(&h2);
		v2 = fake_server(&h2, 1);
		assert_int_equal(pv_vmbus_device_add(v2, &desc, &c), PV_OK);
		assert_int_equal(pv_vmbus_device_rescind(c), PV_OK);
		assert_int_equal(fake_pending(&h2), 0);
		assert_int_equal(fake_handlers(&h2), 2);
		pv_vmbus_destroy(v2);
		fake_fini(&h2);
	}
}

static void test_modify(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;
	const struct fake_msg *r;
	uint8_t m[16] = {0};
	uint32_t relid;
	uint8_t data[8] = {0};

	connect_all(e);
	relid = pv_vmbus_channel_relid(e->chan[0]);
	open_chan0(e, &gc);
	wr32(m, 22);
	wr32(m + 8, relid);
	wr32(m + 12, 1);
	assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
	r = fake_expect(&e->h, 24);
	assert_int_equal(rd32(r->data + 8), relid);
	assert_int_equal(rd32(r->data + 12), 0);
	/* interrupts now go to vCPU 1 */
	assert_int_equal(pv_vmbus_send(e->chan[0], 6, 0, 1, data, 8), PV_OK);
	assert_int_equal(e->h.last_signal_vp, 1);
	/* bad vCPU / unknown relid: failure status */
	wr32(m + 12, 5);
	assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
	r = fake_expect(&e->h, 24);
	assert_int_not_equal(rd32(r->data + 12), 0);
	wr32(m + 8, 200);
	wr32(m + 12, 0);
	assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
	r = fake_expect(&e->h, 24);
	assert_int_not_equal(rd32(r->data + 12), 0);
}

static void test_modify_old_versions(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;
	uint8_t m[16] = {0};

	guest_connect(&e->h, 0x40001, true);
	{
		uint32_t relids[2];

		assert_int_equal(guest_request_offers(&e->h, relids, 2), 2);
	}
	open_chan0(e, &gc);
	wr32(m, 22);
	wr32(m + 8, pv_vmbus_channel_relid(e->chan[0]));
	wr32(m + 12, 1);
	/* 4.1 .. 5.2: applied, no response */
	assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
	assert_int_equal(fake_pending(&e->h), 0);
}

static void test_unload_and_reconnect(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;
	uint8_t m[8] = {0};
	uint32_t relids[4];

	connect_all(e);
	open_chan0(e, &gc);
	assert_int_equal(
		guest_gpadl(&e->h, pv_vmbus_channel_relid(e->chan[1]), 9, RING_GPA + 0x40000, 4),
		0);
	assert_int_equal(pv_vmbus_device_rescind(e->chan[1]), PV_OK);
	fake_expect(&e->h, 2);
	wr32(m, 16);
	assert_int_equal(fake_send(&e->h, 1, m, 8), PV_OK);
	fake_expect(&e->h, 17);
	assert_int_equal(e->dev[0].closes, 1);
	assert_int_equal(stats(e).gpadls, 0);
	assert_int_equal(pv_vmbus_get_state(e->vmbus), PV_VMBUS_DISCONNECTED);
	/* unload when disconnected: dropped */
	assert_int_equal(fake_send(&e->h, 1, m, 8), PV_OK);
	assert_int_equal(fake_pending(&e->h), 0);
	/* reconnect (older version); the rescinded device is gone */
	guest_connect(&e->h, 0x30000, true);
	assert_int_equal(guest_request_offers(&e->h, relids, 4), 1);
	assert_int_equal(relids[0], pv_vmbus_channel_relid(e->chan[0]));
	open_chan0(e, &gc);
	assert_int_equal(e->dev[0].opens, 2);
}

static void test_gpa_direct(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;
	uint8_t pkt[64] = {0};
	bool sig;

	connect_all(e);
	open_chan0(e, &gc);
	memset(e->h.ram + 0x200000 + 100, 0x3c, 64);
	/* type 9: reserved, 1 range of 5000 bytes at offset 100 -> 2 PFNs, then 8 data bytes */
	wr16(pkt, 9);
	wr16(pkt + 2, 6); /* data at 48 */
	wr16(pkt + 4, 7); /* 56 bytes */
	wr64(pkt + 8, 77);
	wr32(pkt + 20, 1);
	wr32(pkt + 24, 5000);
	wr32(pkt + 28, 100);
	wr64(pkt + 32, 0x200);
	wr64(pkt + 40, 0x201);
	memset(pkt + 48, 0xee, 8);
	assert_int_equal(vmb_ring_write_raw(&gc.tx, pkt, 56, &sig), PV_OK);
	assert_int_equal(fake_signal(&e->h, gc.conn_id), PV_OK);
	assert_int_equal(e->dev[0].packets, 1);
	assert_int_equal(e->dev[0].last_type, 9);
	assert_int_equal(e->dev[0].last_ranges, 1);
	assert_int_equal(e->dev[0].last_len, 8);
	assert_int_equal(e->dev[0].range_read_err, PV_OK);
	assert_int_equal(e->dev[0].range_bytes[0], 0x3c);
	assert_int_equal(e->dev[0].range_bytes[63], 0x3c);
	/* PFN list longer than the descriptor's data offset: dropped, ring still fine */
	wr16(pkt + 2, 5);
	assert_int_equal(vmb_ring_write_raw(&gc.tx, pkt, 56, &sig), PV_OK);
	/* zero ranges, too many ranges, offset past a page */
	wr16(pkt + 2, 6);
	wr32(pkt + 20, 0);
	assert_int_equal(vmb_ring_write_raw(&gc.tx, pkt, 56, &sig), PV_OK);
	wr32(pkt + 20, 1000);
	assert_int_equal(vmb_ring_write_raw(&gc.tx, pkt, 56, &sig), PV_OK);
	wr32(pkt + 20, 1);
	wr32(pkt + 28, 4096);
	assert_int_equal(vmb_ring_write_raw(&gc.tx, pkt, 56, &sig), PV_OK);
	/* a PFN beyond guest RAM: delivered, the device's read fails cleanly */
	wr32(pkt + 28, 0);
	wr64(pkt + 32, 0xfffffffffull);
	assert_int_equal(vmb_ring_write_raw(&gc.tx, pkt, 56, &sig), PV_OK);
	assert_int_equal(pv_vmbus_channel_poll(e->chan[0]), PV_OK);
	assert_int_equal(stats(e).bad_packets, 4);
	assert_int_equal(e->dev[0].packets, 2);
	assert_int_equal(e->dev[0].range_read_err, PV_EFAULT);
}

static void test_hostile_ring(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;
	uint8_t data[8] = {0};

	connect_all(e);
	open_chan0(e, &gc);
	/* guest writes a nonsense write index */
	wr32(e->h.ram + RING_GPA, 0x7fff0001);
	assert_int_equal(fake_signal(&e->h, gc.conn_id), PV_OK);
	assert_int_equal(stats(e).ring_errors, 1);
	assert_int_equal(pv_vmbus_channel_poll(e->chan[0]), PV_EBADMSG);
	assert_int_equal(e->dev[0].packets, 0);
	/* and a nonsense read index on the host-to-guest ring */
	wr32(e->h.ram + RING_GPA + 4 * 4096 + 4, 0xfffffff0u);
	assert_int_equal(pv_vmbus_send(e->chan[0], 6, 0, 1, data, 8), PV_EBADMSG);
	/* close and reopen resets the rings */
	guest_msg_relid(&e->h, 7, gc.relid);
	{
		uint8_t m[16] = {0};

		wr32(m, 11);
		wr32(m + 8, gc.relid);
		wr32(m + 12, 0xE1E10);
		assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
		fake_expect(&e->h, 12);
	}
	open_chan0(e, &gc);
	assert_int_equal(pv_vmbus_send(e->chan[0], 6, 0, 1, data, 8), PV_OK);
}

static void test_backpressure(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;
	uint8_t data[1000] = {0}, buf[2048];
	uint32_t len;
	bool sig;
	int n = 0;

	connect_all(e);
	open_chan0(e, &gc);
	/* fill the host-to-guest ring (12 KiB data) */
	while (pv_vmbus_send(e->chan[0], 6, 0, (uint64_t)n, data, sizeof(data)) == PV_OK)
		n++;
	assert_int_equal(n, 11);
	/* the host asked the guest to signal when 1024 bytes are free */
	assert_int_equal(rd32(e->h.ram + RING_GPA + 4 * 4096 + 12), 1016 + 8);
	assert_int_equal(vmb_ring_read(&gc.rx, buf, sizeof(buf), &len), PV_OK);
	assert_int_equal(vmb_ring_commit_read(&gc.rx, &sig), PV_OK);
	assert_true(sig);
	assert_int_equal(fake_signal(&e->h, gc.conn_id), PV_OK);
	assert_int_equal(e->dev[0].writables, 1);
	assert_int_equal(rd32(e->h.ram + RING_GPA + 4 * 4096 + 12), 0);
	assert_int_equal(pv_vmbus_send(e->chan[0], 6, 0, 99, data, sizeof(data)), PV_OK);
	/* too big for the ring at all */
	assert_int_equal(pv_vmbus_send(e->chan[0], 6, 0, 1, NULL, 20000), PV_EINVAL);
	{
		uint8_t *big = calloc(1, 20000);

		assert_int_equal(pv_vmbus_send(e->chan[0], 6, 0, 1, big, 20000), PV_ERANGE);
		free(big);
	}
	assert_int_equal(pv_vmbus_send(e->chan[0], 9, 0, 1, data, 8), PV_EINVAL);
}

static void test_post_queue(void **state)
{
	struct env *e = *state;

	/* SynIC queue full: the answer waits in the server until flushed */
	e->h.busy_budget = 1;
	{
		uint8_t m[40] = {0};

		wr32(m, 14);
		wr32(m + 8, 0x50003);
		m[16] = 2;
		assert_int_equal(fake_send(&e->h, 4, m, 40), PV_OK);
	}
	assert_int_equal(fake_pending(&e->h), 0);
	assert_int_equal(pv_vmbus_flush(e->vmbus), PV_OK);
	fake_expect(&e->h, 15);
	e->h.busy_budget = 1000;
	{
		uint8_t m[8] = {0};

		wr32(m, 3);
		assert_int_equal(fake_send(&e->h, 1, m, 8), PV_OK);
	}
	assert_int_equal(pv_vmbus_flush(e->vmbus), PV_EBUSY);
	e->h.busy_budget = 0;
	assert_int_equal(pv_vmbus_flush(e->vmbus), PV_OK);
	fake_expect(&e->h, 1);
	fake_expect(&e->h, 1);
	fake_expect(&e->h, 4);
	assert_int_equal(stats(e).post_failures, 0);
}

static void test_destroy_with_state(void **state)
{
	struct env *e = *state;
	struct fake_guest_chan gc;

	connect_all(e);
	open_chan0(e, &gc);
	guest_gpadl_send(&e->h, pv_vmbus_channel_relid(e->chan[1]), 50, RING_GPA, 40);
	fake_expect(&e->h, 10);
	/* incomplete GPADL too */
	{
		uint8_t m[40] = {0};

		wr32(m, 8);
		wr32(m + 8, pv_vmbus_channel_relid(e->chan[1]));
		wr32(m + 12, 51);
		wr16(m + 16, 8 + 8 * 30);
		wr16(m + 18, 1);
		wr32(m + 20, 30 * 4096);
		assert_int_equal(fake_send(&e->h, 1, m, 36), PV_OK);
	}
	assert_int_equal(stats(e).gpadls, 3);
	/* teardown() destroys; ASan checks nothing leaks and handlers are gone */
}

/* Every guest message type, in every server state, naming valid, unknown and
 * absurd relids/GPADL IDs, at its exact size and truncated: nothing crashes,
 * nothing leaks, and the server answers only the way the protocol allows. */
static void drive_state(struct env *e, int st, struct fake_guest_chan *gc)
{
	uint32_t relids[4];

	if (st >= 1)
		guest_connect(&e->h, PV_VMBUS_VERSION_5_3, true);
	if (st >= 2)
		assert_int_equal(guest_request_offers(&e->h, relids, 4), 2);
	if (st >= 3)
		open_chan0(e, gc);
	if (st >= 4) {
		assert_int_equal(pv_vmbus_device_rescind(e->chan[1]), PV_OK);
		fake_expect(&e->h, 2);
	}
}

static void test_message_matrix(void **state)
{
	static const uint32_t types[] = {3, 5, 7, 8, 9, 11, 13, 14, 16, 22};
	static const uint32_t sizes[] = {8, 148, 12, 36, 24, 16, 12, 40, 8, 16};
	static const uint32_t mins[] = {8, 148, 12, 20, 16, 16, 12, 40, 8, 16};
	static const uint32_t relids[] = {1, 2, 0, 255, 256, 0xffffffffu};
	static const uint32_t ids[] = {0xE1E10, 0, 0xffffffffu};
	int st;

	(void)state;
	for (st = 0; st <= 4; st++) {
		size_t t, r, g;

		for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			for (r = 0; r < sizeof(relids) / sizeof(relids[0]); r++) {
				for (g = 0; g < sizeof(ids) / sizeof(ids[0]); g++) {
					struct fake_guest_chan gc;
					struct pv_vmbus_stats s;
					const struct fake_msg *msg;
					uint8_t m[240] = {0};
					void *envp = NULL;
					struct env *e;

					setup(&envp);
					e = envp;
					drive_state(e, st, &gc);
					wr32(m, types[t]);
					wr32(m + 8, relids[r]);
					wr32(m + 12, ids[g]);
					wr16(m + 16, 16);
					wr16(m + 18, 1);
					wr32(m + 20, 4096);
					wr64(m + 28, 0x150);
					m[16 + 0] = (types[t] == 14) ? 2 : m[16];
					if (types[t] == 5) {
						wr32(m + 16, ids[g]);
						wr32(m + 24, 4);
					}
					assert_int_equal(fake_send(&e->h, 1, m, mins[t] - 1),
							 PV_OK);
					assert_int_equal(fake_pending(&e->h), 0);
					assert_int_equal(fake_send(&e->h, 1, m, sizes[t]), PV_OK);
					assert_int_equal(fake_send(&e->h, 1, m, sizes[t]), PV_OK);
					/* only answers the protocol defines */
					while ((msg = fake_pop(&e->h)) != NULL) {
						uint32_t type = rd32(msg->data);

						assert_true(type == 1 || type == 4 || type == 6 ||
							    type == 10 || type == 12 ||
							    type == 15 || type == 17 || type == 24);
					}
					pv_vmbus_get_stats(e->vmbus, &s);
					assert_true(s.gpadls <= 3);
					assert_int_equal(s.post_failures, 0);
					envp = e;
					teardown(&envp);
				}
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test_setup_teardown(test_connect_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_before_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpadl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_packets_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rescind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modify_old_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unload_and_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpa_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_with_state, setup, teardown),
		cmocka_unit_test(test_message_matrix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
