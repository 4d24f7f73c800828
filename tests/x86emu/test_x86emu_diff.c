/* SPDX-License-Identifier: MIT */
/*
 * Differential test: every instruction runs natively (user space, 64-bit
 * mode) and through pv_x86emu_step() from the same state; GPRs, arithmetic
 * flags, XMM registers and every data byte must match. Faults must match
 * too (SIGILL <-> #UD, SIGSEGV/SIGBUS <-> #GP/#SS).
 *
 * Environment: PV_X86EMU_SEED (default: time-based, printed),
 *              PV_X86EMU_CASES (random cases, default 150000).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <paravisor/x86emu.h>

#if defined(__x86_64__) && defined(__linux__)

/* ------------------------------------------------------------ native run */

struct nctx {
	uint64_t gpr[16];    /* 0 */
	uint64_t rflags;     /* 128 */
	uint64_t pad;        /* 136 */
	uint8_t xmm[16][16]; /* 144 */
};

void pvt_native_run(struct nctx *c, void *code);
void pvt_native_ret(void);
struct nctx *pvt_g_ctx;
void *pvt_g_code;
uint64_t pvt_g_rsp;

__asm__(".text\n"
	".globl pvt_native_run\n"
	"pvt_native_run:\n"
	"  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"  mov %rdi, pvt_g_ctx(%rip)\n"
	"  mov %rsi, pvt_g_code(%rip)\n"
	"  mov %rsp, pvt_g_rsp(%rip)\n"
	"  movdqu 144(%rdi), %xmm0\n movdqu 160(%rdi), %xmm1\n movdqu 176(%rdi), %xmm2\n"
	"  movdqu 192(%rdi), %xmm3\n movdqu 208(%rdi), %xmm4\n movdqu 224(%rdi), %xmm5\n"
	"  movdqu 240(%rdi), %xmm6\n movdqu 256(%rdi), %xmm7\n movdqu 272(%rdi), %xmm8\n"
	"  movdqu 288(%rdi), %xmm9\n movdqu 304(%rdi), %xmm10\n movdqu 320(%rdi), %xmm11\n"
	"  movdqu 336(%rdi), %xmm12\n movdqu 352(%rdi), %xmm13\n movdqu 368(%rdi), %xmm14\n"
	"  movdqu 384(%rdi), %xmm15\n"
	"  pushq 128(%rdi)\n popfq\n"
	"  mov 0(%rdi), %rax\n mov 8(%rdi), %rcx\n mov 16(%rdi), %rdx\n mov 24(%rdi), %rbx\n"
	"  mov 40(%rdi), %rbp\n mov 48(%rdi), %rsi\n mov 64(%rdi), %r8\n mov 72(%rdi), %r9\n"
	"  mov 80(%rdi), %r10\n mov 88(%rdi), %r11\n mov 96(%rdi), %r12\n mov 104(%rdi), %r13\n"
	"  mov 112(%rdi), %r14\n mov 120(%rdi), %r15\n mov 56(%rdi), %rdi\n"
	"  jmp *pvt_g_code(%rip)\n"
	".globl pvt_native_ret\n"
	"pvt_native_ret:\n"
	"  pushfq\n push %rax\n"
	"  mov pvt_g_ctx(%rip), %rax\n"
	"  mov %rcx, 8(%rax)\n mov %rdx, 16(%rax)\n mov %rbx, 24(%rax)\n mov %rbp, 40(%rax)\n"
	"  mov %rsi, 48(%rax)\n mov %rdi, 56(%rax)\n mov %r8, 64(%rax)\n mov %r9, 72(%rax)\n"
	"  mov %r10, 80(%rax)\n mov %r11, 88(%rax)\n mov %r12, 96(%rax)\n mov %r13, 104(%rax)\n"
	"  mov %r14, 112(%rax)\n mov %r15, 120(%rax)\n"
	"  pop %rcx\n mov %rcx, 0(%rax)\n pop %rcx\n mov %rcx, 128(%rax)\n cld\n"
	"  movdqu %xmm0, 144(%rax)\n movdqu %xmm1, 160(%rax)\n movdqu %xmm2, 176(%rax)\n"
	"  movdqu %xmm3, 192(%rax)\n movdqu %xmm4, 208(%rax)\n movdqu %xmm5, 224(%rax)\n"
	"  movdqu %xmm6, 240(%rax)\n movdqu %xmm7, 256(%rax)\n movdqu %xmm8, 272(%rax)\n"
	"  movdqu %xmm9, 288(%rax)\n movdqu %xmm10, 304(%rax)\n movdqu %xmm11, 320(%rax)\n"
	"  movdqu %xmm12, 336(%rax)\n movdqu %xmm13, 352(%rax)\n movdqu %xmm14, 368(%rax)\n"
	"  movdqu %xmm15, 384(%rax)\n"
	"  mov pvt_g_rsp(%rip), %rsp\n"
	"  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
	"  ret\n");

static sigjmp_buf g_jmp;
static volatile sig_atomic_t g_sig;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	g_sig = sig;
	siglongjmp(g_jmp, 1);
}

/* ------------------------------------------------------------- layout */

#define PAGE 4096u
#define REGION_PAGES 4u
#define CODE_OFF 0u         /* pages 0-1: code (instruction may straddle) */
#define DATA_OFF (2 * PAGE) /* pages 2-3: data operands */
#define DATA_SIZE (2 * PAGE)

static uint8_t *g_region;
static uint64_t g_fsbase, g_gsbase;

/* ----------------------------------------------------- memory callbacks */

static bool in_region(uint64_t gpa, unsigned len)
{
	uint64_t b = (uint64_t)(uintptr_t)g_region;
	return gpa >= b && gpa + len <= b + REGION_PAGES * PAGE && len <= 16;
}

static pv_err_t cb_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	(void)ctx;
	if (!in_region(gpa, len))
		return PV_EFAULT;
	memcpy(buf, (void *)(uintptr_t)gpa, len);
	return PV_OK;
}

