/* SPDX-License-Identifier: MIT */
/*
 * Emulation-mode helpers of the kvm port without KVM: pv_kvm_rewind_store()
 * on a fake guest (64 KiB of RAM, identity-mapped 2 MiB page; GPAs above
 * the RAM are "MMIO" the rewind may not read), and the XMM <-> kvm_fpu
 * conversion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kvm_exit.h"

#define RAM_SIZE 0x10000u
#define PML4 0x8000u
#define PDPT 0x9000u
#define PD 0xa000u
#define CODE 0x1000u
#define MMIO 0x100000ull /* inside the mapped page, outside RAM */

static uint8_t ram[RAM_SIZE];
static unsigned ram_reads;

static pv_err_t read_ram(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	(void)ctx;
	ram_reads++;
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(buf, ram + gpa, len);
	return PV_OK;
}

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

/* 64-bit long mode, CS.L, paging with one 2 MiB identity page (A/D set). */
static void long_mode(struct pv_x86emu_state *st)
{
	memset(ram, 0, sizeof(ram));
	put64(PML4, PDPT | 0x67);
	put64(PDPT, PD | 0x67);
	put64(PD, 0x0 | 0xe7); /* P RW US A D PS */
	memset(st, 0, sizeof(*st));
	st->sregs.cr0 = 0x80050033ull;
	st->sregs.cr3 = PML4;
	st->sregs.cr4 = 0x620;
	st->sregs.efer = 0x500;
	st->sregs.cs = (struct pv_segment){.limit = 0xffffffff,
					   .selector = 8,
					   .type = 11,
					   .present = 1,
					   .s = 1,
					   .l = 1,
					   .g = 1};
	st->sregs.ds = (struct pv_segment){.limit = 0xffffffff,
					   .selector = 0x10,
					   .type = 3,
					   .present = 1,
					   .s = 1,
					   .db = 1,
					   .g = 1};
	st->sregs.es = st->sregs.ss = st->sregs.fs = st->sregs.gs = st->sregs.ds;
	st->regs.rflags = 0x2;
	st->regs.gpr[PV_RSP] = 0x7000;
}

static void code(uint64_t at, const uint8_t *bytes, size_t n)
{
	memcpy(ram + at, bytes, n);
}

static pv_err_t rewind(const struct pv_x86emu_state *post, uint64_t gpa, unsigned len,
		       uint64_t data, struct pv_x86emu_state *pre)
{
	uint8_t d[8];
	memcpy(d, &data, 8);
	return pv_kvm_rewind_store(post, gpa, len, d, read_ram, NULL, pre);
}

