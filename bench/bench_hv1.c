/* SPDX-License-Identifier: MIT */
/*
 * bench_hv1: cost of the Hyper-V interface paths on the mock port, each
 * dispatched with pv_vcpu_dispatch() exactly as a port's exit would be:
 *
 *   limit      RDMSR of an MSR owned by a trivial registered handler
 *              (the dispatcher alone; measured in the same run)
 *   refcount   RDMSR TIME_REF_COUNT (hv1 MSR handler + clock)
 *   signal     fast HvSignalEvent to a no-op connection (filter, control
 *              word, lookup)
 *   post       HvPostMessage, 256-byte input copied from guest memory
 *   roundtrip  host pv_hv1_post_message() into the slot + guest-side free
 *              of the slot (message delivery, interrupt injection)
 *
 * Prints ns/op and the ratio to the limit. Never asserts timings.
 *   bench_hv1 [iterations]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paravisor/hv1.h"
#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

#define LIMIT_MSR 0x40001000u

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pv_err_t limit_msr(void *ctx, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
			  uint64_t *value)
{
	(void)ctx;
	(void)vcpu;
	(void)index;
	if (!is_write)
		*value = 42;
	return PV_OK;
}

static pv_err_t on_event(void *ctx, struct pv_vcpu *vcpu, uint32_t conn, uint16_t flag)
{
	(void)vcpu;
	(void)conn;
	*(uint64_t *)ctx += flag;
	return PV_OK;
}

static pv_err_t on_msg(void *ctx, struct pv_vcpu *vcpu, uint32_t conn, uint32_t type,
		       const void *payload, uint32_t size)
{
	(void)vcpu;
	(void)conn;
	(void)type;
	(void)payload;
	*(uint64_t *)ctx += size;
	return PV_OK;
}

struct env {
	struct pv_mock *mock;
	struct pv_partition *part;
	struct pv_vcpu *vcpu;
	struct pv_hv1 *hv1;
	uint64_t sink;
};

static void msr_exit(struct env *e, bool write, uint32_t index, uint64_t value)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = write ? PV_EXIT_MSR_WRITE : PV_EXIT_MSR_READ;
	x.u.msr.index = index;
	x.u.msr.value = value;
	pv_vcpu_dispatch(e->vcpu, &x);
	e->sink += x.u.msr.value;
}

static void hc_exit(struct env *e, uint64_t control, uint64_t in)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_HYPERCALL;
	x.u.hypercall.control = control;
	x.u.hypercall.input = in;
	x.u.hypercall.is_64bit = true;
	pv_vcpu_dispatch(e->vcpu, &x);
	e->sink += x.u.hypercall.result;
}

static int env_open(struct env *e)
{
	memset(e, 0, sizeof(*e));
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS, .no_recording = true};
	static const struct pv_mem_range ram = {{0}, 0x100000, PV_MEM_RAM};
	if (pv_mock_create(&mc, &e->mock))
		return -1;
	struct pv_partition_config pc = {.vcpu_count = 1,
					 .vtl_count = 1,
					 .ranges = &ram,
					 .range_count = 1,
					 .port = pv_mock_port_ops(e->mock),
					 .port_ctx = e->mock};
	if (pv_partition_create(&pc, &e->part))
		return -1;
	e->vcpu = pv_partition_vcpu(e->part, 0);
	if (pv_hv1_create(e->part, NULL, &e->hv1) ||
	    pv_msr_register(e->part, LIMIT_MSR, 1, limit_msr, NULL) ||
	    pv_hv1_register_event_handler(e->hv1, 2, on_event, &e->sink) ||
	    pv_hv1_register_message_handler(e->hv1, 1, on_msg, &e->sink))
		return -1;
	msr_exit(e, true, 0x40000000u, 0x8100000601C00000ull); /* guest OS ID */
	msr_exit(e, true, 0x40000001u, 0x2000 | 1u);           /* hypercall page */
	msr_exit(e, true, 0x40000083u, 0x3000 | 1u);           /* SIMP */
	msr_exit(e, true, 0x40000092u, 0xF3);                  /* SINT2 */
	msr_exit(e, true, 0x40000080u, 1);                     /* SCONTROL */
	uint8_t in[256] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 240, 0, 0, 0};
	return pv_mem_write(e->part, PV_ACCESS_PARAVISOR, pv_gpa(0x4000), in, sizeof(in));
}

static void env_close(struct env *e)
{
	pv_hv1_destroy(e->hv1);
	pv_partition_destroy(e->part);
	pv_mock_destroy(e->mock);
}

enum mode {
	M_LIMIT,
	M_REFCOUNT,
	M_SIGNAL,
	M_POST,
	M_ROUNDTRIP,
	M_COUNT
};
static const char *const names[M_COUNT] = {"limit", "refcount", "signal", "post", "roundtrip"};

static void run(struct env *e, enum mode m, uint64_t n)
{
	uint8_t payload[64] = {0};
	uint32_t zero = 0;
	for (uint64_t i = 0; i < n; i++) {
		switch (m) {
		case M_LIMIT:
			msr_exit(e, false, LIMIT_MSR, 0);
			break;
		case M_REFCOUNT:
			msr_exit(e, false, 0x40000020u, 0);
			break;
		case M_SIGNAL:
			hc_exit(e, 0x1005D, 2 | (1ull << 32));
			break;
		case M_POST:
			hc_exit(e, 0x5C, 0x4000);
			break;
		default:
			pv_hv1_post_message(e->hv1, 0, 2, 1, payload, sizeof(payload));
			pv_mem_write(e->part, PV_ACCESS_PARAVISOR, pv_gpa(0x3000 + 2 * 256), &zero,
				     4);
			break;
		}
	}
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 200000;
	struct env e;
	double best[M_COUNT];
	if (n == 0 || env_open(&e)) {
		fprintf(stderr, "bench_hv1: setup failed\n");
		return 1;
	}
	for (int m = 0; m < M_COUNT; m++) {
		best[m] = 1e30;
		for (int round = 0; round < 5; round++) {
			uint64_t t0 = now_ns();
			run(&e, (enum mode)m, n);
			double ns = (double)(now_ns() - t0) / (double)n;
			if (ns < best[m])
				best[m] = ns;
		}
	}
	printf("bench_hv1: %llu iterations, best of 5 rounds (mock port, pv_vcpu_dispatch)\n",
	       (unsigned long long)n);
	for (int m = 0; m < M_COUNT; m++)
		printf("  %-10s %8.1f ns/op   ratio to limit %.2f\n", names[m], best[m],
		       best[m] / best[M_LIMIT]);
	env_close(&e);
	return e.sink == 0 ? 1 : 0;
}
