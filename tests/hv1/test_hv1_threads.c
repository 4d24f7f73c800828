/* SPDX-License-Identifier: MIT */
/* hv1: concurrency. A host thread posts a numbered stream of messages (with
 * back-pressure retries) while a "guest" thread consumes the slot the way
 * Linux does (free the slot, then EOM only if MessagePending was set) and a
 * third thread drives a periodic synthetic timer on another SINT through the
 * mock clock. Every message must arrive exactly once, in order, and nothing
 * may deadlock. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>

#include "hv1_fixture.h"

#define STREAM 5000u
#define MSG_SINT 2u
#define TIMER_SINT 3u

struct shared {
	struct fx *f;
	int stop_timer;
	unsigned busy_retries;
	unsigned timer_msgs;
};

static void *poster(void *arg)
{
	struct shared *s = arg;
	for (uint32_t seq = 1; seq <= STREAM; seq++) {
		pv_err_t err;
		while ((err = pv_hv1_post_message(s->f->hv1, 0, MSG_SINT, 1, &seq, 4)) ==
		       PV_EBUSY) {
			s->busy_retries++;
			sched_yield();
		}
		if (err != PV_OK)
			return (void *)1;
	}
	return NULL;
}

static void *clock_driver(void *arg)
{
	struct shared *s = arg;
	while (!__atomic_load_n(&s->stop_timer, __ATOMIC_ACQUIRE)) {
		pv_mock_advance_clock(s->f->mock, 20000);
		sched_yield();
	}
	return NULL;
}

static bool consume(struct fx *f, uint8_t sint, uint32_t *type, uint32_t *word)
{
	uint64_t slot = simp_of(0) + (uint64_t)sint * 256u;
	uint32_t t = gmem_u32(f, slot);
	if (t == 0)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*type = t;
	*word = gmem_u32(f, slot + 16);
	/* Free the slot with a single store, as a guest's LOCK CMPXCHG would
	 * (type 1 has one non-zero byte; a 4-byte memcpy may store twice). */
	uint32_t zero = 0;
	gmem_write(f, slot, &zero, t < 256u ? 1u : 4u);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint8_t flags;
	gmem_read(f, slot + 5, &flags, 1);
	if (flags & 1u)
		assert_true(wrmsr(f, 0, MSR_EOM, 0));
	return true;
}

static void test_post_consume_timer_threads(void **state)
{
	(void)state;
	struct fx f;
	struct pv_hv1_config cfg;
	pv_hv1_config_default(NULL, &cfg);
	cfg.sint_queue_depth = 4;
	cfg.privileges_low |= PV_HV1_PRIV_SYNTHETIC_TIMERS;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_TIMERS, 1, &cfg), 0);
	synic_enable(&f, 0, MSG_SINT, 0xF3);
	assert_true(wrmsr(&f, 0, MSR_SINT(TIMER_SINT), 0x44));
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), (TIMER_SINT << 16) | 2u | 1u));
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(0), 1000));

	struct shared s = {.f = &f};
	pthread_t tp, tc;
	assert_int_equal(pthread_create(&tp, NULL, poster, &s), 0);
	assert_int_equal(pthread_create(&tc, NULL, clock_driver, &s), 0);
	uint32_t expect = 1;
	while (expect <= STREAM) {
		uint32_t type, word;
		if (consume(&f, MSG_SINT, &type, &word)) {
			assert_int_equal(type, 1);
			assert_int_equal(word, expect);
			expect++;
		}
		if (consume(&f, TIMER_SINT, &type, &word)) {
			assert_int_equal(type, PV_HV1_MSG_TIMER_EXPIRED);
			assert_int_equal(word, 0); /* timer index */
			s.timer_msgs++;
		}
	}
	/* The stream can finish before the clock thread ever ran (a fast
	 * machine, or a busy one): keep consuming until the periodic timer has
	 * delivered, bounded so a broken timer fails instead of hanging. */
	for (unsigned long spins = 0; s.timer_msgs == 0 && spins < 200000000ul; spins++) {
		uint32_t type, word;
		if (consume(&f, TIMER_SINT, &type, &word)) {
			assert_int_equal(type, PV_HV1_MSG_TIMER_EXPIRED);
			s.timer_msgs++;
		} else if ((spins & 1023u) == 0) {
			sched_yield();
		}
	}
	void *ret;
	assert_int_equal(pthread_join(tp, &ret), 0);
	assert_null(ret);
	__atomic_store_n(&s.stop_timer, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(tc, NULL), 0);
	/* Nothing left behind: the slot is empty and no EOM brings more. */
	assert_true(wrmsr(&f, 0, MSR_EOM, 0));
	assert_int_equal(gmem_u32(&f, simp_of(0) + MSG_SINT * 256u), 0);
	assert_true(s.timer_msgs > 0);
	print_message("%u messages, %u back-pressure retries, %u timer messages\n", STREAM,
		      s.busy_retries, s.timer_msgs);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_consume_timer_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
