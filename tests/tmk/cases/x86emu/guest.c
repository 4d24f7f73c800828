/* SPDX-License-Identifier: MIT */
/*
 * x86emu TMK guest: MMIO through exact instructions (inline asm) of every
 * width and addressing form, read-modify-write (LOCKed too), SSE/MOVD/MOVQ
 * and string instructions. Each case checks registers, flags and RAM here;
 * the host checks the exact handler log (x86emu_cases.h).
 */
#include "tmk.h"
#include "x86emu_cases.h"

#define FAR ((uint64_t)X86EMU_FAR)
#define FL_CF 0x001u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_OF 0x800u
#define FL_ARITH (FL_CF | FL_ZF | FL_SF | FL_OF)

/* x86emu_near (near.c) is an absolute symbol defined in another object, so
 * sym(%rip) assembles to a real RIP-relative displacement to the device. */

TMK_CASE(mov_forms)
{
	uint64_t a, b = FAR;
	__asm__ volatile("movb $0x5a, 0x10(%1)\n\tmovb 0x10(%1), %b0"
			 : "=a"(a)
			 : "r"(b)
			 : "memory");
	TMK_CHECK_EQ(a & 0xff, 0x5a);
	__asm__ volatile("movw $0x1234, 0x20(%1)\n\tmovzwl 0x20(%1), %k0"
			 : "=r"(a)
			 : "r"(b)
			 : "memory");
	TMK_CHECK_EQ(a, 0x1234);
	/* base + index*4 + disp, then MOVSX of one byte of it */
	__asm__ volatile("movl %%ecx, 0x30(%%rbx,%%rsi,4)\n\tmovsbq 0x43(%%rbx), %0"
			 : "=a"(a)
			 : "b"(b), "S"(4ull), "c"(0xdeadbeefu)
			 : "memory");
	TMK_CHECK_EQ(a, 0xffffffffffffffdeull);
	/* base + index*8 - 8 (negative disp8), 8-byte load into R9 */
	__asm__ volatile("movq %%rdx, -8(%%rbx,%%rdi,8)\n\tmovq 0x80(%%rbx), %%r9\n\tmovq %%r9, %0"
			 : "=a"(a)
			 : "b"(b), "D"(0x11ull), "d"(0x0123456789abcdefull)
			 : "r9", "memory");
	TMK_CHECK_EQ(a, 0x0123456789abcdefull);
	/* moffs64 (A3 / A1 with a 64-bit address) */
	__asm__ volatile("movabsl %%eax, 0xd0000100\n\tmovl $0, %%eax\n\tmovabsl 0xd0000100, %%eax"
			 : "=a"(a)
			 : "a"(0xcafef00du)
			 : "memory");
	TMK_CHECK_EQ(a, 0xcafef00du);
	/* RIP-relative: immediate store, load, 8-byte store, 2-byte load */
	__asm__ volatile("movl $0x600dcafe, x86emu_near+0x10(%%rip)\n\t"
			 "movl x86emu_near+0x10(%%rip), %k0"
			 : "=r"(a)::"memory");
	TMK_CHECK_EQ(a, 0x600dcafeu);
	__asm__ volatile("movq %1, x86emu_near+0x18(%%rip)\n\tmovzwl x86emu_near+0x1a(%%rip), %k0"
			 : "=r"(a)
			 : "r"(0x1122334455667788ull)
			 : "memory");
	TMK_CHECK_EQ(a, 0x5566);
	/* 32-bit address size (67 prefix), MOVNTI, SETcc to memory */
	__asm__ volatile("movl %%ecx, (%%ebx)\n\tmovnti %%ecx, 8(%%rbx)\n\t"
			 "cmpl %%ecx, %%ecx\n\tsete 0x50(%%rbx)"
			 :
			 : "b"(b), "c"(0x13579bdfu)
			 : "memory", "cc");
}

TMK_CASE(sse_moves)
{
	static uint8_t in[16] __attribute__((aligned(16)));
	static uint8_t out[16] __attribute__((aligned(16)));
	uint64_t b = FAR;
	for (unsigned i = 0; i < 16; i++) {
		in[i] = (uint8_t)(i * 0x11);
		out[i] = 0;
	}
	/* The guest is built with -mgeneral-regs-only: XMM only inside asm.
	 * MOVDQU store (two 8-byte handler calls), MOVAPS load. */
	__asm__ volatile("movdqu (%1), %%xmm0\n\tmovdqu %%xmm0, 0x200(%0)\n\t"
			 "movaps 0x200(%0), %%xmm1\n\tmovdqu %%xmm1, (%2)"
			 :
			 : "r"(b), "r"(in), "r"(out)
			 : "memory");
	for (unsigned i = 0; i < 16; i++)
		TMK_CHECK_EQ(out[i], in[i]);
}

/* MOVQ/MOVD with XMM: KVM's own emulator refuses them (internal error), so
 * only the emulation mode (the library's emulator) can run this case. */
