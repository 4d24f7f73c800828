/* SPDX-License-Identifier: MIT */
/*
 * x86emu benchmark: cost of handling an MMIO exit that only carries
 * instruction bytes (decode + emulate, ending in the MMIO handler) against a
 * plain already-decoded dispatch (a direct function-pointer call to the same
 * handler with the decoded GPA/value), measured in the same run.
 *
 *   mov [rax], ecx   (89 08)   MMIO store
 *   mov ecx, [rax]   (8b 08)   MMIO load
 *
 * Also reported: pv_x86emu_step (fetch through a 4-level guest page walk).
 *
 * usage: bench_x86emu [--iters N] [--only NAME]
 *   --only runs one loop (emu_store, emu_load, direct_store, direct_load,
 *   step_store); used with valgrind --tool=callgrind --toggle-collect=loop_<NAME>.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <paravisor/x86emu.h>

#define MMIO_GPA 0xfed00000ull
#define RAM_SIZE (64u * 1024u)

static uint8_t g_ram[RAM_SIZE];
static volatile uint32_t g_mmio_reg;

/* The device's MMIO handler: the same function at the end of both paths. */
typedef pv_err_t (*mmio_fn)(void *ctx, uint64_t gpa, void *buf, unsigned len, int write);

__attribute__((noinline)) static pv_err_t mmio_handler(void *ctx, uint64_t gpa, void *buf,
						       unsigned len, int write)
{
	(void)ctx;
	if (gpa - MMIO_GPA >= 0x1000 || len > 4)
		return PV_EFAULT;
	uint32_t v = 0;
	if (write) {
		memcpy(&v, buf, len);
		g_mmio_reg = v;
	} else {
		v = g_mmio_reg;
		memcpy(buf, &v, len);
	}
	return PV_OK;
}

static mmio_fn volatile g_handler = mmio_handler;

static pv_err_t b_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	if (gpa >= MMIO_GPA)
		return g_handler(ctx, gpa, buf, len, 0);
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(buf, g_ram + gpa, len);
	return PV_OK;
}

static pv_err_t b_write(void *ctx, uint64_t gpa, const void *buf, unsigned len)
{
	if (gpa >= MMIO_GPA)
		return g_handler(ctx, gpa, (void *)(uintptr_t)buf, len, 1);
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(g_ram + gpa, buf, len);
	return PV_OK;
}

static pv_err_t b_cmpxchg(void *ctx, uint64_t gpa, unsigned len, void *expected,
			  const void *desired, bool *swapped)
{
	(void)ctx;
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return PV_EFAULT;
	*swapped = memcmp(g_ram + gpa, expected, len) == 0;
	if (*swapped)
		memcpy(g_ram + gpa, desired, len);
	else
		memcpy(expected, g_ram + gpa, len);
	return PV_OK;
}

static const struct pv_x86emu_ops g_ops = {b_read, b_write, b_cmpxchg};

static const uint8_t k_store[] = {0x89, 0x08}; /* mov [rax], ecx */
static const uint8_t k_load[] = {0x8b, 0x08};  /* mov ecx, [rax] */

static struct pv_x86emu_state g_flat;  /* 64-bit, paging off (exit gives the GPA-backed bytes) */
static struct pv_x86emu_state g_paged; /* 64-bit, 4-level paging, code at 0x8000 */
static volatile uint64_t g_sink;

static void init_states(void)
{
	memset(&g_flat, 0, sizeof(g_flat));
	g_flat.sregs.cr0 = 1;
	g_flat.sregs.efer = (1u << 8) | (1u << 10);
	g_flat.sregs.cs.l = 1;
	g_flat.sregs.cs.present = 1;
	g_flat.regs.gpr[PV_RAX] = MMIO_GPA + 0x40;
	g_flat.regs.gpr[PV_RCX] = 0x12345678;
	g_flat.regs.rip = 0x8000;

	g_paged = g_flat;
	g_paged.sregs.cr0 |= 1ull << 31;
	g_paged.sregs.cr4 = 1u << 5;
	g_paged.sregs.cr3 = 0x1000;
	uint64_t e;
	e = 0x2000 | 3;
	memcpy(g_ram + 0x1000, &e, 8); /* PML4[0] */
	e = 0x3000 | 3;
	memcpy(g_ram + 0x2000, &e, 8); /* PDPT[0] */
	e = 0x4000 | 3;
	memcpy(g_ram + 0x3000, &e, 8); /* PD[0] */
	e = 0x8000 | 3 | 0x60;
	memcpy(g_ram + 0x4000 + 8 * 8, &e, 8); /* PT[8]: code page, A/D preset */
	e = MMIO_GPA | 3 | 0x60;
	memcpy(g_ram + 0x4000 + 9 * 8, &e, 8); /* PT[9]: MMIO page */
	memcpy(g_ram + 0x8000, k_store, sizeof(k_store));
	/* set A bits on the upper levels too, so the walk does no writes */
	for (unsigned a = 0x1000; a <= 0x3000; a += 0x1000)
		g_ram[a] |= 0x20;
	g_paged.regs.gpr[PV_RAX] = 0x9040;
}

