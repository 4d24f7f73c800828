/* SPDX-License-Identifier: MIT */
/* hv1: SynIC message slots, queue full/empty/EOM ordering, event flags,
 * interrupt delivery (inject and MSI), and synthetic timers on the mock clock. */
#include "hv1_fixture.h"

static uint64_t slot(uint32_t vcpu, uint8_t sint)
{
	return simp_of(vcpu) + (uint64_t)sint * 256u;
}

static void post_seq(struct fx *f, uint8_t sint, uint32_t seq, pv_err_t expect)
{
	assert_int_equal(pv_hv1_post_message(f->hv1, 0, sint, 1, &seq, 4), expect);
}

static uint32_t slot_seq(struct fx *f, uint8_t sint)
{
	return gmem_u32(f, slot(0, sint) + 16);
}

static uint8_t slot_flags(struct fx *f, uint8_t sint)
{
	uint8_t b;
	gmem_read(f, slot(0, sint) + 5, &b, 1);
	return b;
}

/* What the guest does after handling a message: free the slot; EOM if pending. */
static void guest_consume(struct fx *f, uint8_t sint)
{
	uint8_t pending = slot_flags(f, sint) & 1u;
	uint32_t zero = 0;
	gmem_write(f, slot(0, sint), &zero, 4);
	if (pending)
		assert_true(wrmsr(f, 0, MSR_EOM, 0));
}

static void test_post_states_and_args(void **state)
{
	(void)state;
	struct fx f;
	uint32_t v = 1;
	assert_int_equal(fx_init(&f, 0, 2, NULL), 0);
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 2, 1, &v, 4), PV_ESTATE);
	assert_true(wrmsr(&f, 0, MSR_SIMP, SIMP_PAGE | 1u));
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 2, 1, &v, 4), PV_ESTATE); /* SCONTROL off */
	assert_true(wrmsr(&f, 0, MSR_SCONTROL, 1));
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 2, 1, &v, 4), PV_ESTATE); /* masked */
	synic_enable(&f, 0, 2, 0x50);
	assert_int_equal(pv_hv1_post_message(f.hv1, 2, 2, 1, &v, 4), PV_EINVAL);
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 16, 1, &v, 4), PV_EINVAL);
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 2, 0, &v, 4), PV_EINVAL);
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 2, 1, &v, 241), PV_EINVAL);
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 2, 1, NULL, 4), PV_EINVAL);
	assert_int_equal(pv_hv1_post_message(NULL, 0, 2, 1, &v, 4), PV_EINVAL);
	assert_int_equal(pv_hv1_post_message(f.hv1, 1, 2, 1, &v, 4), PV_ESTATE); /* vCPU 1 off */
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 0);
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 2, 1, NULL, 0), PV_OK);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	fx_fini(&f);
}

static void test_queue_eom_ordering(void **state)
{
	(void)state;
	struct fx f;
	struct pv_hv1_config cfg;
	pv_hv1_config_default(NULL, &cfg);
	cfg.sint_queue_depth = 3;
	assert_int_equal(fx_init(&f, 0, 1, &cfg), 0);
	synic_enable(&f, 0, 5, 0x60);

	/* Slot empty: direct delivery with an interrupt, no pending flag. */
	post_seq(&f, 5, 100, PV_OK);
	assert_int_equal(gmem_u32(&f, slot(0, 5)), 1);
	assert_int_equal(slot_seq(&f, 5), 100);
	assert_int_equal(slot_flags(&f, 5), 0);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* Slot busy: queued, MessagePending set in the occupied slot. */
	post_seq(&f, 5, 101, PV_OK);
	post_seq(&f, 5, 102, PV_OK);
	post_seq(&f, 5, 103, PV_OK);
	assert_int_equal(slot_flags(&f, 5), 1);
	assert_int_equal(slot_seq(&f, 5), 100);
	/* Queue full: back-pressure. */
	post_seq(&f, 5, 104, PV_EBUSY);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* EOM without freeing the slot delivers nothing. */
	assert_true(wrmsr(&f, 0, MSR_EOM, 0));
	assert_int_equal(slot_seq(&f, 5), 100);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* Guest consumes: messages arrive in order, pending set while more wait. */
	for (uint32_t seq = 101; seq <= 103; seq++) {
		guest_consume(&f, 5);
		assert_int_equal(slot_seq(&f, 5), seq);
		assert_int_equal(slot_flags(&f, 5), seq < 103 ? 1 : 0);
		assert_int_equal(pv_mock_inject_count(f.mock, 0), 1 + (seq - 100));
	}
	/* Empty queue: the last consume needs no EOM, and an EOM does nothing. */
	guest_consume(&f, 5);
	assert_int_equal(gmem_u32(&f, slot(0, 5)), 0);
	assert_true(wrmsr(&f, 0, MSR_EOM, 0));
	assert_int_equal(gmem_u32(&f, slot(0, 5)), 0);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 4);
	/* Other SINTs are independent. */
	assert_true(wrmsr(&f, 0, MSR_SINT(6), 0x61));
	post_seq(&f, 6, 600, PV_OK);
	post_seq(&f, 5, 500, PV_OK);
	assert_int_equal(slot_seq(&f, 6), 600);
	assert_int_equal(slot_seq(&f, 5), 500);
	fx_fini(&f);
}

