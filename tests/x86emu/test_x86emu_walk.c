/* SPDX-License-Identifier: MIT */
/* Unit tests of the guest page-table walker (pv_x86emu_translate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "x86emu/x86emu_fakemem.h"

#define P 0x1ull
#define RW 0x2ull
#define US 0x4ull
#define A 0x20ull
#define D 0x40ull
#define PS 0x80ull
#define NX (1ull << 63)

#define CR0_PE 1ull
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define L5 0x1000ull
#define L4 0x2000ull
#define L3 0x3000ull
#define L2 0x4000ull
#define L1 0x5000ull

static struct fakemem M;
static struct pv_x86emu_state S;

static int setup(void **state)
{
	(void)state;
	memset(&M, 0, sizeof(M));
	M.ram = calloc(1, FM_SIZE);
	memset(&S, 0, sizeof(S));
	return M.ram ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(M.ram);
	return 0;
}

static unsigned idx(uint64_t va, unsigned lvl)
{
	return (unsigned)((va >> (12 + 9 * (lvl - 1))) & 511);
}

/* Long-mode state, CPL @cpl. */
static void lm_state(bool five, unsigned cpl)
{
	memset(&S, 0, sizeof(S));
	S.sregs.cr0 = CR0_PE | CR0_PG | CR0_WP;
	S.sregs.cr4 = CR4_PAE | (five ? CR4_LA57 : 0);
	S.sregs.efer = EFER_LME | EFER_LMA | EFER_NXE;
	S.sregs.cr3 = five ? L5 : L4;
	S.sregs.cs.l = 1;
	S.sregs.ss.dpl = (uint8_t)cpl;
	S.sregs.cs.dpl = (uint8_t)cpl;
}

/* Map @va -> @pa (4 KiB) in 4/5-level tables; @upper on the non-leaf entries. */
static void map4k(bool five, uint64_t va, uint64_t pa, uint64_t upper, uint64_t leaf)
{
	if (five)
		fm_put64(&M, L5 + idx(va, 5) * 8, L4 | upper);
	fm_put64(&M, L4 + idx(va, 4) * 8, L3 | upper);
	fm_put64(&M, L3 + idx(va, 3) * 8, L2 | upper);
	fm_put64(&M, L2 + idx(va, 2) * 8, L1 | upper);
	fm_put64(&M, L1 + idx(va, 1) * 8, pa | leaf);
}

static pv_err_t tr(uint64_t la, unsigned acc, uint64_t *gpa, struct pv_x86_fault *f)
{
	return pv_x86emu_translate(&S, &fm_ops, &M, la, acc, gpa, f);
}

static void expect_pf(uint64_t la, unsigned acc, uint32_t ec)
{
	uint64_t gpa = 0;
	struct pv_x86_fault f;
	memset(&f, 0, sizeof(f));
	assert_int_equal(tr(la, acc, &gpa, &f), PV_EFAULTINJ);
	assert_int_equal(f.vector, PV_X86_VEC_PF);
	assert_true(f.has_error_code);
	assert_int_equal(f.error_code, ec);
	assert_int_equal(f.address, la);
}

static void expect_ok(uint64_t la, unsigned acc, uint64_t want)
{
	uint64_t gpa = 0;
	struct pv_x86_fault f;
	assert_int_equal(tr(la, acc, &gpa, &f), PV_OK);
	assert_int_equal(gpa, want);
}

static void test_paging_off(void **state)
{
	(void)state;
	memset(&S, 0, sizeof(S));
	S.sregs.cr0 = CR0_PE;
	expect_ok(0x12345678, PV_X86_ACC_WRITE, 0x12345678);
	/* outside long mode linear addresses are 32-bit */
	expect_ok(0x1ffffffffull, PV_X86_ACC_READ, 0xffffffffull);
	assert_int_equal(M.reads, 0);
}