__attribute__((noinline)) static void loop_emu_store(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		struct pv_x86emu_state st = g_flat;
		struct pv_x86_insn in;
		struct pv_x86_fault f;
		if (pv_x86emu_decode(k_store, sizeof(k_store), PV_X86_MODE_64, &in) != PV_OK ||
		    pv_x86emu_execute(&st, &in, &g_ops, NULL, &f) != PV_OK)
			abort();
		g_sink += st.regs.rip;
	}
}

__attribute__((noinline)) static void loop_emu_load(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		struct pv_x86emu_state st = g_flat;
		struct pv_x86_insn in;
		struct pv_x86_fault f;
		if (pv_x86emu_decode(k_load, sizeof(k_load), PV_X86_MODE_64, &in) != PV_OK ||
		    pv_x86emu_execute(&st, &in, &g_ops, NULL, &f) != PV_OK)
			abort();
		g_sink += st.regs.gpr[PV_RCX];
	}
}

__attribute__((noinline)) static void loop_step_store(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		struct pv_x86emu_state st = g_paged;
		struct pv_x86_fault f;
		if (pv_x86emu_step(&st, &g_ops, NULL, &f) != PV_OK)
			abort();
		g_sink += st.regs.rip;
	}
}

/* Already-decoded dispatch: the exit told us "4-byte write of RCX to GPA". */
__attribute__((noinline)) static void loop_direct_store(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		uint32_t v = (uint32_t)g_flat.regs.gpr[PV_RCX];
		if (g_handler(NULL, g_flat.regs.gpr[PV_RAX], &v, 4, 1) != PV_OK)
			abort();
		g_sink += 2;
	}
}

__attribute__((noinline)) static void loop_direct_load(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		uint32_t v;
		if (g_handler(NULL, g_flat.regs.gpr[PV_RAX], &v, 4, 0) != PV_OK)
			abort();
		g_sink += v;
	}
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Best of 5 runs, ns per op. */
static double measure(void (*fn)(unsigned long), unsigned long n)
{
	double best = 1e30;
	fn(n / 10 + 1); /* warm up */
	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();
		fn(n);
		double t = (now_ns() - t0) / (double)n;
		if (t < best)
			best = t;
	}
	return best;
}

struct loop {
	const char *name;
	void (*fn)(unsigned long);
};

static const struct loop k_loops[] = {
	{"emu_store", loop_emu_store},     {"emu_load", loop_emu_load},
	{"step_store", loop_step_store},   {"direct_store", loop_direct_store},
	{"direct_load", loop_direct_load},
};

int main(int argc, char **argv)
{
	unsigned long iters = 2000000;
	const char *only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--iters N] [--only NAME]\n", argv[0]);
			return 2;
		}
	}
	init_states();
	if (only) {
		for (size_t i = 0; i < sizeof(k_loops) / sizeof(k_loops[0]); i++)
			if (!strcmp(k_loops[i].name, only)) {
				k_loops[i].fn(iters);
				printf("%s: %lu iterations\n", only, iters);
				return 0;
			}
		fprintf(stderr, "unknown loop %s\n", only);
		return 2;
	}
	double es = measure(loop_emu_store, iters);
	double el = measure(loop_emu_load, iters);
	double ss = measure(loop_step_store, iters);
	double ds = measure(loop_direct_store, iters);
	double dl = measure(loop_direct_load, iters);
	printf("x86emu MMIO store  mov [rax],ecx: decode+emulate %7.1f ns/op, direct dispatch %5.1f ns/op, "
	       "ratio %5.1fx\n",
	       es, ds, es / ds);
	printf("x86emu MMIO load   mov ecx,[rax]: decode+emulate %7.1f ns/op, direct dispatch %5.1f ns/op, "
	       "ratio %5.1fx\n",
	       el, dl, el / dl);
	printf("x86emu MMIO store  step (fetch via 4-level walk + decode + emulate): %7.1f ns/op, ratio %5.1fx\n",
	       ss, ss / ds);
	return 0;
}