static void test_freed_without_eom_keeps_order(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	synic_enable(&f, 0, 2, 0xF3);
	post_seq(&f, 2, 1, PV_OK);
	post_seq(&f, 2, 2, PV_OK);
	/* The guest frees the slot but misses the pending flag (no EOM). */
	uint32_t zero = 0;
	gmem_write(&f, slot(0, 2), &zero, 4);
	/* The next post delivers the queued message first, not the new one. */
	post_seq(&f, 2, 3, PV_OK);
	assert_int_equal(slot_seq(&f, 2), 2);
	assert_int_equal(slot_flags(&f, 2), 1);
	guest_consume(&f, 2);
	assert_int_equal(slot_seq(&f, 2), 3);
	fx_fini(&f);
}

struct ready_rec {
	int calls;
	uint32_t vp;
	uint8_t sint;
};

static void on_ready(void *ctx, uint32_t vp, uint8_t sint)
{
	struct ready_rec *r = ctx;
	r->calls++;
	r->vp = vp;
	r->sint = sint;
}

static void test_backpressure_notification(void **state)
{
	(void)state;
	struct fx f;
	struct ready_rec rr = {0};
	struct pv_hv1_config cfg;
	pv_hv1_config_default(NULL, &cfg);
	cfg.sint_queue_depth = 1;
	assert_int_equal(fx_init(&f, 0, 1, &cfg), 0);
	pv_hv1_set_sint_ready_fn(f.hv1, on_ready, &rr);
	synic_enable(&f, 0, 4, 0x70);
	post_seq(&f, 4, 1, PV_OK);
	post_seq(&f, 4, 2, PV_OK);
	post_seq(&f, 4, 3, PV_EBUSY);
	assert_int_equal(rr.calls, 0);
	guest_consume(&f, 4);
	assert_int_equal(rr.calls, 1);
	assert_int_equal(rr.vp, 0);
	assert_int_equal(rr.sint, 4);
	post_seq(&f, 4, 3, PV_OK);
	guest_consume(&f, 4);
	assert_int_equal(rr.calls, 1); /* only after a refusal */
	fx_fini(&f);
}

static void test_masked_polling_msi(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_IRQCHIP, 2, NULL), 0);
	synic_enable(&f, 1, 3, 0x99);
	uint32_t v = 7;
	assert_int_equal(pv_hv1_post_message(f.hv1, 1, 3, 1, &v, 4), PV_OK);
	/* With an irqchip the SINT is an MSI to the vCPU's APIC ID. */
	assert_int_equal(pv_mock_irq_count(f.mock), 1);
	struct pv_mock_irq irq;
	assert_int_equal(pv_mock_irq_get(f.mock, 0, &irq), PV_OK);
	assert_true(irq.is_msi);
	assert_int_equal(irq.address, 0xFEE01000ull);
	assert_int_equal(irq.data, 0x99);
	assert_int_equal(pv_mock_inject_count(f.mock, 1), 0);
	/* Polling SINT: message delivered, no interrupt. */
	assert_true(wrmsr(&f, 1, MSR_SINT(4), 0x40000 | 0x98));
	assert_int_equal(pv_hv1_post_message(f.hv1, 1, 4, 1, &v, 4), PV_OK);
	assert_int_equal(gmem_u32(&f, simp_of(1) + 4 * 256), 1);
	assert_int_equal(pv_mock_irq_count(f.mock), 1);
	/* Masking refuses new posts. */
	assert_true(wrmsr(&f, 1, MSR_SINT(3), 0x10099));
	assert_int_equal(pv_hv1_post_message(f.hv1, 1, 3, 1, &v, 4), PV_ESTATE);
	fx_fini(&f);
}