static void test_4level_ad_bits(void **state)
{
	(void)state;
	const uint64_t va = 0x00007f1234567abcull;
	lm_state(false, 0);
	map4k(false, va, 0x100000, P | RW | US, P | RW | US);
	expect_ok(va, PV_X86_ACC_READ, 0x100abc);
	/* read sets A everywhere, D nowhere */
	assert_int_equal(fm_get64(&M, L4 + idx(va, 4) * 8), L3 | P | RW | US | A);
	assert_int_equal(fm_get64(&M, L3 + idx(va, 3) * 8), L2 | P | RW | US | A);
	assert_int_equal(fm_get64(&M, L2 + idx(va, 2) * 8), L1 | P | RW | US | A);
	assert_int_equal(fm_get64(&M, L1 + idx(va, 1) * 8), 0x100000 | P | RW | US | A);
	/* write sets D in the leaf only */
	expect_ok(va, PV_X86_ACC_WRITE, 0x100abc);
	assert_int_equal(fm_get64(&M, L1 + idx(va, 1) * 8), 0x100000 | P | RW | US | A | D);
	assert_int_equal(fm_get64(&M, L2 + idx(va, 2) * 8), L1 | P | RW | US | A);
	/* a fault sets nothing */
	const uint64_t va2 = va + 0x1000;
	fm_put64(&M, L1 + idx(va2, 1) * 8, 0x200000 | US); /* not present */
	uint64_t before = fm_get64(&M, L2 + idx(va2, 2) * 8);
	expect_pf(va2, PV_X86_ACC_WRITE, PV_X86_PF_W);
	assert_int_equal(fm_get64(&M, L2 + idx(va2, 2) * 8), before);
}

static void test_5level(void **state)
{
	(void)state;
	const uint64_t va = 0x00ff812345678000ull; /* canonical only with LA57 */
	lm_state(true, 0);
	map4k(true, va, 0x123000, P | RW, P | RW);
	expect_ok(va + 0x10, PV_X86_ACC_READ, 0x123010);
	assert_true(fm_get64(&M, L5 + idx(va, 5) * 8) & A);
	/* the same address is non-canonical under 4-level paging: #GP(0) */
	lm_state(false, 0);
	uint64_t gpa;
	struct pv_x86_fault f;
	assert_int_equal(tr(va, PV_X86_ACC_READ, &gpa, &f), PV_EFAULTINJ);
	assert_int_equal(f.vector, PV_X86_VEC_GP);
	assert_int_equal(f.error_code, 0);
	/* and beyond 57 bits under 5-level */
	lm_state(true, 0);
	assert_int_equal(tr(0x0100000000000000ull, PV_X86_ACC_READ, &gpa, &f), PV_EFAULTINJ);
	assert_int_equal(f.vector, PV_X86_VEC_GP);
}

static void test_not_present_each_level(void **state)
{
	(void)state;
	const uint64_t va = 0x0000123456789000ull;
	for (unsigned lvl = 1; lvl <= 5; lvl++) {
		bool five = lvl == 5;
		memset(M.ram, 0, 0x10000);
		lm_state(five, 3);
		map4k(five, va, 0x300000, P | RW | US, P | RW | US);
		static const uint64_t tab[6] = {0, L1, L2, L3, L4, L5};
		uint64_t egpa = tab[lvl] + idx(va, lvl) * 8;
		fm_put64(&M, egpa, fm_get64(&M, egpa) & ~P);
		expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_U);
		expect_pf(va, PV_X86_ACC_WRITE, PV_X86_PF_U | PV_X86_PF_W);
		expect_pf(va, PV_X86_ACC_FETCH, PV_X86_PF_U | PV_X86_PF_I);
	}
}

static void test_write_protect(void **state)
{
	(void)state;
	const uint64_t va = 0x400000;
	lm_state(false, 3);
	map4k(false, va, 0x300000, P | US, P | RW | US); /* R/W clear at an upper level */
	expect_ok(va, PV_X86_ACC_READ, 0x300000);
	expect_pf(va, PV_X86_ACC_WRITE, PV_X86_PF_P | PV_X86_PF_W | PV_X86_PF_U);
	/* supervisor: CR0.WP=1 faults, WP=0 allows and sets D */
	S.sregs.ss.dpl = 0;
	expect_pf(va, PV_X86_ACC_WRITE, PV_X86_PF_P | PV_X86_PF_W);
	S.sregs.cr0 &= ~CR0_WP;
	expect_ok(va, PV_X86_ACC_WRITE, 0x300000);
	assert_true(fm_get64(&M, L1 + idx(va, 1) * 8) & D);
}

