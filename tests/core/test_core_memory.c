/* SPDX-License-Identifier: MIT */
/* Guest memory accessors and page state on the standard map of core_test.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#include "core/internal.h" /* pv_mem_cmpxchg: the emulator's LOCKed accesses */
#include "core_test.h"

#define TOP 0xFFFFFFFFFFFFE000ull
#define PARA PV_ACCESS_PARAVISOR

static int setup(void **state)
{
	static struct ct_env e;
	ct_open(&e, 0, 1);
	*state = &e;
	return 0;
}

static int teardown(void **state)
{
	ct_close(*state);
	return 0;
}

static uint8_t *host(struct ct_env *e, uint64_t gpa, size_t len)
{
	uint8_t *p = pv_mock_ram_ptr(e->mock, pv_gpa(gpa), len);
	assert_non_null(p);
	return p;
}

static void test_roundtrip_and_backing(void **state)
{
	struct ct_env *e = *state;
	uint8_t buf[64], out[64];
	for (int i = 0; i < 64; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(pv_mem_write(e->part, PV_ACCESS_VTL0, pv_gpa(0x1234), buf, 64), PV_OK);
	assert_memory_equal(host(e, 0x1234, 64), buf, 64);
	memset(out, 0, sizeof(out));
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_VTL1, pv_gpa(0x1234), out, 64), PV_OK);
	assert_memory_equal(out, buf, 64);
	assert_int_equal(pv_mem_zero(e->part, PARA, pv_gpa(0x1234), 32), PV_OK);
	assert_int_equal(host(e, 0x1234, 64)[31], 0);
	assert_int_equal(host(e, 0x1234, 64)[32], buf[32]);
	assert_int_equal(pv_mem_check(e->part, PV_ACCESS_VTL0, pv_gpa(0x1234), 64,
				      PV_PERM_READ | PV_PERM_WRITE),
			 PV_OK);
}

static void test_zero_length_and_null(void **state)
{
	struct ct_env *e = *state;
	uint8_t b = 0;
	/* zero lengths succeed anywhere, even unmapped, and touch nothing */
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(0x25000), &b, 0), PV_OK);
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(UINT64_MAX), NULL, 0), PV_OK);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0x30000), NULL, 0), PV_OK);
	assert_int_equal(pv_mem_zero(e->part, PARA, pv_gpa(0x40000), 0), PV_OK);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(0x25000), pv_gpa(0x26000), 0), PV_OK);
	assert_int_equal(pv_mem_check(e->part, PARA, pv_gpa(0x25000), 0, PV_PERM_READ), PV_OK);
	/* NULL arguments */
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(0), NULL, 1), PV_EINVAL);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0), NULL, 1), PV_EINVAL);
	assert_int_equal(pv_mem_read(NULL, PARA, pv_gpa(0), &b, 1), PV_EINVAL);
	assert_int_equal(pv_mem_write(NULL, PARA, pv_gpa(0), &b, 1), PV_EINVAL);
	assert_int_equal(pv_mem_zero(NULL, PARA, pv_gpa(0), 1), PV_EINVAL);
	assert_int_equal(pv_mem_copy(NULL, PARA, pv_gpa(0), pv_gpa(8), 1), PV_EINVAL);
	assert_int_equal(pv_mem_check(NULL, PARA, pv_gpa(0), 1, PV_PERM_READ), PV_EINVAL);
	assert_int_equal(pv_mem_set_visibility(NULL, pv_gpa(0), 1, PV_VIS_SHARED), PV_EINVAL);
	assert_int_equal(pv_mem_set_perm(NULL, 0, pv_gpa(0), 1, PV_PERM_RWX), PV_EINVAL);
	assert_int_equal(pv_mem_get_page(NULL, pv_gpa(0), NULL, NULL), PV_EINVAL);
	struct pv_mem_range r;
	assert_int_equal(pv_mem_lookup(NULL, pv_gpa(0), &r), PV_EINVAL);
	assert_int_equal(pv_mem_lookup(e->part, pv_gpa(0), NULL), PV_EINVAL);
}

