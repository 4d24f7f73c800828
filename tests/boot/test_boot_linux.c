/* SPDX-License-Identifier: MIT */
/* Unit tests of the Linux direct-boot loader on plain buffers. */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "paravisor/boot_linux.h"

#define SETUP_SECTS 4u
#define SETUP_SIZE ((SETUP_SECTS + 1u) * 512u)
#define KERNEL_BYTES 8192u
#define IMAGE_SIZE (SETUP_SIZE + KERNEL_BYTES)
#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	put16(p, off, (uint16_t)v);
	put16(p, off + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	put32(p, off, (uint32_t)v);
	put32(p, off + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
	       (uint32_t)p[off + 3] << 24;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	return get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

/* A minimal bzImage: setup header as Linux 6.1 writes it, plus a kernel payload. */
static uint8_t *fake_image(void)
{
	uint8_t *img = calloc(1, IMAGE_SIZE);

	assert_non_null(img);
	img[0x1f1] = SETUP_SECTS;
	put32(img, 0x1f4, KERNEL_BYTES / 16u); /* syssize */
	put16(img, 0x1fe, 0xaa55);             /* boot_flag */
	img[0x200] = 0xeb;                     /* jmp short */
	img[0x201] = 0x6a;                     /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	put16(img, 0x206, 0x020f);     /* protocol 2.15 */
	img[0x211] = 0x01;             /* LOADED_HIGH */
	put32(img, 0x214, 0x100000);   /* code32_start */
	put32(img, 0x22c, 0x7fffffff); /* initrd_addr_max */
	put32(img, 0x230, 0x200000);   /* kernel_alignment */
	img[0x234] = 1;                /* relocatable */
	put16(img, 0x236, 0x7f);       /* xloadflags: KERNEL_64 ... */
	put32(img, 0x238, 255);        /* cmdline_size */
	put64(img, 0x258, 0x1000000);  /* pref_address */
	put32(img, 0x260, 4 * MiB);    /* init_size */
	for (size_t i = SETUP_SIZE; i < IMAGE_SIZE; i++)
		img[i] = (uint8_t)(i * 7u);
	return img;
}

/* 1 GiB of RAM, an MMIO hole, 1 GiB of high RAM. */
static const struct pv_mem_range test_map[] = {
	{{0}, 1 * GiB, PV_MEM_RAM},
	{{0xfec00000}, 0x1000, PV_MEM_MMIO},
	{{0xfed40000}, 0x5000, PV_MEM_RESERVED},
	{{4 * GiB}, 1 * GiB, PV_MEM_RAM},
};

static void base_config(struct pv_linux_boot_config *c, const uint8_t *img)
{
	memset(c, 0, sizeof(*c));
	c->kernel = img;
	c->kernel_size = IMAGE_SIZE;
	c->map = test_map;
	c->map_count = sizeof(test_map) / sizeof(test_map[0]);
}

static void test_parse_good(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	struct pv_linux_image_info info;

	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_OK);
	assert_int_equal(info.protocol, 0x020f);
	assert_int_equal(info.setup_sects, SETUP_SECTS);
	assert_int_equal(info.setup_size, SETUP_SIZE);
	assert_int_equal(info.header_end, 0x26c);
	assert_int_equal(info.kernel_size, KERNEL_BYTES);
	assert_int_equal(info.kernel_alignment, 0x200000);
	assert_true(info.relocatable);
	assert_int_equal(info.pref_address, 0x1000000);
	assert_int_equal(info.init_size, 4 * MiB);
	assert_int_equal(info.cmdline_size, 255);
	assert_int_equal(info.initrd_addr_max, 0x7fffffff);
	assert_int_equal(info.xloadflags & 1, 1);

	/* setup_sects == 0 means 4. */
	img[0x1f1] = 0;
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_OK);
	assert_int_equal(info.setup_sects, 4);
	free(img);
}