TMK_CASE(sse_movd_movq)
{
	uint64_t b = FAR, lo = 0, hi = 0;
	uint32_t d = 0;
	if (inb(X86EMU_MODE_PORT) != 1) {
		tmk_skip("KVM cannot emulate MOVD/MOVQ with XMM");
		return;
	}
	__asm__ volatile("movq %%xmm1, 0x210(%3)\n\t"
			 "movd 0x204(%3), %%xmm2\n\tmovd %%xmm2, %k0\n\t"
			 "movq 0x208(%3), %%xmm3\n\tmovq %%xmm3, %1\n\t"
			 "movd %%xmm2, 0x220(%3)\n\tmovq %%xmm1, %2"
			 : "=&r"(d), "=&r"(hi), "=&r"(lo)
			 : "r"(b)
			 : "memory");
	TMK_CHECK_EQ(d, 0x77665544u);
	TMK_CHECK_EQ(hi, 0xffeeddccbbaa9988ull);
	TMK_CHECK_EQ(lo, 0x7766554433221100ull);
}

/* Run "insn" on the far device's word at 0x300 (RBX = device) and return RFLAGS. */
#define RMW(insn, a_inout, c_in)                              \
	({                                                    \
		uint64_t fl_;                                 \
		__asm__ volatile(insn "\n\tpushfq\n\tpopq %1" \
				 : "+a"(a_inout), "=r"(fl_)   \
				 : "b"(FAR), "c"(c_in)        \
				 : "memory", "cc");           \
		fl_;                                          \
	})

TMK_CASE(read_modify_write)
{
	uint64_t a = 0, fl;
	__asm__ volatile("movl $0x80000001, 0x300(%0)" ::"r"(FAR) : "memory");
	a = 0x7fffffff;
	fl = RMW("addl %%eax, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_ARITH, FL_CF | FL_ZF);
	fl = RMW("orw $0xf0, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_ARITH, 0);
	fl = RMW("andb $0x30, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_ARITH, 0);
	fl = RMW("xorq %%rcx, 0x308(%%rbx)", a, ~0ull);
	TMK_CHECK_EQ(fl & FL_ARITH, FL_SF);
	fl = RMW("incl 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_ARITH, 0);
	RMW("notb 0x300(%%rbx)", a, 0ull);
	fl = RMW("negl 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_ARITH, FL_CF | FL_SF);
	a = 0x11111111;
	RMW("xchgl %%eax, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(a, 0xffffff32u);
	a = 0x11111111;
	fl = RMW("lock cmpxchgl %%ecx, 0x300(%%rbx)", a, 0x22222222ull);
	TMK_CHECK_EQ(fl & FL_ZF, FL_ZF);
	a = 0;
	fl = RMW("cmpxchgl %%ecx, 0x300(%%rbx)", a, 0x33333333ull);
	TMK_CHECK_EQ(fl & FL_ZF, 0);
	TMK_CHECK_EQ(a, 0x22222222u);
	a = 1;
	RMW("xaddl %%eax, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(a, 0x22222222u);
	fl = RMW("btsl $3, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_CF, 0);
	fl = RMW("lock orl $0x100, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_ARITH, 0);
	fl = RMW("lock decq 0x308(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & (FL_ZF | FL_SF), FL_SF);
	fl = RMW("cmpl $0x2222232b, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_ARITH, FL_ZF);
	fl = RMW("testb $1, 0x300(%%rbx)", a, 0ull);
	TMK_CHECK_EQ(fl & FL_ZF, 0);
}

TMK_CASE(strings)
{
	static uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	static uint32_t dst[2];
	uint64_t si, di, cx, a;
	/* RAM -> MMIO, bytes */
	si = (uint64_t)src, di = FAR + 0x400, cx = 5;
	__asm__ volatile("rep movsb" : "+S"(si), "+D"(di), "+c"(cx)::"memory");
	TMK_CHECK_EQ(cx, 0);
	TMK_CHECK_EQ(di, FAR + 0x405);
	TMK_CHECK_EQ(si, (uint64_t)src + 5);
	/* MMIO -> RAM, dwords */
	si = FAR + 0x400, di = (uint64_t)dst, cx = 2;
	__asm__ volatile("rep movsl" : "+S"(si), "+D"(di), "+c"(cx)::"memory");
	TMK_CHECK_EQ(dst[0], 0x04030201u);
	TMK_CHECK_EQ(dst[1], 5);
	TMK_CHECK_EQ(si, FAR + 0x408);
	/* MMIO -> MMIO */
	si = FAR + 0x400, di = FAR + 0x500, cx = 2;
	__asm__ volatile("rep movsl" : "+S"(si), "+D"(di), "+c"(cx)::"memory");
	TMK_CHECK_EQ(di, FAR + 0x508);
	/* STOS and LODS */
	di = FAR + 0x600, cx = 3, a = 0xabcdabcd;
	__asm__ volatile("rep stosl" : "+D"(di), "+c"(cx) : "a"(a) : "memory");
	TMK_CHECK_EQ(di, FAR + 0x60c);
	si = FAR + 0x600;
	__asm__ volatile("lodsq" : "+S"(si), "=a"(a)::"memory");
	TMK_CHECK_EQ(a, 0xabcdabcdabcdabcdull);
	TMK_CHECK_EQ(si, FAR + 0x608);
	/* Backwards (DF = 1) */
	di = FAR + 0x620;
	__asm__ volatile("std\n\tstosw\n\tcld" : "+D"(di) : "a"(0x5566ull) : "memory", "cc");
	TMK_CHECK_EQ(di, FAR + 0x61e);
	/* One MOVSQ between two device registers */
	si = FAR + 0x600, di = FAR + 0x700;
	__asm__ volatile("movsq" : "+S"(si), "+D"(di)::"memory");
	TMK_CHECK_EQ(di, FAR + 0x708);
}
