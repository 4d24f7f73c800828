/* SPDX-License-Identifier: MIT */
/*
 * TMK guest runtime: IDT and exception recovery, interrupt handlers,
 * console, reports to the host, the case loop on vCPU 0 and the entry of
 * application processors. Kept small: guest instructions are slow.
 */
#include <stdarg.h>

#include "tmk.h"

#define TMK_STACK_SIZE 16384u
#define LAPIC_BASE 0xfee00000u

struct tmk_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct tmk_fixup {
	uint64_t insn;
	uint64_t fixup;
};

struct tmk_gate {
	uint16_t off_lo, sel;
	uint8_t ist, attr;
	uint16_t off_mid;
	uint32_t off_hi, rsvd;
};

extern const struct tmk_case __tmk_cases_start[], __tmk_cases_end[];
extern const struct tmk_fixup __tmk_fixup_start[], __tmk_fixup_end[];
extern char tmk_stacks[];
extern char tmk_isr_stubs[];

static struct tmk_gate idt[256] __attribute__((aligned(16)));
static tmk_irq_fn irq_handlers[256];
static volatile tmk_ap_fn ap_fns[TMK_MAX_VCPUS];
static uint64_t last_error[TMK_MAX_VCPUS];
static uint32_t vcpu_count;
static bool lapic_on;
static volatile uint32_t case_failed, case_skipped;
static const char *case_name; /* running case, for reports from the exception path */

void tmk_entry(uint64_t index, uint64_t count);
void tmk_isr(struct tmk_frame *f);

/* Recoverable faulting instructions; the fixup returns the vector in EAX. */
__asm__(".text\n"
	".globl tmk_rdmsr_safe\n"
	"tmk_rdmsr_safe:\n"
	"	movl %edi, %ecx\n"
	"	movq %rsi, %r8\n"
	"1:	rdmsr\n"
	"	shlq $32, %rdx\n"
	"	movl %eax, %eax\n"
	"	orq %rdx, %rax\n"
	"	movq %rax, (%r8)\n"
	"	movl $-1, %eax\n"
	"2:	ret\n"
	".pushsection .tmk_fixup, \"a\"\n"
	"	.quad 1b, 2b\n"
	".popsection\n"
	".globl tmk_wrmsr_safe\n"
	"tmk_wrmsr_safe:\n"
	"	movl %edi, %ecx\n"
	"	movq %rsi, %rax\n"
	"	movq %rsi, %rdx\n"
	"	shrq $32, %rdx\n"
	"3:	wrmsr\n"
	"	movl $-1, %eax\n"
	"4:	ret\n"
	".pushsection .tmk_fixup, \"a\"\n"
	"	.quad 3b, 4b\n"
	".popsection\n"
	".globl tmk_ud2_safe\n"
	"tmk_ud2_safe:\n"
	"5:	ud2\n"
	"	movl $-1, %eax\n"
	"6:	ret\n"
	".pushsection .tmk_fixup, \"a\"\n"
	"	.quad 5b, 6b\n"
	".popsection\n");