static void test_masked_sint_drains_without_interrupt(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	synic_enable(&f, 0, 7, 0x77);
	post_seq(&f, 7, 1, PV_OK);
	post_seq(&f, 7, 2, PV_OK);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* The guest masks the SINT, then frees the slot and writes EOM: the
	 * queue drains into the slot (TLFS), without an interrupt. */
	assert_true(wrmsr(&f, 0, MSR_SINT(7), 0x10077));
	guest_consume(&f, 7);
	assert_int_equal(slot_seq(&f, 7), 2);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	fx_fini(&f);
}

static void test_simp_outside_ram(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	/* Accepted, but nothing can be delivered: messages wait in the queue. */
	assert_true(wrmsr(&f, 0, MSR_SIMP, MMIO_BASE | 1u));
	assert_true(wrmsr(&f, 0, MSR_SINT(2), 0xF3));
	assert_true(wrmsr(&f, 0, MSR_SCONTROL, 1));
	post_seq(&f, 2, 9, PV_OK);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 0);
	/* Moving the page into RAM delivers the queued message. */
	assert_true(wrmsr(&f, 0, MSR_SIMP, SIMP_PAGE | 1u));
	assert_int_equal(gmem_u32(&f, SIMP_PAGE + 2 * 256 + 16), 9);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	fx_fini(&f);
}

static void test_signal_event_flags(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	assert_int_equal(pv_hv1_signal_event(f.hv1, 0, 2, 5), PV_ESTATE);
	synic_enable(&f, 0, 2, 0xF3);
	assert_int_equal(pv_hv1_signal_event(f.hv1, 0, 2, 2048), PV_EINVAL);
	assert_int_equal(pv_hv1_signal_event(f.hv1, 0, 16, 1), PV_EINVAL);
	assert_int_equal(pv_hv1_signal_event(f.hv1, 1, 2, 1), PV_EINVAL);
	assert_int_equal(pv_hv1_signal_event(f.hv1, 0, 3, 1), PV_ESTATE); /* SINT3 masked */
	uint64_t flags = siefp_of(0) + 2 * 256;
	assert_int_equal(pv_hv1_signal_event(f.hv1, 0, 2, 13), PV_OK);
	assert_int_equal(gmem_u64(&f, flags), 1ull << 13);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* Already set: no new interrupt. */
	assert_int_equal(pv_hv1_signal_event(f.hv1, 0, 2, 13), PV_OK);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* Another flag, including the last one. */
	assert_int_equal(pv_hv1_signal_event(f.hv1, 0, 2, 2047), PV_OK);
	uint8_t last;
	gmem_read(&f, flags + 255, &last, 1);
	assert_int_equal(last, 0x80);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 2);
	/* Guest clears the flag: signalling again interrupts again. */
	uint64_t zero = 0;
	gmem_write(&f, flags, &zero, 8);
	assert_int_equal(pv_hv1_signal_event(f.hv1, 0, 2, 13), PV_OK);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 3);
	/* Other SINTs' flag areas are untouched. */
	assert_int_equal(gmem_u64(&f, siefp_of(0) + 3 * 256), 0);
	fx_fini(&f);
}

/* ---- synthetic timers ---- */

static void test_stimer_one_shot_message(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_TIMERS, 1, NULL), 0);
	synic_enable(&f, 0, 3, 0x40);
	uint64_t now = rd(&f, 0, MSR_TIME_REF_COUNT);
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(1), (3u << 16) | 1u));
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(1), now + 1000)); /* 100 us */
	pv_mock_advance_clock(f.mock, 50000);
	assert_int_equal(gmem_u32(&f, slot(0, 3)), 0);
	pv_mock_advance_clock(f.mock, 60000);
	assert_int_equal(gmem_u32(&f, slot(0, 3)), PV_HV1_MSG_TIMER_EXPIRED);
	uint8_t m[40];
	gmem_read(&f, slot(0, 3), m, sizeof(m));
	assert_int_equal(m[4], 24);
	uint32_t idx;
	uint64_t exp, del;
	memcpy(&idx, m + 16, 4);
	memcpy(&exp, m + 24, 8);
	memcpy(&del, m + 32, 8);
	assert_int_equal(idx, 1);
	assert_int_equal(exp, now + 1000);
	assert_true(del >= exp);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* One-shot: disabled after expiry; nothing more fires. */
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(1)) & 1u, 0);
	guest_consume(&f, 3);
	pv_mock_advance_clock(f.mock, 10000000);
	assert_int_equal(gmem_u32(&f, slot(0, 3)), 0);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* A deadline already in the past fires at once. */
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(1), (3u << 16) | 8u)); /* auto-enable */
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(1), 1));
	pv_mock_advance_clock(f.mock, 1);
	assert_int_equal(gmem_u32(&f, slot(0, 3)), PV_HV1_MSG_TIMER_EXPIRED);
	fx_fini(&f);
}

