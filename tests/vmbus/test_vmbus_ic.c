/* SPDX-License-Identifier: MIT */
/* Integration components against a guest that answers like Linux hv_utils. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "paravisor/vmbus_ic.h"
#include "vmbus_fake.h"

#define V(a, b) (((uint32_t)(a) << 16) | (b))

struct guest_ic {
	const uint32_t *fw_pref, *msg_pref; /* guest preference order */
	unsigned nfw, nmsg;
	bool no_common; /* answer with zero counts */
	uint32_t shutdown_flags, shutdown_reason;
	uint8_t ts_flags;
	uint64_t ts_parent, ts_ref;
	uint32_t ts_body;
	unsigned handled[8];
	uint16_t seen_fw_major, seen_msg_major;
};

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint64_t g64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* Pick the first of the guest's preferences present in the host's list. */
static bool pick(const uint8_t *list, unsigned n, const uint32_t *pref, unsigned npref,
		 uint32_t *out)
{
	unsigned i, j;

	for (i = 0; i < npref; i++)
		for (j = 0; j < n; j++)
			if (V(g16(list + 4 * j), g16(list + 4 * j + 2)) == pref[i]) {
				*out = pref[i];
				return true;
			}
	return false;
}

/* Serve every pending IC request in the host-to-guest ring. */
static unsigned guest_ic_serve(struct fake_host *h, struct fake_guest_chan *gc, struct guest_ic *g)
{
	uint8_t pkt[4200];
	uint32_t len, needed;
	unsigned n = 0;
	bool sig;

	while (vmb_ring_read(&gc->rx, pkt, sizeof(pkt), &len) == PV_OK) {
		uint8_t *ic = pkt + 16;
		uint32_t iclen = len - 16;
		uint16_t type = g16(ic + 12);
		uint8_t *body = ic + 28;
		struct vmb_ring_buf b = {ic, iclen};

		assert_int_equal(pkt[0], 6);
		assert_true(iclen >= 28);
		assert_int_equal(ic[25], 3); /* TRANSACTION | REQUEST */
		assert_int_equal(rd32(ic), 1);
		assert_int_equal(rd32(ic + 4), 20 + g16(ic + 18));
		if (type == 0) {
			uint16_t nf = g16(body), nm = g16(body + 2);
			uint32_t fw = 0, msg = 0;

			assert_int_equal(g16(ic + 18), 8 + 4 * (nf + nm));
			if (!g->no_common && pick(body + 8, nf, g->fw_pref, g->nfw, &fw) &&
			    pick(body + 8 + 4 * nf, nm, g->msg_pref, g->nmsg, &msg)) {
				wr16(body, 1);
				wr16(body + 2, 1);
				wr16(body + 8, (uint16_t)(fw >> 16));
				wr16(body + 10, (uint16_t)fw);
				wr16(body + 12, (uint16_t)(msg >> 16));
				wr16(body + 14, (uint16_t)msg);
				wr16(ic + 18, 16);
			} else {
				wr16(body, 0);
				wr16(body + 2, 0);
			}
		} else {
			g->seen_fw_major = g16(ic + 8);
			g->seen_msg_major = g16(ic + 14);
		}
		if (type == 1) {
			assert_int_equal(g16(ic + 18), 40);
			wr64(body, g64(body) + 1);
		} else if (type == 3) {
			assert_int_equal(g16(ic + 18), 2060);
			g->shutdown_reason = rd32(body);
			g->shutdown_flags = rd32(body + 8);
			wr32(ic + 20, 0);
		} else if (type == 4) {
			g->ts_body = g16(ic + 18);
			g->ts_parent = g64(body);
			g->ts_ref = g64(body + 8);
			g->ts_flags = g->ts_body == 24 ? body[16] : body[24];
		}
		if (type < 8)
			g->handled[type]++;
		ic[25] = 5; /* TRANSACTION | RESPONSE */
		assert_int_equal(vmb_ring_write(&gc->tx, 6, 0, g64(pkt + 8), &b, 1, &sig, &needed),
				 PV_OK);
		n++;
	}
	assert_int_equal(vmb_ring_commit_read(&gc->rx, &sig), PV_OK);
	if (n)
		assert_int_equal(fake_signal(h, gc->conn_id), PV_OK);
	return n;
}

struct env {
	struct fake_host h;
	struct pv_vmbus *vmbus;
	struct pv_vmbus_ic *hb, *sd, *ts;
	unsigned events[8];
};

