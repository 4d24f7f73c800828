/* SPDX-License-Identifier: MIT */
/* VMBus TMK guest: a minimal VMBus client with its own message and ring code
 * (deliberately not sharing lib/vmbus), as a Linux guest drives the host. */
#include "tmk.h"
#include "vmbus_cases.h"

#define MSR_GUEST_OS_ID 0x40000000u
#define MSR_HYPERCALL 0x40000001u
#define MSR_SCONTROL 0x40000080u
#define MSR_SIEFP 0x40000082u
#define MSR_SIMP 0x40000083u
#define MSR_EOM 0x40000084u
#define MSR_SINT0 0x40000090u

#define PAGE __attribute__((aligned(4096)))

static uint8_t hc_page[4096] PAGE;
static uint8_t simp[4096] PAGE;
static uint8_t siefp[4096] PAGE;
static uint8_t in_page[4096] PAGE;
static uint8_t rings[VMBT_RING_PAGES * 4096] PAGE;

static volatile uint32_t sint_irqs;
static uint8_t msg[256];
static uint32_t hb_relid, hb_conn;
static uint8_t pkt[4096];

static const uint8_t hb_class[16] = {0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e,
				     0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d};

static uint32_t g32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void p32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void p16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint16_t g16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static uint64_t hv_call(uint64_t control, uint64_t input, uint64_t output)
{
	void *fn = hc_page;
	uint64_t ret;
	register uint64_t r8 __asm__("r8") = output;
	__asm__ volatile("call *%[fn]"
			 : "=a"(ret), "+c"(control), "+d"(input), "+r"(r8)
			 : [fn] "m"(fn)
			 : "memory", "cc", "r9", "r10", "r11");
	return ret;
}

static void on_sint(uint8_t vector)
{
	(void)vector;
	sint_irqs++;
}

static void setup_hv(void)
{
	TMK_CHECK_EQ(tmk_wrmsr_safe(MSR_GUEST_OS_ID, 0x8100000601C00000ull), -1);
	TMK_CHECK_EQ(tmk_wrmsr_safe(MSR_HYPERCALL, (uint64_t)(uintptr_t)hc_page | 1u), -1);
	tmk_lapic_enable();
	tmk_set_irq_handler(VMBT_SINT_VECTOR, on_sint);
	TMK_CHECK_EQ(tmk_wrmsr_safe(MSR_SIMP, (uint64_t)(uintptr_t)simp | 1u), -1);
	TMK_CHECK_EQ(tmk_wrmsr_safe(MSR_SIEFP, (uint64_t)(uintptr_t)siefp | 1u), -1);
	TMK_CHECK_EQ(tmk_wrmsr_safe(MSR_SINT0 + VMBT_SINT, VMBT_SINT_VECTOR), -1);
	TMK_CHECK_EQ(tmk_wrmsr_safe(MSR_SCONTROL, 1), -1);
	tmk_sti();
}

/* HvPostMessage of a channel message (SynIC message type 1). */
static bool post(uint32_t conn, const void *payload, uint32_t size)
{
	uint32_t hdr[4] = {conn, 0, 1, size};
	uint64_t st;

	memset(in_page, 0, 256);
	memcpy(in_page, hdr, sizeof(hdr));
	memcpy(in_page + 16, payload, size);
	st = hv_call(0x005C, (uint64_t)(uintptr_t)in_page, 0);
	TMK_CHECK_EQ(st, 0);
	return st == 0;
}

/* Take the next message from SINT 2's slot; true if it has type @want. */
static bool recv(uint32_t want)
{
	volatile uint8_t *slot = simp + VMBT_SINT * 256u;
	volatile uint32_t *type = (volatile uint32_t *)slot;
	uint8_t flags, size;
	int i;

	for (i = 0; i < 100000 && *type == 0; i++)
		tmk_pause();
	TMK_CHECK_EQ(*type, 1);
	if (*type != 1)
		return false;
	size = slot[4];
	flags = slot[5];
	memcpy(msg, (const void *)(slot + 16), size);
	__atomic_store_n(type, 0, __ATOMIC_SEQ_CST);
	if (flags & 1u)
		TMK_CHECK_EQ(tmk_wrmsr_safe(MSR_EOM, 0), -1);
	TMK_CHECK_EQ(g32(msg), want);
	return g32(msg) == want;
}

/* ---- rings: guest-to-host at page 0, host-to-guest at page 4 ---- */

#define RING_DATA (3u * 4096u)

static uint8_t *ctl(int host_to_guest)
{
	return rings + (host_to_guest ? 4u * 4096u : 0u);
}

static void ring_copy_out(uint8_t *data, uint32_t pos, uint8_t *dst, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		dst[i] = data[(pos + i) % RING_DATA];
}

