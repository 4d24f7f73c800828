/* SPDX-License-Identifier: MIT */
/*
 * Test double for the VMBus server's host services (SynIC + guest memory)
 * and a scripted guest: records every message the server posts and every
 * event it signals, lets a test inject guest messages and signals, and
 * provides flat guest RAM with guest-side ring views.
 */
#ifndef TESTS_VMBUS_FAKE_H
#define TESTS_VMBUS_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/vmbus.h"
#include "vmbus/ring.h"

#define FAKE_RAM_SIZE (4u << 20)
#define FAKE_MAX_MSGS 512
#define FAKE_MAX_EVT 64

struct fake_msg {
	uint32_t vp;
	uint8_t sint;
	uint32_t size;
	uint8_t data[240];
};

struct fake_evt_handler {
	uint32_t conn;
	pv_hv1_event_fn fn;
	void *ctx;
};

struct fake_flat {
	uint8_t *base;
	uint64_t size;
};

struct fake_host {
	uint8_t *ram;
	struct fake_flat flats[64];
	unsigned nflats;
	/* posted messages (FIFO) */
	struct fake_msg msgs[FAKE_MAX_MSGS];
	unsigned nmsgs, msg_head;
	unsigned busy_budget; /* post_message returns PV_EBUSY while > 0 */
	/* signals */
	unsigned nsignals;
	uint32_t last_signal_vp, last_signal_flag;
	uint8_t last_signal_sint;
	/* handlers */
	pv_hv1_message_fn msg_fn[8];
	void *msg_ctx[8];
	struct fake_evt_handler evt[FAKE_MAX_EVT];
	unsigned nevt;
	struct pv_vmbus_host_ops ops;
};

/* Guest-side view of a channel's two rings in fake RAM. */
struct fake_guest_chan {
	uint32_t relid;
	uint32_t conn_id;
	uint64_t ring_gpa;
	uint32_t pages, downstream;
	struct vmb_ring tx; /* guest -> host: guest produces */
	struct vmb_ring rx; /* host -> guest: guest consumes */
};

void fake_init(struct fake_host *h);
void fake_fini(struct fake_host *h);
struct pv_vmbus *fake_server(struct fake_host *h, uint32_t vcpus);

/* Guest -> host. Returns the handler's result. */
pv_err_t fake_send(struct fake_host *h, uint32_t conn, const void *msg, uint32_t size);
pv_err_t fake_signal(struct fake_host *h, uint32_t conn);
unsigned fake_handlers(struct fake_host *h);

/* Host -> guest messages. */
unsigned fake_pending(struct fake_host *h);
const struct fake_msg *fake_pop(struct fake_host *h);
/* Pop the next message and check its type; returns NULL (and fails) otherwise. */
const struct fake_msg *fake_expect(struct fake_host *h, uint32_t type);

/* Scripted guest steps (each checks the answers with cmocka asserts). */
void guest_connect(struct fake_host *h, uint32_t version, bool expect_ok);
/* Returns offers received (relids stored into @relids, up to @max). */
unsigned guest_request_offers(struct fake_host *h, uint32_t *relids, unsigned max);
/* GPADL over contiguous pages at @gpa: header + bodies as Linux splits them. */
void guest_gpadl_send(struct fake_host *h, uint32_t relid, uint32_t id, uint64_t gpa,
		      uint32_t pages);
uint32_t guest_gpadl(struct fake_host *h, uint32_t relid, uint32_t id, uint64_t gpa,
		     uint32_t pages);
/* Create the ring GPADL, open, and set up guest ring views. Returns open status. */
uint32_t guest_open(struct fake_host *h, struct fake_guest_chan *gc, uint32_t relid,
		    uint32_t gpadl_id, uint64_t gpa, uint32_t pages, uint32_t downstream);
void guest_msg_relid(struct fake_host *h, uint32_t type, uint32_t relid);

/* Flat-memory ring io over fake RAM at a GPA. */
void fake_ring_view(struct fake_host *h, struct vmb_ring *r, uint64_t gpa, uint32_t bytes);

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

#endif /* TESTS_VMBUS_FAKE_H */
