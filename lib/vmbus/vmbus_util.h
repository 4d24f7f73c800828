/* SPDX-License-Identifier: MIT */
/**
 * @file vmbus_util.h
 * @brief Freestanding helpers for lib/vmbus: byte copies, little-endian
 *        field access in wire buffers, overflow checks and fences.
 */
#ifndef PV_VMBUS_UTIL_H
#define PV_VMBUS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

static inline void vmb_memcpy(void *dst, const void *src, size_t n)
{
	pv_memcpy(dst, src, n);
}

static inline void vmb_memset(void *dst, int c, size_t n)
{
	pv_memset(dst, c, n);
}

static inline bool vmb_memeq(const void *a, const void *b, size_t n)
{
	return pv_memcmp(a, b, n) == 0;
}

static inline uint16_t vmb_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t vmb_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t vmb_get64(const uint8_t *p)
{
	return (uint64_t)vmb_get32(p) | ((uint64_t)vmb_get32(p + 4) << 32);
}

static inline void vmb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void vmb_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void vmb_put64(uint8_t *p, uint64_t v)
{
	vmb_put32(p, (uint32_t)v);
	vmb_put32(p + 4, (uint32_t)(v >> 32));
}

/** a + b into *out; true on overflow. */
static inline bool vmb_add_overflow(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

/** Full barrier between publishing an index and reading the peer's fields. */
static inline void vmb_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/** Order earlier ring-data writes before the index store that publishes them. */
static inline void vmb_fence_release(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/** Order the load of the peer's index before the loads of the data it covers. */
static inline void vmb_fence_acquire(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

#endif /* PV_VMBUS_UTIL_H */
