/* SPDX-License-Identifier: MIT */
/*
 * VMBus ring throughput: a producer thread writes packets of 64 B, 256 B,
 * 4 KiB and 64 KiB through lib/vmbus's ring code while a consumer thread
 * reads (copies out, validates) and commits them, over a 1 MiB ring in plain
 * memory. The limit, measured in the same run, is a plain memcpy of the same
 * payload bytes in the same packet-sized chunks (best of three runs each).
 * Prints wall-clock rates and their ratio, and the ratio per CPU second
 * (both ring threads counted), which is less sensitive to a loaded machine.
 * Asserts nothing about time.
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

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* CPU seconds used by the whole process (both ring threads). */
static double cpu_s(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

struct rate {
	double wall; /* packets per wall-clock second */
	double cpu;  /* packets per CPU second (all threads) */
};

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

static struct rate ring_rate(uint32_t payload, uint64_t count)
{
	struct vmb_ring_io io = {m_read, m_write, NULL};
	struct run r;
	pthread_t p, c;
	double t0, t1, c0, c1;
	struct rate out;

	memset(&r, 0, sizeof(r));
	memset(ring_mem, 0, TOTAL);
	r.payload = payload;
	r.count = count;
	if (vmb_ring_init(&r.prod, &io, TOTAL) || vmb_ring_init(&r.cons, &io, TOTAL))
		abort();
	t0 = now_s();
	c0 = cpu_s();
	pthread_create(&c, NULL, consumer, &r);
	pthread_create(&p, NULL, producer, &r);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	t1 = now_s();
	c1 = cpu_s();
	if (r.received != count || r.checksum != count * 0x5a)
		abort();
	out.wall = (double)count / (t1 - t0);
	out.cpu = (double)count / (c1 - c0);
	return out;
}

static struct rate memcpy_rate(uint32_t payload, uint64_t count)
{
	uint8_t *src = malloc(payload), *dst = malloc(DATA_SIZE);
	uint64_t i, pos = 0;
	volatile uint8_t sink = 0;
	double t0, t1, c0, c1;
	struct rate out;

	memset(src, 0x5a, payload);
	memset(dst, 0, DATA_SIZE);
	t0 = now_s();
	c0 = cpu_s();
	for (i = 0; i < count; i++) {
		if (pos + payload + 64 > DATA_SIZE)
			pos = 0;
		/* +64: keep source and destination at different page offsets
		 * (same-offset copies hit a pathological slow path on some CPUs). */
		memcpy(dst + pos + 64, src, payload);
		__asm__ volatile("" ::"r"(dst) : "memory");
		pos += payload;
	}
	t1 = now_s();
	c1 = cpu_s();
	sink = dst[0];
	(void)sink;
	free(src);
	free(dst);
	out.wall = (double)count / (t1 - t0);
	out.cpu = (double)count / (c1 - c0);
	return out;
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
		struct rate ring = {0, 0}, limit = {0, 0};
		int rep;

		/* Best of three, alternating, to damp the noise of a shared machine. */
		for (rep = 0; rep < 3; rep++) {
			struct rate a = ring_rate(sz, cases[i].count);
			struct rate b = memcpy_rate(sz, cases[i].count);

			ring.wall = a.wall > ring.wall ? a.wall : ring.wall;
			ring.cpu = a.cpu > ring.cpu ? a.cpu : ring.cpu;
			limit.wall = b.wall > limit.wall ? b.wall : limit.wall;
			limit.cpu = b.cpu > limit.cpu ? b.cpu : limit.cpu;
		}
		if (sz >= 65536)
			printf("%6u B packets: ring %9.1f MB/s  memcpy %9.1f MB/s  ratio %.3f  "
			       "(per CPU second: %.3f)\n",
			       sz, ring.wall * sz / 1e6, limit.wall * sz / 1e6,
			       ring.wall / limit.wall, ring.cpu / limit.cpu);
		else
			printf("%6u B packets: ring %10.0f pkt/s  memcpy %10.0f pkt/s  ratio %.3f  "
			       "(per CPU second: %.3f)\n",
			       sz, ring.wall, limit.wall, ring.wall / limit.wall,
			       ring.cpu / limit.cpu);
	}
	free(ring_mem);
	return 0;
}