static void test_bad_accessor(void **state)
{
	struct ct_env *e = *state;
	uint8_t b = 0;
	/* the partition has 2 VTLs: VTL2 is not valid */
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_VTL2, pv_gpa(0), &b, 1), PV_EINVAL);
	assert_int_equal(pv_mem_read(e->part, (enum pv_accessor)5, pv_gpa(0), &b, 1), PV_EINVAL);
	assert_int_equal(pv_mem_write(e->part, (enum pv_accessor)18, pv_gpa(0), &b, 1), PV_EINVAL);
	assert_int_equal(pv_mem_zero(e->part, (enum pv_accessor) - 1, pv_gpa(0), 1), PV_EINVAL);
	assert_int_equal(pv_mem_copy(e->part, (enum pv_accessor)3, pv_gpa(0), pv_gpa(1), 1),
			 PV_EINVAL);
	assert_int_equal(pv_mem_check(e->part, (enum pv_accessor)15, pv_gpa(0), 1, PV_PERM_READ),
			 PV_EINVAL);
	/* check takes only R/W bits */
	assert_int_equal(pv_mem_check(e->part, PARA, pv_gpa(0), 1, PV_PERM_EXEC), PV_EINVAL);
	assert_int_equal(pv_mem_check(e->part, PARA, pv_gpa(0), 1, 0x100), PV_EINVAL);
}

static void test_range_ends(void **state)
{
	struct ct_env *e = *state;
	uint8_t buf[16] = {0}, pat[16];
	memset(pat, 0x5A, sizeof(pat));
	/* last byte of the first range, and across into the adjacent one */
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0xFFFF), pat, 1), PV_OK);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0xFFF8), pat, 16), PV_OK);
	assert_int_equal(host(e, 0xFFF8, 8)[7], 0x5A);
	assert_int_equal(host(e, 0x10000, 8)[7], 0x5A);
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_VTL0, pv_gpa(0xFFF0), buf, 16), PV_OK);
	/* RAM end into the hole: refused and nothing written */
	memset(host(e, 0x1FFF0, 16), 0, 16);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0x1FFF8), pat, 9), PV_ERANGE);
	assert_int_equal(host(e, 0x1FFF0, 16)[8], 0);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0x1FFF8), pat, 8), PV_OK);
	/* in the hole, in MMIO, in reserved space, past everything */
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(0x20000), buf, 1), PV_ERANGE);
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(0x30000), buf, 1), PV_EFAULT);
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(0x40800), buf, 1), PV_EFAULT);
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(0x80000000), buf, 1), PV_ERANGE);
	/* MMIO into RAM and RAM into MMIO: no byte moves */
	memset(host(e, 0x31000, 8), 0, 8);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0x30FFC), pat, 8), PV_EFAULT);
	assert_int_equal(host(e, 0x31000, 8)[0], 0);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0x32FFC), pat, 8), PV_ERANGE);
	assert_int_equal(host(e, 0x32FFC, 4)[0], 0);
	assert_int_equal(pv_mem_zero(e->part, PARA, pv_gpa(0x2FFF0), 0x20), PV_ERANGE);
	/* huge lengths */
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(0), buf, SIZE_MAX), PV_ERANGE);
	assert_int_equal(pv_mem_check(e->part, PARA, pv_gpa(0), 0x20001, PV_PERM_READ), PV_ERANGE);
	assert_int_equal(pv_mem_check(e->part, PARA, pv_gpa(0), 0x20000, PV_PERM_READ), PV_OK);
}

