/* SPDX-License-Identifier: MIT */
/*
 * Shared by the x86emu TMK guest (guest.c) and its host setup (setup.c):
 * the two MMIO devices and the exact handler log the guest's cases must
 * produce, in order, in both kvm port modes.
 */
#ifndef TMK_X86EMU_CASES_H
#define TMK_X86EMU_CASES_H

#include "tmk_proto.h"

/* Far device: the core test MMIO page (absolute, moffs and SIB forms). */
#define X86EMU_FAR TMK_TESTDEV_MMIO
/* Near device: within +-2 GiB of the image, for RIP-relative forms. */
#define X86EMU_NEAR 0x00f00000u
#define X86EMU_DEV_SIZE 4096u
/* I/O port: reads 1 when the kvm port runs in MMIO emulation mode. */
#define X86EMU_MODE_PORT 0x0608u

/* One handler call: device (0 far, 1 near), direction, size, offset, value. */
struct x86emu_access {
	unsigned char dev;
	unsigned char write;
	unsigned char size;
	unsigned char first; /* first access of a new instruction */
	unsigned char only;  /* 0: both modes; X86EMU_EMU_ONLY / X86EMU_KVM_ONLY */
	unsigned short off;
	unsigned long long val;
};

#define X86EMU_EMU_ONLY 1 /* only the library's emulator makes this call */
#define X86EMU_KVM_ONLY 2 /* only KVM's emulator makes this call */

/* clang-format off */
#define F_(w, s, o, v) {0, w, s, 1, 0, o, v}
#define FC(w, s, o, v) {0, w, s, 0, 0, o, v} /* continues the previous instruction */
#define N_(w, s, o, v) {1, w, s, 1, 0, o, v}
#define FE(w, s, o, v) {0, w, s, 1, X86EMU_EMU_ONLY, o, v} /* KVM refuses the instruction */
#define FCE(w, s, o, v) {0, w, s, 0, X86EMU_EMU_ONLY, o, v}
#define FCK(w, s, o, v) {0, w, s, 0, X86EMU_KVM_ONLY, o, v}
/* clang-format on */

/*
 * Both emulators make the same device accesses: XCHG and LOCKed
 * read-modify-writes read once and write once, and a failing CMPXCHG
 * writes the old value back, as the CPU's locked bus cycle does. (FCE/FCK
 * remain for differences a future instruction may bring.)
 */

/* clang-format off */
#define X86EMU_EXPECTED_LOG {                                                  \
	/* mov_forms */                                                        \
	F_(1, 1, 0x10, 0x5a), F_(0, 1, 0x10, 0x5a),                            \
	F_(1, 2, 0x20, 0x1234), F_(0, 2, 0x20, 0x1234),                        \
	F_(1, 4, 0x40, 0xdeadbeef), F_(0, 1, 0x43, 0xde),                      \
	F_(1, 8, 0x80, 0x0123456789abcdefull), F_(0, 8, 0x80, 0x0123456789abcdefull), \
	F_(1, 4, 0x100, 0xcafef00d), F_(0, 4, 0x100, 0xcafef00d),              \
	N_(1, 4, 0x10, 0x600dcafe), N_(0, 4, 0x10, 0x600dcafe),                \
	N_(1, 8, 0x18, 0x1122334455667788ull), N_(0, 2, 0x1a, 0x5566),         \
	F_(1, 4, 0x00, 0x13579bdf), F_(1, 4, 0x08, 0x13579bdf),                \
	F_(1, 1, 0x50, 0x01),                                                  \
	/* sse_moves */                                                              \
	F_(1, 8, 0x200, 0x7766554433221100ull), FC(1, 8, 0x208, 0xffeeddccbbaa9988ull), \
	F_(0, 8, 0x200, 0x7766554433221100ull), FC(0, 8, 0x208, 0xffeeddccbbaa9988ull), \
	/* sse_movd_movq */                                                    \
	FE(1, 8, 0x210, 0x7766554433221100ull),                                \
	FE(0, 4, 0x204, 0x77665544), FE(0, 8, 0x208, 0xffeeddccbbaa9988ull),   \
	FE(1, 4, 0x220, 0x77665544),                                           \
	/* rmw */                                                              \
	F_(1, 4, 0x300, 0x80000001),                                           \
	F_(0, 4, 0x300, 0x80000001), FC(1, 4, 0x300, 0),                       \
	F_(0, 2, 0x300, 0), FC(1, 2, 0x300, 0xf0),                             \
	F_(0, 1, 0x300, 0xf0), FC(1, 1, 0x300, 0x30),                          \
	F_(0, 8, 0x308, 0), FC(1, 8, 0x308, 0xffffffffffffffffull),            \
	F_(0, 4, 0x300, 0x30), FC(1, 4, 0x300, 0x31),                          \
	F_(0, 1, 0x300, 0x31), FC(1, 1, 0x300, 0xce),                          \
	F_(0, 4, 0x300, 0xce), FC(1, 4, 0x300, 0xffffff32),                    \
	F_(0, 4, 0x300, 0xffffff32),                                           \
	FC(1, 4, 0x300, 0x11111111),                                           \
	F_(0, 4, 0x300, 0x11111111), FC(1, 4, 0x300, 0x22222222),              \
	F_(0, 4, 0x300, 0x22222222), FC(1, 4, 0x300, 0x22222222),              \
	F_(0, 4, 0x300, 0x22222222), FC(1, 4, 0x300, 0x22222223),              \
	F_(0, 4, 0x300, 0x22222223), FC(1, 4, 0x300, 0x2222222b),              \
	F_(0, 4, 0x300, 0x2222222b),                                           \
	FC(1, 4, 0x300, 0x2222232b),                                           \
	F_(0, 8, 0x308, 0xffffffffffffffffull),                                \
	FC(1, 8, 0x308, 0xfffffffffffffffeull),                                \
	F_(0, 4, 0x300, 0x2222232b), F_(0, 1, 0x300, 0x2b),                    \
	/* strings */                                                          \
	F_(1, 1, 0x400, 1), FC(1, 1, 0x401, 2), FC(1, 1, 0x402, 3),            \
	FC(1, 1, 0x403, 4), FC(1, 1, 0x404, 5),                                \
	F_(0, 4, 0x400, 0x04030201), FC(0, 4, 0x404, 5),                       \
	F_(0, 4, 0x400, 0x04030201), FC(1, 4, 0x500, 0x04030201),              \
	FC(0, 4, 0x404, 5), FC(1, 4, 0x504, 5),                                \
	F_(1, 4, 0x600, 0xabcdabcd), FC(1, 4, 0x604, 0xabcdabcd),              \
	FC(1, 4, 0x608, 0xabcdabcd),                                           \
	F_(0, 8, 0x600, 0xabcdabcdabcdabcdull),                                \
	F_(1, 2, 0x620, 0x5566),                                               \
	F_(0, 8, 0x600, 0xabcdabcdabcdabcdull), FC(1, 8, 0x700, 0xabcdabcdabcdabcdull), \
}
/* clang-format on */

#endif /* TMK_X86EMU_CASES_H */
