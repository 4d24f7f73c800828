/* SPDX-License-Identifier: MIT */
/*
 * The kvm port's MMIO emulation mode on real /dev/kvm with tiny real-mode
 * guests: loads, stores and a read-modify-write reach the handler exactly
 * once each through the library's emulator; an instruction the library
 * cannot emulate gets #UD with IP on it (KVM's own pending access
 * discarded); a store no instruction explains falls back to KVM's decoded
 * access; switching the mode at run time. Exits 77 (SKIPPED) when
 * /dev/kvm is unusable.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kvmport/kvm_fixture.h"
#include "paravisor/port_kvm.h"
#include "paravisor/pv.h"

#define RAM_SIZE 0x8000u
#define CODE 0x1000u
#define DEV 0x8000u        /* MMIO device, right above RAM */
#define STOP_PORT 0x601u   /* OUT: stop */
#define REPORT_PORT 0x602u /* OUT: record */

struct acc {
	uint16_t off;
	uint8_t size;
	bool write;
	uint64_t val;
};

struct fx {
	struct pv_kvm *kvm;
	struct pv_partition *part;
	struct pv_vcpu *v;
	uint8_t dev[256];
	struct acc log[32];
	unsigned n;
	uint32_t reported[8];
	unsigned nrep;
	unsigned bulk_writes; /* in-order byte writes of 0x5a to the bulk device */
	bool bulk_bad;
};

#define BULK 0x9000u /* second device: a long REP STOSB */

static pv_err_t bulk_mmio(void *ctx, struct pv_vcpu *vcpu, uint64_t off, uint8_t size,
			  bool is_write, uint64_t *data)
{
	struct fx *f = ctx;
	(void)vcpu;
	if (!is_write || size != 1 || off != f->bulk_writes || *data != 0x5a)
		f->bulk_bad = true;
	else
		f->bulk_writes++;
	return PV_OK;
}

static pv_err_t dev_mmio(void *ctx, struct pv_vcpu *vcpu, uint64_t off, uint8_t size, bool is_write,
			 uint64_t *data)
{
	struct fx *f = ctx;
	(void)vcpu;
	if (off >= sizeof(f->dev) || size > sizeof(f->dev) - off)
		return PV_ERANGE;
	if (is_write)
		memcpy(&f->dev[off], data, size);
	uint64_t v = 0;
	memcpy(&v, &f->dev[off], size);
	if (!is_write)
		*data = v;
	if (f->n < 32)
		f->log[f->n++] = (struct acc){(uint16_t)off, size, is_write, v};
	return PV_OK;
}

static pv_err_t port_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			bool is_write, uint32_t *data)
{
	struct fx *f = ctx;
	(void)offset;
	(void)size;
	if (!is_write)
		return PV_OK;
	if (offset == 0) {
		pv_vcpu_stop(vcpu);
	} else if (f->nrep < 8) {
		f->reported[f->nrep++] = *data;
	}
	return PV_OK;
}

static void fx_open(struct fx *f, bool emulate)
{
	memset(f, 0, sizeof(*f));
	struct pv_kvm_options o;
	pv_kvm_options_init(&o);
	o.emulate_mmio = emulate;
	assert_int_equal(kvmfx_create(&o, RAM_SIZE, 1, &f->kvm, &f->part), PV_OK);
	f->v = pv_partition_vcpu(f->part, 0);
	assert_non_null(pv_partition_port(f->part)->get_xmm);
	assert_non_null(pv_partition_port(f->part)->set_xmm);
	assert_int_equal(pv_io_register(f->part, STOP_PORT, 2, port_io, f), PV_OK);
	assert_int_equal(pv_mmio_register(f->part, pv_gpa(DEV), 256, dev_mmio, f), PV_OK);
	assert_int_equal(pv_mmio_register(f->part, pv_gpa(BULK), 0x1000, bulk_mmio, f), PV_OK);
}

static void fx_close(struct fx *f)
{
	pv_partition_destroy(f->part);
	pv_kvm_destroy(f->kvm);
}

