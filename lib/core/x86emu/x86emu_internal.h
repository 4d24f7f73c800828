/* SPDX-License-Identifier: MIT */
/* Private helpers shared by the x86 emulator sources. Freestanding. */
#ifndef PV_X86EMU_INTERNAL_H
#define PV_X86EMU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <paravisor/x86emu.h>

#define X86_CR0_PE (1ull << 0)
#define X86_CR0_EM (1ull << 2)
#define X86_CR0_TS (1ull << 3)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_PSE (1ull << 4)
#define X86_CR4_PAE (1ull << 5)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_LA57 (1ull << 12)
#define X86_CR4_SMEP (1ull << 20)
#define X86_CR4_SMAP (1ull << 21)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)
#define X86_RFLAGS_AC (1ull << 18)
#define X86_RFLAGS_VM (1ull << 17)

#define X86_PAGE_SIZE 4096u

static inline void x86_bytecopy(void *dst, const void *src, size_t n)
{
	uint8_t *d = (uint8_t *)dst;
	const uint8_t *s = (const uint8_t *)src;
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}

static inline void x86_bytezero(void *dst, size_t n)
{
	uint8_t *d = (uint8_t *)dst;
	for (size_t i = 0; i < n; i++)
		d[i] = 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define X86_HOST_LE 1
#else
#define X86_HOST_LE 0
#endif

/* Little-endian load of n (<= 8) bytes. Constant-size __builtin_memcpy on
 * little-endian hosts (no libc call), a byte loop elsewhere. */
static inline uint64_t x86_load_le(const uint8_t *p, unsigned n)
{
	if (X86_HOST_LE) {
		switch (n) {
		case 1:
			return p[0];
		case 2: {
			uint16_t v;
			__builtin_memcpy(&v, p, 2);
			return v;
		}
		case 4: {
			uint32_t v;
			__builtin_memcpy(&v, p, 4);
			return v;
		}
		case 8: {
			uint64_t v;
			__builtin_memcpy(&v, p, 8);
			return v;
		}
		default:
			break;
		}
	}
	uint64_t v = 0;
	for (unsigned i = n; i > 0; i--)
		v = (v << 8) | p[i - 1];
	return v;
}

static inline void x86_store_le(uint8_t *p, uint64_t v, unsigned n)
{
	if (X86_HOST_LE) {
		switch (n) {
		case 1:
			p[0] = (uint8_t)v;
			return;
		case 2: {
			uint16_t w = (uint16_t)v;
			__builtin_memcpy(p, &w, 2);
			return;
		}
		case 4: {
			uint32_t w = (uint32_t)v;
			__builtin_memcpy(p, &w, 4);
			return;
		}
		case 8:
			__builtin_memcpy(p, &v, 8);
			return;
		default:
			break;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t x86_size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : ((1ull << (size * 8u)) - 1u);
}

/* Sign-extend the low @bytes bytes of @v to 64 bits. */
static inline int64_t x86_sext(uint64_t v, unsigned bytes)
{
	if (bytes >= 8)
		return (int64_t)v;
	unsigned sh = 64 - bytes * 8;
	return (int64_t)(v << sh) >> sh;
}

static inline void x86_set_fault(struct pv_x86_fault *f, uint8_t vec, bool has_ec, uint32_t ec,
				 uint64_t addr)
{
	f->vector = vec;
	f->has_error_code = has_ec;
	f->error_code = ec;
	f->address = addr;
}

#endif /* PV_X86EMU_INTERNAL_H */
