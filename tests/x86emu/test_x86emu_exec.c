/* SPDX-License-Identifier: MIT */
/* Unit tests of the x86 decoder and emulator paths the differential test
 * cannot reach natively: 16/32-bit modes, segmentation, paging, MMIO,
 * page-crossing fetches, REP batching, LOCK and refusal paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "x86emu/x86emu_fakemem.h"

static struct fakemem M;
static struct pv_x86emu_state S;
static struct pv_x86_fault F;

static int setup(void **state)
{
	(void)state;
	memset(&M, 0, sizeof(M));
	M.ram = calloc(1, FM_SIZE);
	memset(&S, 0, sizeof(S));
	memset(&F, 0, sizeof(F));
	return M.ram ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(M.ram);
	return 0;
}

static pv_err_t dec(const char *hex_bytes, size_t n, enum pv_x86_mode mode, struct pv_x86_insn *in)
{
	return pv_x86emu_decode((const uint8_t *)hex_bytes, n, mode, in);
}

#define DEC(mode, in, ...)                                  \
	({                                                  \
		static const uint8_t b_[] = {__VA_ARGS__};  \
		pv_x86emu_decode(b_, sizeof(b_), mode, in); \
	})

static void test_decode_16bit(void **state)
{
	(void)state;
	struct pv_x86_insn in;
	assert_int_equal(DEC(PV_X86_MODE_16, &in, 0x89, 0x40, 0x05), PV_OK); /* mov [bx+si+5], ax */
	assert_int_equal(in.op, PV_X86_OP_MOV);
	assert_int_equal(in.base, PV_RBX);
	assert_int_equal(in.index, PV_RSI);
	assert_int_equal(in.disp, 5);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.addrsize, 2);
	assert_int_equal(in.seg, PV_X86_SEG_DS);
	assert_int_equal(in.len, 3);
	assert_int_equal(DEC(PV_X86_MODE_16, &in, 0x8b, 0x46, 0xfe), PV_OK); /* mov ax, [bp-2] */
	assert_int_equal(in.base, PV_RBP);
	assert_int_equal(in.disp, -2);
	assert_int_equal(in.seg, PV_X86_SEG_SS);
	assert_int_equal(DEC(PV_X86_MODE_16, &in, 0x26, 0x8b, 0x36, 0x34, 0x12),
			 PV_OK); /* mov si, es:[0x1234] */
	assert_int_equal(in.base, PV_X86_REG_NONE);
	assert_int_equal(in.disp, 0x1234);
	assert_int_equal(in.seg, PV_X86_SEG_ES);
	assert_int_equal(DEC(PV_X86_MODE_16, &in, 0x66, 0xa1, 0x34, 0x12),
			 PV_OK); /* mov eax, [0x1234] */
	assert_int_equal(in.opsize, 4);
	assert_int_equal(in.disp, 0x1234);
	assert_int_equal(in.len, 4);
	/* 67 in 16-bit mode: 32-bit addressing with SIB */
	assert_int_equal(DEC(PV_X86_MODE_16, &in, 0x67, 0x89, 0x04, 0x8b),
			 PV_OK); /* mov [ebx+ecx*4], ax */
	assert_int_equal(in.addrsize, 4);
	assert_int_equal(in.base, PV_RBX);
	assert_int_equal(in.index, PV_RCX);
	assert_int_equal(in.scale, 4);
	/* 63 is ARPL outside 64-bit mode */
	assert_int_equal(DEC(PV_X86_MODE_16, &in, 0x63, 0x00), PV_ENOTSUP);
}

