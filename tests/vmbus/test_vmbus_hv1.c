/* SPDX-License-Identifier: MIT */
/* The VMBus server on its default services: the real hv1 SynIC and the
 * checked guest-memory accessors of a mock-port partition, driven through
 * HvPostMessage / HvSignalEvent hypercall exits and MSR writes. */
#include "hv1/hv1_fixture.h"
#include "paravisor/vmbus.h"
#include "paravisor/vmbus_ic.h"
#include "vmbus/ring.h"

#define RING_GPA 0x100000ull

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void post_msg(struct fx *f, uint32_t conn, const void *m, uint32_t size)
{
	uint8_t in[256] = {0};

	put32(in, conn);
	put32(in + 8, 1);
	put32(in + 12, size);
	memcpy(in + 16, m, size);
	gmem_write(f, IN_PAGE, in, sizeof(in));
	assert_int_equal(hcall(f, 0, 0x5C, IN_PAGE, 0) & 0xFFFF, 0);
}

/* Take the message in SINT 2's slot of vCPU 0 (as Linux does: copy, free, EOM if pending). */
static bool take_msg(struct fx *f, uint8_t *out, uint32_t *size)
{
	uint64_t slot = simp_of(0) + 2u * 256u;
	uint8_t m[256];
	uint32_t zero = 0;

	gmem_read(f, slot, m, sizeof(m));
	if (get32(m) == 0)
		return false;
	assert_int_equal(get32(m), 1);
	*size = m[4];
	memcpy(out, m + 16, m[4]);
	gmem_write(f, slot, &zero, 4);
	if (m[5] & 1u)
		assert_true(wrmsr(f, 0, MSR_EOM, 0));
	return true;
}

static void expect_msg(struct fx *f, uint32_t type, uint8_t *out)
{
	uint32_t size;

	assert_true(take_msg(f, out, &size));
	assert_int_equal(get32(out), type);
}

static void connect(struct fx *f)
{
	uint8_t m[240] = {0};

	put32(m, 14);
	put32(m + 8, PV_VMBUS_VERSION_5_3);
	m[16] = 2;
	post_msg(f, 4, m, 40);
	expect_msg(f, 15, m);
	assert_int_equal(m[8], 1);
	assert_int_equal(get32(m + 12), 1);
}

static void d_packet(void *ctx, struct pv_vmbus_channel *chan, const struct pv_vmbus_packet *pkt)
{
	(void)ctx;
	(void)chan;
	(void)pkt;
}

static const struct pv_vmbus_device_ops plain_ops = {.packet = d_packet};

static struct pv_vmbus *server(struct fx *f)
{
	struct pv_vmbus_config cfg = {0};
	struct pv_vmbus *v;

	cfg.part = f->part;
	cfg.hv1 = f->hv1;
	cfg.accessor = PV_ACCESS_VTL0;
	assert_int_equal(pv_vmbus_create(&cfg, &v), PV_OK);
	return v;
}

/* 40 offers overflow hv1's SINT queue: the rest wait in the server and
 * follow as the guest frees the slot, in order. */
static void test_offers_backpressure(void **state)
{
	struct fx f;
	struct pv_vmbus *v;
	struct pv_vmbus_stats st;
	uint8_t m[240];
	uint32_t size, n = 0, i;

	(void)state;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	enable_hypercalls(&f);
	synic_enable(&f, 0, 2, 0x50);
	v = server(&f);
	for (i = 0; i < 40; i++) {
		struct pv_vmbus_device_desc d;
		struct pv_vmbus_channel *c;

		memset(&d, 0, sizeof(d));
		d.instance_id.b[0] = (uint8_t)(i + 1);
		d.ops = &plain_ops;
		assert_int_equal(pv_vmbus_device_add(v, &d, &c), PV_OK);
	}
	connect(&f);
	memset(m, 0, 8);
	put32(m, 3);
	post_msg(&f, 1, m, 8);
	while (take_msg(&f, m, &size)) {
		if (get32(m) == 4)
			break;
		assert_int_equal(get32(m), 1);
		assert_int_equal(get32(m + 184), n + 1);
		n++;
	}
	assert_int_equal(n, 40);
	assert_int_equal(get32(m), 4);
	pv_vmbus_get_stats(v, &st);
	assert_int_equal(st.post_failures, 0);
	assert_true(st.post_deferred >= 20); /* the hv1 queue holds 16 behind the slot */
	assert_int_equal(pv_vmbus_flush(v), PV_OK);
	pv_vmbus_destroy(v);
	fx_fini(&f);
}

