/* SPDX-License-Identifier: MIT */
/*
 * VMBus ring throughput: a producer thread writes packets of 64 B, 256 B,
 * 4 KiB and 64 KiB through lib/vmbus's ring code while a consumer thread
 * reads (copies out, validates) and commits them, over a 1 MiB ring in plain
 * memory. The limit, measured in the same run, is a plain memcpy of the same
 * payload bytes in the same packet-sized chunks. Prints rates and ratios;
 * asserts nothing about time.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmbus/ring.h"

#define DATA_SIZE (1u << 20)
#define TOTAL (4096u + DATA_SIZE)

static uint8_t *ring_mem;

static pv_err_t m_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	(void)ctx;
	if (len == 4 && off % 4 == 0) {
		uint32_t v =
			__atomic_load_n((uint32_t *)(void *)(ring_mem + off), __ATOMIC_ACQUIRE);
		memcpy(buf, &v, 4);
	} else {
		memcpy(buf, ring_mem + off, len);
	}
	return PV_OK;
}

static pv_err_t m_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	(void)ctx;
	if (len == 4 && off % 4 == 0) {
		uint32_t v;
		memcpy(&v, buf, 4);
		__atomic_store_n((uint32_t *)(void *)(ring_mem + off), v, __ATOMIC_RELEASE);
	} else {
		memcpy(ring_mem + off, buf, len);
	}
	return PV_OK;
}

struct run {
	struct vmb_ring prod, cons;
	uint32_t payload;
	uint64_t count;
	uint64_t received;
	uint64_t checksum;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *producer(void *arg)
{
	struct run *r = arg;
	uint8_t *src = malloc(r->payload);
	struct vmb_ring_buf b = {src, r->payload};
	uint32_t needed;
	uint64_t i;
	bool sig;

	memset(src, 0x5a, r->payload);
	for (i = 0; i < r->count;) {
		pv_err_t e = vmb_ring_write(&r->prod, 6, 0, i, &b, 1, &sig, &needed);

		if (e == PV_OK)
			i++;
		else if (e == PV_EBUSY)
			sched_yield();
		else
			abort();
	}
	free(src);
	return NULL;
}

static void *consumer(void *arg)
{
	struct run *r = arg;
	uint32_t cap = r->payload + 64, len;
	uint8_t *dst = malloc(cap);
	unsigned batch = 0;
	bool sig;

	while (r->received < r->count) {
		pv_err_t e = vmb_ring_read(&r->cons, dst, cap, &len);

		if (e == PV_OK) {
			r->received++;
			r->checksum += dst[16];
			if (++batch % 16 == 0)
				vmb_ring_commit_read(&r->cons, &sig);
		} else if (e == PV_ENOENT) {
			vmb_ring_commit_read(&r->cons, &sig);
			sched_yield();
		} else {
			abort();
		}
	}
	vmb_ring_commit_read(&r->cons, &sig);
	free(dst);
	return NULL;
}

static double ring_rate(uint32_t payload, uint64_t count)
{
	struct vmb_ring_io io = {m_read, m_write, NULL};
	struct run r;
	pthread_t p, c;
	double t0, t1;

	memset(&r, 0, sizeof(r));
	memset(ring_mem, 0, TOTAL);
	r.payload = payload;
	r.count = count;
	if (vmb_ring_init(&r.prod, &io, TOTAL) || vmb_ring_init(&r.cons, &io, TOTAL))
		abort();
	t0 = now_s();
	pthread_create(&c, NULL, consumer, &r);
	pthread_create(&p, NULL, producer, &r);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	t1 = now_s();
	if (r.received != count || r.checksum != count * 0x5a)
		abort();
	return (double)count / (t1 - t0);
}

static double memcpy_rate(uint32_t payload, uint64_t count)
{
	uint8_t *src = malloc(payload), *dst = malloc(DATA_SIZE);
	uint64_t i, pos = 0;
	volatile uint8_t sink = 0;
	double t0, t1;

	memset(src, 0x5a, payload);
	t0 = now_s();
	for (i = 0; i < count; i++) {
		if (pos + payload > DATA_SIZE)
			pos = 0;
		memcpy(dst + pos, src, payload);
		__asm__ volatile("" ::"r"(dst) : "memory");
		pos += payload;
	}
	t1 = now_s();
	sink = dst[0];
	(void)sink;
	free(src);
	free(dst);
	return (double)count / (t1 - t0);
}

int main(void)
{
	static const struct {
		uint32_t payload;
		uint64_t count;
	} cases[] = {{64, 2000000}, {256, 1000000}, {4096, 200000}, {65536, 20000}};
	size_t i;

	ring_mem = aligned_alloc(4096, TOTAL);
	if (!ring_mem)
		return 1;
	printf("bench_vmbus_ring: producer + consumer threads over a 1 MiB VMBus ring vs memcpy "
	       "of the same bytes\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t sz = cases[i].payload;
		double ring = ring_rate(sz, cases[i].count);
		double limit = memcpy_rate(sz, cases[i].count);

		if (sz >= 65536)
			printf("%6u B packets: ring %10.1f MB/s   memcpy %10.1f MB/s   ratio %.3f\n",
			       sz, ring * sz / 1e6, limit * sz / 1e6, ring / limit);
		else
			printf("%6u B packets: ring %10.0f pkt/s  memcpy %10.0f pkt/s  ratio %.3f\n",
			       sz, ring, limit, ring / limit);
	}
	free(ring_mem);
	return 0;
}