/* Real-mode code at CODE, SS:SP = 0:0x7000, IVT #UD -> 0x2000. */
static void load(struct fx *f, const uint8_t *code, size_t len)
{
	/* #UD handler: pop ip; out REPORT_PORT, ax (the faulting IP); out STOP_PORT */
	static const uint8_t ud[] = {0x58, 0xba, 0x02, 0x06, 0xef, 0xba, 0x01, 0x06, 0xee, 0xf4};
	uint8_t ivt[4] = {0x00, 0x20, 0x00, 0x00};
	assert_int_equal(pv_mem_write(f->part, PV_ACCESS_PARAVISOR, pv_gpa(6 * 4), ivt, 4), PV_OK);
	assert_int_equal(pv_mem_write(f->part, PV_ACCESS_PARAVISOR, pv_gpa(0x2000), ud, sizeof(ud)),
			 PV_OK);
	assert_int_equal(kvmfx_real_mode(f->part, f->v, CODE, code, len, 0x7000), PV_OK);
}

static void run(struct fx *f)
{
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(f->v, &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
}

/* mov word [DEV+0x10], 0x1234; mov bx, [DEV+0x10]; add [DEV+0x10], bx;
 * mov ax, [DEV+0x10]; out REPORT, ax; mov ax, bx; out REPORT, ax; out STOP */
static const uint8_t basic[] = {
	0xc7, 0x06, 0x10, 0x80, 0x34, 0x12, /* mov word [0x8010], 0x1234 */
	0x8b, 0x1e, 0x10, 0x80,             /* mov bx, [0x8010] */
	0x01, 0x1e, 0x10, 0x80,             /* add [0x8010], bx */
	0xa1, 0x10, 0x80,                   /* mov ax, [0x8010] */
	0xba, 0x02, 0x06, 0xef,             /* out 0x602, ax */
	0x89, 0xd8, 0xef,                   /* mov ax, bx; out dx, ax */
	0xba, 0x01, 0x06, 0xee, 0xf4,       /* out 0x601, al; hlt */
};

static void check_basic(struct fx *f)
{
	assert_int_equal(f->nrep, 2);
	assert_int_equal(f->reported[0], 0x2468);
	assert_int_equal(f->reported[1], 0x1234);
	static const struct acc want[] = {
		{0x10, 2, true, 0x1234}, {0x10, 2, false, 0x1234}, {0x10, 2, false, 0x1234},
		{0x10, 2, true, 0x2468}, {0x10, 2, false, 0x2468},
	};
	assert_int_equal(f->n, 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(f->log[i].off, want[i].off);
		assert_int_equal(f->log[i].size, want[i].size);
		assert_int_equal(f->log[i].write, want[i].write);
		assert_int_equal(f->log[i].val, want[i].val);
	}
}

static void test_basic_both_modes(void **state)
{
	(void)state;
	for (int emulate = 0; emulate < 2; emulate++) {
		struct fx f;
		fx_open(&f, emulate != 0);
		load(&f, basic, sizeof(basic));
		run(&f);
		check_basic(&f);
		struct pv_stats st;
		struct pv_kvm_emu_stats es;
		pv_partition_get_stats(f.part, &st);
		assert_int_equal(pv_kvm_get_emu_stats(f.part, &es), PV_OK);
		if (emulate) {
			assert_int_equal(st.mmio_emulated, 4);
			assert_int_equal(es.reads, 3);
			assert_int_equal(es.writes, 1);
			assert_int_equal(es.fallbacks, 0);
			assert_int_equal(es.flush_exits, 1); /* the ADD's write half */
		} else {
			assert_int_equal(st.mmio_emulated, 0);
			assert_int_equal(es.reads + es.writes, 0);
		}
		fx_close(&f);
	}
}

static void test_switch_at_run_time(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	assert_int_equal(pv_kvm_set_emulate_mmio(f.part, true), PV_OK);
	load(&f, basic, sizeof(basic));
	run(&f);
	check_basic(&f);
	struct pv_stats st;
	pv_partition_get_stats(f.part, &st);
	assert_int_equal(st.mmio_emulated, 4);
	assert_int_equal(pv_kvm_set_emulate_mmio(NULL, true), PV_EINVAL);
	struct pv_kvm_emu_stats es;
	assert_int_equal(pv_kvm_get_emu_stats(f.part, NULL), PV_EINVAL);
	assert_int_equal(pv_kvm_get_emu_stats(NULL, &es), PV_EINVAL);
	fx_close(&f);
}

static void test_unsupported_instruction_faults(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	/* push word [DEV]: KVM reads the device, the library has no PUSH -> #UD at IP */
	static const uint8_t code[] = {0xff, 0x36, 0x00, 0x80, 0xba, 0x01, 0x06, 0xee, 0xf4};
	load(&f, code, sizeof(code));
	run(&f);
	assert_int_equal(f.nrep, 1);
	assert_int_equal(f.reported[0], CODE); /* #UD taken with IP on the PUSH */
	assert_int_equal(f.n, 0);              /* KVM's read never reached the handler */
	struct pv_stats st;
	pv_partition_get_stats(f.part, &st);
	assert_int_equal(st.mmio_emulation_faults, 1);
	struct pv_regs r;
	assert_int_equal(pv_vcpu_get_regs(f.v, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RSP], 0x7000 - 6 + 2); /* #UD frame minus the popped IP */
	fx_close(&f);
}

static void test_unexplained_store_falls_back(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	/* Stack in the device: SP = DEV + 0x20; push ax (a store the library cannot
	 * rewind) is handed over with KVM's decoded data. */
	static const uint8_t code[] = {0xbc, 0x20, 0x80, /* mov sp, 0x8020 */
				       0xb8, 0xcd, 0xab, /* mov ax, 0xabcd */
				       0x50,             /* push ax */
				       0xba, 0x01, 0x06, 0xee, 0xf4};
	load(&f, code, sizeof(code));
	run(&f);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.log[0].off, 0x1e);
	assert_int_equal(f.log[0].size, 2);
	assert_true(f.log[0].write);
	assert_int_equal(f.log[0].val, 0xabcd);
	struct pv_kvm_emu_stats es;
	assert_int_equal(pv_kvm_get_emu_stats(f.part, &es), PV_OK);
	assert_int_equal(es.fallbacks, 1);
	struct pv_regs r;
	assert_int_equal(pv_vcpu_get_regs(f.v, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RSP] & 0xffff, 0x801e);
	fx_close(&f);
}