static void test_decode_32bit(void **state)
{
	(void)state;
	struct pv_x86_insn in;
	assert_int_equal(DEC(PV_X86_MODE_32, &in, 0x89, 0x05, 0x44, 0x33, 0x22, 0x11), PV_OK);
	assert_int_equal(in.base, PV_X86_REG_NONE); /* absolute, not RIP-relative */
	assert_int_equal(in.disp, 0x11223344);
	assert_int_equal(DEC(PV_X86_MODE_32, &in, 0x67, 0x89, 0x07), PV_OK); /* mov [bx], eax */
	assert_int_equal(in.addrsize, 2);
	assert_int_equal(in.base, PV_RBX);
	assert_int_equal(DEC(PV_X86_MODE_32, &in, 0x89, 0x44, 0x24, 0x08),
			 PV_OK); /* mov [esp+8], eax */
	assert_int_equal(in.base, PV_RSP);
	assert_int_equal(in.seg, PV_X86_SEG_SS);
	/* 0x82 is an alias of 0x80 outside 64-bit mode */
	assert_int_equal(DEC(PV_X86_MODE_32, &in, 0x82, 0x00, 0x01), PV_OK);
	assert_int_equal(in.op, PV_X86_OP_ADD);
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x82, 0x00, 0x01), PV_ENOTSUP);
	/* 0x40 is INC eax in 32-bit mode, not REX: unsupported */
	assert_int_equal(DEC(PV_X86_MODE_32, &in, 0x48, 0x89, 0x00), PV_ENOTSUP);
}

static void test_decode_64bit(void **state)
{
	(void)state;
	struct pv_x86_insn in;
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x48, 0x8b, 0x05, 0x10, 0, 0, 0), PV_OK);
	assert_int_equal(in.base, PV_X86_REG_RIP);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(in.len, 7);
	/* REX.B does not turn mod=00 rm=101 into [r13] */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x41, 0x8b, 0x05, 0, 0, 0, 0), PV_OK);
	assert_int_equal(in.base, PV_X86_REG_RIP);
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x41, 0x8b, 0x45, 0x00), PV_OK);
	assert_int_equal(in.base, PV_R13);
	/* SIB: r12 base, no index; r12 as index with REX.X */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x43, 0x89, 0x04, 0xa4), PV_OK);
	assert_int_equal(in.base, PV_R12);
	assert_int_equal(in.index, PV_R12);
	assert_int_equal(in.scale, 4);
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x41, 0x89, 0x04, 0x24), PV_OK);
	assert_int_equal(in.base, PV_R12);
	assert_int_equal(in.index, PV_X86_REG_NONE);
	/* REX then a legacy prefix: the REX is ignored */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x48, 0x66, 0x89, 0x08), PV_OK);
	assert_int_equal(in.rex, 0);
	assert_int_equal(in.opsize, 2);
	/* moffs is 8 bytes, 4 with 67 */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8), PV_OK);
	assert_int_equal((uint64_t)in.disp, 0x0807060504030201ull);
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x67, 0xa1, 1, 2, 3, 4), PV_OK);
	assert_int_equal(in.len, 6);
	/* DS override is ignored in 64-bit mode, FS is kept */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x3e, 0x64, 0x89, 0x08), PV_OK);
	assert_int_equal(in.seg, PV_X86_SEG_FS);
	/* LOCK rules */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xf0, 0x01, 0x08), PV_OK);
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xf0, 0x89, 0x08), PV_ENOTSUP); /* lock mov */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xf0, 0x01, 0xc8),
			 PV_ENOTSUP); /* register destination */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xf0, 0x39, 0x08), PV_ENOTSUP); /* lock cmp */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xf0, 0x0f, 0xa3, 0x08),
			 PV_ENOTSUP); /* lock bt */
	/* truncation, too long, not handled */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x48, 0x8b), PV_ERANGE);
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xc7, 0x00, 1, 2), PV_ERANGE);
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
			     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x89, 0x08),
			 PV_EBADMSG);
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x0f, 0x0b), PV_ENOTSUP);             /* UD2 */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xc5, 0xfa, 0x6f, 0x00), PV_ENOTSUP); /* VEX */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xf7, 0x20), PV_ENOTSUP);             /* MUL */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x0f, 0xc3, 0xc0), PV_ENOTSUP); /* MOVNTI reg */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x0f, 0x6f, 0x00), PV_ENOTSUP); /* MMX movq */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0xf3, 0x0f, 0xb8, 0x00), PV_ENOTSUP); /* POPCNT */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x0f, 0xba, 0x00, 0x01),
			 PV_ENOTSUP); /* 0F BA /0..3 */
	/* bad arguments */
	assert_int_equal(pv_x86emu_decode(NULL, 1, PV_X86_MODE_64, &in), PV_EINVAL);
	assert_int_equal(dec("\x89\x08", 2, (enum pv_x86_mode)7, &in), PV_EINVAL);
}