static void test_top_of_address_space(void **state)
{
	struct ct_env *e = *state;
	uint8_t b = 0x77, buf[32];
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(UINT64_MAX), &b, 1), PV_OK);
	assert_int_equal(host(e, UINT64_MAX, 1)[0], 0x77);
	b = 0;
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_VTL0, pv_gpa(UINT64_MAX), &b, 1), PV_OK);
	assert_int_equal(b, 0x77);
	/* 64-bit wraparound: never aliases address 0 */
	memset(host(e, 0, 16), 0, 16);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(UINT64_MAX), buf, 2), PV_ERANGE);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(UINT64_MAX - 15), buf, 32), PV_ERANGE);
	assert_int_equal(host(e, 0, 16)[0], 0);
	assert_int_equal(pv_mem_read(e->part, PARA, pv_gpa(TOP), buf, SIZE_MAX), PV_ERANGE);
	assert_int_equal(pv_mem_zero(e->part, PARA, pv_gpa(TOP), 0x2000), PV_OK);
	assert_int_equal(pv_mem_zero(e->part, PARA, pv_gpa(TOP), 0x2001), PV_ERANGE);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(UINT64_MAX - 7), pv_gpa(0), 16),
			 PV_ERANGE);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(0), pv_gpa(UINT64_MAX - 7), 16),
			 PV_ERANGE);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(TOP), 2, PV_PERM_READ), PV_OK);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(TOP), 3, PV_PERM_READ), PV_ERANGE);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(TOP), UINT64_MAX, PV_PERM_READ),
			 PV_ERANGE);
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(TOP), 1ull << 52, PV_VIS_SHARED),
			 PV_ERANGE);
	unsigned perms[PV_MAX_VTLS];
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(UINT64_MAX), NULL, perms), PV_OK);
	assert_int_equal(perms[0], PV_PERM_READ);
	assert_int_equal(perms[1], PV_PERM_RWX);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(TOP), 2, PV_PERM_RWX), PV_OK);
}

static void test_visibility(void **state)
{
	struct ct_env *e = *state;
	uint8_t buf[16];
	memset(buf, 0x33, sizeof(buf));
	enum pv_page_visibility vis = PV_VIS_SHARED;
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x5000), &vis, NULL), PV_OK);
	assert_int_equal(vis, PV_VIS_PRIVATE);
	/* the host sees nothing private */
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_HOST, pv_gpa(0x5000), buf, 1), PV_EACCES);
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(0x5000), 1, PV_VIS_SHARED), PV_OK);
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x5FFF), &vis, NULL), PV_OK);
	assert_int_equal(vis, PV_VIS_SHARED);
	assert_int_equal(pv_mem_write(e->part, PV_ACCESS_HOST, pv_gpa(0x5000), buf, 16), PV_OK);
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_HOST, pv_gpa(0x5FF0), buf, 16), PV_OK);
	/* crossing from the shared page into a private one: refused, nothing written */
	memset(host(e, 0x5FF8, 16), 0, 16);
	assert_int_equal(pv_mem_write(e->part, PV_ACCESS_HOST, pv_gpa(0x5FF8), buf, 16), PV_EACCES);
	assert_int_equal(host(e, 0x5FF8, 16)[0], 0);
	assert_int_equal(pv_mem_zero(e->part, PV_ACCESS_HOST, pv_gpa(0x4FF8), 16), PV_EACCES);
	assert_int_equal(pv_mem_check(e->part, PV_ACCESS_HOST, pv_gpa(0x5000), 0x1000,
				      PV_PERM_READ | PV_PERM_WRITE),
			 PV_OK);
	/* the guest and the paravisor ignore visibility */
	assert_int_equal(pv_mem_write(e->part, PV_ACCESS_VTL0, pv_gpa(0x5FF8), buf, 16), PV_OK);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0x4FF8), buf, 16), PV_OK);
	/* shared across two adjacent RAM ranges */
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(0xF000), 2, PV_VIS_SHARED), PV_OK);
	assert_int_equal(pv_mem_write(e->part, PV_ACCESS_HOST, pv_gpa(0xFFF8), buf, 16), PV_OK);
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(0xF000), 2, PV_VIS_PRIVATE), PV_OK);
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_HOST, pv_gpa(0x10000), buf, 1), PV_EACCES);
	/* bad requests change nothing */
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(0x5001), 1, PV_VIS_PRIVATE),
			 PV_EINVAL);
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(0x5000), 0, PV_VIS_PRIVATE),
			 PV_EINVAL);
	assert_int_equal(
		pv_mem_set_visibility(e->part, pv_gpa(0x5000), 1, (enum pv_page_visibility)2),
		PV_EINVAL);
	/* 0x1F000: one page inside, one in the hole */
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(0x1F000), 2, PV_VIS_SHARED),
			 PV_ERANGE);
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x1F000), &vis, NULL), PV_OK);
	assert_int_equal(vis, PV_VIS_PRIVATE);
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(0x30000), 1, PV_VIS_SHARED),
			 PV_EFAULT);
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x5000), &vis, NULL), PV_OK);
	assert_int_equal(vis, PV_VIS_SHARED);
	assert_int_equal(pv_mem_set_visibility(e->part, pv_gpa(0x5000), 1, PV_VIS_PRIVATE), PV_OK);
}