static void test_stimer_periodic_coalesce(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_TIMERS, 1, NULL), 0);
	synic_enable(&f, 0, 2, 0xF3);
	/* Periodic, 100 us; the guest does not consume for 350 us. */
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), (2u << 16) | 2u | 1u));
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(0), 1000));
	pv_mock_advance_clock(f.mock, 350000);
	assert_int_equal(gmem_u32(&f, slot(0, 2)), PV_HV1_MSG_TIMER_EXPIRED);
	uint64_t first = gmem_u64(&f, slot(0, 2) + 24);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	assert_int_equal(slot_flags(&f, 2), 1); /* a later expiry waits */
	/* Consuming delivers exactly one coalesced expiry. */
	guest_consume(&f, 2);
	assert_int_equal(gmem_u32(&f, slot(0, 2)), PV_HV1_MSG_TIMER_EXPIRED);
	uint64_t second = gmem_u64(&f, slot(0, 2) + 24);
	assert_true(second > first);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 2);
	guest_consume(&f, 2);
	assert_int_equal(gmem_u32(&f, slot(0, 2)), 0);
	/* It keeps firing every period. */
	pv_mock_advance_clock(f.mock, 100000);
	assert_int_equal(gmem_u32(&f, slot(0, 2)), PV_HV1_MSG_TIMER_EXPIRED);
	guest_consume(&f, 2);
	/* Count 0 stops it. */
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(0), 0));
	size_t n = pv_mock_inject_count(f.mock, 0);
	pv_mock_advance_clock(f.mock, 1000000);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), n);
	assert_int_equal(gmem_u32(&f, slot(0, 2)), 0);
	fx_fini(&f);
}

static void test_stimer_direct_and_late_synic(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_TIMERS, 1, NULL), 0);
	/* Direct mode (Linux's stimer0 at vector 0xED): no SynIC needed. */
	uint64_t now = rd(&f, 0, MSR_TIME_REF_COUNT);
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), (1u << 12) | (0xEDu << 4) | 8u));
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(0), now + 500));
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(0)) & 1u, 1);
	pv_mock_advance_clock(f.mock, 49999);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 0);
	pv_mock_advance_clock(f.mock, 1);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	struct pv_event ev;
	assert_int_equal(pv_mock_inject_get(f.mock, 0, 0, &ev), PV_OK);
	assert_int_equal(ev.vector, 0xED);

	/* Message mode before the SIMP is enabled: held until it is. */
	assert_true(wrmsr(&f, 0, MSR_SINT(3), 0x41));
	assert_true(wrmsr(&f, 0, MSR_SCONTROL, 1));
	now = rd(&f, 0, MSR_TIME_REF_COUNT);
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(2), (3u << 16) | 1u));
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(2), now + 10));
	pv_mock_advance_clock(f.mock, 2000);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	assert_true(wrmsr(&f, 0, MSR_SIMP, SIMP_PAGE | 1u));
	assert_int_equal(gmem_u32(&f, SIMP_PAGE + 3 * 256), PV_HV1_MSG_TIMER_EXPIRED);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 2);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_states_and_args),
		cmocka_unit_test(test_queue_eom_ordering),
		cmocka_unit_test(test_freed_without_eom_keeps_order),
		cmocka_unit_test(test_backpressure_notification),
		cmocka_unit_test(test_masked_polling_msi),
		cmocka_unit_test(test_masked_sint_drains_without_interrupt),
		cmocka_unit_test(test_simp_outside_ram),
		cmocka_unit_test(test_signal_event_flags),
		cmocka_unit_test(test_stimer_one_shot_message),
		cmocka_unit_test(test_stimer_periodic_coalesce),
		cmocka_unit_test(test_stimer_direct_and_late_synic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