static void on_event(void *ctx, struct pv_vmbus_ic *ic, enum pv_vmbus_ic_event ev)
{
	struct env *e = ctx;

	(void)ic;
	e->events[ev]++;
}

static uint64_t utc_now(void *ctx)
{
	(void)ctx;
	return 133000000000000000ull;
}

static uint64_t ref_time(void *ctx)
{
	(void)ctx;
	return 123456789;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct pv_vmbus_ic_config cfg;

	fake_init(&e->h);
	e->vmbus = fake_server(&e->h, 1);
	memset(&cfg, 0, sizeof(cfg));
	cfg.event = on_event;
	cfg.event_ctx = e;
	cfg.kind = PV_VMBUS_IC_HEARTBEAT;
	assert_int_equal(pv_vmbus_ic_create(e->vmbus, &cfg, &e->hb), PV_OK);
	cfg.kind = PV_VMBUS_IC_SHUTDOWN;
	assert_int_equal(pv_vmbus_ic_create(e->vmbus, &cfg, &e->sd), PV_OK);
	cfg.kind = PV_VMBUS_IC_TIMESYNC;
	assert_int_equal(pv_vmbus_ic_create(e->vmbus, &cfg, &e->ts), PV_EINVAL);
	cfg.utc_now = utc_now;
	cfg.reference_time = ref_time;
	assert_int_equal(pv_vmbus_ic_create(e->vmbus, &cfg, &e->ts), PV_OK);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	pv_vmbus_ic_destroy(e->hb);
	pv_vmbus_ic_destroy(e->sd);
	pv_vmbus_ic_destroy(e->ts);
	pv_vmbus_destroy(e->vmbus);
	assert_int_equal(fake_handlers(&e->h), 0);
	fake_fini(&e->h);
	free(e);
	return 0;
}

/* Connect, find the offer of @ic by class GUID and open it (hv_utils: 4+4 pages). */
static void open_ic(struct env *e, struct pv_vmbus_ic *ic, struct fake_guest_chan *gc, uint64_t gpa,
		    uint32_t gpadl)
{
	assert_int_equal(guest_open(&e->h, gc, pv_vmbus_channel_relid(pv_vmbus_ic_channel(ic)),
				    gpadl, gpa, 8, 4),
			 0);
}

static void offers_have_ic_guids(struct env *e)
{
	static const uint8_t hb_wire[16] = {0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e,
					    0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d};
	uint8_t m[8] = {0};
	const struct fake_msg *r;
	struct pv_guid g = pv_vmbus_ic_class_id(PV_VMBUS_IC_HEARTBEAT);

	assert_memory_equal(g.b, hb_wire, 16);
	guest_connect(&e->h, V(5, 3), true);
	wr32(m, 3);
	assert_int_equal(fake_send(&e->h, 1, m, 8), PV_OK);
	r = fake_expect(&e->h, 1);
	assert_memory_equal(r->data + 8, hb_wire, 16);
	assert_int_equal(rd32(r->data + 60), 4); /* message-mode pipe */
	r = fake_expect(&e->h, 1);
	g = pv_vmbus_ic_class_id(PV_VMBUS_IC_SHUTDOWN);
	assert_memory_equal(r->data + 8, g.b, 16);
	r = fake_expect(&e->h, 1);
	g = pv_vmbus_ic_class_id(PV_VMBUS_IC_TIMESYNC);
	assert_memory_equal(r->data + 8, g.b, 16);
	fake_expect(&e->h, 4);
}