static void test_parse_truncated(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	struct pv_linux_image_info info;

	assert_int_equal(pv_linux_parse(img, 0, &info), PV_EBADMSG);
	assert_int_equal(pv_linux_parse(img, 0x1f1, &info), PV_EBADMSG);
	assert_int_equal(pv_linux_parse(img, 0x206, &info), PV_EBADMSG);
	/* Header present but ends past the data. */
	assert_int_equal(pv_linux_parse(img, 0x260, &info), PV_EBADMSG);
	/* No kernel after the setup sectors. */
	assert_int_equal(pv_linux_parse(img, SETUP_SIZE, &info), PV_EBADMSG);
	/* Kernel shorter than syssize promises. */
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE - 16, &info), PV_EBADMSG);
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE - 1, &info), PV_EBADMSG);
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_OK);
	/* A header claiming to end before init_size is malformed. */
	img[0x201] = 0x20;
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_EBADMSG);
	assert_int_equal(pv_linux_parse(NULL, IMAGE_SIZE, &info), PV_EINVAL);
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, NULL), PV_EINVAL);
	free(img);
}

static void test_parse_bad_magic(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	struct pv_linux_image_info info;

	img[0x205] = 'T';
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_EBADMSG);
	img[0x205] = 'S';
	put16(img, 0x1fe, 0x55aa);
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_EBADMSG);
	put16(img, 0x1fe, 0xaa55);
	put32(img, 0x1f4, 0); /* syssize 0 */
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_EBADMSG);
	put32(img, 0x1f4, KERNEL_BYTES / 16u);
	put32(img, 0x230, 0x300000); /* alignment not a power of two */
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_EBADMSG);
	put32(img, 0x230, 0x200000);
	put32(img, 0x260, 0); /* init_size 0 */
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_EBADMSG);
	free(img);
}

static void test_parse_old_protocol(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	struct pv_linux_image_info info;

	put16(img, 0x206, 0x020b); /* 2.11: no 64-bit entry protocol */
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_ENOTSUP);
	put16(img, 0x206, 0x020c);
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_OK);
	put16(img, 0x236, 0x7e); /* no XLF_KERNEL_64 */
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_ENOTSUP);
	put16(img, 0x236, 0x7f);
	img[0x211] = 0; /* zImage */
	assert_int_equal(pv_linux_parse(img, IMAGE_SIZE, &info), PV_ENOTSUP);
	free(img);
}

static void test_e820(void **state)
{
	(void)state;
	const struct pv_linux_e820_extra extra[] = {
		{0x9fc00, 0x400, PV_E820_RESERVED}, /* inside low RAM: splits it */
		{0xe0000, 0x20000, PV_E820_ACPI},
		{0xfec00000, 0x1000, PV_E820_RESERVED}, /* over the MMIO hole */
	};
	struct pv_e820_entry e[16];
	uint32_t n = 0;

	assert_int_equal(pv_linux_build_e820(test_map, 4, extra, 3, e, 16, &n), PV_OK);
	assert_int_equal(n, 8);
	/* Sorted, non-overlapping. */
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, 0x9fc00);
	assert_int_equal(e[0].type, PV_E820_RAM);
	assert_int_equal(e[1].addr, 0x9fc00);
	assert_int_equal(e[1].type, PV_E820_RESERVED);
	assert_int_equal(e[2].addr, 0xa0000);
	assert_int_equal(e[2].size, 0xe0000 - 0xa0000);
	assert_int_equal(e[2].type, PV_E820_RAM);
	assert_int_equal(e[3].addr, 0xe0000);
	assert_int_equal(e[3].type, PV_E820_ACPI);
	assert_int_equal(e[4].addr, 0x100000);
	assert_int_equal(e[4].size, 1 * GiB - 0x100000);
	assert_int_equal(e[4].type, PV_E820_RAM);
	assert_int_equal(e[5].addr, 0xfec00000);
	assert_int_equal(e[5].size, 0x1000); /* the MMIO hole, now reserved */
	assert_int_equal(e[5].type, PV_E820_RESERVED);
	assert_int_equal(e[6].addr, 0xfed40000);
	assert_int_equal(e[6].type, PV_E820_RESERVED);
	assert_int_equal(e[7].addr, 4 * GiB);
	assert_int_equal(e[7].type, PV_E820_RAM);
	for (uint32_t i = 1; i < n; i++)
		assert_true(e[i].addr >= e[i - 1].addr + e[i - 1].size);

	/* Not enough room. */
	assert_int_equal(pv_linux_build_e820(test_map, 4, extra, 3, e, 5, &n), PV_ERANGE);
	/* Bad extras: RAM type, zero size, wrap-around, unknown type. */
	struct pv_linux_e820_extra bad = {0x1000, 0x1000, PV_E820_RAM};
	assert_int_equal(pv_linux_build_e820(test_map, 4, &bad, 1, e, 16, &n), PV_EINVAL);
	bad = (struct pv_linux_e820_extra){0x1000, 0, PV_E820_ACPI};
	assert_int_equal(pv_linux_build_e820(test_map, 4, &bad, 1, e, 16, &n), PV_EINVAL);
	bad = (struct pv_linux_e820_extra){UINT64_MAX - 10, 0x1000, PV_E820_ACPI};
	assert_int_equal(pv_linux_build_e820(test_map, 4, &bad, 1, e, 16, &n), PV_EINVAL);
	bad = (struct pv_linux_e820_extra){0x1000, 0x1000, 9};
	assert_int_equal(pv_linux_build_e820(test_map, 4, &bad, 1, e, 16, &n), PV_EINVAL);
	/* Overlapping map. */
	const struct pv_mem_range overlap[] = {
		{{0}, 2 * MiB, PV_MEM_RAM},
		{{1 * MiB}, 2 * MiB, PV_MEM_RESERVED},
	};
	assert_int_equal(pv_linux_build_e820(overlap, 2, NULL, 0, e, 16, &n), PV_EINVAL);
	assert_int_equal(pv_linux_build_e820(NULL, 2, NULL, 0, e, 16, &n), PV_EINVAL);
	/* Touching entries of one type merge. */
	const struct pv_linux_e820_extra touch[] = {
		{0xfec01000, 0x1000, PV_E820_RESERVED},
		{0xfec00000, 0x1000, PV_E820_RESERVED},
	};
	assert_int_equal(pv_linux_build_e820(test_map, 4, touch, 2, e, 16, &n), PV_OK);
	assert_int_equal(n, 4);
	assert_int_equal(e[1].addr, 0xfec00000);
	assert_int_equal(e[1].size, 0x2000);
	/* Adjacent RAM ranges merge. */
	const struct pv_mem_range adj[] = {
		{{2 * MiB}, 2 * MiB, PV_MEM_RAM},
		{{0}, 2 * MiB, PV_MEM_RAM},
	};
	assert_int_equal(pv_linux_build_e820(adj, 2, NULL, 0, e, 16, &n), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].size, 4 * MiB);
}