static void test_user_supervisor(void **state)
{
	(void)state;
	const uint64_t va = 0x600000;
	lm_state(false, 3);
	map4k(false, va, 0x300000, P | RW | US, P | RW); /* supervisor page */
	expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_P | PV_X86_PF_U);
	/* implicit supervisor access from CPL 3 is allowed (and reports no U) */
	expect_ok(va, PV_X86_ACC_READ | PV_X86_ACC_IMPLICIT, 0x300000);
	S.sregs.ss.dpl = 0;
	expect_ok(va, PV_X86_ACC_WRITE, 0x300000);
}

static void test_nx(void **state)
{
	(void)state;
	const uint64_t va = 0x800000;
	lm_state(false, 0);
	map4k(false, va, 0x300000, P | RW, P | RW | NX);
	expect_ok(va, PV_X86_ACC_READ, 0x300000);
	expect_pf(va, PV_X86_ACC_FETCH, PV_X86_PF_P | PV_X86_PF_I);
	/* NX at an upper level */
	map4k(false, va, 0x300000, P | RW | NX, P | RW);
	expect_pf(va, PV_X86_ACC_FETCH, PV_X86_PF_P | PV_X86_PF_I);
	/* with EFER.NXE = 0 the bit is reserved */
	S.sregs.efer &= ~EFER_NXE;
	expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_P | PV_X86_PF_RSVD);
}

static void test_smep_smap(void **state)
{
	(void)state;
	const uint64_t va = 0xa00000;
	lm_state(false, 0);
	map4k(false, va, 0x300000, P | RW | US, P | RW | US); /* user page */
	expect_ok(va, PV_X86_ACC_FETCH, 0x300000);
	S.sregs.cr4 |= CR4_SMEP;
	expect_pf(va, PV_X86_ACC_FETCH, PV_X86_PF_P | PV_X86_PF_I);
	expect_ok(va, PV_X86_ACC_READ, 0x300000);
	S.sregs.cr4 |= CR4_SMAP;
	expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_P);
	expect_pf(va, PV_X86_ACC_WRITE, PV_X86_PF_P | PV_X86_PF_W);
	S.regs.rflags |= 1ull << 18; /* AC overrides for explicit accesses at CPL < 3 */
	expect_ok(va, PV_X86_ACC_WRITE, 0x300000);
	expect_pf(va, PV_X86_ACC_READ | PV_X86_ACC_IMPLICIT, PV_X86_PF_P);
	/* CPL 3 explicit user accesses are not affected by SMAP/SMEP */
	S.sregs.ss.dpl = 3;
	expect_ok(va, PV_X86_ACC_FETCH, 0x300000);
	expect_ok(va, PV_X86_ACC_READ, 0x300000);
}

static void test_reserved_bits(void **state)
{
	(void)state;
	const uint64_t va = 0xc00000;
	lm_state(false, 0);
	S.maxphyaddr = 40;
	map4k(false, va, 0x300000, P | RW, P | RW | (1ull << 45));
	expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_P | PV_X86_PF_RSVD);
	expect_pf(va, PV_X86_ACC_WRITE, PV_X86_PF_P | PV_X86_PF_RSVD | PV_X86_PF_W);
	/* PS in a PML4E is reserved */
	map4k(false, va, 0x300000, P | RW, P | RW);
	fm_put64(&M, L4 + idx(va, 4) * 8, L3 | P | RW | PS);
	expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_P | PV_X86_PF_RSVD);
	/* with MAXPHYADDR 52 bit 45 is a normal address bit */
	S.maxphyaddr = 0;
	map4k(false, va, 0x300000, P | RW, P | RW);
	expect_ok(va, PV_X86_ACC_READ, 0x300000);
	/* RSVD wins over not-present at a lower level: the walk stops at the bad entry */
	S.maxphyaddr = 36;
	fm_put64(&M, L3 + idx(va, 3) * 8, L2 | P | RW | (1ull << 40));
	expect_pf(va, PV_X86_ACC_FETCH, PV_X86_PF_P | PV_X86_PF_RSVD | PV_X86_PF_I);
}

