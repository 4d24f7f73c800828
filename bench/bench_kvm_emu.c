/* SPDX-License-Identifier: MIT */
/*
 * MMIO exits per second on the kvm port: the same real-mode guest loop (a
 * 2-byte MMIO store and a 2-byte MMIO load per iteration) run with KVM's
 * decoded accesses (the limit, measured in the same run) and in MMIO
 * emulation mode (every access fetched, decoded and emulated by the
 * library after KVM's pending access is discarded). Prints accesses/s for
 * both and the ratio emulated/decoded, by thread CPU time and wall clock,
 * median of paired rounds. Never asserts timings.
 *
 * usage: bench_kvm_emu [iterations (5000)] [rounds (5)]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvmport/kvm_fixture.h"
#include "paravisor/port_kvm.h"
#include "paravisor/pv.h"

#define CODE_GPA 0x1000u
#define RAM_SIZE 0x8000u
#define DEV_GPA 0x8000u
#define DONE_PORT 0x601u

/* mov ecx, N; 1: mov [0x8010], ax; mov bx, [0x8010]; dec ecx; jnz 1b; out DONE; hlt */
static size_t make_guest(uint8_t *b, uint32_t n)
{
	size_t i = 0;
	b[i++] = 0x66;
	b[i++] = 0xb9;
	memcpy(&b[i], &n, 4);
	i += 4;
	size_t loop = i;
	static const uint8_t body[] = {0xa3, 0x10, 0x80, 0x8b, 0x1e, 0x10, 0x80, 0x66, 0x49};
	memcpy(&b[i], body, sizeof(body));
	i += sizeof(body);
	b[i++] = 0x75;
	b[i] = (uint8_t)(loop - (i + 1));
	i++;
	static const uint8_t tail[] = {0xba, DONE_PORT & 0xff, DONE_PORT >> 8, 0xee, 0xf4};
	memcpy(&b[i], tail, sizeof(tail));
	return i + sizeof(tail);
}

static pv_err_t dev(void *ctx, struct pv_vcpu *vcpu, uint64_t off, uint8_t size, bool is_write,
		    uint64_t *data)
{
	uint16_t *reg = ctx;
	(void)vcpu;
	(void)off;
	(void)size;
	if (is_write)
		*reg = (uint16_t)*data;
	else
		*data = *reg;
	return PV_OK;
}

static pv_err_t done(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size, bool is_write,
		     uint32_t *data)
{
	(void)ctx;
	(void)offset;
	(void)size;
	(void)data;
	if (is_write)
		pv_vcpu_stop(vcpu);
	return PV_OK;
}

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One run; returns 0 and the CPU and wall seconds, or -1. */
static int run_once(bool emulate, uint32_t n, double *cpu, double *wall)
{
	struct pv_kvm_options o;
	pv_kvm_options_init(&o);
	o.emulate_mmio = emulate;
	struct pv_kvm *kvm;
	struct pv_partition *part;
	if (kvmfx_create(&o, RAM_SIZE, 1, &kvm, &part) != PV_OK)
		return -1;
	uint16_t reg = 0;
	uint8_t code[64];
	size_t len = make_guest(code, n);
	struct pv_vcpu *v = pv_partition_vcpu(part, 0);
	struct pv_regs r;
	int rc = -1;
	if (pv_mmio_register(part, pv_gpa(DEV_GPA), 0x100, dev, &reg) ||
	    pv_io_register(part, DONE_PORT, 1, done, NULL) ||
	    kvmfx_real_mode(part, v, CODE_GPA, code, len, 0x7000) || pv_vcpu_get_regs(v, &r))
		goto out;
	r.gpr[PV_RAX] = 0x1234;
	if (pv_vcpu_set_regs(v, &r))
		goto out;
	double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
	struct pv_exit last;
	if (pv_vcpu_run(v, &last) || last.kind != PV_EXIT_STOPPED)
		goto out;
	*cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	*wall = clock_s(CLOCK_MONOTONIC) - w0;
	struct pv_stats st;
	pv_partition_get_stats(part, &st);
	if (emulate && st.mmio_emulated != 2ull * n) {
		fprintf(stderr, "emulated %llu accesses, expected %u\n",
			(unsigned long long)st.mmio_emulated, 2 * n);
		goto out;
	}
	rc = 0;
out:
	pv_partition_destroy(part);
	pv_kvm_destroy(kvm);
	return rc;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 5000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	char why[256];
	if (pv_kvm_probe(NULL, why, sizeof(why)) != PV_OK) {
		printf("bench_kvm_emu: SKIPPED (%s)\n", why);
		return 0;
	}
	if (n == 0 || rounds < 1 || rounds > 99)
		return 2;
	double rc[99], rw[99], dec_cpu[99], emu_cpu[99];
	for (int i = 0; i < rounds; i++) {
		double c1, w1, c2, w2;
		if (run_once(false, n, &c1, &w1) || run_once(true, n, &c2, &w2)) {
			fprintf(stderr, "bench_kvm_emu: run failed\n");
			return 1;
		}
		dec_cpu[i] = 2.0 * n / c1;
		emu_cpu[i] = 2.0 * n / c2;
		rc[i] = c1 / c2;
		rw[i] = w1 / w2;
	}
	qsort(rc, (size_t)rounds, sizeof(double), cmp);
	qsort(rw, (size_t)rounds, sizeof(double), cmp);
	qsort(dec_cpu, (size_t)rounds, sizeof(double), cmp);
	qsort(emu_cpu, (size_t)rounds, sizeof(double), cmp);
	printf("bench_kvm_emu: %u iterations (store + load), %d paired rounds, medians\n", n,
	       rounds);
	printf("  KVM-decoded MMIO (limit): %.0f accesses per CPU-second\n", dec_cpu[rounds / 2]);
	printf("  emulation mode:           %.0f accesses per CPU-second\n", emu_cpu[rounds / 2]);
	printf("  ratio emulated/decoded: %.3f by CPU time, %.3f by wall clock\n", rc[rounds / 2],
	       rw[rounds / 2]);
	return 0;
}
