/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the channel-management parser and state machine, fed a
 * stream of guest messages, signals, guest-memory scribbles and host actions
 * (rescind, send, save + restore into a fresh server). Guest RAM is a flat
 * buffer; any access outside it fails cleanly as an unbacked GPA would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "paravisor/platform.h"
#include "paravisor/vmbus.h"

#define RAM_SIZE (256u * 1024u)

struct host {
	uint8_t ram[RAM_SIZE];
	pv_hv1_message_fn msg_fn[8];
	void *msg_ctx[8];
	pv_hv1_event_fn evt_fn[512];
	void *evt_ctx[512];
	unsigned posts;
};

static struct host H;

static pv_err_t h_post(void *ctx, uint32_t vp, uint8_t sint, uint32_t type, const void *p,
		       uint32_t size)
{
	(void)ctx;
	(void)vp;
	(void)p;
	if (sint >= 16 || type != 1 || size > 240 || size < 8)
		abort();
	return ++H.posts % 7 == 0 ? PV_EBUSY : PV_OK;
}

static pv_err_t h_signal(void *ctx, uint32_t vp, uint8_t sint, uint32_t flag)
{
	(void)ctx;
	(void)vp;
	if (sint >= 16 || flag >= 2048)
		abort();
	return PV_OK;
}

static pv_err_t h_reg_msg(void *ctx, uint32_t conn, pv_hv1_message_fn fn, void *fctx)
{
	(void)ctx;
	if (conn >= 8 || H.msg_fn[conn])
		return PV_EEXIST;
	H.msg_fn[conn] = fn;
	H.msg_ctx[conn] = fctx;
	return PV_OK;
}

static pv_err_t h_unreg_msg(void *ctx, uint32_t conn)
{
	(void)ctx;
	if (conn >= 8 || !H.msg_fn[conn])
		return PV_ENOENT;
	H.msg_fn[conn] = NULL;
	return PV_OK;
}

static pv_err_t h_reg_evt(void *ctx, uint32_t conn, pv_hv1_event_fn fn, void *fctx)
{
	(void)ctx;
	if ((conn & ~0x1ffu) != 0x2000u || H.evt_fn[conn & 0x1ff])
		abort(); /* the server must never register twice or outside its scheme */
	H.evt_fn[conn & 0x1ff] = fn;
	H.evt_ctx[conn & 0x1ff] = fctx;
	return PV_OK;
}

static pv_err_t h_unreg_evt(void *ctx, uint32_t conn)
{
	(void)ctx;
	if ((conn & ~0x1ffu) != 0x2000u || !H.evt_fn[conn & 0x1ff])
		abort();
	H.evt_fn[conn & 0x1ff] = NULL;
	return PV_OK;
}

static pv_err_t h_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(buf, H.ram + gpa, len);
	return PV_OK;
}

static pv_err_t h_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	(void)ctx;
	if (gpa > RAM_SIZE || len > RAM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(H.ram + gpa, buf, len);
	return PV_OK;
}

static const struct pv_vmbus_host_ops host_ops = {
	NULL, h_post, h_signal, h_reg_msg, h_unreg_msg, h_reg_evt, h_unreg_evt, h_read, h_write};

static void d_packet(void *ctx, struct pv_vmbus_channel *chan, const struct pv_vmbus_packet *pkt)
{
	uint8_t buf[64];

	(void)ctx;
	if (pkt->range_count)
		pv_vmbus_packet_read_range(
			chan, pkt, 0, 0, buf,
			pkt->ranges[0].byte_count < 64 ? pkt->ranges[0].byte_count : 64);
	pv_vmbus_gpadl_read(chan, 0xE1E10, pkt->len, buf, 16);
	pv_vmbus_send_completion(chan, pkt->trans_id, pkt->data, pkt->len > 64 ? 64 : pkt->len);
}

static const struct pv_vmbus_device_ops dev_ops = {.packet = d_packet};

static struct pv_vmbus *make_server(struct pv_vmbus_channel **chans)
{
	struct pv_vmbus_config cfg = {0};
	struct pv_vmbus *v;
	int i;