static void ring_copy_in(uint8_t *data, uint32_t pos, const uint8_t *src, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		data[(pos + i) % RING_DATA] = src[i];
}

/* Read one packet from the host-to-guest ring into pkt; returns its length or 0. */
static uint32_t ring_read(void)
{
	uint8_t *c = ctl(1), *data = c + 4096;
	uint32_t w = __atomic_load_n((uint32_t *)c, __ATOMIC_ACQUIRE), r = g32(c + 4), len;

	if (w == r)
		return 0;
	ring_copy_out(data, r, pkt, 16);
	len = g16(pkt + 4) * 8u;
	TMK_CHECK(len >= 16 && len <= sizeof(pkt));
	if (len < 16 || len > sizeof(pkt))
		return 0;
	ring_copy_out(data, r, pkt, len);
	__atomic_store_n((uint32_t *)(c + 4), (r + len + 8) % RING_DATA, __ATOMIC_RELEASE);
	return len;
}

/* Write an in-band packet; returns true if the host must be signalled. */
static bool ring_write(uint64_t tid, const uint8_t *payload, uint32_t n)
{
	uint8_t *c = ctl(0), *data = c + 4096, desc[16] = {0}, trailer[8] = {0}, zero[8] = {0};
	uint32_t w = g32(c), padded = (n + 7) & ~7u;

	p16(desc, 6);
	p16(desc + 2, 2);
	p16(desc + 4, (uint16_t)((16 + padded) / 8));
	memcpy(desc + 8, &tid, 8);
	p32(trailer + 4, w);
	ring_copy_in(data, w, desc, 16);
	ring_copy_in(data, w + 16, payload, n);
	ring_copy_in(data, w + 16 + n, zero, padded - n);
	ring_copy_in(data, w + 16 + padded, trailer, 8);
	__atomic_store_n((uint32_t *)c, (w + 16 + padded + 8) % RING_DATA, __ATOMIC_SEQ_CST);
	return g32(c + 8) == 0 && __atomic_load_n((uint32_t *)(c + 4), __ATOMIC_SEQ_CST) == w;
}

/* Wait for the host's event flag for the heartbeat channel, then clear it. */
static bool wait_event(void)
{
	volatile uint64_t *flags = (volatile uint64_t *)(siefp + VMBT_SINT * 256u);
	uint64_t bit = 1ull << (hb_relid % 64);
	int i;

	for (i = 0; i < 100000 && !(flags[hb_relid / 64] & bit); i++)
		tmk_pause();
	TMK_CHECK(flags[hb_relid / 64] & bit);
	__atomic_and_fetch(&flags[hb_relid / 64], ~bit, __ATOMIC_SEQ_CST);
	return true;
}

TMK_CASE(negotiate_and_offers)
{
	uint8_t m[40] = {0};
	bool found = false;
	int offers = 0;

	setup_hv();
	/* 6.0 is refused, 5.3 accepted with message connection 1 */
	p32(m, 14);
	p32(m + 8, 0x60000);
	m[16] = VMBT_SINT;
	if (!post(4, m, 40) || !recv(15))
		return;
	TMK_CHECK_EQ(msg[8], 0);
	p32(m + 8, 0x50003);
	if (!post(4, m, 40) || !recv(15))
		return;
	TMK_CHECK_EQ(msg[8], 1);
	TMK_CHECK_EQ(g32(msg + 12), 1);
	memset(m, 0, 8);
	p32(m, 3);
	if (!post(1, m, 8))
		return;
	/* one offer per IC (queued behind each other in the slot), then ALLOFFERS */
	for (;;) {
		volatile uint32_t *type = (volatile uint32_t *)(simp + VMBT_SINT * 256u);
		int i;

		for (i = 0; i < 100000 && *type == 0; i++)
			tmk_pause();
		if (!recv(g32((const uint8_t *)(simp + VMBT_SINT * 256u + 16))))
			return;
		if (g32(msg) == 4)
			break;
		TMK_CHECK_EQ(g32(msg), 1);
		offers++;
		if (memcmp(msg + 8, hb_class, 16) == 0) {
			found = true;
			hb_relid = g32(msg + 184);
			hb_conn = g32(msg + 192);
			TMK_CHECK_EQ(msg[189], 0); /* no monitor page: HvSignalEvent */
		}
	}
	TMK_CHECK_EQ(offers, 3);
	TMK_CHECK(found);
	TMK_CHECK(hb_relid > 0 && hb_relid < 2048);
	tmk_printf("heartbeat relid %u conn 0x%x\n", hb_relid, hb_conn);
}