static void test_vtl_permissions(void **state)
{
	struct ct_env *e = *state;
	uint8_t b = 1;
	unsigned perms[PV_MAX_VTLS];
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x7000), NULL, perms), PV_OK);
	assert_int_equal(perms[0], PV_PERM_RWX);
	assert_int_equal(perms[1], PV_PERM_RWX);
	/* VTL0 read-only: VTL0 writes refused, VTL1 and the paravisor unaffected */
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0x7000), 1, PV_PERM_READ), PV_OK);
	assert_int_equal(pv_mem_write(e->part, PV_ACCESS_VTL0, pv_gpa(0x7800), &b, 1), PV_EACCES);
	assert_int_equal(pv_mem_zero(e->part, PV_ACCESS_VTL0, pv_gpa(0x7800), 1), PV_EACCES);
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_VTL0, pv_gpa(0x7800), &b, 1), PV_OK);
	assert_int_equal(pv_mem_write(e->part, PV_ACCESS_VTL1, pv_gpa(0x7800), &b, 1), PV_OK);
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0x7800), &b, 1), PV_OK);
	assert_int_equal(pv_mem_check(e->part, PV_ACCESS_VTL0, pv_gpa(0x7000), 1, PV_PERM_WRITE),
			 PV_EACCES);
	assert_int_equal(pv_mem_check(e->part, PV_ACCESS_VTL0, pv_gpa(0x7000), 1, PV_PERM_READ),
			 PV_OK);
	/* a write spanning a writable and a read-only page: nothing written */
	memset(host(e, 0x6FF8, 16), 0, 16);
	uint8_t pat[16];
	memset(pat, 0xEE, sizeof(pat));
	assert_int_equal(pv_mem_write(e->part, PV_ACCESS_VTL0, pv_gpa(0x6FF8), pat, 16), PV_EACCES);
	assert_int_equal(host(e, 0x6FF8, 16)[0], 0);
	/* no access at all; execute-only */
	assert_int_equal(pv_mem_set_perm(e->part, 1, pv_gpa(0x7000), 1, 0), PV_OK);
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_VTL1, pv_gpa(0x7000), &b, 1), PV_EACCES);
	assert_int_equal(pv_mem_set_perm(e->part, 1, pv_gpa(0x7000), 1, PV_PERM_EXEC), PV_OK);
	assert_int_equal(pv_mem_read(e->part, PV_ACCESS_VTL1, pv_gpa(0x7000), &b, 1), PV_EACCES);
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x7000), NULL, perms), PV_OK);
	assert_int_equal(perms[0], PV_PERM_READ);
	assert_int_equal(perms[1], PV_PERM_EXEC);
	/* copy checks read on the source and write on the destination */
	assert_int_equal(pv_mem_copy(e->part, PV_ACCESS_VTL0, pv_gpa(0x8000), pv_gpa(0x7000), 8),
			 PV_OK);
	assert_int_equal(pv_mem_copy(e->part, PV_ACCESS_VTL0, pv_gpa(0x7000), pv_gpa(0x8000), 8),
			 PV_EACCES);
	assert_int_equal(pv_mem_copy(e->part, PV_ACCESS_VTL1, pv_gpa(0x8000), pv_gpa(0x7000), 8),
			 PV_EACCES);
	/* bad requests */
	assert_int_equal(pv_mem_set_perm(e->part, 2, pv_gpa(0x7000), 1, PV_PERM_RWX), PV_EINVAL);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0x7000), 1, 8), PV_EINVAL);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0x7004), 1, PV_PERM_RWX), PV_EINVAL);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0x7000), 0, PV_PERM_RWX), PV_EINVAL);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0x31000), 3, PV_PERM_RWX), PV_ERANGE);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0x30000), 1, PV_PERM_RWX), PV_EFAULT);
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x31000), NULL, perms), PV_OK);
	assert_int_equal(perms[0], PV_PERM_RWX); /* untouched by the refused call */
	/* spanning the two adjacent RAM ranges */
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0xF000), 2, PV_PERM_READ), PV_OK);
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x10000), NULL, perms), PV_OK);
	assert_int_equal(perms[0], PV_PERM_READ);
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x11000), NULL, perms), PV_OK);
	assert_int_equal(perms[0], PV_PERM_RWX);
	/* restore */
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0x0), 0x20, PV_PERM_RWX), PV_OK);
	assert_int_equal(pv_mem_set_perm(e->part, 1, pv_gpa(0x0), 0x20, PV_PERM_RWX), PV_OK);
	/* get_page outside RAM */
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x30000), NULL, NULL), PV_EFAULT);
	assert_int_equal(pv_mem_get_page(e->part, pv_gpa(0x20000), NULL, NULL), PV_ERANGE);
}