/* Guest-side ring io through the VTL0 accessor. */
struct gring {
	struct fx *f;
	uint64_t gpa;
};

static pv_err_t g_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct gring *g = ctx;
	return pv_mem_read(g->f->part, PV_ACCESS_VTL0, pv_gpa(g->gpa + off), buf, len);
}

static pv_err_t g_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct gring *g = ctx;
	return pv_mem_write(g->f->part, PV_ACCESS_VTL0, pv_gpa(g->gpa + off), buf, len);
}

static void gpadl(struct fx *f, uint32_t relid, uint32_t id, uint64_t first_pfn, uint32_t pages,
		  uint32_t want_status)
{
	uint8_t m[240] = {0};
	uint32_t i;

	put32(m, 8);
	put32(m + 8, relid);
	put32(m + 12, id);
	m[16] = (uint8_t)(8 + 8 * pages);
	m[18] = 1;
	put32(m + 20, pages * 4096);
	for (i = 0; i < pages; i++) {
		uint64_t pfn = first_pfn + i;
		memcpy(m + 28 + 8 * i, &pfn, 8);
	}
	post_msg(f, 1, m, 28 + 8 * pages);
	expect_msg(f, 10, m);
	assert_int_equal(get32(m + 12), id);
	assert_int_equal(get32(m + 16) != 0, want_status != 0);
}

static uint32_t open_ch(struct fx *f, uint32_t relid, uint32_t id)
{
	uint8_t m[240] = {0};

	put32(m, 5);
	put32(m + 8, relid);
	put32(m + 12, relid);
	put32(m + 16, id);
	put32(m + 24, 4);
	post_msg(f, 1, m, 148);
	expect_msg(f, 6, m);
	return get32(m + 16);
}

/* REQUESTOFFERS, then take the offers: the last one's relid and connection id. */
static void request_offers(struct fx *f, uint32_t *relid, uint32_t *conn)
{
	uint8_t m[240];
	uint32_t size;

	memset(m, 0, 8);
	put32(m, 3);
	post_msg(f, 1, m, 8);
	while (take_msg(f, m, &size) && get32(m) == 1) {
		*relid = get32(m + 184);
		*conn = get32(m + 192);
	}
}

/* The guest's side of a channel's rings at RING_GPA (@tx, 4 pages) and right
 * after it (@rx, 4 pages), zeroed by the guest. */
static void guest_rings(struct fx *f, struct gring *gtx, struct gring *grx, struct vmb_ring *tx,
			struct vmb_ring *rx)
{
	struct vmb_ring_io io = {g_read, g_write, NULL};

	gtx->f = grx->f = f;
	gtx->gpa = RING_GPA;
	grx->gpa = RING_GPA + 4 * 4096;
	io.ctx = gtx;
	assert_int_equal(vmb_ring_init(tx, &io, 4 * 4096), PV_OK);
	io.ctx = grx;
	assert_int_equal(vmb_ring_init(rx, &io, 4 * 4096), PV_OK);
	assert_int_equal(vmb_ring_reset(tx, 1), PV_OK);
	assert_int_equal(vmb_ring_reset(rx, 1), PV_OK);
}