/* -------------------------------------------------------------- execution */

static void real_mode_state(void)
{
	memset(&S, 0, sizeof(S));
	struct pv_segment rs = {.limit = 0xffff, .present = 1, .s = 1, .type = 3};
	S.sregs.cs = rs;
	S.sregs.ds = rs;
	S.sregs.es = rs;
	S.sregs.ss = rs;
	S.sregs.cs.type = 0xb;
}

static pv_err_t exec_bytes(const uint8_t *b, size_t n)
{
	struct pv_x86_insn in;
	pv_err_t e = pv_x86emu_decode(b, n, pv_x86emu_mode(&S), &in);
	if (e != PV_OK)
		return e;
	return pv_x86emu_execute(&S, &in, &fm_ops, &M, &F);
}

#define EXEC(...)                                          \
	({                                                 \
		static const uint8_t b_[] = {__VA_ARGS__}; \
		exec_bytes(b_, sizeof(b_));                \
	})

static void test_real_mode(void **state)
{
	(void)state;
	real_mode_state();
	S.sregs.ds.base = 0x10000;
	S.regs.gpr[PV_RBX] = 0xffff;
	S.regs.gpr[PV_RSI] = 3;
	S.regs.gpr[PV_RAX] = 0x12345678;
	S.regs.rip = 0xfffe;
	assert_int_equal(pv_x86emu_mode(&S), PV_X86_MODE_16);
	assert_int_equal(EXEC(0x89, 0x40, 0x02), PV_OK); /* mov [bx+si+2], ax: offset wraps to 4 */
	assert_int_equal(M.last_write_gpa, 0x10004);
	assert_int_equal(M.last_write_len, 2);
	assert_int_equal(fm_get32(&M, 0x10004) & 0xffff, 0x5678);
	assert_int_equal(S.regs.rip, 0x0001); /* IP wraps at 64 KiB */
	/* offset beyond a 64 KiB limit faults */
	S.regs.gpr[PV_RBX] = 0xffff;
	assert_int_equal(EXEC(0x67, 0x89, 0x03),
			 PV_EFAULTINJ); /* mov [ebx], ax spans 0xffff..0x10000 */
	assert_int_equal(F.vector, PV_X86_VEC_GP);
}

static void prot32_state(void)
{
	memset(&S, 0, sizeof(S));
	S.sregs.cr0 = 1;
	struct pv_segment flat = {
		.limit = 0xffffffff, .present = 1, .s = 1, .type = 3, .db = 1, .g = 1};
	S.sregs.cs = flat;
	S.sregs.cs.type = 0xb;
	S.sregs.ds = flat;
	S.sregs.es = flat;
	S.sregs.ss = flat;
	S.sregs.fs = flat;
}

