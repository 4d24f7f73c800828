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
uint64_t pvt_g_stack; /* RSP while the instruction runs natively (known to the emulator) */

__asm__(".text\n"
	".globl pvt_native_run\n"
	"pvt_native_run:\n"
	"  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"  mov %rdi, pvt_g_ctx(%rip)\n"
	"  mov %rsi, pvt_g_code(%rip)\n"
	"  mov %rsp, pvt_g_rsp(%rip)\n"
	"  mov pvt_g_stack(%rip), %rsp\n"
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

/* Compat-mode (32-bit) harness: fixed low region, see the 32-bit section. */
#define LO_BASE 0x20000000ull
#define LO_SIZE 0x16000ull
#define LO_CTX LO_BASE
#define LO_STUB (LO_BASE + 0x1000)
#define LO_LAND (LO_BASE + 0x1800)
#define LO_CODE (LO_BASE + 0x2000)
#define LO_DATA (LO_BASE + 0x4000)
#define LO_STACK_TOP (LO_BASE + 0x16000)
static bool g_lo_ok;
static bool setup_lo(void);
static bool in_pt(uint64_t gpa, unsigned len);

static bool in_region(uint64_t gpa, unsigned len)
{
	uint64_t b = (uint64_t)(uintptr_t)g_region;
	if (len > 16)
		return false;
	if (g_lo_ok && gpa >= LO_BASE && gpa + len <= LO_BASE + LO_SIZE)
		return true;
	if (in_pt(gpa, len))
		return true;
	return gpa >= b && gpa + len <= b + REGION_PAGES * PAGE;
}

/* Identity page tables for the paging-on cases: a pool of table pages whose
 * host addresses are their GPAs. */
#define PT_POOL_PAGES 16u
static uint8_t *g_pt_pool;
static unsigned g_pt_used;
static uint64_t g_pt_root;

static bool in_pt(uint64_t gpa, unsigned len)
{
	uint64_t b = (uint64_t)(uintptr_t)g_pt_pool;
	return g_pt_pool && gpa >= b && gpa + len <= b + PT_POOL_PAGES * PAGE;
}

static bool in_data(uint64_t gpa, unsigned len)
{
	uint64_t b = (uint64_t)(uintptr_t)g_region + DATA_OFF;
	if (g_lo_ok && gpa >= LO_DATA && gpa + len <= LO_DATA + DATA_SIZE)
		return true;
	return gpa >= b && gpa + len <= b + DATA_SIZE;
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
	if (!in_region(gpa, len) || !in_data(gpa, len))
		return PV_EFAULT;
	memcpy((void *)(uintptr_t)gpa, buf, len);
	return PV_OK;
}

static unsigned g_cmpxchg_calls;

static pv_err_t cb_cmpxchg(void *ctx, uint64_t gpa, unsigned len, void *expected,
			   const void *desired, bool *swapped)
{
	(void)ctx;
	if (!in_region(gpa, len) || (!in_data(gpa, len) && !in_pt(gpa, len)))
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
	bool paging;   /* emulate with 4-level identity paging instead of paging off */
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
	tc->paging = rn(4) == 0;

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
	/* RSP as base (needs a SIB byte): its value is pvt_g_stack, and a
	 * disp32 reaches the data area (both live below 2 GiB). */
	bool rsp_base = false;
	if (!regform && use_modrm && (amode == 2 || amode == 5) && rn(6) == 0) {
		base = PV_RSP;
		rsp_base = true;
		if (amode == 2)
			index = PV_X86_REG_NONE;
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
	/* Redundant prefixes the CPU must ignore: a REX followed by legacy
	 * prefixes, and a duplicated legacy prefix. */
	if (nl > 0 && rn(8) == 0)
		*p++ = (uint8_t)(0x40 | rn(16));
	if (nl > 0 && rn(8) == 0) {
		unsigned k = rn(nl);
		if (legacy[k] != 0xf0 || rn(2)) /* LOCK LOCK is fine too */
			*p++ = legacy[k] == t->pfx && t->pfx ? legacy[0] : legacy[k];
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
		if (rn(4) == 0 && !rsp_base)
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
	} else if (rsp_base) {
		uint64_t want = (ea - pvt_g_stack - idxval * scale) & amask;
		if (a32)
			want = (uint64_t)(int64_t)(int32_t)(uint32_t)want;
		if ((int64_t)want != (int32_t)want)
			return false;
		disp = (int32_t)want;
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

static void fill_data(const struct tcase *tc, uint8_t *d)
{
	uint64_t save = rng_state;
	rng_state = tc->fill_seed;
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
	st->regs.gpr[PV_RSP] = pvt_g_stack;
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
	if (tc->paging && g_pt_root) {
		st->sregs.cr0 |= (1ull << 31) | (1ull << 16);
		st->sregs.cr4 |= 1ull << 5;
		st->sregs.cr3 = g_pt_root;
	}
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

/* Flags the manuals define for the instruction decoded in @mode. */
static uint64_t defined_flags_in(const uint8_t *code, unsigned len, enum pv_x86_mode mode)
{
	struct pv_x86_insn in;
	const uint64_t all = 0x8d5 | 0x400;
	if (pv_x86emu_decode(code, len, mode, &in) != PV_OK)
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

static uint64_t defined_flags(const uint8_t *code, unsigned len)
{
	return defined_flags_in(code, len, PV_X86_MODE_64);
}

static uint64_t defined_flags32(const uint8_t *code, unsigned len)
{
	return defined_flags_in(code, len, PV_X86_MODE_32);
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

/* How run_case (64-bit) and run_case32 (compat mode) compare the outcomes. */
struct cmp_mode {
	unsigned gprs;    /* GPRs compared (RSP never) */
	int gpr_digits;   /* hex digits a GPR is printed with */
	size_t xmm_bytes; /* bytes of XMM state compared */
	bool rflags_64;   /* "rflags ... mask" message, else "eflags" */
};

/* Native outcome @nat against the emulator's @emu for one case: the same
 * signal / fault, GPRs, the flags in @fm, XMM state, then the data area
 * (@native_data as native left it, @emu_data as the emulator did, from
 * @init_data). Reports the first difference. */
static void compare(const struct tcase *tc, const char *what, uint64_t idx,
		    const struct outcome *nat, const struct outcome *emu, uint64_t fm,
		    const struct cmp_mode *m, const uint8_t *native_data, const uint8_t *emu_data,
		    const uint8_t *init_data)
{
	if (nat->sig) {
		if (!sig_matches(nat->sig, emu))
			report(tc, what, idx, "native signal %d, emulator err %d vector %u",
			       nat->sig, emu->err, emu->fault.vector);
		else
			g_faults_matched++;
		return;
	}
	if (emu->err != PV_OK) {
		report(tc, what, idx, "emulator err %d (vector %u ec %u), native ok", emu->err,
		       emu->fault.vector, emu->fault.error_code);
		return;
	}
	for (unsigned r = 0; r < m->gprs; r++) {
		if (r == PV_RSP)
			continue;
		if (nat->gpr[r] != emu->gpr[r]) {
			report(tc, what, idx, "gpr %u native %0*llx emu %0*llx (init %0*llx)", r,
			       m->gpr_digits, (unsigned long long)nat->gpr[r], m->gpr_digits,
			       (unsigned long long)emu->gpr[r], m->gpr_digits,
			       (unsigned long long)tc->gpr[r]);
			return;
		}
	}
	if ((nat->rflags ^ emu->rflags) & fm) {
		if (m->rflags_64)
			report(tc, what, idx, "rflags native %llx emu %llx (init %llx, mask %llx)",
			       (unsigned long long)nat->rflags, (unsigned long long)emu->rflags,
			       (unsigned long long)tc->rflags, (unsigned long long)fm);
		else
			report(tc, what, idx, "eflags native %llx emu %llx (init %llx)",
			       (unsigned long long)nat->rflags, (unsigned long long)emu->rflags,
			       (unsigned long long)tc->rflags);
		return;
	}
	if (memcmp(nat->xmm, emu->xmm, m->xmm_bytes) != 0) {
		report(tc, what, idx, "xmm differ");
		return;
	}
	for (unsigned i = 0; i < DATA_SIZE; i++)
		if (native_data[i] != emu_data[i]) {
			report(tc, what, idx, "memory byte +%u native %02x emu %02x init %02x", i,
			       native_data[i], emu_data[i], init_data[i]);
			break;
		}
}

static void run_case(const struct tcase *tc, const char *what, uint64_t idx)
{
	struct outcome nat, emu;
	place_code(tc);
	fill_data(tc, g_region + DATA_OFF);
	memcpy(g_init_data, g_region + DATA_OFF, DATA_SIZE);
	run_native(tc, &nat);
	memcpy(g_native_data, g_region + DATA_OFF, DATA_SIZE);
	memcpy(g_region + DATA_OFF, g_init_data, DATA_SIZE);
	run_emu(tc, &emu);
	static const struct cmp_mode m64 = {16, 16, 16 * 16, true};
	compare(tc, what, idx, &nat, &emu, defined_flags(tc->code, tc->len), &m64, g_native_data,
		g_region + DATA_OFF, g_init_data);
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

static uint64_t pt_alloc(void)
{
	return (uint64_t)(uintptr_t)(g_pt_pool + PAGE * g_pt_used++);
}

/* Identity-map one 4 KiB page, user + writable. */
static void pt_map(uint64_t va)
{
	uint64_t table = g_pt_root;
	for (unsigned lvl = 4; lvl > 1; lvl--) {
		uint64_t *e =
			(uint64_t *)(uintptr_t)(table + ((va >> (12 + 9 * (lvl - 1))) & 511) * 8);
		if (!(*e & 1)) {
			if (g_pt_used >= PT_POOL_PAGES)
				return;
			*e = pt_alloc() | 7;
		}
		table = *e & 0x000ffffffffff000ull;
	}
	uint64_t *pte = (uint64_t *)(uintptr_t)(table + ((va >> 12) & 511) * 8);
	*pte = (va & ~0xfffull) | 7;
}

static void setup_pt(void)
{
	g_pt_pool = mmap(NULL, PT_POOL_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g_pt_pool == MAP_FAILED) {
		g_pt_pool = NULL;
		return;
	}
	g_pt_used = 0;
	g_pt_root = pt_alloc();
	for (unsigned i = 0; i < REGION_PAGES; i++)
		pt_map((uint64_t)(uintptr_t)g_region + i * PAGE);
}

static int setup(void **state)
{
	(void)state;
	g_region = mmap(NULL, REGION_PAGES * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (g_region == MAP_FAILED)
		return -1;
	void *stk = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (stk == MAP_FAILED)
		return -1;
	pvt_g_stack = (uint64_t)(uintptr_t)stk + 64 * 1024 - 64;
	syscall(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, &g_fsbase);
	syscall(SYS_arch_prctl, 0x1004 /* ARCH_GET_GS */, &g_gsbase);
	build_templates();
	g_lo_ok = setup_lo();
	setup_pt();
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
	if (g_lo_ok)
		munmap((void *)(uintptr_t)LO_BASE, LO_SIZE);
	if (g_pt_pool)
		munmap(g_pt_pool, PT_POOL_PAGES * PAGE);
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

/* ------------------------------------------------ compat (32-bit) mode */

/*
 * The same instructions run natively in 32-bit compatibility mode: a far
 * return to the 32-bit user code segment (0x23) enters a stub copied into a
 * fixed low region, the stub loads DS and ES with an LDT data segment whose
 * base is the data area and whose limit is its size, loads EAX..EDI, EFLAGS
 * and XMM0-7, jumps to the instruction, saves everything and far-returns to
 * 64-bit code. This exercises 32-bit and 16-bit addressing (67), segment
 * bases, limits, default segments (SS for EBP/BP) and overrides natively.
 *
 * Low region layout (LO_*): context at +0 (u32 gpr[8] at 0, eflags at 0x20,
 * xmm[8] at 0x30, code pointer at 0xff0, 64-bit landing pointer at 0xfe8),
 * stubs at +0x1000, instruction pages at +0x2000, data at +0x4000, stack
 * below +0x16000.
 */
#define LDT_SEL 7 /* LDT entry 0, RPL 3 */

void pvt_run32(void);
void pvt_run32_back(void);
extern const uint8_t pvt_stub32_start[], pvt_stub32_ret[], pvt_stub32_end[];
extern const uint8_t pvt_land64_start[], pvt_land64_end[];

#define S_(x) #x
#define S(x) S_(x)
__asm__(".section .rodata\n"
	".globl pvt_stub32_start\n"
	".globl pvt_stub32_ret\n"
	".globl pvt_stub32_end\n"
	".globl pvt_land64_start\n"
	".globl pvt_land64_end\n"
	"pvt_stub32_start:\n"
	".code32\n"
	"  mov $7, %ax\n mov %ax, %ds\n mov %ax, %es\n"
	"  movdqu %ss:0x20000030, %xmm0\n movdqu %ss:0x20000040, %xmm1\n"
	"  movdqu %ss:0x20000050, %xmm2\n movdqu %ss:0x20000060, %xmm3\n"
	"  movdqu %ss:0x20000070, %xmm4\n movdqu %ss:0x20000080, %xmm5\n"
	"  movdqu %ss:0x20000090, %xmm6\n movdqu %ss:0x200000a0, %xmm7\n"
	"  pushl %ss:0x20000020\n popfl\n"
	"  mov %ss:0x20000000, %eax\n mov %ss:0x20000004, %ecx\n mov %ss:0x20000008, %edx\n"
	"  mov %ss:0x2000000c, %ebx\n mov %ss:0x20000014, %ebp\n mov %ss:0x20000018, %esi\n"
	"  mov %ss:0x2000001c, %edi\n"
	"  jmp *%ss:0x20000ff0\n"
	"pvt_stub32_ret:\n"
	"  pushfl\n"
	"  mov %eax, %ss:0x20000000\n mov %ecx, %ss:0x20000004\n mov %edx, %ss:0x20000008\n"
	"  mov %ebx, %ss:0x2000000c\n mov %ebp, %ss:0x20000014\n mov %esi, %ss:0x20000018\n"
	"  mov %edi, %ss:0x2000001c\n"
	"  popl %ss:0x20000020\n cld\n"
	"  movdqu %xmm0, %ss:0x20000030\n movdqu %xmm1, %ss:0x20000040\n"
	"  movdqu %xmm2, %ss:0x20000050\n movdqu %xmm3, %ss:0x20000060\n"
	"  movdqu %xmm4, %ss:0x20000070\n movdqu %xmm5, %ss:0x20000080\n"
	"  movdqu %xmm6, %ss:0x20000090\n movdqu %xmm7, %ss:0x200000a0\n"
	"  mov $0x2b, %ax\n mov %ax, %ds\n mov %ax, %es\n"
	"  pushl $0x33\n pushl $0x20001800\n lret\n"
	"pvt_stub32_end:\n"
	".code64\n"
	"pvt_land64_start:\n"
	"  jmp *0x20000fe8\n"
	"pvt_land64_end:\n"
	".text\n"
	".globl pvt_run32\n"
	".globl pvt_run32_back\n"
	"pvt_run32:\n"
	"  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"  mov %rsp, pvt_g_rsp(%rip)\n"
	"  mov $0x20016000, %esp\n"
	"  pushq $0x23\n pushq $0x20001000\n lretq\n"
	"pvt_run32_back:\n"
	"  mov pvt_g_rsp(%rip), %rsp\n"
	"  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
	"  ret\n");

struct ctx32 {
	uint32_t gpr[8];
	uint32_t eflags;
	uint32_t pad[3];
	uint8_t xmm[8][16];
};

static uint8_t *lo(uint64_t a)
{
	return (uint8_t *)(uintptr_t)a;
}

static bool setup_lo(void)
{
	void *p = mmap((void *)(uintptr_t)LO_BASE, LO_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || (uint64_t)(uintptr_t)p != LO_BASE) {
		if (p != MAP_FAILED)
			munmap(p, LO_SIZE);
		return false;
	}
	struct user_desc_ {
		unsigned int entry_number;
		unsigned int base_addr;
		unsigned int limit;
		unsigned int flags;
	} d = {0, (unsigned)LO_DATA, DATA_SIZE - 1, 0};
	/* seg_32bit=1, contents=0 (data, expand-up), read_exec_only=0, limit_in_pages=0,
	 * seg_not_present=0, useable=1 */
	d.flags = 1u | (1u << 6);
	if (syscall(SYS_modify_ldt, 1, &d, sizeof(d)) != 0) {
		munmap(p, LO_SIZE);
		return false;
	}
	size_t n = (size_t)(pvt_stub32_end - pvt_stub32_start);
	memcpy(lo(LO_STUB), pvt_stub32_start, n);
	memcpy(lo(LO_LAND), pvt_land64_start, (size_t)(pvt_land64_end - pvt_land64_start));
	uint64_t back = (uint64_t)(uintptr_t)&pvt_run32_back;
	memcpy(lo(LO_CTX + 0xfe8), &back, 8);
	return true;
}

static uint64_t pick_target32(unsigned size, unsigned margin, bool align16)
{
	uint64_t lo_ = margin, hi = DATA_SIZE - margin - size;
	uint64_t t = rn(4) == 0 ? PAGE - 1 - rn(size > 1 ? size - 1 : 1) :
				  lo_ + rn((unsigned)(hi - lo_));
	if (t < lo_)
		t = lo_;
	if (align16)
		t &= ~15ull;
	return LO_DATA + t;
}

/*
 * Build a compat-mode case. Segments: DS/ES = LDT data segment (base
 * LO_DATA, limit DATA_SIZE-1), CS/SS flat (base 0).
 */
static bool build_case32(struct tcase *tc, struct choice ch)
{
	memset(tc, 0, sizeof(*tc));
	int ti = ch.tmpl >= 0 ? ch.tmpl : (int)rn(g_nt);
	const struct tmpl *t = &g_t[ti];
	int osz = ch.osz >= 0 ? ch.osz : (int)rn(2);
	int amode = ch.amode >= 0 ? ch.amode : (int)rn(9);
	int extra = ch.extra >= 0 ? ch.extra : (rn(3) == 0 ? (int)rn(7) : 0);

	if (!t->esc && t->op == 0x63)
		return false; /* ARPL */
	if (osz == 2)
		osz = 0;
	if ((t->flags & T_NO66) && osz == 1)
		return false;
	if ((t->flags & (T_SSE | T_BYTE)) && osz == 1)
		osz = 0;
	for (unsigned i = 0; i < 8; i++)
		tc->gpr[i] = rval();
	tc->rflags = 0x2 | (rnd() & (0x8d5 | 0x400));
	for (unsigned i = 0; i < 8; i++)
		for (unsigned j = 0; j < 16; j++)
			tc->xmm[i][j] = (uint8_t)rnd();
	tc->fill = rn(4);
	tc->fill_seed = rnd();

	bool lock = extra == 1;
	bool a16 = extra == 4 || (extra == 0 && rn(4) == 0);
	uint8_t segpfx = 0;
	if (extra == 2)
		segpfx = 0x26;
	else if (extra == 3)
		segpfx = 0x36;
	else if (extra == 5)
		segpfx = rn(2) ? 0x3e : 0x2e;
	if (a16 && rn(2))
		segpfx = (uint8_t[]){0x26, 0x3e, 0x36}[rn(3)];
	uint8_t reppfx = 0;
	if (extra == 6 && !(t->flags & T_SSE) && !t->esc)
		reppfx = rn(2) ? 0xf3 : 0xf2;
	if ((t->flags & T_STRING) && rn(3))
		reppfx = rn(2) ? 0xf3 : 0xf2;

	unsigned opsize = (t->flags & T_BYTE) ? 1 : (osz == 1 ? 2 : 4);
	if (t->flags & T_SSE)
		opsize = 16;
	bool use_modrm = !(t->flags & T_NOMODRM);
	unsigned digit = 0;
	if (t->flags & T_REGDIG) {
		do
			digit = rn(8);
		while (!(t->digits & (1u << digit)));
	}
	bool regform = use_modrm && !(t->flags & T_MEMONLY) && amode == 8;
	if (amode == 8 && !regform)
		amode = (int)rn(8);
	if (lock) {
		bool ok = (t->flags & (T_LOCK | T_REGDIG)) && !regform;
		if ((t->flags & T_REGDIG) && !(t->lockdig & (1u << digit)))
			ok = false;
		if (!ok && rn(16) != 0)
			lock = false;
	}
	unsigned msize = opsize;
	if (t->esc == 0x0f && (t->op == 0xb6 || t->op == 0xbe))
		msize = 1;
	else if (t->esc == 0x0f && (t->op == 0xb7 || t->op == 0xbf))
		msize = 2;
	else if (t->flags & T_SSE) {
		if (t->op == 0x6e || t->op == 0x7e)
			msize = t->pfx == 0xf3 ? 8 : 4;
		if (t->op == 0xd6)
			msize = 8;
	}

	const unsigned avoid = 1u << PV_RSP;
	unsigned regf;
	if (t->flags & T_XREG)
		regf = rn(8);
	else if (t->flags & T_REGDIG)
		regf = digit;
	else if ((t->flags & (T_WREG | T_BTREG)) && !(opsize == 1 && !(t->flags & T_BTREG)))
		regf = pick_reg_not(avoid | 0xff00u);
	else
		regf = rn(8);
	unsigned rmreg = regform ? ((t->flags & T_XRM) ? rn(8) : pick_reg_not(avoid | 0xff00u)) : 0;
	if (regform && opsize == 1 && !(t->flags & T_XRM) && rn(2))
		rmreg = 4 + rn(4) == 4 ? 4 : rmreg; /* AH as r/m */

	/* Memory operand. */
	uint8_t mbytes[8];
	unsigned nmb = 0;
	unsigned mod = 0, rmf = 0;
	uint8_t sib = 0;
	bool has_sib = false;
	unsigned disp_size = 0;
	uint8_t *disp_at = NULL;
	(void)mbytes;
	(void)nmb;

	/* Effective segment. */
	unsigned base = 0xff, index = 0xff, scale = 1;
	unsigned seg_default_ss = 0;
	if (use_modrm && !regform) {
		if (a16) {
			rmf = rn(8);
			mod = rn(3);
			if (mod == 0 && rmf == 6)
				disp_size = 2;
			else
				disp_size = mod == 1 ? 1 : (mod == 2 ? 2 : 0);
			seg_default_ss = (rmf == 2 || rmf == 3 || (rmf == 6 && mod != 0));
		} else {
			switch (amode) {
			case 0:
				base = pick_reg_not(avoid | 0xff00u | (1u << 5));
				break;
			case 1:
			case 2:
				base = pick_reg_not(avoid | 0xff00u);
				mod = amode;
				disp_size = amode == 1 ? 1 : 4;
				break;
			case 3:
			case 4:
			case 5:
				has_sib = true;
				base = pick_reg_not(avoid | 0xff00u | (amode == 3 ? (1u << 5) : 0));
				index = pick_reg_not(avoid | 0xff00u | (1u << base));
				scale = 1u << rn(4);
				mod = amode - 3;
				disp_size = mod == 0 ? 0 : (mod == 1 ? 1 : 4);
				break;
			case 6:
				has_sib = true;
				index = rn(4) ? pick_reg_not(avoid | 0xff00u) : 0xff;
				scale = 1u << rn(4);
				disp_size = 4;
				break;
			default: /* absolute disp32 */
				disp_size = 4;
				break;
			}
			/* ESP as base (SIB, default SS): its value is known exactly
			 * (LO_STACK_TOP), the displacement reaches the data area. */
			if ((amode == 2 || amode == 5) && rn(6) == 0) {
				base = PV_RSP;
				has_sib = true;
				if (amode == 2)
					index = 0xff;
			}
			seg_default_ss = base == PV_RBP || base == PV_RSP;
			if ((t->flags & T_BTREG) && (base == regf || index == regf))
				return false;
		}
	}
	bool seg_flat; /* SS or CS: base 0, absolute */
	if (segpfx)
		seg_flat = segpfx == 0x36 || segpfx == 0x2e;
	else
		seg_flat = seg_default_ss != 0;
	if (t->flags & T_MOFFS || t->flags & T_STRING || !use_modrm || regform)
		seg_flat = segpfx == 0x36 || segpfx == 0x2e;
	if (a16 && seg_flat && (t->flags & (T_MOFFS | T_STRING) || (use_modrm && !regform)))
		return false; /* 16-bit offsets cannot reach the low region through a flat segment */

	/* Emit. */
	uint8_t *p = tc->code;
	uint8_t legacy[6];
	unsigned nl = 0;
	if (osz == 1)
		legacy[nl++] = 0x66;
	if (lock)
		legacy[nl++] = 0xf0;
	if (a16)
		legacy[nl++] = 0x67;
	if (segpfx)
		legacy[nl++] = segpfx;
	if (reppfx)
		legacy[nl++] = reppfx;
	for (unsigned i = nl; i > 1; i--) {
		unsigned j = rn(i);
		uint8_t tmp = legacy[i - 1];
		legacy[i - 1] = legacy[j];
		legacy[j] = tmp;
	}
	if (t->pfx)
		legacy[nl++] = t->pfx;
	for (unsigned i = 0; i < nl; i++)
		*p++ = legacy[i];
	if (t->esc)
		*p++ = t->esc;
	uint8_t opc = t->op;
	if (t->flags & T_CCLOW)
		opc = (uint8_t)(opc | rn(16));
	*p++ = opc;
	if (use_modrm) {
		if (regform) {
			mod = 3;
			rmf = rmreg & 7;
		} else if (!a16) {
			if (has_sib)
				rmf = 4;
			else if (base == 0xff)
				rmf = 5;
			else
				rmf = base;
			if (has_sib) {
				unsigned sb = base == 0xff ? 5 : base;
				unsigned si = index == 0xff ? 4 : index;
				unsigned ss = scale == 1 ? 0 : scale == 2 ? 1 : scale == 4 ? 2 : 3;
				sib = (uint8_t)((ss << 6) | (si << 3) | sb);
			}
		}
		*p++ = (uint8_t)((mod << 6) | ((regf & 7) << 3) | rmf);
		if (has_sib)
			*p++ = sib;
		disp_at = p;
		p += disp_size;
	} else if (t->flags & T_MOFFS) {
		disp_at = p;
		disp_size = a16 ? 2 : 4;
		p += disp_size;
	}
	unsigned imm_size = t->imm == 1 ? 1 : (t->imm == 2 ? (opsize == 2 ? 2 : 4) : 0);
	if ((t->op == 0xf6 || t->op == 0xf7) && !t->esc && digit == 0)
		imm_size = t->op == 0xf6 ? 1 : (opsize == 2 ? 2 : 4);
	uint64_t imm = rval();
	for (unsigned i = 0; i < imm_size; i++)
		*p++ = (uint8_t)(imm >> (8 * i));
	tc->len = (unsigned)(p - tc->code);
	tc->code_off = rn(4) == 0 ? PAGE - 1 - rn(tc->len > 1 ? tc->len - 1 : 1) : 64 + rn(64);

	const uint64_t segbase = seg_flat ? 0 : LO_DATA;
	const uint64_t amask = a16 ? 0xffffull : 0xffffffffull;
	if (t->flags & T_STRING) {
		unsigned cnt = reppfx ? rn(7) : 1;
		unsigned span = cnt * opsize + 16;
		uint64_t si = pick_target32(opsize, span + 8, false) - segbase;
		uint64_t di = pick_target32(opsize, span + 8, false) - LO_DATA;
		uint64_t hi = a16 ? (rnd() << 16) : 0;
		tc->gpr[PV_RSI] = ((si & amask) | hi) & 0xffffffffull;
		tc->gpr[PV_RDI] = ((di & amask) | (a16 ? (rnd() << 16) : 0)) & 0xffffffffull;
		if (reppfx)
			tc->gpr[PV_RCX] = (cnt | (a16 ? (rnd() << 16) : 0)) & 0xffffffffull;
		if (tc->fill == 1 || rn(2))
			tc->gpr[PV_RAX] = (tc->fill_seed & 0xff) * 0x01010101ull;
		return true;
	}
	if ((!use_modrm && !(t->flags & T_MOFFS)) || regform)
		return true;
	bool align = (t->flags & T_ALIGN) && rn(32) != 0;
	unsigned margin = 8;
	if (t->flags & T_BTREG) {
		int64_t bitoff = (int64_t)rn(1024) - 512;
		margin = 96;
		tc->gpr[regf] = opsize == 4 ? (uint64_t)(uint32_t)bitoff :
					      (((uint64_t)bitoff & 0xffff) | (rnd() << 16));
	}
	uint64_t target = pick_target32(msize, margin, align);
	if (!seg_flat && rn(32) == 0)
		target = LO_DATA + DATA_SIZE - 1 - rn(4); /* beyond the segment limit: #GP */
	uint64_t off = (target - segbase) & amask;
	if (t->flags & T_MOFFS) {
		for (unsigned i = 0; i < disp_size; i++)
			disp_at[i] = (uint8_t)(off >> (8 * i));
		return true;
	}
	int64_t disp = 0;
	if (disp_size == 1)
		disp = (int8_t)rn(256);
	else if (disp_size == 2)
		disp = (int16_t)rn(65536);
	else if (disp_size == 4)
		disp = (int32_t)(uint32_t)rnd();
	if (a16) {
		static const uint8_t b16[8] = {PV_RBX, PV_RBX, PV_RBP, PV_RBP,
					       PV_RSI, PV_RDI, PV_RBP, PV_RBX};
		static const uint8_t i16[8] = {PV_RSI, PV_RDI, PV_RSI, PV_RDI,
					       0xff,   0xff,   0xff,   0xff};
		if (mod == 0 && rmf == 6) {
			disp = (int64_t)off;
		} else {
			unsigned b = b16[rmf], x = i16[rmf];
			if ((t->flags & T_BTREG) && (b == regf || x == regf))
				return false;
			uint64_t xv = 0;
			if (x != 0xff) {
				xv = rnd() & 0xffff;
				tc->gpr[x] = (xv | (rnd() << 16)) & 0xffffffffull;
			}
			uint64_t bv = (off - xv - (uint64_t)disp) & 0xffff;
			tc->gpr[b] = (bv | (rnd() << 16)) & 0xffffffffull;
		}
	} else {
		uint64_t xv = 0;
		if (index != 0xff) {
			xv = rnd() & 0xffffffffull;
			tc->gpr[index] = xv;
		}
		if (base == 0xff) {
			disp = (int32_t)(uint32_t)(off - xv * scale);
		} else if (base == PV_RSP) {
			disp = (int32_t)(uint32_t)(off - LO_STACK_TOP - xv * scale);
		} else {
			tc->gpr[base] = (off - xv * scale - (uint64_t)disp) & 0xffffffffull;
		}
	}
	for (unsigned i = 0; i < disp_size; i++)
		disp_at[i] = (uint8_t)((uint64_t)disp >> (8 * i));
	return true;
}

static void run_native32(const struct tcase *tc, struct outcome *o)
{
	struct ctx32 *c = (struct ctx32 *)(void *)lo(LO_CTX);
	for (unsigned i = 0; i < 8; i++)
		c->gpr[i] = (uint32_t)tc->gpr[i];
	c->eflags = (uint32_t)tc->rflags;
	memcpy(c->xmm, tc->xmm, sizeof(c->xmm));
	uint32_t code = (uint32_t)(LO_CODE + tc->code_off);
	memcpy(lo(LO_CTX + 0xff0), &code, 4);
	g_sig = 0;
	if (sigsetjmp(g_jmp, 1) == 0)
		pvt_run32();
	o->sig = g_sig;
	memset(o->gpr, 0, sizeof(o->gpr));
	for (unsigned i = 0; i < 8; i++)
		o->gpr[i] = c->gpr[i];
	o->rflags = c->eflags;
	memset(o->xmm, 0, sizeof(o->xmm));
	memcpy(o->xmm, c->xmm, sizeof(c->xmm));
}

static void run_emu32(const struct tcase *tc, struct outcome *o)
{
	struct pv_x86emu_state st;
	memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < 8; i++)
		st.regs.gpr[i] = tc->gpr[i] & 0xffffffffull;
	st.regs.gpr[PV_RSP] = LO_STACK_TOP;
	st.regs.rip = LO_CODE + tc->code_off;
	st.regs.rflags = tc->rflags;
	memcpy(st.xmm, tc->xmm, 8 * 16);
	st.sregs.cr0 = 1u | (1u << 1) | (1u << 5);
	st.sregs.cr4 = 1u << 9;
	st.sregs.efer = (1u << 8) | (1u << 10) | (1u << 11);
	struct pv_segment flat = {
		.limit = 0xffffffffu, .present = 1, .s = 1, .type = 3, .db = 1, .dpl = 3, .g = 1};
	st.sregs.cs = flat;
	st.sregs.cs.type = 0xb;
	st.sregs.ss = flat;
	st.sregs.ds = (struct pv_segment){.base = LO_DATA,
					  .limit = DATA_SIZE - 1,
					  .present = 1,
					  .s = 1,
					  .type = 3,
					  .db = 1,
					  .dpl = 3};
	st.sregs.es = st.sregs.ds;
	st.sregs.fs.unusable = 1;
	st.sregs.gs.unusable = 1;
	uint64_t rip0 = st.regs.rip;
	o->err = PV_OK;
	memset(&o->fault, 0, sizeof(o->fault));
	for (unsigned i = 0; i < 64; i++) {
		o->err = pv_x86emu_step(&st, &g_ops, NULL, &o->fault);
		if (o->err != PV_OK || st.regs.rip != rip0)
			break;
	}
	memset(o->gpr, 0, sizeof(o->gpr));
	for (unsigned i = 0; i < 8; i++)
		o->gpr[i] = st.regs.gpr[i] & 0xffffffffull;
	o->rflags = st.regs.rflags;
	memset(o->xmm, 0, sizeof(o->xmm));
	memcpy(o->xmm, st.xmm, 8 * 16);
}

static uint8_t g_init32[DATA_SIZE], g_native32[DATA_SIZE];

static void run_case32(const struct tcase *tc, const char *what, uint64_t idx)
{
	struct outcome nat, emu;
	memset(lo(LO_CODE), 0xcc, 2 * PAGE);
	uint8_t *c = lo(LO_CODE + tc->code_off);
	memcpy(c, tc->code, tc->len);
	/* jmp rel32 back to the stub */
	uint32_t from = (uint32_t)(LO_CODE + tc->code_off + tc->len + 5);
	uint32_t to = (uint32_t)(LO_STUB + (uint64_t)(pvt_stub32_ret - pvt_stub32_start));
	c[tc->len] = 0xe9;
	uint32_t rel = to - from;
	memcpy(c + tc->len + 1, &rel, 4);
	fill_data(tc, lo(LO_DATA));
	memcpy(g_init32, lo(LO_DATA), DATA_SIZE);
	run_native32(tc, &nat);
	memcpy(g_native32, lo(LO_DATA), DATA_SIZE);
	memcpy(lo(LO_DATA), g_init32, DATA_SIZE);
	run_emu32(tc, &emu);
	static const struct cmp_mode m32 = {8, 8, 8 * 16, false};
	compare(tc, what, idx, &nat, &emu, defined_flags32(tc->code, tc->len), &m32, g_native32,
		lo(LO_DATA), g_init32);
}

static void test_diff_compat32(void **state)
{
	(void)state;
	if (!g_lo_ok) {
		printf("x86emu compat32: low region or modify_ldt unavailable, skipped\n");
		skip();
	}
	g_mismatches = g_reported = g_faults_matched = 0;
	install_handlers();
	uint64_t n = 0;
	/* table */
	for (unsigned t = 0; t < g_nt; t++)
		for (int osz = 0; osz < 2; osz++)
			for (int am = 0; am < 9; am++)
				for (int ex = 0; ex < 7; ex++) {
					struct tcase tc;
					rng_state =
						g_seed ^ (0x3232ull << 40) ^ (n * 0x100000001b3ull);
					if (!build_case32(&tc,
							  (struct choice){(int)t, osz, am, ex}))
						continue;
					run_case32(&tc, "compat32-table", n);
					n++;
				}
	uint64_t table = n;
	const char *c = getenv("PV_X86EMU_CASES32");
	uint64_t want = c ? strtoull(c, NULL, 0) : 50000;
	uint64_t tried = 0;
	while (n - table < want) {
		struct tcase tc;
		rng_state = (g_seed ^ 0x32) + tried * 0x9e3779b97f4a7c15ull;
		tried++;
		if (!build_case32(&tc, (struct choice){-1, -1, -1, -1}))
			continue;
		run_case32(&tc, "compat32-random", tried - 1);
		n++;
	}
	restore_handlers();
	printf("x86emu compat32: %llu table + %llu random cases, %u faults matched, %u mismatches\n",
	       (unsigned long long)table, (unsigned long long)(n - table), g_faults_matched,
	       g_mismatches);
	assert_int_equal(g_mismatches, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_table),
		cmocka_unit_test(test_diff_random),
		cmocka_unit_test(test_diff_compat32),
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
