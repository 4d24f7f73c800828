/* SPDX-License-Identifier: MIT */
/*
 * bench_dispatch: nanoseconds per port-I/O exit dispatched to a registered
 * handler through the mock port (pv_vcpu_run_once: port run, dispatch, port
 * completion), with 1 and with 64 registered I/O ranges. The limit, measured
 * in the same run, is the same mock run + complete with the handler called
 * directly and no dispatcher; the ratio is printed beside each figure.
 *
 *   bench_dispatch [iterations]              all modes, best of 5 rounds
 *   bench_dispatch --mode limit|1|64 N       one mode, N iterations, no
 *                                            timing (for callgrind)
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

#define TARGET_PORT 0x3F8u

struct counter {
	volatile uint64_t hits;
};

static pv_err_t on_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size, bool is_write,
		      uint32_t *data)
{
	struct counter *c = ctx;
	(void)vcpu;
	(void)offset;
	(void)size;
	(void)is_write;
	c->hits += *data;
	return PV_OK;
}

struct bench {
	struct pv_mock *mock;
	struct pv_partition *part;
	struct pv_vcpu *vcpu;
	struct counter counter;
};

/* A partition on a recording-free mock whose vCPU repeats one OUT forever,
 * with @ranges I/O registrations; the OUT hits the last one registered. */
static int bench_open(struct bench *b, unsigned ranges)
{
	memset(b, 0, sizeof(*b));
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_CPUID_EXITS, .no_recording = true};
	if (pv_mock_create(&mc, &b->mock))
		return -1;
	static const struct pv_mem_range ram = {{0}, 0x10000, PV_MEM_RAM};
	struct pv_partition_config pc = {.vcpu_count = 1,
					 .vtl_count = 1,
					 .ranges = &ram,
					 .range_count = 1,
					 .port = pv_mock_port_ops(b->mock),
					 .port_ctx = b->mock};
	if (pv_partition_create(&pc, &b->part))
		return -1;
	b->vcpu = pv_partition_vcpu(b->part, 0);
	/* ranges of 8 ports every 0x10; the target is the highest one */
	for (unsigned i = 0; i + 1 < ranges; i++)
		if (pv_io_register(b->part, (uint16_t)(0x1000 + i * 0x10), 8, on_io, &b->counter))
			return -1;
	if (pv_io_register(b->part, TARGET_PORT, 8, on_io, &b->counter))
		return -1;
	struct pv_exit out;
	memset(&out, 0, sizeof(out));
	out.kind = PV_EXIT_IO;
	out.u.io.port = TARGET_PORT + 1;
	out.u.io.size = 1;
	out.u.io.is_write = true;
	out.u.io.count = 1;
	out.u.io.data = 1;
	if (pv_mock_set_script_repeat(b->mock, 0, &out, 1))
		return -1;
	return 0;
}

static void bench_close(struct bench *b)
{
	pv_partition_destroy(b->part);
	pv_mock_destroy(b->mock);
}

/* The limit: the same port operations, the handler called directly. */
static int loop_direct(struct bench *b, uint64_t n)
{
	const struct pv_port_ops *ops = pv_partition_port(b->part);
	void *vd = pv_vcpu_port_data(b->vcpu);
	struct pv_exit x;
	for (uint64_t i = 0; i < n; i++) {
		if (ops->vcpu_run(vd, &x))
			return -1;
		uint32_t data = x.u.io.data;
		if (on_io(&b->counter, b->vcpu, (uint16_t)(x.u.io.port - TARGET_PORT), x.u.io.size,
			  x.u.io.is_write, &data))
			return -1;
		if (ops->vcpu_complete(vd, &x))
			return -1;
	}
	return 0;
}

static int loop_dispatch(struct bench *b, uint64_t n)
{
	struct pv_exit x;
	for (uint64_t i = 0; i < n; i++)
		if (pv_vcpu_run_once(b->vcpu, &x))
			return -1;
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Best-of-rounds ns per iteration of one mode. */
static double measure(struct bench *b, bool direct, uint64_t n, int rounds)
{
	double best = 0;
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ns();
		int rc = direct ? loop_direct(b, n) : loop_dispatch(b, n);
		double dt = now_ns() - t0;
		if (rc)
			return -1;
		double per = dt / (double)n;
		if (r == 0 || per < best)
			best = per;
	}
	return best;
}

static int run_one_mode(const char *mode, uint64_t n)
{
	struct bench b;
	bool direct = strcmp(mode, "limit") == 0;
	unsigned ranges = direct || strcmp(mode, "1") == 0 ? 1 : 64;
	if (!direct && strcmp(mode, "1") != 0 && strcmp(mode, "64") != 0) {
		fprintf(stderr, "bench_dispatch: unknown mode '%s' (limit, 1, 64)\n", mode);
		return 2;
	}
	if (bench_open(&b, ranges)) {
		fprintf(stderr, "bench_dispatch: setup failed\n");
		return 1;
	}
	int rc = direct ? loop_direct(&b, n) : loop_dispatch(&b, n);
	uint64_t hits = b.counter.hits;
	bench_close(&b);
	if (rc || hits != n) {
		fprintf(stderr, "bench_dispatch: run failed (%" PRIu64 " of %" PRIu64 " handled)\n",
			hits, n);
		return 1;
	}
	printf("mode %s: %" PRIu64 " dispatches\n", mode, n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--mode") == 0)
		return run_one_mode(argv[2], strtoull(argv[3], NULL, 0));
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 2000000;
	if (n == 0) {
		fprintf(stderr, "usage: bench_dispatch [iterations] | --mode limit|1|64 N\n");
		return 2;
	}
	struct bench one, many;
	if (bench_open(&one, 1) || bench_open(&many, 64)) {
		fprintf(stderr, "bench_dispatch: setup failed\n");
		return 1;
	}
	/* warm up, then interleave so drift affects every mode alike */
	loop_direct(&one, n / 10);
	loop_dispatch(&one, n / 10);
	loop_dispatch(&many, n / 10);
	double limit = 0, d1 = 0, d64 = 0;
	for (int r = 0; r < 5; r++) {
		double l = measure(&one, true, n, 1);
		double a = measure(&one, false, n, 1);
		double c = measure(&many, false, n, 1);
		if (l < 0 || a < 0 || c < 0) {
			fprintf(stderr, "bench_dispatch: run failed\n");
			return 1;
		}
		if (r == 0 || l < limit)
			limit = l;
		if (r == 0 || a < d1)
			d1 = a;
		if (r == 0 || c < d64)
			d64 = c;
	}
	uint64_t total = one.counter.hits + many.counter.hits;
	bench_close(&one);
	bench_close(&many);
	printf("bench_dispatch: port-I/O exit -> registered handler, mock port, %" PRIu64
	       " iterations x 5 rounds (best)\n",
	       n);
	printf("  limit (mock run + direct call + complete): %7.1f ns\n", limit);
	printf("  dispatcher,  1 range:                      %7.1f ns   ratio %.2f x limit"
	       "   (+%.1f ns)\n",
	       d1, d1 / limit, d1 - limit);
	printf("  dispatcher, 64 ranges:                     %7.1f ns   ratio %.2f x limit"
	       "   (+%.1f ns)\n",
	       d64, d64 / limit, d64 - limit);
	printf("  handler calls: %" PRIu64 "\n", total);
	return 0;
}