static void test_heartbeat(void **state)
{
	static const uint32_t fw[] = {V(3, 0), V(1, 0)}, msg[] = {V(3, 0), V(1, 0)};
	struct env *e = *state;
	struct fake_guest_chan gc;
	struct guest_ic g = {.fw_pref = fw, .msg_pref = msg, .nfw = 2, .nmsg = 2};
	uint64_t seq, answers;
	uint32_t f, m;

	offers_have_ic_guids(e);
	assert_int_equal(pv_vmbus_ic_get_state(e->hb), PV_VMBUS_IC_CLOSED);
	assert_int_equal(pv_vmbus_ic_heartbeat_request(e->hb), PV_ESTATE);
	open_ic(e, e->hb, &gc, 0x100000, 0xE1E10);
	assert_int_equal(pv_vmbus_ic_get_state(e->hb), PV_VMBUS_IC_NEGOTIATING);
	/* negotiation, then the first heartbeat */
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(pv_vmbus_ic_get_state(e->hb), PV_VMBUS_IC_READY);
	assert_int_equal(pv_vmbus_ic_versions(e->hb, &f, &m), PV_OK);
	assert_int_equal(f, V(3, 0));
	assert_int_equal(m, V(3, 0));
	assert_int_equal(e->events[PV_VMBUS_IC_EV_READY], 1);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(g.handled[1], 1);
	assert_int_equal(g.seen_fw_major, 3);
	assert_int_equal(pv_vmbus_ic_heartbeat_get(e->hb, &seq, &answers), PV_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(answers, 1);
	/* host-driven heartbeats */
	assert_int_equal(pv_vmbus_ic_heartbeat_request(e->hb), PV_OK);
	assert_int_equal(pv_vmbus_ic_heartbeat_request(e->hb), PV_OK);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 2);
	assert_int_equal(pv_vmbus_ic_heartbeat_get(e->hb, &seq, &answers), PV_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(answers, 3);
	assert_int_equal(e->events[PV_VMBUS_IC_EV_HEARTBEAT], 3);
	/* wrong-kind calls */
	assert_int_equal(pv_vmbus_ic_shutdown_request(e->hb, 0, 0, NULL), PV_EINVAL);
	assert_int_equal(pv_vmbus_ic_timesync_send(e->hb, 1), PV_EINVAL);
	/* close: state back to closed */
	guest_msg_relid(&e->h, 7, gc.relid);
	assert_int_equal(pv_vmbus_ic_get_state(e->hb), PV_VMBUS_IC_CLOSED);
	assert_int_equal(e->events[PV_VMBUS_IC_EV_CLOSED], 1);
}

static void test_heartbeat_old_guest(void **state)
{
	static const uint32_t fw[] = {V(1, 0)}, msg[] = {V(1, 0)};
	struct env *e = *state;
	struct fake_guest_chan gc;
	struct guest_ic g = {.fw_pref = fw, .msg_pref = msg, .nfw = 1, .nmsg = 1};
	uint32_t f, m;

	offers_have_ic_guids(e);
	open_ic(e, e->hb, &gc, 0x100000, 1);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(pv_vmbus_ic_versions(e->hb, &f, &m), PV_OK);
	assert_int_equal(f, V(1, 0));
	assert_int_equal(m, V(1, 0));
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(g.seen_fw_major, 1);
}

static void test_negotiation_failure(void **state)
{
	static const uint32_t fw[] = {V(3, 0)}, msg[] = {V(9, 0)};
	struct env *e = *state;
	struct fake_guest_chan gc;
	struct guest_ic g = {.fw_pref = fw, .msg_pref = msg, .nfw = 1, .nmsg = 1};

	offers_have_ic_guids(e);
	open_ic(e, e->hb, &gc, 0x100000, 1);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(pv_vmbus_ic_get_state(e->hb), PV_VMBUS_IC_FAILED);
	assert_int_equal(e->events[PV_VMBUS_IC_EV_FAILED], 1);
	assert_int_equal(pv_vmbus_ic_heartbeat_request(e->hb), PV_ESTATE);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 0);
}

static void test_shutdown(void **state)
{
	static const uint32_t fw[] = {V(3, 0), V(1, 0)};
	static const uint32_t msg[] = {V(3, 2), V(3, 1), V(3, 0), V(1, 0)};
	struct env *e = *state;
	struct fake_guest_chan gc;
	struct guest_ic g = {.fw_pref = fw, .msg_pref = msg, .nfw = 2, .nmsg = 4};
	uint32_t status = 1, f, m;

	offers_have_ic_guids(e);
	open_ic(e, e->sd, &gc, 0x100000, 2);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(pv_vmbus_ic_versions(e->sd, &f, &m), PV_OK);
	assert_int_equal(m, V(3, 2));
	assert_int_equal(pv_vmbus_ic_shutdown_result(e->sd, &status), PV_ENOENT);
	assert_int_equal(pv_vmbus_ic_shutdown_request(e->sd, 8, 0, NULL), PV_EINVAL);
	assert_int_equal(pv_vmbus_ic_shutdown_request(e->sd, PV_VMBUS_IC_SHUTDOWN_RESTART,
						      0x80000000u, "maintenance"),
			 PV_OK);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(g.shutdown_flags, PV_VMBUS_IC_SHUTDOWN_RESTART);
	assert_int_equal(g.shutdown_reason, 0x80000000u);
	assert_int_equal(g.seen_msg_major, 3);
	assert_int_equal(pv_vmbus_ic_shutdown_result(e->sd, &status), PV_OK);
	assert_int_equal(status, PV_VMBUS_IC_S_OK);
	assert_int_equal(e->events[PV_VMBUS_IC_EV_SHUTDOWN_DONE], 1);
}