static void test_segments_32bit(void **state)
{
	(void)state;
	prot32_state();
	assert_int_equal(pv_x86emu_mode(&S), PV_X86_MODE_32);
	S.sregs.ds.base = 0x100000;
	S.sregs.ds.limit = 0xfff;
	S.regs.gpr[PV_RAX] = 0xffc;
	S.regs.gpr[PV_RCX] = 0xdeadbeef;
	assert_int_equal(EXEC(0x89, 0x08), PV_OK); /* mov [eax], ecx */
	assert_int_equal(fm_get32(&M, 0x100ffc), 0xdeadbeef);
	S.regs.gpr[PV_RAX] = 0xffe;
	assert_int_equal(EXEC(0x89, 0x08), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_GP);
	assert_true(F.has_error_code);
	assert_int_equal(F.error_code, 0);
	/* EBP-based addressing uses SS: #SS */
	S.sregs.ss.limit = 0xff;
	S.regs.gpr[PV_RBP] = 0x100;
	assert_int_equal(EXEC(0x89, 0x4d, 0x00), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_SS);
	/* read-only data segment */
	S.sregs.ds.type = 1;
	S.regs.gpr[PV_RAX] = 0x10;
	assert_int_equal(EXEC(0x89, 0x08), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_GP);
	assert_int_equal(EXEC(0x8b, 0x08), PV_OK); /* reads are fine */
	/* expand-down: valid offsets are limit+1 .. 4 GiB-1 */
	S.sregs.ds.type = 7;
	S.sregs.ds.limit = 0xfff;
	S.sregs.ds.base = 0;
	S.regs.gpr[PV_RAX] = 0x800;
	assert_int_equal(EXEC(0x89, 0x08), PV_EFAULTINJ);
	S.regs.gpr[PV_RAX] = 0x2000;
	assert_int_equal(EXEC(0x89, 0x08), PV_OK);
	/* unusable segment */
	S.sregs.es.unusable = 1;
	S.regs.gpr[PV_RAX] = 0x2000;
	assert_int_equal(EXEC(0x26, 0x89, 0x08), PV_EFAULTINJ);
	/* FS base applies outside 64-bit mode too */
	S.sregs.fs.base = 0x200000;
	assert_int_equal(EXEC(0x64, 0x89, 0x08), PV_OK);
	assert_int_equal(M.last_write_gpa, 0x202000);
	/* string: ES destination cannot be overridden */
	S.sregs.es.unusable = 0;
	S.sregs.es.base = 0x300000;
	S.regs.gpr[PV_RDI] = 0x10;
	S.regs.gpr[PV_RAX] = 0x11223344;
	assert_int_equal(EXEC(0x64, 0xab), PV_OK); /* fs stosd still writes ES:EDI */
	assert_int_equal(fm_get32(&M, 0x300010), 0x11223344);
	assert_int_equal(S.regs.gpr[PV_RDI], 0x14);
}

/* Long mode with 4-level paging; identity map the first 4 MiB with 4 KiB pages. */
#define PML4 0x1000ull
#define PDPT 0x2000ull
#define PD 0x3000ull
#define PT 0x4000ull /* two page tables: 0x4000, 0x5000 */

static void lm_paging_state(void)
{
	memset(&S, 0, sizeof(S));
	S.sregs.cr0 = 1ull | (1ull << 31) | (1ull << 16);
	S.sregs.cr4 = (1ull << 5) | (1ull << 9);
	S.sregs.efer = (1ull << 8) | (1ull << 10) | (1ull << 11);
	S.sregs.cr3 = PML4;
	S.sregs.cs = (struct pv_segment){.l = 1, .present = 1, .s = 1, .type = 0xb};
	S.sregs.ss = (struct pv_segment){.present = 1, .s = 1, .type = 3};
	fm_put64(&M, PML4, PDPT | 7);
	fm_put64(&M, PDPT, PD | 7);
	fm_put64(&M, PD, PT | 7);
	fm_put64(&M, PD + 8, (PT + 0x1000) | 7);
	for (uint64_t i = 0; i < 1024; i++)
		fm_put64(&M, PT + i * 8, (i << 12) | 3);
}

static void map_page(uint64_t va, uint64_t pa, uint64_t flags)
{
	assert_true(va < 0x400000);
	fm_put64(&M, PT + (va >> 12) * 8, pa | flags);
}