static pv_err_t cb_write(void *ctx, uint64_t gpa, const void *buf, unsigned len)
{
	(void)ctx;
	if (!in_region(gpa, len) || gpa < (uint64_t)(uintptr_t)g_region + DATA_OFF)
		return PV_EFAULT;
	memcpy((void *)(uintptr_t)gpa, buf, len);
	return PV_OK;
}

static unsigned g_cmpxchg_calls;

static pv_err_t cb_cmpxchg(void *ctx, uint64_t gpa, unsigned len, void *expected,
			   const void *desired, bool *swapped)
{
	(void)ctx;
	if (!in_region(gpa, len) || gpa < (uint64_t)(uintptr_t)g_region + DATA_OFF)
		return PV_EFAULT;
	g_cmpxchg_calls++;
	void *p = (void *)(uintptr_t)gpa;
	if (memcmp(p, expected, len) == 0) {
		memcpy(p, desired, len);
		*swapped = true;
	} else {
		memcpy(expected, p, len);
		*swapped = false;
	}
	return PV_OK;
}

static const struct pv_x86emu_ops g_ops = {cb_read, cb_write, cb_cmpxchg};

/* ------------------------------------------------------------------ rng */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* Interesting 64-bit values: edges for flags, small, random. */
static uint64_t rval(void)
{
	static const uint64_t edges[] = {0,
					 1,
					 0x7f,
					 0x80,
					 0xff,
					 0x7fff,
					 0x8000,
					 0xffff,
					 0x7fffffff,
					 0x80000000,
					 0xffffffff,
					 0x7fffffffffffffffull,
					 0x8000000000000000ull,
					 ~0ull,
					 0x0f0f0f0f0f0f0f0full,
					 0x100000000ull};
	switch (rn(4)) {
	case 0:
		return edges[rn(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return rn(32) - 16;
	default:
		return rnd();
	}
}

/* ------------------------------------------------------------ templates */

enum {
	T_BYTE = 1u << 0,    /* fixed byte operand */
	T_LOCK = 1u << 1,    /* LOCK allowed with a memory destination */
	T_MEMONLY = 1u << 2, /* register r/m is #UD */
	T_NO66 = 1u << 3,    /* do not add 66 */
	T_SSE = 1u << 4,     /* mandatory prefix in the template; no 66/F2/F3/W games */
	T_BTREG = 1u << 5,   /* ModRM.reg is a signed bit offset */
	T_STRING = 1u << 6,  /* string op, no ModRM */
	T_ALIGN = 1u << 7,   /* 16-byte aligned memory operand */
	T_WREG = 1u << 8,    /* writes the ModRM.reg GPR */
	T_NOMODRM = 1u << 9, /* acc/imm or moffs forms */
	T_MOFFS = 1u << 10,  /* moffs */
	T_REGDIG = 1u << 11, /* ModRM.reg is an opcode extension chosen from digits */
	T_XREG = 1u << 12,   /* ModRM.reg names an XMM register */
	T_XRM = 1u << 13,    /* register r/m names an XMM register */
	T_CCLOW = 1u << 14,  /* opcode low nibble random (SETcc) */
	T_WRM = 1u << 15     /* register r/m form writes r/m GPR */
};

struct tmpl {
	uint8_t pfx; /* mandatory prefix (0, 0x66, 0xf3) */
	uint8_t esc; /* 0 or 0x0f */
	uint8_t op;
	uint8_t imm; /* 0 none, 1 ib, 2 iz */
	uint16_t flags;
	uint8_t digits;  /* bitmask of allowed /digit values for T_REGDIG */
	uint8_t lockdig; /* digits for which LOCK is valid */
};

static struct tmpl g_t[160];
static unsigned g_nt;

static void T(uint8_t pfx, uint8_t esc, uint8_t op, uint8_t imm, uint16_t flags, uint8_t digits,
	      uint8_t lockdig)
{
	g_t[g_nt++] = (struct tmpl){pfx, esc, op, imm, flags, digits, lockdig};
}

static void build_templates(void)
{
	g_nt = 0;
	for (unsigned a = 0; a < 8; a++) {
		uint8_t b = (uint8_t)(a * 8);
		uint16_t lk = a == 7 ? 0 : T_LOCK;
		T(0, 0, b + 0, 0, T_BYTE | lk | T_WRM, 0, 0);
		T(0, 0, b + 1, 0, lk | T_WRM, 0, 0);
		T(0, 0, b + 2, 0, T_BYTE | (a == 7 ? 0 : T_WREG), 0, 0);
		T(0, 0, b + 3, 0, a == 7 ? 0 : T_WREG, 0, 0);
		T(0, 0, b + 4, 1, T_BYTE | T_NOMODRM, 0, 0);
		T(0, 0, b + 5, 2, T_NOMODRM, 0, 0);
	}
	T(0, 0, 0x80, 1, T_BYTE | T_REGDIG | T_WRM, 0xff, 0x7f);
	T(0, 0, 0x81, 2, T_REGDIG | T_WRM, 0xff, 0x7f);
	T(0, 0, 0x83, 1, T_REGDIG | T_WRM, 0xff, 0x7f);
	T(0, 0, 0x84, 0, T_BYTE, 0, 0);
	T(0, 0, 0x85, 0, 0, 0, 0);
	T(0, 0, 0x86, 0, T_BYTE | T_WREG | T_WRM | T_LOCK, 0, 0);
	T(0, 0, 0x87, 0, T_WREG | T_WRM | T_LOCK, 0, 0);
	T(0, 0, 0x88, 0, T_BYTE | T_WRM, 0, 0);
	T(0, 0, 0x89, 0, T_WRM, 0, 0);
	T(0, 0, 0x8a, 0, T_BYTE | T_WREG, 0, 0);
	T(0, 0, 0x8b, 0, T_WREG, 0, 0);
	T(0, 0, 0x63, 0, T_WREG, 0, 0);
	T(0, 0, 0xa0, 0, T_BYTE | T_NOMODRM | T_MOFFS, 0, 0);
	T(0, 0, 0xa1, 0, T_NOMODRM | T_MOFFS, 0, 0);
	T(0, 0, 0xa2, 0, T_BYTE | T_NOMODRM | T_MOFFS, 0, 0);
	T(0, 0, 0xa3, 0, T_NOMODRM | T_MOFFS, 0, 0);
	T(0, 0, 0xa8, 1, T_BYTE | T_NOMODRM, 0, 0);
	T(0, 0, 0xa9, 2, T_NOMODRM, 0, 0);
	for (uint8_t s = 0xa4; s <= 0xaf; s++)
		if (s != 0xa8 && s != 0xa9)
			T(0, 0, s, 0, (uint16_t)(T_STRING | T_NOMODRM | ((s & 1) ? 0 : T_BYTE)), 0,
			  0);
	T(0, 0, 0xc6, 1, T_BYTE | T_REGDIG | T_WRM, 0x01, 0);
	T(0, 0, 0xc7, 2, T_REGDIG | T_WRM, 0x01, 0);
	T(0, 0, 0xf6, 0, T_BYTE | T_REGDIG | T_WRM, 0x0d, 0x0c); /* /0 has ib: handled below */
	T(0, 0, 0xf7, 0, T_REGDIG | T_WRM, 0x0d, 0x0c);
	T(0, 0, 0xfe, 0, T_BYTE | T_REGDIG | T_WRM, 0x03, 0x03);
	T(0, 0, 0xff, 0, T_REGDIG | T_WRM, 0x03, 0x03);
	T(0, 0x0f, 0xb6, 0, T_WREG, 0, 0);
	T(0, 0x0f, 0xb7, 0, T_WREG, 0, 0);
	T(0, 0x0f, 0xbe, 0, T_WREG, 0, 0);
	T(0, 0x0f, 0xbf, 0, T_WREG, 0, 0);
	T(0, 0x0f, 0xa3, 0, T_BTREG, 0, 0);
	T(0, 0x0f, 0xab, 0, T_BTREG | T_LOCK | T_WRM, 0, 0);
	T(0, 0x0f, 0xb3, 0, T_BTREG | T_LOCK | T_WRM, 0, 0);
	T(0, 0x0f, 0xbb, 0, T_BTREG | T_LOCK | T_WRM, 0, 0);
	T(0, 0x0f, 0xba, 1, T_REGDIG | T_WRM, 0xf0, 0xe0);
	T(0, 0x0f, 0xb0, 0, T_BYTE | T_LOCK | T_WRM, 0, 0);
	T(0, 0x0f, 0xb1, 0, T_LOCK | T_WRM, 0, 0);
	T(0, 0x0f, 0xc0, 0, T_BYTE | T_LOCK | T_WREG | T_WRM, 0, 0);
	T(0, 0x0f, 0xc1, 0, T_LOCK | T_WREG | T_WRM, 0, 0);
	T(0, 0x0f, 0x90, 0, T_BYTE | T_CCLOW | T_WRM, 0, 0);
	T(0, 0x0f, 0xc3, 0, T_MEMONLY | T_NO66, 0, 0);
	/* SSE */
	T(0, 0x0f, 0x10, 0, T_SSE | T_XREG | T_XRM, 0, 0);
	T(0, 0x0f, 0x11, 0, T_SSE | T_XREG | T_XRM, 0, 0);
	T(0x66, 0x0f, 0x10, 0, T_SSE | T_XREG | T_XRM, 0, 0);
	T(0x66, 0x0f, 0x11, 0, T_SSE | T_XREG | T_XRM, 0, 0);
	T(0, 0x0f, 0x28, 0, T_SSE | T_XREG | T_XRM | T_ALIGN, 0, 0);
	T(0, 0x0f, 0x29, 0, T_SSE | T_XREG | T_XRM | T_ALIGN, 0, 0);
	T(0x66, 0x0f, 0x28, 0, T_SSE | T_XREG | T_XRM | T_ALIGN, 0, 0);
	T(0x66, 0x0f, 0x29, 0, T_SSE | T_XREG | T_XRM | T_ALIGN, 0, 0);
	T(0, 0x0f, 0x2b, 0, T_SSE | T_XREG | T_MEMONLY | T_ALIGN, 0, 0);
	T(0x66, 0x0f, 0x2b, 0, T_SSE | T_XREG | T_MEMONLY | T_ALIGN, 0, 0);
	T(0x66, 0x0f, 0xe7, 0, T_SSE | T_XREG | T_MEMONLY | T_ALIGN, 0, 0);
	T(0x66, 0x0f, 0x6f, 0, T_SSE | T_XREG | T_XRM | T_ALIGN, 0, 0);
	T(0x66, 0x0f, 0x7f, 0, T_SSE | T_XREG | T_XRM | T_ALIGN, 0, 0);
	T(0xf3, 0x0f, 0x6f, 0, T_SSE | T_XREG | T_XRM, 0, 0);
	T(0xf3, 0x0f, 0x7f, 0, T_SSE | T_XREG | T_XRM, 0, 0);
	T(0x66, 0x0f, 0x6e, 0, T_SSE | T_XREG, 0, 0);
	T(0x66, 0x0f, 0x7e, 0, T_SSE | T_XREG | T_WRM, 0, 0);
	T(0xf3, 0x0f, 0x7e, 0, T_SSE | T_XREG | T_XRM, 0, 0);
	T(0x66, 0x0f, 0xd6, 0, T_SSE | T_XREG | T_XRM, 0, 0);
}

/* -------------------------------------------------------- case builder */

/* Choices for one case; -1 = random. */
struct choice {
	int tmpl;
	int osz;   /* 0 default, 1 = 66, 2 = REX.W */
	int amode; /* addressing form 0..8 */
	int extra; /* 0 none, 1 lock, 2 fs, 3 gs, 4 67, 5 ignored seg (ds/es/cs/ss), 6 rep/ignored F2/F3 */
};

struct tcase {
	uint8_t code[16];
	unsigned len;
	unsigned code_off; /* offset of the instruction in the region */
	uint64_t gpr[16];
	uint64_t rflags;
	uint8_t xmm[16][16];
	unsigned fill; /* memory fill pattern */
	uint64_t fill_seed;
};

static uint64_t region_addr(unsigned off)
{
	return (uint64_t)(uintptr_t)g_region + off;
}

/* Pick a data target address for an access of @size with @margin bytes free on both sides. */
static uint64_t pick_target(unsigned size, unsigned margin, bool align16)
{
	uint64_t lo = DATA_OFF + margin, hi = DATA_OFF + DATA_SIZE - margin - size;
	uint64_t t;
	switch (rn(4)) {
	case 0: /* straddle the page boundary between the two data pages */
		t = DATA_OFF + PAGE - 1 - rn(size > 1 ? size - 1 : 1);
		if (t < lo)
			t = lo;
		break;
	default:
		t = lo + rn((unsigned)(hi - lo));
		break;
	}
	if (align16)
		t &= ~15ull;
	return region_addr((unsigned)t);
}

static unsigned pick_reg_not(unsigned avoid_mask)
{
	for (;;) {
		unsigned r = rn(16);
		if (!(avoid_mask & (1u << r)))
			return r;
	}
}

/*
 * Build one case. Returns false when the combination is not meaningful
 * (caller skips it).
 */
static bool build_case(struct tcase *tc, struct choice ch)
{
	memset(tc, 0, sizeof(*tc));
	int ti = ch.tmpl >= 0 ? ch.tmpl : (int)rn(g_nt);
	const struct tmpl *t = &g_t[ti];
	int osz = ch.osz >= 0 ? ch.osz : (int)rn(3);
	int amode = ch.amode >= 0 ? ch.amode : (int)rn(9);
	int extra = ch.extra >= 0 ? ch.extra : (rn(3) == 0 ? (int)rn(7) : 0);

	for (unsigned i = 0; i < 16; i++)
		tc->gpr[i] = rval();
	tc->rflags = 0x2 | (rnd() & (0x8d5 | 0x400));
	for (unsigned i = 0; i < 16; i++)
		for (unsigned j = 0; j < 16; j++)
			tc->xmm[i][j] = (uint8_t)rnd();
	tc->fill = rn(4);
	tc->fill_seed = rnd();

	if (t->flags & T_BYTE)
		osz = osz == 1 ? 0 : osz; /* 66 meaningless; keep W games (ignored) */
	if ((t->flags & T_NO66) && osz == 1)
		return false;
	if ((t->flags & T_SSE) && osz == 1)
		osz = 0;
	if ((t->flags & T_SSE) && t->op != 0x6e && t->op != 0x7e && osz == 2)
		osz = 0;
	if ((t->flags & T_SSE) && t->pfx == 0xf3 && osz == 2)
		osz = 0;
	bool lock = extra == 1;
	bool a32 = extra == 4;
	uint8_t segpfx = 0;
	if (extra == 2)
		segpfx = 0x64;
	else if (extra == 3)
		segpfx = 0x65;
	else if (extra == 5)
		segpfx = (uint8_t[]){0x26, 0x2e, 0x36, 0x3e}[rn(4)];
	uint8_t reppfx = 0;
	if (extra == 6 && !(t->flags & T_SSE) && !t->esc)
		reppfx = rn(2) ? 0xf3 : 0xf2;
	if (t->flags & T_STRING) {
		if (rn(3))
			reppfx = rn(2) ? 0xf3 : 0xf2;
	}
	/* Rarely try an invalid LOCK (must be #UD on both sides). */
	bool lock_invalid_ok = rn(16) == 0;

	unsigned opsize = (t->flags & T_BYTE) ? 1 : (osz == 2 ? 8 : (osz == 1 ? 2 : 4));
	if (t->flags & T_SSE)
		opsize = 16;
	bool use_modrm = !(t->flags & T_NOMODRM);

	/* ModRM fields. */
	unsigned digit = 0;
	if (t->flags & T_REGDIG) {
		do
			digit = rn(8);
		while (!(t->digits & (1u << digit)));
	}
	bool regform = use_modrm && !(t->flags & T_MEMONLY) && amode == 8;
	if (!use_modrm || (t->flags & T_MEMONLY))
		if (amode == 8)
			amode = (int)rn(8);
	if (lock && !lock_invalid_ok) {
		bool ok = (t->flags & (T_LOCK | T_REGDIG)) && !regform;
		if ((t->flags & T_REGDIG) && !(t->lockdig & (1u << digit)))
			ok = false;
		if (!ok)
			lock = false;
	}
	if (t->flags & T_STRING)
		segpfx = (extra == 2 || extra == 3 || extra == 5) ? segpfx : 0;

	uint8_t rex = 0x40;
	if (osz == 2)
		rex |= 8;

	unsigned msize = opsize;
	if (t->esc == 0x0f && (t->op == 0xb6 || t->op == 0xbe))
		msize = 1;
	else if (t->esc == 0x0f && (t->op == 0xb7 || t->op == 0xbf))
		msize = 2;
	else if (!t->esc && t->op == 0x63)
		msize = opsize == 8 ? 4 : opsize;
	else if (t->flags & T_SSE) {
		if (t->op == 0x6e || t->op == 0x7e)
			msize = (t->pfx == 0xf3) ? 8 : (osz == 2 ? 8 : 4);
		if (t->op == 0xd6)
			msize = 8;
	}

	/* Registers: reg field, addressing registers. */
	unsigned avoid = 1u << PV_RSP;
	unsigned regf;
	bool reg_can_be_4 = !(t->flags & (T_WREG | T_BTREG)) || (t->flags & (T_XREG));
	if (t->flags & T_XREG)
		regf = rn(16);
	else if (t->flags & T_REGDIG)
		regf = digit;
	else
		regf = reg_can_be_4 ? rn(16) : pick_reg_not(avoid);
	unsigned rmreg = 0;
	if (regform)
		rmreg = (t->flags & T_XRM) ? rn(16) : pick_reg_not(avoid);
	unsigned base = PV_X86_REG_NONE, index = PV_X86_REG_NONE, scale = 1;
	int64_t disp = 0;
	unsigned disp_size = 0;
	unsigned mod = 0, rmf = 0;
	bool sib = false, riprel = false;
	unsigned addr_avoid = avoid | ((t->flags & T_BTREG) ? (1u << (regf & 15)) : 0);

	if (use_modrm && !regform) {
		switch (amode) {
		case 0: /* [base] */
			base = pick_reg_not(addr_avoid | (1u << 5) | (1u << 13) | (1u << 12));
			mod = 0;
			break;
		case 1: /* [base+disp8] */
			base = pick_reg_not(addr_avoid | (1u << 12));
			mod = 1;
			disp_size = 1;
			break;
		case 2: /* [base+disp32] */
			base = pick_reg_not(addr_avoid | (1u << 12));
			mod = 2;
			disp_size = 4;
			break;
		case 3: /* SIB [base+index*s] */
		case 4: /* SIB [base+index*s+disp8] */
		case 5: /* SIB [base+index*s+disp32] */
			sib = true;
			base = pick_reg_not(addr_avoid |
					    (amode == 3 ? ((1u << 5) | (1u << 13)) : 0));
			index = pick_reg_not(addr_avoid);
			scale = 1u << rn(4);
			mod = amode == 3 ? 0 : (amode == 4 ? 1 : 2);
			disp_size = amode == 3 ? 0 : (amode == 4 ? 1 : 4);
			break;
		case 6: /* SIB no base: [index*s+disp32] or [disp32] */
			sib = true;
			index = rn(4) ? pick_reg_not(addr_avoid) : PV_X86_REG_NONE;
			scale = 1u << rn(4);
			mod = 0;
			disp_size = 4;
			break;
		default: /* 7: RIP-relative */
			riprel = true;
			mod = 0;
			disp_size = 4;
			break;
		}
	}
	/* Distinct address registers keep the arithmetic simple. */
	if (base != PV_X86_REG_NONE && index == base)
		index = pick_reg_not(addr_avoid | (1u << base));
	bool need_rex = osz == 2 || (regf & 8) || (rmreg & 8) ||
			(base != PV_X86_REG_NONE && (base & 8)) ||
			(index != PV_X86_REG_NONE && (index & 8));
	if (!need_rex && opsize == 1 && rn(4) == 0)
		need_rex = true; /* REX with byte regs: SPL/BPL/SIL/DIL instead of AH..BH */
	if (opsize == 1 && need_rex && !(t->flags & T_XREG) && regf == 4 && (t->flags & T_WREG))
		regf = 0;
	if (opsize == 1 && regform && need_rex && rmreg == 4)
		rmreg = 0;
	if (!(t->flags & T_XREG) && (t->flags & T_WREG) && regf == 4)
		regf = 0;
	if (regform && ((t->flags & T_WRM) || (t->flags & T_XREG)) && !(t->flags & T_XRM) &&
	    rmreg == 4)
		rmreg = 0;
	if (regform && (t->flags & T_XREG) && !(t->flags & T_XRM) && rmreg == 4)
		rmreg = 0;
	/* SSE XMM numbers above 7 need REX.R/B; GPR rm for 66 0F 6E/7E needs REX.B. */
	if (((t->flags & T_XREG) && (regf & 8)) || (regform && (rmreg & 8)))
		need_rex = true;

	if (need_rex) {
		if (regf & 8)
			rex |= 4;
		if (regform && (rmreg & 8))
			rex |= 1;
		if (!regform && base != PV_X86_REG_NONE && (base & 8))
			rex |= 1;
		if (!regform && index != PV_X86_REG_NONE && (index & 8))
			rex |= 2;
	}

	/* Emit bytes. */
	uint8_t *p = tc->code;
	uint8_t legacy[6];
	unsigned nl = 0;
	if (t->pfx)
		legacy[nl++] = t->pfx;
	if (osz == 1 && !(t->flags & T_SSE))
		legacy[nl++] = 0x66;
	if (lock)
		legacy[nl++] = 0xf0;
	if (a32)
		legacy[nl++] = 0x67;
	if (segpfx)
		legacy[nl++] = segpfx;
	if (reppfx)
		legacy[nl++] = reppfx;
	/* Shuffle legacy prefixes except the mandatory SSE one which must stay last-ish:
	 * keep it simple and only shuffle when there is no mandatory prefix. */
	if (!t->pfx)
		for (unsigned i = nl; i > 1; i--) {
			unsigned j = rn(i);
			uint8_t tmp = legacy[i - 1];
			legacy[i - 1] = legacy[j];
			legacy[j] = tmp;
		}
	else if (nl > 1) {
		/* mandatory prefix goes last among legacy prefixes */
		uint8_t m = legacy[0];
		memmove(legacy, legacy + 1, nl - 1);
		legacy[nl - 1] = m;
	}
	for (unsigned i = 0; i < nl; i++)
		*p++ = legacy[i];
	if (need_rex || osz == 2)
		*p++ = rex;
	if (t->esc)
		*p++ = t->esc;
	uint8_t opc = t->op;
	if (t->flags & T_CCLOW)
		opc = (uint8_t)(opc | rn(16));
	*p++ = opc;
	uint8_t *disp_at = NULL;
	if (use_modrm) {
		if (regform) {
			mod = 3;
			rmf = rmreg & 7;
		} else if (riprel) {
			rmf = 5;
		} else if (sib) {
			rmf = 4;
		} else {
			rmf = base & 7;
			if (rmf == 4) { /* rsp/r12 as base needs SIB */
				sib = true;
			}
		}
		*p++ = (uint8_t)((mod << 6) | ((regf & 7) << 3) | rmf);
		if (sib) {
			unsigned sbase = base == PV_X86_REG_NONE ? 5 : (base & 7);
			unsigned sidx = index == PV_X86_REG_NONE ? 4 : (index & 7);
			unsigned ss = scale == 1 ? 0 : scale == 2 ? 1 : scale == 4 ? 2 : 3;
			*p++ = (uint8_t)((ss << 6) | (sidx << 3) | sbase);
		}
		disp_at = p;
		p += disp_size;
	} else if (t->flags & T_MOFFS) {
		disp_at = p;
		disp_size = a32 ? 4 : 8;
		p += disp_size;
	}
	/* Immediate. */
	unsigned imm_size = 0;
	if (t->imm == 1)
		imm_size = 1;
	else if (t->imm == 2)
		imm_size = opsize == 2 ? 2 : 4;
	if ((t->op == 0xf6 || t->op == 0xf7) && !t->esc && digit == 0)
		imm_size = t->op == 0xf6 ? 1 : (opsize == 2 ? 2 : 4);
	uint64_t imm = rval();
	for (unsigned i = 0; i < imm_size; i++)
		*p++ = (uint8_t)(imm >> (8 * i));
	tc->len = (unsigned)(p - tc->code);

	/* Code placement: page start, or straddling the page 0/1 boundary. */
	tc->code_off = rn(4) == 0 ? PAGE - 1 - rn(tc->len > 1 ? tc->len - 1 : 1) : 64 + rn(64);

	/* Address arithmetic. */
	uint64_t amask = a32 ? 0xffffffffull : ~0ull;
	uint64_t segbase = segpfx == 0x64 ? g_fsbase : segpfx == 0x65 ? g_gsbase : 0;
	if (a32 && segbase)
		return false; /* FS/GS bases live above 4 GiB: not reachable with 32-bit offsets */
	if (t->flags & T_STRING) {
		unsigned cnt = reppfx ? rn(7) : 1;
		unsigned span = cnt * opsize + 16;
		uint64_t si = pick_target(opsize, span + 8, false) - segbase;
		uint64_t di = pick_target(opsize, span + 8, false);
		uint64_t hi = a32 ? (rnd() << 32) : 0;
		tc->gpr[PV_RSI] = (si & amask) | hi;
		tc->gpr[PV_RDI] = di | (a32 ? (rnd() << 32) : 0);
		if (reppfx)
			tc->gpr[PV_RCX] = cnt | (a32 ? (rnd() << 32) : 0);
		if (tc->fill == 1 || rn(2)) {
			/* make CMPS/SCAS matches likely */
			tc->gpr[PV_RAX] = (tc->fill_seed & 0xff) * 0x0101010101010101ull;
		}
		return true;
	}
	if (!use_modrm && !(t->flags & T_MOFFS))
		return true;
	if (regform) {
		if ((t->flags & T_BTREG))
			tc->gpr[regf] = rval();
		return true;
	}
	bool align = (t->flags & T_ALIGN) && rn(32) != 0;
	unsigned margin = 8;
	int64_t bitoff = 0;
	if (t->flags & T_BTREG) {
		bitoff = (int64_t)rn(1024) - 512;
		if (opsize == 2)
			bitoff = (int16_t)bitoff;
		margin = 96;
		tc->gpr[regf] = opsize == 8 ? (uint64_t)bitoff :
					      (((uint64_t)bitoff & ((1ull << (8 * opsize)) - 1)) |
					       (rnd() << (8 * opsize)));
	}
	uint64_t target = pick_target(msize, margin, align);
	uint64_t ea = (target - segbase) & amask;
	if (t->flags & T_MOFFS) {
		for (unsigned i = 0; i < disp_size; i++)
			disp_at[i] = (uint8_t)(ea >> (8 * i));
		return true;
	}
	if (disp_size == 1)
		disp = (int8_t)rn(256);
	else if (disp_size == 4)
		disp = (int32_t)(rnd() & 0x7fffffff) - 0x40000000;
	uint64_t idxval = 0;
	if (index != PV_X86_REG_NONE) {
		idxval = (uint64_t)((int64_t)rn(0x2000) - 0x1000);
		if (rn(4) == 0)
			idxval = rnd(); /* wraps around */
		if (a32)
			idxval = (idxval & 0xffffffffull) | (rnd() << 32);
		tc->gpr[index] = idxval;
	}
	if (riprel) {
		uint64_t next = region_addr(tc->code_off) + tc->len;
		disp = (int64_t)(int32_t)(uint32_t)(ea - next);
		if (((next + (uint64_t)disp) & amask) != ea)
			return false;
	} else if (base == PV_X86_REG_NONE) {
		/* [index*s + disp32]: disp32 is sign-extended; choose it to hit ea */
		uint64_t want = ea - idxval * scale;
		if (!a32) {
			int64_t sd = (int64_t)want;
			if (sd != (int32_t)sd) {
				idxval = 0;
				if (index != PV_X86_REG_NONE)
					tc->gpr[index] = 0;
				want = ea;
				if ((int64_t)want != (int32_t)want)
					return false;
			}
		}
		disp = (int32_t)(uint32_t)want;
	} else {
		uint64_t bv = ea - idxval * scale - (uint64_t)disp;
		if (a32)
			bv = (bv & 0xffffffffull) | (rnd() << 32);
		tc->gpr[base] = bv;
	}
	if (disp_at)
		for (unsigned i = 0; i < disp_size; i++)
			disp_at[i] = (uint8_t)((uint64_t)disp >> (8 * i));
	return true;
}

/* ------------------------------------------------------------ execution */

static uint8_t g_init_data[DATA_SIZE];
static uint8_t g_native_data[DATA_SIZE];

static void fill_data(const struct tcase *tc)
{
	uint64_t save = rng_state;
	rng_state = tc->fill_seed;
	uint8_t *d = g_region + DATA_OFF;
	for (unsigned i = 0; i < DATA_SIZE; i++) {
		switch (tc->fill) {
		case 1:
			d[i] = (uint8_t)tc->fill_seed;
			break;
		case 2: {
			static const uint8_t v[] = {0, 1, 0x7f, 0x80, 0xff};
			d[i] = v[rnd() % 5];
			break;
		}
		default:
			d[i] = (uint8_t)rnd();
			break;
		}
	}
	rng_state = save;
}

static void place_code(const struct tcase *tc)
{
	memset(g_region, 0xcc, DATA_OFF);
	uint8_t *c = g_region + tc->code_off;
	memcpy(c, tc->code, tc->len);
	/* jmp *0(%rip); .quad pvt_native_ret */
	static const uint8_t jmp[6] = {0xff, 0x25, 0, 0, 0, 0};
	memcpy(c + tc->len, jmp, 6);
	uint64_t ret = (uint64_t)(uintptr_t)&pvt_native_ret;
	memcpy(c + tc->len + 6, &ret, 8);
}

struct outcome {
	int sig;      /* native: signal number or 0 */
	pv_err_t err; /* emulator status */
	struct pv_x86_fault fault;
	uint64_t gpr[16];
	uint64_t rflags;
	uint8_t xmm[16][16];
};

static void run_native(const struct tcase *tc, struct outcome *o)
{
	static struct nctx n;
	memcpy(n.gpr, tc->gpr, sizeof(n.gpr));
	n.rflags = tc->rflags;
	memcpy(n.xmm, tc->xmm, sizeof(n.xmm));
	g_sig = 0;
	if (sigsetjmp(g_jmp, 1) == 0)
		pvt_native_run(&n, g_region + tc->code_off);
	o->sig = g_sig;
	memcpy(o->gpr, n.gpr, sizeof(o->gpr));
	o->rflags = n.rflags;
	memcpy(o->xmm, n.xmm, sizeof(o->xmm));
}

static void emu_state(const struct tcase *tc, struct pv_x86emu_state *st)
{
	memset(st, 0, sizeof(*st));
	memcpy(st->regs.gpr, tc->gpr, sizeof(st->regs.gpr));
	st->regs.gpr[PV_RSP] = pvt_g_rsp;
	st->regs.rip = region_addr(tc->code_off);
	st->regs.rflags = tc->rflags;
	memcpy(st->xmm, tc->xmm, sizeof(st->xmm));
	st->sregs.cr0 = 1u | (1u << 1) | (1u << 5); /* PE MP NE; paging off = identity */
	st->sregs.cr4 = 1u << 9;                    /* OSFXSR */
	st->sregs.efer = (1u << 8) | (1u << 10) | (1u << 11);
	st->sregs.cs = (struct pv_segment){.l = 1, .present = 1, .s = 1, .type = 0xb, .dpl = 3};
	st->sregs.ss = (struct pv_segment){.present = 1, .s = 1, .type = 3, .dpl = 3, .db = 1};
	st->sregs.fs.base = g_fsbase;
	st->sregs.gs.base = g_gsbase;
}

static void run_emu(const struct tcase *tc, struct outcome *o)
{
	struct pv_x86emu_state st;
	emu_state(tc, &st);
	uint64_t rip0 = st.regs.rip;
	o->err = PV_OK;
	memset(&o->fault, 0, sizeof(o->fault));
	for (unsigned i = 0; i < 64; i++) {
		o->err = pv_x86emu_step(&st, &g_ops, NULL, &o->fault);
		if (o->err != PV_OK || st.regs.rip != rip0)
			break;
	}
	memcpy(o->gpr, st.regs.gpr, sizeof(o->gpr));
	o->rflags = st.regs.rflags;
	memcpy(o->xmm, st.xmm, sizeof(o->xmm));
}

/* Flags the manuals define for the decoded instruction. */
static uint64_t defined_flags(const uint8_t *code, unsigned len)
{
	struct pv_x86_insn in;
	const uint64_t all = 0x8d5 | 0x400;
	if (pv_x86emu_decode(code, len, PV_X86_MODE_64, &in) != PV_OK)
		return all;
	switch (in.op) {
	case PV_X86_OP_AND:
	case PV_X86_OP_OR:
	case PV_X86_OP_XOR:
	case PV_X86_OP_TEST:
		return all & ~(uint64_t)PV_RFLAGS_AF;
	case PV_X86_OP_BT:
	case PV_X86_OP_BTS:
	case PV_X86_OP_BTR:
	case PV_X86_OP_BTC:
		return all & ~(uint64_t)(PV_RFLAGS_AF | PV_RFLAGS_OF | PV_RFLAGS_SF | PV_RFLAGS_PF);
	default:
		return all;
	}
}

static unsigned g_mismatches, g_reported, g_faults_matched;

static void report(const struct tcase *tc, const char *what, uint64_t idx, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(const struct tcase *tc, const char *what, uint64_t idx, const char *fmt, ...)
{
	g_mismatches++;
	if (g_reported++ >= 20)
		return;
	char bytes[64] = {0};
	for (unsigned i = 0; i < tc->len; i++)
		snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, "%02x ", tc->code[i]);
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "MISMATCH %s case %llu bytes [%s] fill %u: ", what, (unsigned long long)idx,
		bytes, tc->fill);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static bool sig_matches(int sig, const struct outcome *e)
{
	if (e->err != PV_EFAULTINJ && e->err != PV_ENOTSUP)
		return false;
	if (sig == SIGILL)
		return e->fault.vector == PV_X86_VEC_UD;
	if (sig == SIGSEGV || sig == SIGBUS)
		return e->fault.vector == PV_X86_VEC_GP || e->fault.vector == PV_X86_VEC_SS;
	return false;
}

static void run_case(const struct tcase *tc, const char *what, uint64_t idx)
{
	struct outcome nat, emu;
	place_code(tc);
	fill_data(tc);
	memcpy(g_init_data, g_region + DATA_OFF, DATA_SIZE);
	run_native(tc, &nat);
	memcpy(g_native_data, g_region + DATA_OFF, DATA_SIZE);
	memcpy(g_region + DATA_OFF, g_init_data, DATA_SIZE);
	run_emu(tc, &emu);

	if (nat.sig) {
		if (!sig_matches(nat.sig, &emu))
			report(tc, what, idx, "native signal %d, emulator err %d vector %u",
			       nat.sig, emu.err, emu.fault.vector);
		else
			g_faults_matched++;
		return;
	}
	if (emu.err != PV_OK) {
		report(tc, what, idx, "emulator err %d (vector %u ec %u), native ok", emu.err,
		       emu.fault.vector, emu.fault.error_code);
		return;
	}
	for (unsigned r = 0; r < 16; r++) {
		if (r == PV_RSP)
			continue;
		if (nat.gpr[r] != emu.gpr[r]) {
			report(tc, what, idx, "gpr %u native %016llx emu %016llx (init %016llx)", r,
			       (unsigned long long)nat.gpr[r], (unsigned long long)emu.gpr[r],
			       (unsigned long long)tc->gpr[r]);
			return;
		}
	}
	uint64_t fm = defined_flags(tc->code, tc->len);
	if ((nat.rflags ^ emu.rflags) & fm) {
		report(tc, what, idx, "rflags native %llx emu %llx (init %llx, mask %llx)",
		       (unsigned long long)nat.rflags, (unsigned long long)emu.rflags,
		       (unsigned long long)tc->rflags, (unsigned long long)fm);
		return;
	}
	if (memcmp(nat.xmm, emu.xmm, sizeof(nat.xmm)) != 0) {
		report(tc, what, idx, "xmm differ");
		return;
	}
	if (memcmp(g_native_data, g_region + DATA_OFF, DATA_SIZE) != 0) {
		for (unsigned i = 0; i < DATA_SIZE; i++)
			if (g_native_data[i] != g_region[DATA_OFF + i]) {
				report(tc, what, idx,
				       "memory byte +%u native %02x emu %02x init %02x", i,
				       g_native_data[i], g_region[DATA_OFF + i], g_init_data[i]);
				break;
			}
	}
}

/* ---------------------------------------------------------------- tests */

static uint64_t g_seed;

/* cmocka installs its own handlers around each test: ours go in per test. */
static struct sigaction g_old[3];

static void install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, &g_old[0]);
	sigaction(SIGILL, &sa, &g_old[1]);
	sigaction(SIGBUS, &sa, &g_old[2]);
}