	cfg.host_ops = &host_ops;
	cfg.platform = pv_platform_hosted();
	cfg.vcpu_count = 2;
	cfg.max_gpadl_pages = 4096;
	if (pv_vmbus_create(&cfg, &v) != PV_OK)
		abort();
	for (i = 0; i < 2; i++) {
		struct pv_vmbus_device_desc d;

		memset(&d, 0, sizeof(d));
		memset(d.instance_id.b, i + 1, 16);
		d.max_packet = 512;
		d.ops = &dev_ops;
		if (pv_vmbus_device_add(v, &d, &chans[i]) != PV_OK)
			abort();
	}
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void send(uint32_t conn, const void *m, uint32_t size)
{
	if (H.msg_fn[conn])
		H.msg_fn[conn](H.msg_ctx[conn], NULL, conn, 1, m, size);
}

static void prefix(int mode)
{
	uint8_t m[240] = {0};
	uint32_t i;

	if (mode < 1)
		return;
	put32(m, 14);
	put32(m + 8, 0x50003);
	m[16] = 2;
	send(4, m, 40);
	memset(m, 0, sizeof(m));
	put32(m, 3);
	send(1, m, 8);
	if (mode < 2)
		return;
	memset(m, 0, sizeof(m));
	put32(m, 8);
	put32(m + 8, 1);
	put32(m + 12, 0xE1E10);
	m[16] = 8 + 8 * 8;
	m[18] = 1;
	put32(m + 20, 8 * 4096);
	for (i = 0; i < 8; i++)
		m[28 + 8 * i] = (uint8_t)(0x10 + i);
	send(1, m, 28 + 64);
	memset(m, 0, sizeof(m));
	put32(m, 5);
	put32(m + 8, 1);
	put32(m + 16, 0xE1E10);
	put32(m + 24, 4);
	send(1, m, 148);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_vmbus_channel *chans[2];
	struct pv_vmbus *v;
	size_t pos = 1;
	bool rescinded = false;

	if (size < 1)
		return 0;
	memset(&H, 0, sizeof(H));
	v = make_server(chans);
	prefix(data[0] % 3);
	while (pos + 2 <= size) {
		uint8_t kind = data[pos], len = data[pos + 1];
		const uint8_t *p = data + pos + 2;

		pos += 2;
		if (len > size - pos)
			len = (uint8_t)(size - pos);
		pos += len;
		switch (kind % 6) {
		case 0:
		case 1:
			send(kind % 2 ? 4 : 1, p, len > 240 ? 240 : len);
			break;
		case 2:
			if (len >= 1 && H.evt_fn[p[0]])
				H.evt_fn[p[0]](H.evt_ctx[p[0]], NULL, 0x2000u | p[0], 0);
			break;
		case 3:
			if (len >= 4) {
				uint32_t off;

				memcpy(&off, p, 4);
				off %= RAM_SIZE;
				if (len - 4u <= RAM_SIZE - off)
					memcpy(H.ram + off, p + 4, len - 4u);
			}
			break;
		case 4:
			if (!rescinded && len >= 1 && p[0] == 0x5a) {
				pv_vmbus_device_rescind(chans[1]);
				rescinded = true;
			} else if (len >= 1) {
				pv_vmbus_send(chans[0], 6, 0, 1, p, len);
				pv_vmbus_flush(v);
			}
			break;
		default: {
			static uint8_t rec[65536];
			struct pv_vmbus_channel *nc[2];
			struct pv_vmbus *nv;
			size_t rlen;

			if (pv_vmbus_save(v, rec, sizeof(rec), &rlen) != PV_OK)
				break;
			if (len >= 3)
				rec[((size_t)p[0] | ((size_t)p[1] << 8)) % rlen] ^= p[2];
			pv_vmbus_destroy(v);
			memset(H.msg_fn, 0, sizeof(H.msg_fn));
			nv = make_server(nc);
			pv_vmbus_restore(nv, rec, rlen);
			v = nv;
			chans[0] = nc[0];
			chans[1] = nc[1];
			rescinded = false;
			break;
		}
		}
	}
	pv_vmbus_destroy(v);
	return 0;
}