static void test_copy_overlap(void **state)
{
	struct ct_env *e = *state;
	/* compare with memmove on a host copy, for several sizes and shifts */
	static const size_t lens[] = {1, 7, 255, 256, 257, 1000, 3000};
	static const long shifts[] = {1, 3, 256, -1, -5, -300, 0};
	uint8_t model[0x2000];
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		for (size_t si = 0; si < sizeof(shifts) / sizeof(shifts[0]); si++) {
			uint8_t *g = host(e, 0x2000, sizeof(model));
			for (size_t i = 0; i < sizeof(model); i++)
				g[i] = model[i] = (uint8_t)(i * 31 + li + si);
			uint64_t src = 0x2800, dst = (uint64_t)((long)src + shifts[si]);
			assert_int_equal(pv_mem_copy(e->part, PV_ACCESS_VTL0, pv_gpa(dst),
						     pv_gpa(src), lens[li]),
					 PV_OK);
			memmove(model + (dst - 0x2000), model + (src - 0x2000), lens[li]);
			assert_memory_equal(g, model, sizeof(model));
		}
	}
	/* across the adjacent RAM ranges, both as source and destination */
	uint8_t pat[64];
	for (int i = 0; i < 64; i++)
		pat[i] = (uint8_t)i;
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0xFFE0), pat, 64), PV_OK);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(0x9000), pv_gpa(0xFFE0), 64), PV_OK);
	assert_memory_equal(host(e, 0x9000, 64), pat, 64);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(0xFFF0), pv_gpa(0x9000), 64), PV_OK);
	assert_memory_equal(host(e, 0xFFF0, 16), pat, 16);
	assert_memory_equal(host(e, 0x10000, 48), pat + 16, 48);
	/* a bad source or destination writes nothing */
	memset(host(e, 0x9000, 64), 0, 64);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(0x9000), pv_gpa(0x30000), 64),
			 PV_EFAULT);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(0x9000), pv_gpa(0x1FFF0), 64),
			 PV_ERANGE);
	assert_int_equal(host(e, 0x9000, 64)[0], 0);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(0x1FFF0), pv_gpa(0x9000), 64),
			 PV_ERANGE);
	assert_int_equal(pv_mem_copy(e->part, PARA, pv_gpa(0x9000), pv_gpa(0x9000), 64), PV_OK);
}