static void test_step_mmio_cross_page_fetch(void **state)
{
	(void)state;
	lm_paging_state();
	M.mmio_base = 0xf0000000ull;
	/* mov [rax+0x10], rcx: 4 bytes at the end of VA page 0x200000, 0 bytes... */
	static const uint8_t insn[] = {0x48, 0x89, 0x88, 0x10, 0x00, 0x00, 0x00};
	map_page(0x200000, 0x10000, 3);
	map_page(0x201000, 0x30000, 3); /* not physically contiguous */
	memcpy(M.ram + 0x10ffc, insn, 4);
	memcpy(M.ram + 0x30000, insn + 4, 3);
	map_page(0x300000, 0xfed00000ull, 3); /* MMIO page */
	S.regs.rip = 0x200ffc;
	S.regs.gpr[PV_RAX] = 0x300100;
	S.regs.gpr[PV_RCX] = 0x1122334455667788ull;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_OK);
	assert_int_equal(S.regs.rip, 0x201003);
	assert_int_equal(M.last_write_gpa, 0xfed00110ull);
	assert_int_equal(M.last_write_len, 8);
	assert_int_equal(M.mmio_log_len, 8);
	uint64_t v;
	memcpy(&v, M.mmio_log, 8);
	assert_int_equal(v, 0x1122334455667788ull);
	/* MMIO load: mov ecx, [rax] (zero-extends) */
	static const uint8_t ld[] = {0x8b, 0x08};
	memcpy(M.ram + 0x10ffc, ld, 2);
	S.regs.rip = 0x200ffc;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_OK);
	assert_int_equal(S.regs.gpr[PV_RCX], 0xababababull);
	/* second page of the fetch not present: #PF on that page, I bit (NXE) */
	memcpy(M.ram + 0x10ffc, insn, 4);
	map_page(0x201000, 0x30000, 0);
	S.regs.rip = 0x200ffc;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_PF);
	assert_int_equal(F.address, 0x201000);
	assert_int_equal(F.error_code, PV_X86_PF_I);
	assert_int_equal(S.regs.rip, 0x200ffc);
	/* a short instruction at the end of a page does not touch the next page */
	memcpy(M.ram + 0x10ffe, ld, 2);
	S.regs.rip = 0x200ffe;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_OK);
	/* data #PF on the MMIO page for a user-mode access: error code P|W|U */
	S.sregs.ss.dpl = 3;
	map_page(0x200000, 0x10000, 7);
	map_page(0x201000, 0x30000, 7);
	memcpy(M.ram + 0x10ffc, insn, 4);
	S.regs.rip = 0x200ffc;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_EFAULTINJ);
	assert_int_equal(F.error_code, PV_X86_PF_P | PV_X86_PF_W | PV_X86_PF_U);
	assert_int_equal(F.address, 0x300110);
}

static void test_split_write_no_partial(void **state)
{
	(void)state;
	lm_paging_state();
	map_page(0x101000, 0x101000, 1); /* read-only */
	memset(M.ram + 0x100ff0, 0x5a, 0x20);
	S.regs.gpr[PV_RAX] = 0x100ffe;
	S.regs.gpr[PV_RCX] = 0;
	assert_int_equal(EXEC(0x89, 0x08), PV_EFAULTINJ); /* mov [rax], ecx */
	assert_int_equal(F.vector, PV_X86_VEC_PF);
	assert_int_equal(F.address, 0x101000);
	assert_int_equal(M.ram[0x100ffe], 0x5a); /* nothing written to the first page */
	assert_int_equal(M.ram[0x100fff], 0x5a);
}

static void test_non_canonical(void **state)
{
	(void)state;
	lm_paging_state();
	S.regs.gpr[PV_RAX] = 0x0000800000000000ull;
	assert_int_equal(EXEC(0x89, 0x08), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_GP);
	S.regs.gpr[PV_RBP] = 0x0000800000000000ull;
	assert_int_equal(EXEC(0x89, 0x4d, 0x00), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_SS);
	/* an access whose last byte crosses the canonical boundary */
	S.regs.gpr[PV_RAX] = 0x00007ffffffffffeull;
	assert_int_equal(EXEC(0x89, 0x08), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_GP);
}

static void test_rep_batches(void **state)
{
	(void)state;
	lm_paging_state();
	const unsigned n = 3000;
	for (unsigned i = 0; i < n; i++)
		M.ram[0x100000 + i] = (uint8_t)(i * 7);
	static const uint8_t movsb[] = {0xf3, 0xa4};
	memcpy(M.ram + 0x8000, movsb, 2);
	S.regs.rip = 0x8000;
	S.regs.gpr[PV_RSI] = 0x100000;
	S.regs.gpr[PV_RDI] = 0x200000;
	S.regs.gpr[PV_RCX] = n;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_OK);
	assert_int_equal(S.regs.rip, 0x8000); /* not done yet */
	assert_int_equal(S.regs.gpr[PV_RCX], n - PV_X86EMU_REP_BATCH);
	unsigned calls = 1;
	while (S.regs.rip == 0x8000 && calls < 10) {
		assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_OK);
		calls++;
	}
	assert_int_equal(calls, 3);
	assert_int_equal(S.regs.rip, 0x8002);
	assert_int_equal(S.regs.gpr[PV_RCX], 0);
	assert_int_equal(S.regs.gpr[PV_RDI], 0x200000 + n);
	assert_memory_equal(M.ram + 0x100000, M.ram + 0x200000, n);
	/* a fault in the middle keeps the completed iterations, RIP stays */
	map_page(0x201000, 0x201000, 0);
	S.regs.rip = 0x8000;
	S.regs.gpr[PV_RSI] = 0x100000;
	S.regs.gpr[PV_RDI] = 0x200ff0;
	S.regs.gpr[PV_RCX] = 100;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_EFAULTINJ);
	assert_int_equal(F.address, 0x201000);
	assert_int_equal(S.regs.gpr[PV_RCX], 100 - 16);
	assert_int_equal(S.regs.gpr[PV_RDI], 0x201000);
	assert_int_equal(S.regs.rip, 0x8000);
	/* REP with a zero count does nothing but advance RIP */
	S.regs.gpr[PV_RCX] = 0;
	unsigned w = M.writes;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_OK);
	assert_int_equal(S.regs.rip, 0x8002);
	assert_int_equal(M.writes, w);
}

