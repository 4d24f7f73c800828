/* SPDX-License-Identifier: MIT */
/* Write a minimal bzImage (tests/boot/bzimage_fixture.h) whose 64-bit entry
 * point (protected-mode code + 0x200) is UD2. With no IDT loaded the #UD
 * becomes a triple fault at once: pvrun's test of its shutdown report.
 * usage: make_fault_bzimage OUT */
#include <stdio.h>
#include <stdlib.h>

#include "bzimage_fixture.h"

int main(int argc, char **argv)
{
	enum {
		SETUP = 5 * 512,
		KERNEL = 0x1000
	};
	static uint8_t img[SETUP + KERNEL];

	if (argc != 2) {
		fprintf(stderr, "usage: make_fault_bzimage OUT\n");
		return 2;
	}
	bzimage_fake_header(img, KERNEL, 2048, 0x400000);
	img[SETUP + 0x200] = 0x0f; /* ud2 */
	img[SETUP + 0x201] = 0x0b;
	FILE *f = fopen(argv[1], "wb");
	if (!f || fwrite(img, 1, sizeof(img), f) != sizeof(img) || fclose(f)) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