static void test_plan_good(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	struct pv_linux_boot_config c;
	static struct pv_linux_plan plan;
	static uint8_t initrd[3 * 4096 + 100];
	const char *cmd = "console=ttyS0 panic=-1";

	base_config(&c, img);
	c.initrd = initrd;
	c.initrd_size = sizeof(initrd);
	c.cmdline = cmd;
	c.rsdp_gpa = 0xe0000;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_int_equal(plan.kernel_gpa, 0x1000000);
	assert_int_equal(plan.kernel_end, 0x1000000 + 4 * MiB);
	/* Highest page-aligned spot below the 1 GiB RAM top (< initrd_addr_max). */
	assert_int_equal(plan.initrd_gpa, (1 * GiB - sizeof(initrd)) & ~0xfffull);
	assert_int_equal(plan.initrd_size, sizeof(initrd));
	assert_int_equal(plan.cmdline_len, strlen(cmd));
	assert_int_equal(plan.boot_params_gpa, 0x7000);
	assert_int_equal(plan.page_tables_gpa, 0x9000);
	assert_int_equal(plan.cmdline_gpa, 0x20000);
	assert_int_equal(plan.gdt_gpa, 0x6000);

	/* initrd_addr_max below the RAM top wins. */
	put32(img, 0x22c, 0x0fffffff);
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_int_equal(plan.initrd_gpa, (0x10000000 - sizeof(initrd)) & ~0xfffull);
	/* initrd_limit caps it further; an initrd too big for the space above the
	 * kernel goes below it. */
	c.initrd_limit = 0x1000000 + 4 * MiB + 0x2000;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_true(plan.initrd_gpa + plan.initrd_size <= 0x1000000);
	assert_true(plan.initrd_gpa >= 0x20000 + 4096);
	/* Kernel at a caller address must respect kernel_alignment. */
	c.initrd_limit = 0;
	c.kernel_gpa = 0x2100000;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	c.kernel_gpa = 0x2200000;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_int_equal(plan.kernel_gpa, 0x2200000);
	/* Kernel outside RAM. */
	c.kernel_gpa = 0x40000000 - 0x200000;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* Loader pages overlapping each other. */
	c.kernel_gpa = 0;
	c.cmdline_gpa = 0x7800;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	c.cmdline_gpa = 0;
	c.page_tables_gpa = 0x9800; /* unaligned */
	assert_int_equal(pv_linux_plan(&c, &plan), PV_EINVAL);
	free(img);
}