static void test_heartbeat_over_hv1(void **state)
{
	struct fx f;
	struct pv_vmbus *v;
	struct pv_vmbus_ic *hb;
	struct pv_vmbus_ic_config icfg = {0};
	struct gring gtx, grx;
	struct vmb_ring tx, rx;
	uint8_t pkt[512];
	uint32_t relid = 0, conn = 0, len, needed, round;
	uint64_t seq = 0, answers = 0, flags;
	bool sig;

	(void)state;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	enable_hypercalls(&f);
	synic_enable(&f, 0, 2, 0x50);
	v = server(&f);
	icfg.kind = PV_VMBUS_IC_HEARTBEAT;
	assert_int_equal(pv_vmbus_ic_create(v, &icfg, &hb), PV_OK);
	connect(&f);
	request_offers(&f, &relid, &conn);
	assert_int_equal(relid, 1);

	/* rings zeroed by the guest, then GPADL + open */
	guest_rings(&f, &gtx, &grx, &tx, &rx);
	gpadl(&f, relid, 0xE1E10, RING_GPA >> 12, 8, 0);
	assert_int_equal(open_ch(&f, relid, 0xE1E10), 0);

	for (round = 0; round < 2; round++) {
		struct vmb_ring_buf b;

		/* the host raised the channel's event flag on SINT 2 */
		flags = gmem_u64(&f, siefp_of(0) + 2u * 256u);
		assert_true(flags & (1ull << relid));
		flags &= ~(1ull << relid);
		gmem_write(&f, siefp_of(0) + 2u * 256u, &flags, 8);
		assert_int_equal(vmb_ring_read(&rx, pkt, sizeof(pkt), &len), PV_OK);
		assert_int_equal(vmb_ring_commit_read(&rx, &sig), PV_OK);
		if (round == 0) {
			/* negotiate: pick framework 3.0, message 3.0 */
			uint8_t *body = pkt + 16 + 28;

			assert_int_equal(pkt[16 + 12], 0);
			body[0] = 1;
			body[1] = 0;
			body[2] = 1;
			body[3] = 0;
			body[8] = 3;
			body[9] = 0;
			body[10] = 0;
			body[11] = 0;
			body[12] = 3;
			body[13] = 0;
			body[14] = 0;
			body[15] = 0;
		} else {
			uint64_t s;

			assert_int_equal(pkt[16 + 12], 1);
			memcpy(&s, pkt + 16 + 28, 8);
			s += 41;
			memcpy(pkt + 16 + 28, &s, 8);
		}
		pkt[16 + 25] = 5;
		b.data = pkt + 16;
		b.len = len - 16;
		assert_int_equal(vmb_ring_write(&tx, 6, 0, 0, &b, 1, &sig, &needed), PV_OK);
		assert_true(sig);
		/* Linux's HvSignalEvent: fast, connection id in RDX */
		assert_int_equal(hcall(&f, 0, 0x1005D, conn, 0) & 0xFFFF, 0);
	}
	assert_int_equal(pv_vmbus_ic_heartbeat_get(hb, &seq, &answers), PV_OK);
	assert_int_equal(seq, 41);
	assert_int_equal(answers, 1);
	assert_int_equal(pv_vmbus_ic_get_state(hb), PV_VMBUS_IC_READY);
	/* a signal on a connection nobody registered is refused by hv1 */
	assert_int_equal(hcall(&f, 0, 0x1005D, 0x2000 | 77, 0) & 0xFFFF, 0x12);
	pv_vmbus_ic_destroy(hb);
	pv_vmbus_destroy(v);
	fx_fini(&f);
}

/* Rings must be guest RAM the guest may access: MMIO or unbacked pages fail the open. */
static void test_ring_outside_ram(void **state)
{
	struct fx f;
	struct pv_vmbus *v;
	struct pv_vmbus_channel *c;
	struct pv_vmbus_device_desc d;
	uint8_t m[240];
	uint32_t size;

	(void)state;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	enable_hypercalls(&f);
	synic_enable(&f, 0, 2, 0x50);
	v = server(&f);
	memset(&d, 0, sizeof(d));
	d.ops = &plain_ops;
	assert_int_equal(pv_vmbus_device_add(v, &d, &c), PV_OK);
	connect(&f);
	memset(m, 0, 8);
	put32(m, 3);
	post_msg(&f, 1, m, 8);
	while (take_msg(&f, m, &size) && get32(m) != 4)
		;
	gpadl(&f, 1, 1, MMIO_BASE >> 12, 8, 0);
	assert_int_not_equal(open_ch(&f, 1, 1), 0);
	gpadl(&f, 1, 2, 0x100000, 8, 0); /* 4 GiB: no RAM there */
	assert_int_not_equal(open_ch(&f, 1, 2), 0);
	assert_false(pv_vmbus_channel_is_open(c));
	pv_vmbus_destroy(v);
	fx_fini(&f);
}