static void test_large_pages(void **state)
{
	(void)state;
	lm_state(false, 0);
	/* 2 MiB page */
	const uint64_t va = 0x40000000ull + 0x200000 * 3 + 0x12345;
	fm_put64(&M, L4 + idx(va, 4) * 8, L3 | P | RW);
	fm_put64(&M, L3 + idx(va, 3) * 8, L2 | P | RW);
	fm_put64(&M, L2 + idx(va, 2) * 8, 0x600000 | P | RW | PS);
	expect_ok(va, PV_X86_ACC_WRITE, 0x600000 + 0x12345);
	assert_int_equal(fm_get64(&M, L2 + idx(va, 2) * 8), 0x600000 | P | RW | PS | A | D);
	/* reserved bit 13 in a 2 MiB PDE */
	fm_put64(&M, L2 + idx(va, 2) * 8, 0x600000 | P | RW | PS | (1ull << 13));
	expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_P | PV_X86_PF_RSVD);
	/* PAT bit 12 is fine */
	fm_put64(&M, L2 + idx(va, 2) * 8, 0x600000 | P | RW | PS | (1ull << 12));
	expect_ok(va, PV_X86_ACC_READ, 0x600000 + 0x12345);
	/* 1 GiB page */
	const uint64_t vb = 0x8000000000ull + 0x40000000ull * 2 + 0x1234567;
	fm_put64(&M, L4 + idx(vb, 4) * 8, L3 | P | RW);
	fm_put64(&M, L3 + idx(vb, 3) * 8, 0xc0000000ull | P | RW | PS);
	expect_ok(vb, PV_X86_ACC_READ, 0xc0000000ull + 0x1234567);
	fm_put64(&M, L3 + idx(vb, 3) * 8, 0xc0000000ull | P | RW | PS | (1ull << 29));
	expect_pf(vb, PV_X86_ACC_READ, PV_X86_PF_P | PV_X86_PF_RSVD);
}

static void pae_state(unsigned cpl)
{
	memset(&S, 0, sizeof(S));
	S.sregs.cr0 = CR0_PE | CR0_PG | CR0_WP;
	S.sregs.cr4 = CR4_PAE;
	S.sregs.efer = EFER_NXE;
	S.sregs.cr3 = 0x7020; /* 32-byte aligned PDPT */
	S.sregs.cs.db = 1;
	S.sregs.ss.dpl = (uint8_t)cpl;
}

static void test_pae(void **state)
{
	(void)state;
	const uint32_t va = 0xc0801234u;
	pae_state(0);
	uint64_t pdpte = 0x7020 + ((va >> 30) & 3) * 8;
	fm_put64(&M, pdpte, L2 | P);
	fm_put64(&M, L2 + ((va >> 21) & 511) * 8, L1 | P | RW | US);
	fm_put64(&M, L1 + ((va >> 12) & 511) * 8, 0x345000 | P | RW | US);
	expect_ok(va, PV_X86_ACC_WRITE, 0x345234);
	assert_int_equal(fm_get64(&M, pdpte), L2 | P); /* PDPTEs have no A bit */
	assert_int_equal(fm_get64(&M, L1 + ((va >> 12) & 511) * 8), 0x345000 | P | RW | US | A | D);
	/* NX works in PAE with NXE */
	fm_put64(&M, L1 + ((va >> 12) & 511) * 8, 0x345000 | P | RW | US | NX);
	expect_pf(va, PV_X86_ACC_FETCH, PV_X86_PF_P | PV_X86_PF_I);
	/* reserved PDPTE bits (RW is reserved there) */
	fm_put64(&M, pdpte, L2 | P | RW);
	expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_P | PV_X86_PF_RSVD);
	fm_put64(&M, pdpte, L2);
	expect_pf(va, PV_X86_ACC_READ, 0);
	/* 2 MiB PAE page */
	fm_put64(&M, pdpte, L2 | P);
	fm_put64(&M, L2 + ((va >> 21) & 511) * 8, 0x200000 | P | RW | PS);
	expect_ok(va, PV_X86_ACC_READ, 0x200000 + (va & 0x1fffff));
}