static void test_initrd_too_high_or_big(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	struct pv_linux_boot_config c;
	static struct pv_linux_plan plan;
	static uint8_t initrd[8192];

	base_config(&c, img);
	c.initrd = initrd;
	c.initrd_size = sizeof(initrd);
	/* Fixed above initrd_addr_max. */
	put32(img, 0x22c, 0x0fffffff);
	c.initrd_gpa = 0x10000000;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* Straddling the limit. */
	c.initrd_gpa = 0x10000000 - 4096;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* Just fits. */
	c.initrd_gpa = 0x10000000 - 8192;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_int_equal(plan.initrd_gpa, 0x10000000 - 8192);
	/* Fixed on top of the kernel. */
	c.initrd_gpa = 0x1000000 + 0x1000;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* High RAM above 4 GiB is never used for the initrd. */
	c.initrd_gpa = 4 * GiB;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* Too big for any RAM under the limit: declare a 1.5 GiB initrd (the
	 * planner does not read the bytes). */
	put32(img, 0x22c, 0x7fffffff);
	c.initrd_gpa = 0;
	c.initrd_size = 1536 * MiB;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* Bigger than the whole limit. */
	c.initrd_size = 3 * GiB;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* Fits when it is only the RAM above the kernel. */
	c.initrd_size = 512 * MiB;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_int_equal(plan.initrd_gpa, 512 * MiB);
	free(img);
}

static void test_cmdline_too_long(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	struct pv_linux_boot_config c;
	static struct pv_linux_plan plan;
	char cmd[300];

	base_config(&c, img);
	memset(cmd, 'a', 255);
	cmd[255] = 0;
	c.cmdline = cmd;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_int_equal(plan.cmdline_len, 255);
	memset(cmd, 'a', 256);
	cmd[256] = 0;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* A larger cmdline_size in the header accepts it. */
	put32(img, 0x238, 2047);
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	free(img);
}

static void test_boot_params(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	struct pv_linux_boot_config c;
	static struct pv_linux_plan plan;
	static uint8_t bp[PV_LINUX_BOOT_PARAMS_SIZE];
	static uint8_t initrd[4096];
	const struct pv_linux_e820_extra acpi = {0xe0000, 0x20000, PV_E820_ACPI};

	base_config(&c, img);
	c.initrd = initrd;
	c.initrd_size = sizeof(initrd);
	c.cmdline = "quiet";
	c.rsdp_gpa = 0xe0000;
	c.extra = &acpi;
	c.extra_count = 1;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	memset(bp, 0xcc, sizeof(bp));
	assert_int_equal(pv_linux_build_boot_params(&plan, img, IMAGE_SIZE, bp), PV_OK);
	/* Setup header copied, loader fields filled. */
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(bp[0x1f1], SETUP_SECTS);
	assert_int_equal(get32(bp, 0x260), 4 * MiB);
	assert_int_equal(bp[0x210], 0xff);
	assert_int_equal(get32(bp, 0x228), 0x20000);
	assert_int_equal(get32(bp, 0xc8), 0);
	assert_int_equal(get32(bp, 0x218), (uint32_t)plan.initrd_gpa);
	assert_int_equal(get32(bp, 0x21c), sizeof(initrd));
	assert_int_equal(get32(bp, 0xc0), 0);
	assert_int_equal(get64(bp, 0x70), 0xe0000);
	assert_int_equal(get32(bp, 0x214), 0x1000000);
	/* Bytes outside the header and the fields are zero. */
	assert_int_equal(bp[0], 0);
	assert_int_equal(bp[0x26c], 0);
	assert_int_equal(bp[0xfff], 0);
	/* E820: RAM 0..0xe0000, ACPI, RAM 1M..1G, reserved TPM, RAM 4G..5G. */
	assert_int_equal(bp[0x1e8], plan.e820_count);
	assert_int_equal(plan.e820_count, 5);
	assert_int_equal(get64(bp, 0x2d0), 0);
	assert_int_equal(get64(bp, 0x2d8), 0xe0000);
	assert_int_equal(get32(bp, 0x2e0), 1);
	assert_int_equal(get64(bp, 0x2d0 + 20), 0xe0000);
	assert_int_equal(get32(bp, 0x2d0 + 20 + 16), 3);
	assert_int_equal(get64(bp, 0x2d0 + 80), 4 * GiB);
	assert_int_equal(get64(bp, 0x2d0 + 88), 1 * GiB);
	/* The ACPI range is no longer usable for loader pages. */
	c.cmdline_gpa = 0xe1000;
	assert_int_equal(pv_linux_plan(&c, &plan), PV_ERANGE);
	/* Old protocols do not get acpi_rsdp_addr. */
	c.cmdline_gpa = 0;
	put16(img, 0x206, 0x020d);
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_int_equal(pv_linux_build_boot_params(&plan, img, IMAGE_SIZE, bp), PV_OK);
	assert_int_equal(get64(bp, 0x70), 0);
	assert_int_equal(pv_linux_build_boot_params(&plan, img, 0x100, bp), PV_EINVAL);
	free(img);
}