/* Answer one IC packet as hv_utils would (negotiate: 3.0/3.0; heartbeat: +1). */
static void serve_one(struct fx *f, struct vmb_ring *rx, struct vmb_ring *tx, uint32_t relid,
		      uint32_t conn)
{
	uint8_t pkt[512];
	uint8_t *ic = pkt + 16, *body = pkt + 16 + 28;
	struct vmb_ring_buf b;
	uint32_t len, needed;
	uint64_t flags;
	bool sig;

	flags = gmem_u64(f, siefp_of(0) + 2u * 256u);
	assert_true(flags & (1ull << relid));
	flags &= ~(1ull << relid);
	gmem_write(f, siefp_of(0) + 2u * 256u, &flags, 8);
	assert_int_equal(vmb_ring_read(rx, pkt, sizeof(pkt), &len), PV_OK);
	assert_int_equal(vmb_ring_commit_read(rx, &sig), PV_OK);
	if (ic[12] == 0) {
		static const uint8_t pick[16] = {1, 0, 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0};

		memcpy(body, pick, sizeof(pick));
	} else {
		uint64_t s;

		assert_int_equal(ic[12], 1);
		memcpy(&s, body, 8);
		s++;
		memcpy(body, &s, 8);
	}
	ic[25] = 5;
	b.data = ic;
	b.len = len - 16;
	assert_int_equal(vmb_ring_write(tx, 6, 0, 0, &b, 1, &sig, &needed), PV_OK);
	if (sig)
		assert_int_equal(hcall(f, 0, 0x1005D, conn, 0) & 0xFFFF, 0);
}

/* A heartbeat IC with a period sends requests on a port timer once ready. */
static void test_periodic_heartbeat(void **state)
{
	struct fx f;
	struct pv_vmbus *v;
	struct pv_vmbus_ic *hb;
	struct pv_vmbus_ic_config icfg = {0};
	struct gring gtx, grx;
	struct vmb_ring tx, rx;
	uint8_t m[240];
	uint32_t relid = 0, conn = 0;
	uint64_t seq = 0, answers = 0;

	(void)state;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_TIMERS, 1, NULL), 0);
	enable_hypercalls(&f);
	synic_enable(&f, 0, 2, 0x50);
	v = server(&f);
	icfg.kind = PV_VMBUS_IC_SHUTDOWN;
	icfg.period_ns = 1000000000ull;
	assert_int_equal(pv_vmbus_ic_create(v, &icfg, &hb), PV_EINVAL);
	icfg.kind = PV_VMBUS_IC_HEARTBEAT;
	assert_int_equal(pv_vmbus_ic_create(v, &icfg, &hb), PV_OK);
	connect(&f);
	request_offers(&f, &relid, &conn);
	guest_rings(&f, &gtx, &grx, &tx, &rx);
	/* nothing is armed before negotiation */
	assert_int_equal(pv_mock_advance_clock(f.mock, 5000000000ull), 0);
	gpadl(&f, relid, 0xE1E10, RING_GPA >> 12, 8, 0);
	assert_int_equal(open_ch(&f, relid, 0xE1E10), 0);
	serve_one(&f, &rx, &tx, relid, conn); /* negotiation */
	serve_one(&f, &rx, &tx, relid, conn); /* first heartbeat */
	assert_int_equal(pv_mock_advance_clock(f.mock, 500000000ull), 0);
	assert_int_equal(pv_mock_advance_clock(f.mock, 500000000ull), 1);
	serve_one(&f, &rx, &tx, relid, conn);
	assert_int_equal(pv_mock_advance_clock(f.mock, 1000000000ull), 1);
	serve_one(&f, &rx, &tx, relid, conn);
	assert_int_equal(pv_vmbus_ic_heartbeat_get(hb, &seq, &answers), PV_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(answers, 3);
	/* the guest closes: the timer stops */
	memset(m, 0, sizeof(m));
	put32(m, 7);
	put32(m + 8, relid);
	post_msg(&f, 1, m, 12);
	assert_int_equal(pv_mock_advance_clock(f.mock, 10000000000ull), 0);
	pv_vmbus_ic_destroy(hb);
	pv_vmbus_destroy(v);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offers_backpressure),
		cmocka_unit_test(test_heartbeat_over_hv1),
		cmocka_unit_test(test_ring_outside_ram),
		cmocka_unit_test(test_periodic_heartbeat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