static void test_lock_uses_cmpxchg(void **state)
{
	(void)state;
	lm_paging_state();
	fm_put64(&M, 0x100000, 41);
	S.regs.gpr[PV_RAX] = 0x100000;
	S.regs.gpr[PV_RCX] = 1;
	unsigned c = M.cmpxchgs, w = M.writes;
	M.fail_cmpxchg = 1;                                    /* another vCPU raced once */
	assert_int_equal(EXEC(0xf0, 0x48, 0x01, 0x08), PV_OK); /* lock add [rax], rcx */
	assert_int_equal(fm_get64(&M, 0x100000), 42);
	assert_true(M.cmpxchgs >= c + 2);
	assert_int_equal(M.writes, w); /* no plain write */
	/* xchg with memory is implicitly locked */
	c = M.cmpxchgs;
	assert_int_equal(EXEC(0x48, 0x87, 0x08), PV_OK);
	assert_int_equal(fm_get64(&M, 0x100000), 1);
	assert_int_equal(S.regs.gpr[PV_RCX], 42);
	assert_true(M.cmpxchgs > c);
	/* a permanently failing cmpxchg gives PV_EBUSY */
	M.fail_cmpxchg = 100000;
	assert_int_equal(EXEC(0xf0, 0x48, 0x01, 0x08), PV_EBUSY);
	M.fail_cmpxchg = 0;
}

static void test_refusals(void **state)
{
	(void)state;
	lm_paging_state();
	static const uint8_t ud2[] = {0x0f, 0x0b};
	memcpy(M.ram + 0x8000, ud2, 2);
	S.regs.rip = 0x8000;
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_ENOTSUP);
	assert_int_equal(F.vector, PV_X86_VEC_UD);
	assert_int_equal(S.regs.rip, 0x8000);
	memset(M.ram + 0x8000, 0x66, 16);
	assert_int_equal(pv_x86emu_step(&S, &fm_ops, &M, &F), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_GP);
	/* SSE: CR0.TS -> #NM, no CR4.OSFXSR -> #UD */
	S.regs.gpr[PV_RAX] = 0x100000;
	S.sregs.cr0 |= 1ull << 3;
	assert_int_equal(EXEC(0xf3, 0x0f, 0x6f, 0x00), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_NM);
	S.sregs.cr0 &= ~(1ull << 3);
	S.sregs.cr4 &= ~(1ull << 9);
	assert_int_equal(EXEC(0xf3, 0x0f, 0x6f, 0x00), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_UD);
	S.sregs.cr4 |= 1ull << 9;
	/* MOVDQA on a misaligned address: #GP(0) */
	S.regs.gpr[PV_RAX] = 0x100008;
	assert_int_equal(EXEC(0x66, 0x0f, 0x6f, 0x00), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_GP);
	/* instruction decoded for another mode */
	struct pv_x86_insn in;
	assert_int_equal(DEC(PV_X86_MODE_32, &in, 0x89, 0x08), PV_OK);
	assert_int_equal(pv_x86emu_execute(&S, &in, &fm_ops, &M, &F), PV_EINVAL);
	assert_int_equal(pv_x86emu_execute(NULL, &in, &fm_ops, &M, &F), PV_EINVAL);
	/* hand-made instructions with out-of-range fields are rejected, not trusted */
	assert_int_equal(DEC(PV_X86_MODE_64, &in, 0x01, 0x08), PV_OK);
	struct pv_x86_insn bad = in;
	bad.opsize = 16;
	assert_int_equal(pv_x86emu_execute(&S, &bad, &fm_ops, &M, &F), PV_EINVAL);
	bad = in;
	bad.base = 16;
	assert_int_equal(pv_x86emu_execute(&S, &bad, &fm_ops, &M, &F), PV_EINVAL);
	bad = in;
	bad.op = PV_X86_OP_COUNT;
	assert_int_equal(pv_x86emu_execute(&S, &bad, &fm_ops, &M, &F), PV_EINVAL);
	bad = in;
	bad.scale = 3;
	assert_int_equal(pv_x86emu_execute(&S, &bad, &fm_ops, &M, &F), PV_EINVAL);
	assert_int_equal(pv_x86emu_step(&S, NULL, &M, &F), PV_EINVAL);
}

