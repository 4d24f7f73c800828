/* SPDX-License-Identifier: MIT */
/* Concurrency: a host thread streams packets to the guest while the guest
 * thread drains them, sends its own requests (echoed by the device from the
 * signal path) and signals; every packet arrives once, in order. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus_fake.h"

#define HOST_PACKETS 20000u
#define GUEST_PACKETS 5000u

/* The device echoes every request as a completion, in order; when the ring
 * is full it queues the echo and retries from its writable callback (both
 * callbacks run under the channel's inbound lock, so they never overlap). */
struct tdev {
	unsigned writables, packets;
	uint64_t queue[GUEST_PACKETS];
	uint8_t data[GUEST_PACKETS][40];
	unsigned head, tail;
};

static void flush(struct tdev *d, struct pv_vmbus_channel *chan)
{
	while (d->head != d->tail) {
		pv_err_t e =
			pv_vmbus_send_completion(chan, d->queue[d->head], d->data[d->head], 40);

		if (e == PV_EBUSY)
			return;
		assert_int_equal(e, PV_OK);
		d->head++;
	}
}

static void d_packet(void *ctx, struct pv_vmbus_channel *chan, const struct pv_vmbus_packet *pkt)
{
	struct tdev *d = ctx;

	__atomic_add_fetch(&d->packets, 1, __ATOMIC_RELAXED);
	assert_true(d->tail < GUEST_PACKETS && pkt->len == 40);
	d->queue[d->tail] = pkt->trans_id;
	memcpy(d->data[d->tail], pkt->data, 40);
	d->tail++;
	flush(d, chan);
}

static void d_writable(void *ctx, struct pv_vmbus_channel *chan)
{
	struct tdev *d = ctx;

	__atomic_add_fetch(&d->writables, 1, __ATOMIC_RELAXED);
	flush(d, chan);
}

static const struct pv_vmbus_device_ops ops = {.packet = d_packet, .writable = d_writable};

struct shared {
	struct fake_host h;
	struct pv_vmbus *vmbus;
	struct pv_vmbus_channel *chan;
	struct fake_guest_chan gc;
	struct tdev dev;
	volatile int host_done;
};

static void *host_thread(void *arg)
{
	struct shared *s = arg;
	uint8_t data[100];
	uint32_t i;

	memset(data, 0x33, sizeof(data));
	for (i = 0; i < HOST_PACKETS;) {
		pv_err_t e = pv_vmbus_send(s->chan, 6, 0, i, data, sizeof(data));

		if (e == PV_OK)
			i++;
		else if (e == PV_EBUSY)
			sched_yield();
		else
			fail_msg("send: %d", e);
	}
	__atomic_store_n(&s->host_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_stream_both_ways(void **state)
{
	struct shared *s = calloc(1, sizeof(*s));
	struct pv_vmbus_device_desc desc;
	uint32_t relids[1], len, needed, sent = 0;
	uint64_t next_host = 0, echoes = 0;
	uint8_t pkt[512], data[40];
	struct vmb_ring_buf b = {data, sizeof(data)};
	pthread_t t;
	bool sig;

	(void)state;
	fake_init(&s->h);
	s->vmbus = fake_server(&s->h, 1);
	memset(&desc, 0, sizeof(desc));
	desc.instance_id.b[0] = 1;
	desc.ops = &ops;
	desc.ctx = &s->dev;
	assert_int_equal(pv_vmbus_device_add(s->vmbus, &desc, &s->chan), PV_OK);
	guest_connect(&s->h, PV_VMBUS_VERSION_5_3, true);
	assert_int_equal(guest_request_offers(&s->h, relids, 1), 1);
	/* small rings (2 + 2 pages) so that both sides fill up often */
	assert_int_equal(guest_open(&s->h, &s->gc, relids[0], 1, 0x100000, 4, 2), 0);

	assert_int_equal(pthread_create(&t, NULL, host_thread, s), 0);
	memset(data, 0x44, sizeof(data));
	while (!__atomic_load_n(&s->host_done, __ATOMIC_ACQUIRE) || next_host < HOST_PACKETS ||
	       echoes < GUEST_PACKETS) {
		bool progress = false;

		while (vmb_ring_read(&s->gc.rx, pkt, sizeof(pkt), &len) == PV_OK) {
			progress = true;
			if (pkt[0] == 0xB) {
				uint64_t tid;

				memcpy(&tid, pkt + 8, 8);
				assert_int_equal(tid, 1000000 + echoes);
				assert_memory_equal(pkt + 16, data, sizeof(data));
				echoes++;
			} else {
				uint64_t tid;

				assert_int_equal(pkt[0], 6);
				memcpy(&tid, pkt + 8, 8);
				assert_int_equal(tid, next_host);
				assert_int_equal(pkt[16], 0x33);
				next_host++;
			}
		}
		assert_int_equal(vmb_ring_commit_read(&s->gc.rx, &sig), PV_OK);
		if (sig)
			assert_int_equal(fake_signal(&s->h, s->gc.conn_id), PV_OK);
		if (sent < GUEST_PACKETS) {
			pv_err_t e = vmb_ring_write(&s->gc.tx, 6, 1, 1000000 + sent, &b, 1, &sig,
						    &needed);

			if (e == PV_OK) {
				sent++;
				progress = true;
				if (sig)
					assert_int_equal(fake_signal(&s->h, s->gc.conn_id), PV_OK);
			}
		}
		if (!progress)
			sched_yield();
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(next_host, HOST_PACKETS);
	assert_int_equal(echoes, GUEST_PACKETS);
	assert_int_equal(s->dev.packets, GUEST_PACKETS);
	assert_true(s->dev.writables > 0); /* the host thread did block and get woken */
	pv_vmbus_destroy(s->vmbus);
	fake_fini(&s->h);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_both_ways),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