static void test_plain_store(void **state)
{
	(void)state;
	struct pv_x86emu_state post, pre;
	long_mode(&post);
	/* nop; mov %eax, 0x10(%rbx) -- KVM retired the store: RIP after it */
	static const uint8_t c[] = {0x90, 0x89, 0x43, 0x10, 0x90};
	code(CODE, c, sizeof(c));
	post.regs.rip = CODE + 4;
	post.regs.gpr[PV_RBX] = MMIO;
	post.regs.gpr[PV_RAX] = 0x11223344;
	assert_int_equal(rewind(&post, MMIO + 0x10, 4, 0x11223344, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, CODE + 1);
	assert_int_equal(pre.regs.gpr[PV_RAX], 0x11223344);
	assert_int_equal(pre.regs.gpr[PV_RBX], MMIO);
	/* Wrong data, address or size: nothing explains the write. */
	assert_int_equal(rewind(&post, MMIO + 0x10, 4, 0x11223345, &pre), PV_ENOENT);
	assert_int_equal(rewind(&post, MMIO + 0x14, 4, 0x11223344, &pre), PV_ENOENT);
	assert_int_equal(rewind(&post, MMIO + 0x10, 2, 0x3344, &pre), PV_ENOENT);
	/* The guest's RAM was only read. */
	assert_int_equal(ram[CODE + 1], 0x89);
}

static void test_rip_relative_and_imm(void **state)
{
	(void)state;
	struct pv_x86emu_state post, pre;
	long_mode(&post);
	/* movl $0x600dcafe, disp32(%rip) with target MMIO + 0x20 */
	uint8_t c[10] = {0xc7, 0x05, 0, 0, 0, 0, 0xfe, 0xca, 0x0d, 0x60};
	uint32_t disp = (uint32_t)(MMIO + 0x20 - (CODE + sizeof(c)));
	memcpy(c + 2, &disp, 4);
	code(CODE, c, sizeof(c));
	post.regs.rip = CODE + sizeof(c);
	assert_int_equal(rewind(&post, MMIO + 0x20, 4, 0x600dcafe, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, CODE);
	/* 8-byte store with REX.W and SIB: mov %rdx, -8(%rbx,%rdi,8) */
	static const uint8_t c2[] = {0x48, 0x89, 0x54, 0xfb, 0xf8};
	code(0x2000, c2, sizeof(c2));
	post.regs.rip = 0x2000 + sizeof(c2);
	post.regs.gpr[PV_RBX] = MMIO;
	post.regs.gpr[PV_RDI] = 0x11;
	post.regs.gpr[PV_RDX] = 0x0123456789abcdefull;
	assert_int_equal(rewind(&post, MMIO + 0x80, 8, 0x0123456789abcdefull, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, 0x2000);
}

static void test_rep_stos(void **state)
{
	(void)state;
	struct pv_x86emu_state post, pre;
	long_mode(&post);
	static const uint8_t c[] = {0xf3, 0xab}; /* rep stosl */
	code(CODE, c, sizeof(c));
	post.regs.gpr[PV_RAX] = 0xabcdabcd;
	/* First of three iterations retired: RIP stays, RCX 2, RDI stepped. */
	post.regs.rip = CODE;
	post.regs.gpr[PV_RCX] = 2;
	post.regs.gpr[PV_RDI] = MMIO + 4;
	assert_int_equal(rewind(&post, MMIO, 4, 0xabcdabcd, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, CODE);
	assert_int_equal(pre.regs.gpr[PV_RCX], 3);
	assert_int_equal(pre.regs.gpr[PV_RDI], MMIO);
	/* The last iteration: RIP after it, RCX 0. */
	post.regs.rip = CODE + 2;
	post.regs.gpr[PV_RCX] = 0;
	post.regs.gpr[PV_RDI] = MMIO + 12;
	assert_int_equal(rewind(&post, MMIO + 8, 4, 0xabcdabcd, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, CODE);
	assert_int_equal(pre.regs.gpr[PV_RCX], 1);
	assert_int_equal(pre.regs.gpr[PV_RDI], MMIO + 8);
	/* RIP after a REP with RCX left is impossible for the REP: only the
	 * plain STOSL at CODE + 1 explains it (RCX untouched). */
	post.regs.gpr[PV_RCX] = 1;
	assert_int_equal(rewind(&post, MMIO + 8, 4, 0xabcdabcd, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, CODE + 1);
	assert_int_equal(pre.regs.gpr[PV_RCX], 1);
	/* Without the F3 byte in front, the last iteration is still a REP. */
	ram[CODE - 1] = 0x90;
	post.regs.gpr[PV_RCX] = 0;
	assert_int_equal(rewind(&post, MMIO + 8, 4, 0xabcdabcd, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, CODE);
}

static void test_movs_backwards(void **state)
{
	(void)state;
	struct pv_x86emu_state post, pre;
	long_mode(&post);
	static const uint8_t c[] = {0x66, 0xa5}; /* movsw, DF = 1 */
	code(CODE, c, sizeof(c));
	ram[0x3000] = 0x66;
	ram[0x3001] = 0x55;
	post.regs.rflags = 0x2 | PV_RFLAGS_DF;
	post.regs.rip = CODE + 2;
	post.regs.gpr[PV_RSI] = 0x3000 - 2;
	post.regs.gpr[PV_RDI] = MMIO + 0x40 - 2;
	assert_int_equal(rewind(&post, MMIO + 0x40, 2, 0x5566, &pre), PV_OK);
	assert_int_equal(pre.regs.gpr[PV_RSI], 0x3000);
	assert_int_equal(pre.regs.gpr[PV_RDI], MMIO + 0x40);
	assert_int_equal(pre.regs.rip, CODE);
}

static void test_sse_store(void **state)
{
	(void)state;
	struct pv_x86emu_state post, pre;
	long_mode(&post);
	/* movdqu %xmm0, 0x200(%rax): F3 is a mandatory prefix, not REP */
	static const uint8_t c[] = {0xf3, 0x0f, 0x7f, 0x80, 0x00, 0x02, 0x00, 0x00};
	code(CODE, c, sizeof(c));
	for (unsigned i = 0; i < 16; i++)
		post.xmm[0][i] = (uint8_t)(i * 0x11);
	post.regs.rip = CODE + sizeof(c);
	post.regs.gpr[PV_RAX] = MMIO;
	post.regs.gpr[PV_RCX] = 0x1234; /* must survive */
	/* KVM reports the first 8 bytes. */
	assert_int_equal(rewind(&post, MMIO + 0x200, 8, 0x7766554433221100ull, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, CODE);
	assert_int_equal(pre.regs.gpr[PV_RCX], 0x1234);
}

static void test_not_explained(void **state)
{
	(void)state;
	struct pv_x86emu_state post, pre;
	long_mode(&post);
	/* push (%rbx) with the stack in MMIO: RSP changed, the library has no PUSH. */
	static const uint8_t c[] = {0xff, 0x33};
	code(CODE, c, sizeof(c));
	post.regs.rip = CODE + 2;
	post.regs.gpr[PV_RSP] = MMIO + 0xff8;
	post.regs.gpr[PV_RBX] = 0x3000;
	assert_int_equal(rewind(&post, MMIO + 0xff8, 8, 0, &pre), PV_ENOENT);
	/* A load before RIP does not explain a write. */
	static const uint8_t c2[] = {0x8b, 0x43, 0x10}; /* mov 0x10(%rbx), %eax */
	code(CODE, c2, sizeof(c2));
	post.regs.rip = CODE + 3;
	post.regs.gpr[PV_RBX] = MMIO;
	assert_int_equal(rewind(&post, MMIO + 0x10, 4, 0, &pre), PV_ENOENT);
	/* Code that cannot be fetched (RIP in MMIO) or RIP near 0. */
	post.regs.rip = MMIO + 0x800;
	assert_int_equal(rewind(&post, MMIO + 0x10, 4, 0, &pre), PV_ENOENT);
	post.regs.rip = 2;
	assert_int_equal(rewind(&post, MMIO + 0x10, 4, 0, &pre), PV_ENOENT);
	/* Bad arguments. */
	uint8_t d[8] = {0};
	assert_int_equal(pv_kvm_rewind_store(NULL, MMIO, 4, d, read_ram, NULL, &pre), PV_EINVAL);
	assert_int_equal(pv_kvm_rewind_store(&post, MMIO, 0, d, read_ram, NULL, &pre), PV_EINVAL);
	assert_int_equal(pv_kvm_rewind_store(&post, MMIO, 9, d, read_ram, NULL, &pre), PV_EINVAL);
	assert_int_equal(pv_kvm_rewind_store(&post, MMIO, 4, d, NULL, NULL, &pre), PV_EINVAL);
}

static void test_protected_mode_no_paging(void **state)
{
	(void)state;
	struct pv_x86emu_state post, pre;
	memset(ram, 0, sizeof(ram));
	memset(&post, 0, sizeof(post));
	post.sregs.cr0 = 0x11; /* PE, no paging */
	post.sregs.cs = (struct pv_segment){.limit = 0xffffffff,
					    .selector = 8,
					    .type = 11,
					    .present = 1,
					    .s = 1,
					    .db = 1,
					    .g = 1};
	post.sregs.ds = (struct pv_segment){.limit = 0xffffffff,
					    .selector = 0x10,
					    .type = 3,
					    .present = 1,
					    .s = 1,
					    .db = 1,
					    .g = 1};
	post.sregs.es = post.sregs.ss = post.sregs.ds;
	post.regs.rflags = 0x2;
	/* 16-bit operand: mov %ax, (%ebx) = 66 89 03 */
	static const uint8_t c[] = {0x66, 0x89, 0x03};
	code(CODE, c, sizeof(c));
	post.regs.rip = CODE + 3;
	post.regs.gpr[PV_RBX] = MMIO;
	post.regs.gpr[PV_RAX] = 0xbeef;
	assert_int_equal(rewind(&post, MMIO, 2, 0xbeef, &pre), PV_OK);
	assert_int_equal(pre.regs.rip, CODE); /* not CODE + 1 (89 03 alone stores 4 bytes) */
}

static void test_decode_at(void **state)
{
	(void)state;
	struct pv_x86emu_state st;
	struct pv_x86_insn in;
	long_mode(&st);
	/* rep movsb at the last byte of RAM's first page: crosses into the next page */
	ram[0x0fff] = 0xf3;
	ram[0x1000] = 0xa4;
	st.regs.rip = 0x0fff;
	assert_int_equal(pv_kvm_decode_at(&st, read_ram, NULL, &in), PV_OK);
	assert_int_equal(in.op, PV_X86_OP_MOVS);
	assert_int_equal(in.len, 2);
	/* Code in "MMIO" cannot be fetched; bytes cut short by unfetchable memory. */
	st.regs.rip = MMIO;
	assert_int_equal(pv_kvm_decode_at(&st, read_ram, NULL, &in), PV_EFAULT);
	ram[RAM_SIZE - 1] = 0x8b; /* mov r32, r/m32 needs a ModRM byte beyond RAM */
	st.regs.rip = RAM_SIZE - 1;
	assert_int_equal(pv_kvm_decode_at(&st, read_ram, NULL, &in), PV_ERANGE);
	assert_int_equal(pv_kvm_decode_at(NULL, read_ram, NULL, &in), PV_EINVAL);
}

static void test_xmm_fpu(void **state)
{
	(void)state;
	struct kvm_fpu fpu;
	uint8_t x[16][16], y[16][16];
	memset(&fpu, 0x5a, sizeof(fpu));
	for (unsigned i = 0; i < 16; i++)
		for (unsigned j = 0; j < 16; j++)
			x[i][j] = (uint8_t)(i * 16 + j);
	pv_kvm_xmm_to_fpu((const uint8_t(*)[16])x, &fpu);
	assert_memory_equal(fpu.xmm, x, sizeof(x));
	assert_int_equal(fpu.mxcsr, 0x5a5a5a5au); /* the rest is untouched */
	assert_int_equal(fpu.fcw, 0x5a5a);
	pv_kvm_xmm_from_fpu(&fpu, y);
	assert_memory_equal(x, y, sizeof(x));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_store),
		cmocka_unit_test(test_rip_relative_and_imm),
		cmocka_unit_test(test_rep_stos),
		cmocka_unit_test(test_movs_backwards),
		cmocka_unit_test(test_sse_store),
		cmocka_unit_test(test_not_explained),
		cmocka_unit_test(test_protected_mode_no_paging),
		cmocka_unit_test(test_decode_at),
		cmocka_unit_test(test_xmm_fpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