static void test_sse_mmio(void **state)
{
	(void)state;
	lm_paging_state();
	M.mmio_base = 0xf0000000ull;
	map_page(0x300000, 0xfed00000ull, 3);
	for (unsigned i = 0; i < 16; i++)
		S.xmm[3][i] = (uint8_t)(0xc0 + i);
	S.regs.gpr[PV_RDX] = 0x300040;
	assert_int_equal(EXEC(0x66, 0x0f, 0x7f, 0x1a), PV_OK); /* movdqa [rdx], xmm3 */
	assert_int_equal(M.last_write_len, 16);
	assert_memory_equal(M.mmio_log, S.xmm[3], 16);
	assert_int_equal(EXEC(0x66, 0x0f, 0xd6, 0x1a), PV_OK); /* movq [rdx], xmm3 */
	assert_int_equal(M.last_write_len, 8);
	assert_int_equal(EXEC(0xf3, 0x0f, 0x7e, 0x22), PV_OK); /* movq xmm4, [rdx] */
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(S.xmm[4][i], 0xab);
	for (unsigned i = 8; i < 16; i++)
		assert_int_equal(S.xmm[4][i], 0);
	assert_int_equal(EXEC(0x66, 0x48, 0x0f, 0x7e, 0x1a),
			 PV_OK); /* movq [rdx], xmm3 (7E form) */
	assert_int_equal(M.last_write_len, 8);
}

static void test_step_bytes(void **state)
{
	(void)state;
	lm_paging_state();
	static const uint8_t ud2[] = {0x0f, 0x0b};
	static const uint8_t store[] = {0x89, 0x08}; /* mov [rax], ecx */
	memcpy(M.ram + 0x8000, ud2, 2); /* memory at RIP is not what the exit reported */
	S.regs.rip = 0x8000;
	S.regs.gpr[PV_RAX] = 0x100000;
	S.regs.gpr[PV_RCX] = 0xfeedf00d;
	assert_int_equal(pv_x86emu_step_bytes(&S, store, sizeof(store), &fm_ops, &M, &F), PV_OK);
	assert_int_equal(fm_get32(&M, 0x100000), 0xfeedf00d);
	assert_int_equal(S.regs.rip, 0x8002);
	/* too few bytes: falls back to fetching (and finds UD2 there) */
	S.regs.rip = 0x8000;
	assert_int_equal(pv_x86emu_step_bytes(&S, store, 1, &fm_ops, &M, &F), PV_ENOTSUP);
	assert_int_equal(F.vector, PV_X86_VEC_UD);
	assert_int_equal(pv_x86emu_step_bytes(&S, ud2, 2, &fm_ops, &M, &F), PV_ENOTSUP);
	assert_int_equal(pv_x86emu_step_bytes(&S, NULL, 2, &fm_ops, &M, &F), PV_EINVAL);
	static const uint8_t toolong[16] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x89, 0x08};
	assert_int_equal(pv_x86emu_step_bytes(&S, toolong, 16, &fm_ops, &M, &F), PV_EFAULTINJ);
	assert_int_equal(F.vector, PV_X86_VEC_GP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decode_16bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_32bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_64bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segments_32bit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_mmio_cross_page_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_write_no_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_canonical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rep_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_uses_cmpxchg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sse_mmio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_bytes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
