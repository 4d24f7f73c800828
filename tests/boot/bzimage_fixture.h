/* SPDX-License-Identifier: MIT */
/* The setup header of a minimal valid bzImage (4 setup sectors, boot protocol
 * 2.15, loaded high, relocatable, 64-bit entry) shared by the loader tests and
 * the boot fuzzer's template; the caller owns the buffer and the payload. */
#ifndef PV_TEST_BZIMAGE_FIXTURE_H
#define PV_TEST_BZIMAGE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void bzimage_put32(uint8_t *p, size_t off, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

/* Write the header into @img (at least 0x264 bytes, zeroed by the caller):
 * @kernel_bytes of protected-mode code after the setup sectors, a command
 * line of at most @cmdline_size bytes, @init_size bytes needed at run time. */
static inline void bzimage_fake_header(uint8_t *img, uint32_t kernel_bytes, uint32_t cmdline_size,
				       uint32_t init_size)
{
	img[0x1f1] = 4;
	bzimage_put32(img, 0x1f4, kernel_bytes / 16u);
	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f;
	img[0x207] = 0x02;
	img[0x211] = 1;
	bzimage_put32(img, 0x22c, 0x7fffffff);
	bzimage_put32(img, 0x230, 0x200000);
	img[0x234] = 1;
	img[0x236] = 0x03;
	bzimage_put32(img, 0x238, cmdline_size);
	bzimage_put32(img, 0x258, 0x1000000);
	bzimage_put32(img, 0x260, init_size);
}

#endif /* PV_TEST_BZIMAGE_FIXTURE_H */