void *memset(void *d, int c, size_t n)
{
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return r;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

uint32_t tmk_vcpu_index(void)
{
	uint64_t sp;
	__asm__ volatile("movq %%rsp, %0" : "=r"(sp));
	uint64_t i = (sp - (uint64_t)(uintptr_t)tmk_stacks) / TMK_STACK_SIZE;
	return i < TMK_MAX_VCPUS ? (uint32_t)i : 0;
}

uint32_t tmk_vcpu_count(void)
{
	return vcpu_count;
}

void tmk_puts(const char *s)
{
	outsb(TMK_PORT_CONSOLE, s, strlen(s));
}

/* ---- printf ---- */

struct pbuf {
	char *b;
	size_t n, cap;
};

static void pc(struct pbuf *p, char c)
{
	if (p->n + 1 < p->cap)
		p->b[p->n++] = c;
}

static void pnum(struct pbuf *p, uint64_t v, unsigned base, bool neg)
{
	char t[24];
	int i = 0;
	if (neg)
		pc(p, '-');
	do {
		unsigned d = (unsigned)(v % base);
		t[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (i)
		pc(p, t[--i]);
}

static size_t tmk_vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct pbuf p = {buf, 0, cap};
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			pc(&p, *fmt);
			continue;
		}
		fmt++;
		int l = 0;
		while (*fmt == 'l') {
			l++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				pc(&p, *s);
			break;
		}
		case 'c':
			pc(&p, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = l ? va_arg(ap, int64_t) : va_arg(ap, int);
			pnum(&p, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u':
			pnum(&p, l ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false);
			break;
		case 'x':
			pnum(&p, l ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, false);
			break;
		case 'p':
			pc(&p, '0');
			pc(&p, 'x');
			pnum(&p, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false);
			break;
		case '%':
			pc(&p, '%');
			break;
		default:
			pc(&p, '?');
			break;
		}
		if (!*fmt)
			break;
	}
	if (cap)
		buf[p.n] = '\0';
	return p.n;
}

void tmk_printf(const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	size_t n = tmk_vfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	outsb(TMK_PORT_CONSOLE, buf, n);
}

/* ---- reports ---- */

void tmk_send(uint32_t type, uint64_t a0, uint64_t a1, uint64_t a2, const char *text)
{
	struct tmk_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.vcpu = tmk_vcpu_index();
	m.arg[0] = a0;
	m.arg[1] = a1;
	m.arg[2] = a2;
	if (text) {
		size_t n = strlen(text);
		if (n >= TMK_MSG_TEXT)
			n = TMK_MSG_TEXT - 1;
		memcpy(m.text, text, n);
	}
	__asm__ volatile("" ::: "memory");
	outl(TMK_PORT_REPORT, (uint32_t)(uintptr_t)&m);
}

static void send_fmt(uint32_t type, const char *fmt, ...)
{
	char buf[TMK_MSG_TEXT];
	va_list ap;
	va_start(ap, fmt);
	tmk_vfmt(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tmk_send(type, 0, 0, 0, buf);
}

void tmk_fail(const char *file, int line, const char *what, uint64_t a, uint64_t b, bool vals)
{
	case_failed = 1;
	if (vals)
		send_fmt(TMK_MSG_FAIL_DETAIL, "%s:%d: %s (0x%lx != 0x%lx)", file, line, what, a, b);
	else
		send_fmt(TMK_MSG_FAIL_DETAIL, "%s:%d: %s", file, line, what);
}

void tmk_skip(const char *why)
{
	case_skipped = 1;
	send_fmt(TMK_MSG_FAIL_DETAIL, "skipped: %s", why);
}

/* ---- exceptions and interrupts ---- */

static void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void tmk_isr(struct tmk_frame *f)
{
	uint32_t me = tmk_vcpu_index();
	if (f->vector < 32) {
		for (const struct tmk_fixup *x = __tmk_fixup_start; x < __tmk_fixup_end; x++) {
			if (x->insn == f->rip) {
				last_error[me] = f->error;
				f->rax = f->vector;
				f->rip = x->fixup;
				return;
			}
		}
		send_fmt(TMK_MSG_FAIL_DETAIL, "unexpected exception %lu (error 0x%lx) at rip 0x%lx",
			 f->vector, f->error, f->rip);
		tmk_send(TMK_MSG_CASE_END, TMK_FAIL, 0, 0, case_name);
		tmk_send(TMK_MSG_DONE, 1, 0, 1, "unexpected exception");
		halt_forever();
	}
	tmk_irq_fn fn = irq_handlers[f->vector & 0xff];
	if (fn)
		fn((uint8_t)f->vector);
	if (lapic_on)
		mmio_write32(LAPIC_BASE + 0xb0, 0); /* EOI */
}

uint64_t tmk_last_error_code(void)
{
	return last_error[tmk_vcpu_index()];
}

void tmk_set_irq_handler(uint8_t vector, tmk_irq_fn fn)
{
	if (vector >= 32)
		irq_handlers[vector] = fn;
}

void tmk_lapic_enable(void)
{
	mmio_write32(LAPIC_BASE + 0xf0, 0x1ff); /* SVR: enabled, spurious vector 0xff */
	lapic_on = true;
}

void tmk_request_irq(uint32_t vcpu, uint8_t vector, uint32_t delay_us)
{
	tmk_send(TMK_MSG_REQUEST_IRQ, vcpu, vector, delay_us, NULL);
}

void tmk_wait_for(volatile uint32_t *flag)
{
	tmk_cli();
	while (!*flag)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	tmk_sti();
}

bool tmk_spin_until(volatile uint32_t *flag, uint64_t max_cycles)
{
	uint64_t t0 = tmk_rdtsc();
	while (!*flag) {
		if (tmk_rdtsc() - t0 > max_cycles)
			return false;
		tmk_pause();
	}
	return true;
}

void tmk_start_vcpu(uint32_t index, tmk_ap_fn fn)
{
	if (index >= TMK_MAX_VCPUS)
		return;
	ap_fns[index] = fn;
	tmk_send(TMK_MSG_START_VCPU, index, 0, 0, NULL);
}

static void load_idt(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} d = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
	__asm__ volatile("lidt %0" ::"m"(d));
}

void tmk_entry(uint64_t index, uint64_t count)
{
	if (index != 0) {
		load_idt();
		tmk_ap_fn fn = ap_fns[index];
		if (fn)
			fn((uint32_t)index);
		tmk_send(TMK_MSG_VCPU_EXIT, index, 0, 0, NULL);
		halt_forever();
	}
	vcpu_count = (uint32_t)count;
	uint64_t base = (uint64_t)(uintptr_t)tmk_isr_stubs;
	for (unsigned v = 0; v < 256; v++) {
		uint64_t a = base + 16u * v;
		idt[v] = (struct tmk_gate){(uint16_t)a,         0x08, 0, 0x8e, (uint16_t)(a >> 16),
					   (uint32_t)(a >> 32), 0};
	}
	load_idt();

	uint64_t passed = 0, failed = 0;
	for (const struct tmk_case *c = __tmk_cases_start; c < __tmk_cases_end; c++) {
		case_failed = 0;
		case_skipped = 0;
		case_name = c->name;
		tmk_send(TMK_MSG_CASE_BEGIN, 0, 0, 0, c->name);
		c->fn();
		uint32_t r = case_failed ? TMK_FAIL : case_skipped ? TMK_SKIP : TMK_PASS;
		if (r == TMK_FAIL)
			failed++;
		else if (r == TMK_PASS)
			passed++;
		tmk_send(TMK_MSG_CASE_END, r, 0, 0, c->name);
	}
	tmk_send(TMK_MSG_DONE, failed ? 1 : 0, passed, failed, NULL);
	halt_forever();
}