static void test_32bit(void **state)
{
	(void)state;
	memset(&S, 0, sizeof(S));
	S.sregs.cr0 = CR0_PE | CR0_PG;
	S.sregs.cr3 = L2;
	S.sregs.cs.db = 1;
	S.sregs.ss.dpl = 3;
	const uint32_t va = 0x80402abcu;
	fm_put32(&M, L2 + (va >> 22) * 4, (uint32_t)(L1 | P | RW | US));
	fm_put32(&M, L1 + ((va >> 12) & 1023) * 4, (uint32_t)(0x222000 | P | US));
	expect_ok(va, PV_X86_ACC_READ, 0x222abc);
	assert_int_equal(fm_get32(&M, L2 + (va >> 22) * 4), (uint32_t)(L1 | P | RW | US | A));
	/* read-only for user; no I bit in 32-bit paging without SMEP */
	expect_pf(va, PV_X86_ACC_WRITE, PV_X86_PF_P | PV_X86_PF_W | PV_X86_PF_U);
	fm_put32(&M, L1 + ((va >> 12) & 1023) * 4, 0);
	expect_pf(va, PV_X86_ACC_FETCH, PV_X86_PF_U);
	S.sregs.cr4 = CR4_SMEP;
	expect_pf(va, PV_X86_ACC_FETCH, PV_X86_PF_U | PV_X86_PF_I);
	/* 4 MiB PSE page with PSE-36 high bits */
	S.sregs.cr4 = CR4_PSE;
	fm_put32(&M, L2 + (va >> 22) * 4,
		 (uint32_t)(0x00400000u | (0x3u << 13) | P | RW | US | PS));
	expect_ok(va, PV_X86_ACC_WRITE, 0x300000000ull + 0x400000 + (va & 0x3fffff));
	assert_int_equal(fm_get32(&M, L2 + (va >> 22) * 4) & (A | D), A | D);
	/* bit 21 is reserved */
	fm_put32(&M, L2 + (va >> 22) * 4, (uint32_t)(0x00400000u | (1u << 21) | P | RW | US | PS));
	expect_pf(va, PV_X86_ACC_READ, PV_X86_PF_P | PV_X86_PF_RSVD | PV_X86_PF_U);
	/* without CR4.PSE the PS bit is ignored: the PDE points to a page table */
	S.sregs.cr4 = 0;
	fm_put32(&M, L2 + (va >> 22) * 4, (uint32_t)(L1 | P | RW | US | PS));
	fm_put32(&M, L1 + ((va >> 12) & 1023) * 4, (uint32_t)(0x777000 | P | RW | US));
	expect_ok(va, PV_X86_ACC_READ, 0x777abc);
}

static void test_ad_race_retry(void **state)
{
	(void)state;
	const uint64_t va = 0xe00000;
	lm_state(false, 0);
	map4k(false, va, 0x300000, P | RW, P | RW);
	M.fail_cmpxchg = 2;
	expect_ok(va, PV_X86_ACC_WRITE, 0x300000);
	assert_int_equal(M.fail_cmpxchg, 0);
	assert_true(fm_get64(&M, L1 + idx(va, 1) * 8) & D);
	/* a permanent race gives up with PV_EBUSY */
	map4k(false, va, 0x300000, P | RW, P | RW);
	M.fail_cmpxchg = 1000;
	uint64_t gpa;
	struct pv_x86_fault f;
	assert_int_equal(tr(va, PV_X86_ACC_READ, &gpa, &f), PV_EBUSY);
	M.fail_cmpxchg = 0;
}

static void test_bad_args_and_unbacked(void **state)
{
	(void)state;
	uint64_t gpa;
	struct pv_x86_fault f;
	lm_state(false, 0);
	assert_int_equal(pv_x86emu_translate(NULL, &fm_ops, &M, 0, 0, &gpa, &f), PV_EINVAL);
	assert_int_equal(pv_x86emu_translate(&S, NULL, &M, 0, 0, &gpa, &f), PV_EINVAL);
	assert_int_equal(pv_x86emu_translate(&S, &fm_ops, &M, 0, 0, NULL, &f), PV_EINVAL);
	/* CR3 outside guest RAM: the callback error comes back unchanged */
	S.sregs.cr3 = 0x7fff0000000ull;
	assert_int_equal(tr(0x1000, 0, &gpa, &f), PV_EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_paging_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_4level_ad_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_5level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_present_each_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_protect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_supervisor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smep_smap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pae, setup, teardown),
		cmocka_unit_test_setup_teardown(test_32bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ad_race_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args_and_unbacked, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
