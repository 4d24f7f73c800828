/* SPDX-License-Identifier: MIT */
/* libFuzzer target: arbitrary bytes as a bzImage through parse, plan and
 * the boot-parameter builder (clang, -DPV_FUZZ=ON). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bzimage_fixture.h"
#include "paravisor/boot_linux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TPL_SIZE (5u * 512u + 4096u)

/* A valid image whose setup header the fuzzer then overwrites in part, so
 * that the checks past the magic get exercised too. */
static void template_image(uint8_t *img)
{
	memset(img, 0, TPL_SIZE);
	bzimage_fake_header(img, 4096, 255, 0x100000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pv_mem_range map[] = {
		{{0}, 64u << 20, PV_MEM_RAM},
		{{0xfec00000}, 0x1000, PV_MEM_MMIO},
		{{0x100000000ull}, 1u << 20, PV_MEM_RAM},
	};
	static struct pv_linux_plan plan;
	static uint8_t bp[PV_LINUX_BOOT_PARAMS_SIZE];
	static const uint8_t initrd[1];
	struct pv_linux_image_info info;
	struct pv_linux_boot_config c;
	uint8_t *copy;

	if (size > 2 && data[0] == 'T') {
		/* Template mode: data[1] trims the image, the rest lands on the header. */
		size_t n = size - 2 > 0x80 ? 0x80 : size - 2;
		size_t trim = (size_t)data[1] * 16u;

		copy = malloc(TPL_SIZE);
		if (!copy)
			return 0;
		template_image(copy);
		memcpy(copy + 0x1f1, data + 2, n);
		size = TPL_SIZE - trim;
	} else {
		copy = malloc(size ? size : 1);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
	}
	if (pv_linux_parse(copy, size, &info) == PV_OK) {
		/* Whatever passed the checks must be self-consistent. */
		if (info.setup_size >= size || info.header_end > size ||
		    info.setup_size + info.kernel_size != size)
			abort();
	}
	memset(&c, 0, sizeof(c));
	c.kernel = copy;
	c.kernel_size = size;
	c.map = map;
	c.map_count = 3;
	c.initrd = initrd;
	c.initrd_size = size > 16 ? (size_t)copy[0] << 16 : 1;
	c.cmdline = "console=ttyS0";
	if (pv_linux_plan(&c, &plan) == PV_OK) {
		if (pv_linux_build_boot_params(&plan, copy, size, bp) != PV_OK)
			abort();
		if (plan.kernel_end > 64u << 20 || plan.initrd_gpa + plan.initrd_size > 64u << 20)
			abort();
	}
	free(copy);
	return 0;
}
