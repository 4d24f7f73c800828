/* SPDX-License-Identifier: MIT */
/*
 * Freestanding helpers shared by every library component: byte copies,
 * overflow-checked arithmetic and the few atomics the core needs. Only
 * compiler builtins are used, so nothing here pulls in libc headers.
 */
#ifndef PV_CORE_UTIL_H
#define PV_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PV_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PV_MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void pv_memcpy(void *dst, const void *src, size_t n)
{
	__builtin_memcpy(dst, src, n);
}

static inline void pv_memmove(void *dst, const void *src, size_t n)
{
	__builtin_memmove(dst, src, n);
}

static inline void pv_memset(void *dst, int c, size_t n)
{
	__builtin_memset(dst, c, n);
}

static inline int pv_memcmp(const void *a, const void *b, size_t n)
{
	return __builtin_memcmp(a, b, n);
}

static inline size_t pv_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* True if a + b overflows 64 bits; *out receives the wrapped sum. */
static inline bool pv_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

static inline bool pv_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}

/* [base, base+len) as an inclusive last address; false if len is 0 or it wraps. */
static inline bool pv_range_last(uint64_t base, uint64_t len, uint64_t *last)
{
	if (len == 0)
		return false;
	return !pv_add_overflow_u64(base, len - 1, last);
}

static inline bool pv_is_aligned_u64(uint64_t v, uint64_t align)
{
	return (v & (align - 1)) == 0;
}

#define pv_atomic_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define pv_atomic_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define pv_atomic_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define pv_atomic_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define pv_atomic_exchange(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define pv_atomic_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)

/* Counter bumped by its single writer and read by anyone: no locked instruction. */
static inline void pv_counter_inc(uint64_t *c)
{
	pv_atomic_store_relaxed(c, pv_atomic_load_relaxed(c) + 1);
}

#endif /* PV_CORE_UTIL_H */
