/* SPDX-License-Identifier: MIT */
/*
 * The TMK guest runtime API: cases, checks, console, port/MMIO/MSR/CPUID
 * helpers, exception recovery, interrupts and extra vCPUs. Guest code only
 * (freestanding, 64-bit long mode, identity mapped).
 */
#ifndef TMK_H
#define TMK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tmk_proto.h"

/* ---- cases ---- */

struct tmk_case {
	const char *name;
	void (*fn)(void);
};

/* Define a case: TMK_CASE(io_out_in) { ... }. Cases run in link order on vCPU 0. */
#define TMK_CASE(id)                                                                           \
	static void tmk_case_fn_##id(void);                                                    \
	static const struct tmk_case tmk_case_##id                                             \
		__attribute__((used, section(".tmk_cases"), aligned(8))) = {#id,               \
									    tmk_case_fn_##id}; \
	static void tmk_case_fn_##id(void)

/* Record a failure of the current case (it keeps running). */
void tmk_fail(const char *file, int line, const char *what, uint64_t a, uint64_t b, bool vals);

#define TMK_CHECK(cond)                                                   \
	do {                                                              \
		if (!(cond))                                              \
			tmk_fail(__FILE__, __LINE__, #cond, 0, 0, false); \
	} while (0)

#define TMK_CHECK_EQ(a, b)                                                                \
	do {                                                                              \
		uint64_t tmk_a_ = (uint64_t)(a), tmk_b_ = (uint64_t)(b);                  \
		if (tmk_a_ != tmk_b_)                                                     \
			tmk_fail(__FILE__, __LINE__, #a " == " #b, tmk_a_, tmk_b_, true); \
	} while (0)

/* Mark the current case skipped (with a reason on the console). */
void tmk_skip(const char *why);

/* ---- console and reports ---- */

void tmk_puts(const char *s);
/* Minimal printf: %s %c %d %u %x %lx %llx %lu %ld %p %%; 'l' modifiers accepted. */
void tmk_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tmk_send(uint32_t type, uint64_t a0, uint64_t a1, uint64_t a2, const char *text);

uint32_t tmk_vcpu_index(void);
uint32_t tmk_vcpu_count(void);

/* ---- port I/O, MMIO, MSR, CPUID ---- */

static inline void outb(uint16_t p, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(p));
}
static inline void outw(uint16_t p, uint16_t v)
{
	__asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(p));
}
static inline void outl(uint16_t p, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p));
}
static inline uint8_t inb(uint16_t p)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint16_t inw(uint16_t p)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}
static inline uint32_t inl(uint16_t p)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p));
	return v;
}

static inline void outsb(uint16_t p, const void *buf, size_t n)
{
	__asm__ volatile("rep outsb" : "+S"(buf), "+c"(n) : "d"(p) : "memory");
}
static inline void insb(uint16_t p, void *buf, size_t n)
{
	__asm__ volatile("rep insb" : "+D"(buf), "+c"(n) : "d"(p) : "memory");
}

#define TMK_MMIO_RW(bits)                                                 \
	static inline uint##bits##_t mmio_read##bits(uint64_t a)          \
	{                                                                 \
		return *(volatile uint##bits##_t *)(uintptr_t)a;          \
	}                                                                 \
	static inline void mmio_write##bits(uint64_t a, uint##bits##_t v) \
	{                                                                 \
		*(volatile uint##bits##_t *)(uintptr_t)a = v;             \
	}
TMK_MMIO_RW(8)
TMK_MMIO_RW(16)
TMK_MMIO_RW(32)
TMK_MMIO_RW(64)

struct tmk_cpuid {
	uint32_t eax, ebx, ecx, edx;
};
static inline struct tmk_cpuid tmk_cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct tmk_cpuid r;
	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

/*
 * Faulting instructions with recovery: each returns -1 if no exception was
 * raised, else the vector (e.g. 13 for #GP). The exception is recorded by
 * the runtime's IDT through the .tmk_fixup table.
 */
int tmk_rdmsr_safe(uint32_t msr, uint64_t *value);
int tmk_wrmsr_safe(uint32_t msr, uint64_t value);
int tmk_ud2_safe(void);
/* Error code of the last recovered exception on this vCPU. */
uint64_t tmk_last_error_code(void);

/* ---- interrupts ---- */

typedef void (*tmk_irq_fn)(uint8_t vector);
/* Install a handler for vector 32..255 (NULL removes it). */
void tmk_set_irq_handler(uint8_t vector, tmk_irq_fn fn);
/* Software-enable the local APIC (SVR) at 0xFEE00000; handlers then get an automatic EOI. */
void tmk_lapic_enable(void);
/* Ask the host to inject @vector into @vcpu after @delay_us microseconds. */
void tmk_request_irq(uint32_t vcpu, uint8_t vector, uint32_t delay_us);
static inline void tmk_sti(void)
{
	__asm__ volatile("sti" ::: "memory");
}
static inline void tmk_cli(void)
{
	__asm__ volatile("cli" ::: "memory");
}
/* Wait (HLT) until *flag becomes non-zero; interrupts stay enabled afterwards. */
void tmk_wait_for(volatile uint32_t *flag);
static inline void tmk_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uint64_t tmk_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Spin (PAUSE) until *flag is non-zero or about @max_cycles TSC cycles passed.
 * Returns true if the flag was seen. The host runner is loaded and slow:
 * be generous (the runner's watchdog still bounds the whole TMK). */
bool tmk_spin_until(volatile uint32_t *flag, uint64_t max_cycles);

/* ---- more vCPUs ---- */

/* Function run by application processors started with tmk_start_vcpu(). */
typedef void (*tmk_ap_fn)(uint32_t index);
/* Ask the host to start vCPU @index; it runs @fn and then reports its exit. */
void tmk_start_vcpu(uint32_t index, tmk_ap_fn fn);

/* ---- libc-ish ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif /* TMK_H */