static void restore_handlers(void)
{
	sigaction(SIGSEGV, &g_old[0], NULL);
	sigaction(SIGILL, &g_old[1], NULL);
	sigaction(SIGBUS, &g_old[2], NULL);
}

static int setup(void **state)
{
	(void)state;
	g_region = mmap(NULL, REGION_PAGES * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (g_region == MAP_FAILED)
		return -1;
	syscall(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, &g_fsbase);
	syscall(SYS_arch_prctl, 0x1004 /* ARCH_GET_GS */, &g_gsbase);
	build_templates();
	const char *s = getenv("PV_X86EMU_SEED");
	g_seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
	printf("x86emu differential test: seed %llu (set PV_X86EMU_SEED to reproduce)\n",
	       (unsigned long long)g_seed);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	munmap(g_region, REGION_PAGES * PAGE);
	return 0;
}

/* Systematic table: every template x operand size x addressing form x prefix extra. */
static void test_diff_table(void **state)
{
	(void)state;
	g_mismatches = g_reported = g_faults_matched = 0;
	install_handlers();
	uint64_t n = 0;
	for (unsigned t = 0; t < g_nt; t++)
		for (int osz = 0; osz < 3; osz++)
			for (int am = 0; am < 9; am++)
				for (int ex = 0; ex < 7; ex++)
					for (unsigned rep = 0; rep < 2; rep++) {
						struct tcase tc;
						rng_state = g_seed ^ (0x5151ull << 40) ^
							    (n * 0x100000001b3ull);
						if (!build_case(&tc, (struct choice){(int)t, osz,
										     am, ex}))
							continue;
						run_case(&tc, "table", n);
						n++;
					}
	restore_handlers();
	printf("x86emu table: %llu cases, %u faults matched, %u mismatches\n",
	       (unsigned long long)n, g_faults_matched, g_mismatches);
	assert_int_equal(g_mismatches, 0);
}

static void test_diff_random(void **state)
{
	(void)state;
	g_mismatches = g_reported = g_faults_matched = 0;
	install_handlers();
	const char *c = getenv("PV_X86EMU_CASES");
	uint64_t want = c ? strtoull(c, NULL, 0) : 150000;
	uint64_t n = 0, tried = 0;
	while (n < want) {
		struct tcase tc;
		rng_state = g_seed + tried * 0x9e3779b97f4a7c15ull;
		tried++;
		if (!build_case(&tc, (struct choice){-1, -1, -1, -1}))
			continue;
		run_case(&tc, "random", tried - 1);
		n++;
	}
	restore_handlers();
	printf("x86emu random: %llu cases (seed %llu), %u faults matched, %u mismatches\n",
	       (unsigned long long)n, (unsigned long long)g_seed, g_faults_matched, g_mismatches);
	assert_int_equal(g_mismatches, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_table),
		cmocka_unit_test(test_diff_random),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

#else /* not x86-64 Linux */

static void test_skip(void **state)
{
	(void)state;
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_skip)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