static void test_timesync(void **state)
{
	static const uint32_t fw[] = {V(3, 0), V(1, 0)};
	static const uint32_t msg4[] = {V(4, 0), V(3, 0), V(1, 0)}, msg3[] = {V(3, 0)};
	struct env *e = *state;
	struct fake_guest_chan gc;
	struct guest_ic g = {.fw_pref = fw, .msg_pref = msg4, .nfw = 2, .nmsg = 3};

	offers_have_ic_guids(e);
	open_ic(e, e->ts, &gc, 0x100000, 3);
	/* negotiation answer triggers an immediate SYNC in the 4.0 layout */
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(g.ts_body, 24);
	assert_int_equal(g.ts_flags, 1);
	assert_int_equal(g.ts_parent, 133000000000000000ull);
	assert_int_equal(g.ts_ref, 123456789);
	assert_int_equal(pv_vmbus_ic_timesync_send(e->ts, 3), PV_EINVAL);
	assert_int_equal(pv_vmbus_ic_timesync_send(e->ts, PV_VMBUS_IC_TIMESYNC_SAMPLE), PV_OK);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(g.ts_flags, 2);
	assert_int_equal(e->events[PV_VMBUS_IC_EV_TIMESYNC_DONE], 2);
	/* reopen with a guest that only knows 3.0: old layout */
	guest_msg_relid(&e->h, 7, gc.relid);
	{
		uint8_t m[16] = {0};

		wr32(m, 11);
		wr32(m + 8, gc.relid);
		wr32(m + 12, 3);
		assert_int_equal(fake_send(&e->h, 1, m, 16), PV_OK);
		fake_expect(&e->h, 12);
	}
	g.msg_pref = msg3;
	g.nmsg = 1;
	open_ic(e, e->ts, &gc, 0x100000, 4);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(guest_ic_serve(&e->h, &gc, &g), 1);
	assert_int_equal(g.ts_body, 32);
	assert_int_equal(g.ts_flags, 1);
}

static void test_bad_answers(void **state)
{
	static const uint32_t fw[] = {V(3, 0)}, msg[] = {V(3, 0)};
	struct env *e = *state;
	struct fake_guest_chan gc;
	struct guest_ic g = {.fw_pref = fw, .msg_pref = msg, .nfw = 1, .nmsg = 1};
	struct pv_vmbus_stats s0, s1;
	uint8_t pkt[64] = {0};
	struct vmb_ring_buf b = {pkt, 0};
	uint32_t needed;
	bool sig;
	uint64_t seq;

	offers_have_ic_guids(e);
	open_ic(e, e->hb, &gc, 0x100000, 5);
	pv_vmbus_get_stats(e->vmbus, &s0);
	/* too short, request instead of response, completion packet type */
	b.len = 20;
	assert_int_equal(vmb_ring_write(&gc.tx, 6, 0, 1, &b, 1, &sig, &needed), PV_OK);
	pkt[25] = 3;
	b.len = 28;
	assert_int_equal(vmb_ring_write(&gc.tx, 6, 0, 1, &b, 1, &sig, &needed), PV_OK);
	pkt[25] = 5;
	assert_int_equal(vmb_ring_write(&gc.tx, 11, 0, 1, &b, 1, &sig, &needed), PV_OK);
	/* heartbeat answer before negotiation: ignored */
	pkt[12] = 1;
	b.len = 64;
	assert_int_equal(vmb_ring_write(&gc.tx, 6, 0, 1, &b, 1, &sig, &needed), PV_OK);
	/* negotiate answer with absurd counts */
	pkt[12] = 0;
	wr16(pkt + 28, 0xffff);
	wr16(pkt + 30, 0xffff);
	assert_int_equal(vmb_ring_write(&gc.tx, 6, 0, 1, &b, 1, &sig, &needed), PV_OK);
	assert_int_equal(fake_signal(&e->h, gc.conn_id), PV_OK);
	pv_vmbus_get_stats(e->vmbus, &s1);
	assert_int_equal(s1.bad_packets - s0.bad_packets, 3);
	assert_int_equal(s1.unexpected - s0.unexpected, 1);
	assert_int_equal(pv_vmbus_ic_get_state(e->hb), PV_VMBUS_IC_FAILED);
	assert_int_equal(pv_vmbus_ic_heartbeat_get(e->hb, &seq, NULL), PV_OK);
	assert_int_equal(seq, 0);
	(void)g;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_old_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negotiation_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timesync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_answers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