static void test_lookup(void **state)
{
	struct ct_env *e = *state;
	struct pv_mem_range r;
	for (size_t i = 0; i < CT_RANGE_COUNT; i++) {
		uint64_t base = pv_gpa_val(ct_ranges[i].base);
		uint64_t last = base + ct_ranges[i].size - 1;
		memset(&r, 0, sizeof(r));
		assert_int_equal(pv_mem_lookup(e->part, pv_gpa(base), &r), PV_OK);
		assert_int_equal(pv_gpa_val(r.base), base);
		assert_int_equal(r.size, ct_ranges[i].size);
		assert_int_equal(r.kind, ct_ranges[i].kind);
		assert_int_equal(pv_mem_lookup(e->part, pv_gpa(last), &r), PV_OK);
		assert_int_equal(pv_gpa_val(r.base), base);
	}
	assert_int_equal(pv_mem_lookup(e->part, pv_gpa(0x20000), &r), PV_ENOENT);
	assert_int_equal(pv_mem_lookup(e->part, pv_gpa(0x33000), &r), PV_ENOENT);
	assert_int_equal(pv_mem_lookup(e->part, pv_gpa(TOP - 1), &r), PV_ENOENT);
}

static void test_ranges_listed_sorted(void **state)
{
	struct ct_env *e = *state;
	struct pv_mem_range r[CT_RANGE_COUNT];
	size_t n = 0;
	assert_int_equal(pv_mem_ranges(e->part, NULL, 0, &n), PV_OK);
	assert_int_equal(n, CT_RANGE_COUNT);
	/* a short buffer gets the first ranges and the full count */
	assert_int_equal(pv_mem_ranges(e->part, r, 2, &n), PV_OK);
	assert_int_equal(n, CT_RANGE_COUNT);
	assert_int_equal(pv_gpa_val(r[0].base), 0);
	assert_int_equal(pv_gpa_val(r[1].base), 0x10000);
	assert_int_equal(pv_mem_ranges(e->part, r, CT_RANGE_COUNT, &n), PV_OK);
	for (size_t i = 1; i < n; i++)
		assert_true(pv_gpa_val(r[i - 1].base) < pv_gpa_val(r[i].base));
	assert_int_equal(pv_gpa_val(r[4].base), 0x40000); /* reserved */
	assert_int_equal(r[4].kind, PV_MEM_RESERVED);
	assert_int_equal(pv_gpa_val(r[5].base), 0x50000); /* given last, sorted in */
	assert_int_equal(r[6].size, 0x2000);
	assert_int_equal(pv_mem_ranges(NULL, r, 1, &n), PV_EINVAL);
	assert_int_equal(pv_mem_ranges(e->part, NULL, 1, &n), PV_EINVAL);
	assert_int_equal(pv_mem_ranges(e->part, r, 1, NULL), PV_EINVAL);
}