static void test_page_tables_gdt_entry(void **state)
{
	(void)state;
	static uint8_t pt[PV_LINUX_PAGE_TABLES_SIZE];
	uint8_t gdt[PV_LINUX_GDT_SIZE];
	struct pv_linux_plan plan;
	struct pv_regs regs;
	struct pv_sregs sregs;

	assert_int_equal(pv_linux_build_page_tables(0x9000, pt), PV_OK);
	assert_int_equal(get64(pt, 0), 0xa000 | 3);
	assert_int_equal(get64(pt, 8), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(get64(pt, 0x1000 + i * 8), (0xb000 + i * 0x1000) | 3);
	assert_int_equal(get64(pt, 0x1000 + 32), 0);
	assert_int_equal(get64(pt, 0x2000), 0x83);
	assert_int_equal(get64(pt, 0x2008), 0x200000 | 0x83);
	/* Last 2 MiB page below 4 GiB. */
	assert_int_equal(get64(pt, 0x5000 + 511 * 8), 0xffe00000 | 0x83);
	assert_int_equal(pv_linux_build_page_tables(0x9100, pt), PV_EINVAL);
	assert_int_equal(pv_linux_build_page_tables(0xffffc000, pt), PV_EINVAL);

	pv_linux_build_gdt(gdt);
	assert_int_equal(get64(gdt, 0), 0);
	assert_int_equal(get64(gdt, 8), 0);
	assert_int_equal(get64(gdt, 0x10), 0x00af9b000000ffffull);
	assert_int_equal(get64(gdt, 0x18), 0x00cf93000000ffffull);
	assert_int_equal(get64(gdt, 0x20) & 0x0000ff000000ffffull, 0x00008b0000000067ull);

	memset(&plan, 0, sizeof(plan));
	plan.kernel_gpa = 0x1000000;
	plan.boot_params_gpa = 0x7000;
	plan.page_tables_gpa = 0x9000;
	plan.gdt_gpa = 0x6000;
	plan.stack_gpa = 0x8000;
	pv_linux_entry_state(&plan, &regs, &sregs);
	assert_int_equal(regs.rip, 0x1000200);
	assert_int_equal(regs.gpr[PV_RSI], 0x7000);
	assert_int_equal(regs.gpr[PV_RSP], 0x8ff0);
	assert_int_equal(regs.rflags & PV_RFLAGS_IF, 0);
	assert_int_equal(sregs.cs.selector, 0x10);
	assert_int_equal(sregs.cs.l, 1);
	assert_int_equal(sregs.cs.db, 0);
	assert_int_equal(sregs.ds.selector, 0x18);
	assert_int_equal(sregs.ss.selector, 0x18);
	assert_int_equal(sregs.tr.selector, 0x20);
	assert_int_equal(sregs.gdt.base, 0x6000);
	assert_int_equal(sregs.gdt.limit, PV_LINUX_GDT_SIZE - 1);
	assert_int_equal(sregs.cr0 & 0x80000001u, 0x80000001u);
	assert_int_equal(sregs.cr3, 0x9000);
	assert_int_equal(sregs.cr4 & 0x20, 0x20);
	assert_int_equal(sregs.efer & 0x500, 0x500);
}

/* Every truncation and every single-byte header mutation gives a defined
 * result; whatever parses also plans and builds without surprises. */
static void test_parse_mutations(void **state)
{
	(void)state;
	uint8_t *img = fake_image();
	static uint8_t bp[PV_LINUX_BOOT_PARAMS_SIZE];
	static struct pv_linux_plan plan;
	struct pv_linux_image_info info;
	struct pv_linux_boot_config c;
	const uint8_t values[] = {0x00, 0x01, 0x02, 0x0c, 0x7f, 0x80, 0xfe, 0xff};
	unsigned ok = 0, refused = 0;

	for (size_t n = 0; n < IMAGE_SIZE; n++) {
		pv_err_t e = pv_linux_parse(img, n, &info);
		assert_int_equal(e, PV_EBADMSG);
	}
	base_config(&c, img);
	for (size_t off = 0x1f0; off < 0x270; off++) {
		uint8_t saved = img[off];

		for (size_t v = 0; v < sizeof(values); v++) {
			img[off] = values[v];
			pv_err_t e = pv_linux_parse(img, IMAGE_SIZE, &info);
			assert_true(e == PV_OK || e == PV_EBADMSG || e == PV_ENOTSUP);
			if (e != PV_OK) {
				refused++;
				continue;
			}
			ok++;
			assert_true(info.setup_size < IMAGE_SIZE);
			assert_int_equal(info.setup_size + info.kernel_size, IMAGE_SIZE);
			e = pv_linux_plan(&c, &plan);
			assert_true(e == PV_OK || e == PV_ERANGE);
			if (e == PV_OK) {
				assert_int_equal(
					pv_linux_build_boot_params(&plan, img, IMAGE_SIZE, bp),
					PV_OK);
				assert_true(plan.kernel_end <= 1 * GiB);
				assert_int_equal(plan.kernel_gpa % plan.info.kernel_alignment, 0);
			}
		}
		img[off] = saved;
	}
	/* Both outcomes happen: the mutations reach past the first checks. */
	assert_true(ok > 100);
	assert_true(refused > 50);
	free(img);
}

/* Parse (and plan) a real Debian kernel if one is around; skip otherwise. */
static void test_real_kernel(void **state)
{
	(void)state;
	const char *patterns[] = {"/boot/vmlinuz-*", NULL, NULL};
	char cache_pattern[512];
	const char *env = getenv("PV_TEST_BZIMAGE");
	const char *home = getenv("HOME");
	char path[512] = "";
	glob_t g;

	if (home) {
		snprintf(cache_pattern, sizeof(cache_pattern),
			 "%s/.cache/libparavisor-lab/linux-image-*/boot/vmlinuz-*", home);
		patterns[1] = cache_pattern;
	}
	if (env)
		snprintf(path, sizeof(path), "%s", env);
	for (size_t i = 0; !path[0] && patterns[i]; i++) {
		if (glob(patterns[i], 0, NULL, &g) == 0) {
			snprintf(path, sizeof(path), "%s", g.gl_pathv[0]);
			globfree(&g);
		}
	}
	if (!path[0])
		skip();
	FILE *f = fopen(path, "rb");
	if (!f)
		skip();
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	assert_true(size > 0);
	uint8_t *img = malloc((size_t)size);
	assert_non_null(img);
	assert_int_equal(fread(img, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	print_message("parsing %s\n", path);

	struct pv_linux_image_info info;
	assert_int_equal(pv_linux_parse(img, (size_t)size, &info), PV_OK);
	assert_true(info.protocol >= 0x020c);
	assert_true(info.relocatable);
	assert_true(info.init_size > info.kernel_size);
	/* Truncating a real image is refused. */
	assert_int_equal(pv_linux_parse(img, (size_t)size / 2, &info), PV_EBADMSG);

	struct pv_linux_boot_config c;
	static struct pv_linux_plan plan;
	memset(&c, 0, sizeof(c));
	c.kernel = img;
	c.kernel_size = (size_t)size;
	c.map = test_map;
	c.map_count = 4;
	c.cmdline = "console=ttyS0";
	assert_int_equal(pv_linux_plan(&c, &plan), PV_OK);
	assert_int_equal(plan.kernel_gpa % plan.info.kernel_alignment, 0);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_bad_magic),
		cmocka_unit_test(test_parse_old_protocol),
		cmocka_unit_test(test_e820),
		cmocka_unit_test(test_plan_good),
		cmocka_unit_test(test_initrd_too_high_or_big),
		cmocka_unit_test(test_cmdline_too_long),
		cmocka_unit_test(test_boot_params),
		cmocka_unit_test(test_page_tables_gdt_entry),
		cmocka_unit_test(test_parse_mutations),
		cmocka_unit_test(test_real_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