/* REP STOSB of 1500 bytes: more than one emulator batch (1024), so the
 * guest re-executes the instruction and the rewind finds it at RIP again. */
static void test_long_rep_stos(void **state)
{
	(void)state;
	static const uint8_t code[] = {0xbf, 0x00, 0x90,       /* mov di, BULK */
				       0xb9, 0xdc, 0x05,       /* mov cx, 1500 */
				       0xb0, 0x5a,             /* mov al, 0x5a */
				       0xf3, 0xaa,             /* rep stosb */
				       0x89, 0xf8, 0xba, 0x02, /* mov ax, di; mov dx, 0x602 */
				       0x06, 0xef,             /* out dx, ax */
				       0x89, 0xc8, 0xef,       /* mov ax, cx; out dx, ax */
				       0xba, 0x01, 0x06, 0xee, 0xf4};
	for (int emulate = 0; emulate < 2; emulate++) {
		struct fx f;
		fx_open(&f, emulate != 0);
		load(&f, code, sizeof(code));
		run(&f);
		assert_false(f.bulk_bad);
		assert_int_equal(f.bulk_writes, 1500);
		assert_int_equal(f.nrep, 2);
		assert_int_equal(f.reported[0], BULK + 1500);
		assert_int_equal(f.reported[1], 0);
		if (emulate) {
			struct pv_kvm_emu_stats es;
			struct pv_stats st;
			assert_int_equal(pv_kvm_get_emu_stats(f.part, &es), PV_OK);
			pv_partition_get_stats(f.part, &st);
			assert_int_equal(es.writes, 2); /* 1024 + 476 */
			assert_int_equal(st.mmio_emulated, 2);
			assert_int_equal(es.fallbacks, 0);
		}
		fx_close(&f);
	}
}

int main(void)
{
	char why[256];
	if (pv_kvm_probe(NULL, why, sizeof(why)) != PV_OK) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_both_modes),
		cmocka_unit_test(test_switch_at_run_time),
		cmocka_unit_test(test_unsupported_instruction_faults),
		cmocka_unit_test(test_unexplained_store_falls_back),
		cmocka_unit_test(test_long_rep_stos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