static void test_cmpxchg(void **state)
{
	struct ct_env *e = *state;
	bool swapped = false;
	/* aligned sizes use host atomics: success then failure with the current value */
	static const unsigned lens[] = {1, 2, 4, 8};
	for (size_t i = 0; i < 4; i++) {
		unsigned len = lens[i];
		uint64_t gpa = 0x6000 + 0x40 * i;
		uint64_t init = 0x1122334455667788ull, want = init, des = 0xA5A5A5A5A5A5A5A5ull;
		memcpy(host(e, gpa, 8), &init, 8);
		assert_int_equal(pv_mem_cmpxchg(e->part, PV_ACCESS_VTL0, pv_gpa(gpa), len, &want,
						&des, &swapped),
				 PV_OK);
		assert_true(swapped);
		assert_memory_equal(host(e, gpa, len), &des, len);
		uint64_t stale = init;
		assert_int_equal(pv_mem_cmpxchg(e->part, PV_ACCESS_VTL0, pv_gpa(gpa), len, &stale,
						&init, &swapped),
				 PV_OK);
		assert_false(swapped);
		assert_memory_equal(&stale, &des, len); /* expected receives the current value */
	}
	/* 16 bytes and misaligned, also across the two adjacent RAM ranges */
	uint8_t cur[16], exp[16], des[16];
	for (int i = 0; i < 16; i++) {
		cur[i] = (uint8_t)i;
		des[i] = (uint8_t)(0xF0 + i);
	}
	assert_int_equal(pv_mem_write(e->part, PARA, pv_gpa(0xFFF9), cur, 16), PV_OK);
	memcpy(exp, cur, 16);
	assert_int_equal(
		pv_mem_cmpxchg(e->part, PV_ACCESS_VTL1, pv_gpa(0xFFF9), 16, exp, des, &swapped),
		PV_OK);
	assert_true(swapped);
	assert_memory_equal(host(e, 0xFFF9, 7), des, 7);
	assert_memory_equal(host(e, 0x10000, 9), des + 7, 9);
	memcpy(exp, cur, 16);
	assert_int_equal(
		pv_mem_cmpxchg(e->part, PV_ACCESS_VTL1, pv_gpa(0xFFF9), 16, exp, cur, &swapped),
		PV_OK);
	assert_false(swapped);
	assert_memory_equal(exp, des, 16);
	uint32_t e4 = 0, d4 = 1;
	assert_int_equal(pv_mem_cmpxchg(e->part, PARA, pv_gpa(0x6003), 4, &e4, &d4, &swapped),
			 PV_OK);
	/* refusals: bad arguments, not RAM, no permission */
	assert_int_equal(pv_mem_cmpxchg(e->part, PARA, pv_gpa(0x6000), 0, &e4, &d4, &swapped),
			 PV_EINVAL);
	assert_int_equal(pv_mem_cmpxchg(e->part, PARA, pv_gpa(0x6000), 17, exp, des, &swapped),
			 PV_EINVAL);
	assert_int_equal(pv_mem_cmpxchg(e->part, PARA, pv_gpa(0x6000), 4, NULL, &d4, &swapped),
			 PV_EINVAL);
	assert_int_equal(
		pv_mem_cmpxchg(e->part, PV_ACCESS_VTL2, pv_gpa(0x6000), 4, &e4, &d4, &swapped),
		PV_EINVAL);
	assert_int_equal(pv_mem_cmpxchg(e->part, PARA, pv_gpa(0x30000), 4, &e4, &d4, &swapped),
			 PV_EFAULT);
	assert_int_equal(
		pv_mem_cmpxchg(e->part, PARA, pv_gpa(UINT64_MAX - 1), 4, &e4, &d4, &swapped),
		PV_ERANGE);
	assert_int_equal(pv_mem_set_perm(e->part, 0, pv_gpa(0x6000), 1, PV_PERM_READ), PV_OK);
	assert_int_equal(
		pv_mem_cmpxchg(e->part, PV_ACCESS_VTL0, pv_gpa(0x6000), 4, &e4, &d4, &swapped),
		PV_EACCES);
	assert_int_equal(
		pv_mem_cmpxchg(e->part, PV_ACCESS_HOST, pv_gpa(0x6100), 4, &e4, &d4, &swapped),
		PV_EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_and_backing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_and_null, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_accessor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_of_address_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vtl_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmpxchg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ranges_listed_sorted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