TMK_CASE(gpadl_open_heartbeat)
{
	uint8_t m[240] = {0};
	uint32_t len, i;

	if (!hb_relid) {
		tmk_skip("no heartbeat offer");
		return;
	}
	/* GPADL_HEADER with all 8 PFNs (one range, offset 0) */
	p32(m, 8);
	p32(m + 8, hb_relid);
	p32(m + 12, VMBT_GPADL_ID);
	p16(m + 16, 8 + 8 * VMBT_RING_PAGES);
	p16(m + 18, 1);
	p32(m + 20, VMBT_RING_PAGES * 4096);
	for (i = 0; i < VMBT_RING_PAGES; i++) {
		uint64_t pfn = ((uint64_t)(uintptr_t)rings >> 12) + i;

		memcpy(m + 28 + 8 * i, &pfn, 8);
	}
	if (!post(1, m, 28 + 8 * VMBT_RING_PAGES) || !recv(10))
		return;
	TMK_CHECK_EQ(g32(msg + 8), hb_relid);
	TMK_CHECK_EQ(g32(msg + 12), VMBT_GPADL_ID);
	TMK_CHECK_EQ(g32(msg + 16), 0);
	/* both rings: indices zero, pending-send-size feature */
	memset(rings, 0, sizeof(rings));
	p32(ctl(0) + 64, 1);
	p32(ctl(1) + 64, 1);
	memset(m, 0, sizeof(m));
	p32(m, 5);
	p32(m + 8, hb_relid);
	p32(m + 12, hb_relid);
	p32(m + 16, VMBT_GPADL_ID);
	p32(m + 20, 0);
	p32(m + 24, 4);
	if (!post(1, m, 148) || !recv(6))
		return;
	TMK_CHECK_EQ(g32(msg + 8), hb_relid);
	TMK_CHECK_EQ(g32(msg + 16), 0);

	/* The host sent the IC negotiation right after the open. */
	wait_event();
	len = ring_read();
	TMK_CHECK(len >= 16 + 28 + 8);
	if (len < 16 + 28 + 8)
		return;
	{
		uint8_t *ic = pkt + 16, *body = ic + 28;
		uint16_t nf = g16(body), nm = g16(body + 2);
		bool fw3 = false, msg3 = false;

		TMK_CHECK_EQ(pkt[0], 6);
		TMK_CHECK_EQ(g16(ic + 12), 0);
		TMK_CHECK_EQ(ic[25], 3);
		for (i = 0; i < nf; i++)
			fw3 |= g16(body + 8 + 4 * i) == 3 && g16(body + 10 + 4 * i) == 0;
		for (i = 0; i < nm; i++)
			msg3 |= g16(body + 8 + 4 * (nf + i)) == 3 &&
				g16(body + 10 + 4 * (nf + i)) == 0;
		TMK_CHECK(fw3 && msg3);
		/* answer in place: framework 3.0, message 3.0 */
		p16(body, 1);
		p16(body + 2, 1);
		p16(body + 8, 3);
		p16(body + 10, 0);
		p16(body + 12, 3);
		p16(body + 14, 0);
		ic[25] = 5;
		if (ring_write(g32(pkt + 8), ic, len - 16))
			TMK_CHECK_EQ(hv_call(0x1005D, hb_conn, 0) & 0xFFFF, 0);
	}
	/* The host answers the negotiation with the first heartbeat request. */
	wait_event();
	len = ring_read();
	TMK_CHECK(len >= 16 + 28 + 8);
	if (len < 16 + 28 + 8)
		return;
	{
		uint8_t *ic = pkt + 16, *body = ic + 28;
		uint64_t seq;

		TMK_CHECK_EQ(g16(ic + 12), 1);
		TMK_CHECK_EQ(g16(ic + 8), 3); /* negotiated framework in use */
		memcpy(&seq, body, 8);
		tmk_printf("heartbeat request, sequence %lu\n", (unsigned long)seq);
		seq++;
		memcpy(body, &seq, 8);
		ic[25] = 5;
		if (ring_write(g32(pkt + 8), ic, len - 16))
			TMK_CHECK_EQ(hv_call(0x1005D, hb_conn, 0) & 0xFFFF, 0);
	}
	TMK_CHECK_EQ(ring_read(), 0);
}

TMK_CASE(close_teardown_unload)
{
	uint8_t m[16] = {0};

	if (!hb_relid) {
		tmk_skip("no heartbeat offer");
		return;
	}
	p32(m, 7);
	p32(m + 8, hb_relid);
	if (!post(1, m, 12))
		return;
	p32(m, 11);
	p32(m + 12, VMBT_GPADL_ID);
	if (!post(1, m, 16) || !recv(12))
		return;
	TMK_CHECK_EQ(g32(msg + 8), VMBT_GPADL_ID);
	memset(m, 0, sizeof(m));
	p32(m, 16);
	if (!post(1, m, 8))
		return;
	recv(17);
	tmk_cli();
}
