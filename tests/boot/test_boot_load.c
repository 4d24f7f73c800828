/* SPDX-License-Identifier: MIT */
/* pv_linux_load() and pv_linux_start() end to end on the mock port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/bzimage_fixture.h"
#include "paravisor/acpi.h"
#include "paravisor/boot_linux.h"
#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

#define MiB (1024ull * 1024ull)
#define SETUP_SIZE (5u * 512u)
#define KERNEL_BYTES 65536u
#define IMAGE_SIZE (SETUP_SIZE + KERNEL_BYTES)

struct fx {
	struct pv_mock *mock;
	struct pv_partition *part;
	uint8_t *img;
	uint8_t *initrd;
};

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint8_t *fake_image(void)
{
	uint8_t *img = calloc(1, IMAGE_SIZE);

	assert_non_null(img);
	bzimage_fake_header(img, KERNEL_BYTES, 2047, 8 * MiB);
	for (size_t i = SETUP_SIZE; i < IMAGE_SIZE; i++)
		img[i] = (uint8_t)(i * 13u + 1u);
	return img;
}

static int setup_with(void **state, uint64_t low_ram)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_mock_config mc = {0};
	const struct pv_mem_range ranges[] = {
		{pv_gpa(0), low_ram, PV_MEM_RAM},
		{pv_gpa(0xfec00000), 0x1000, PV_MEM_MMIO},
		{pv_gpa(0x100000000ull), 16 * MiB, PV_MEM_RAM},
	};

	assert_non_null(f);
	assert_int_equal(pv_mock_create(&mc, &f->mock), PV_OK);
	struct pv_partition_config pc = {
		.vcpu_count = 2,
		.vtl_count = 1,
		.ranges = ranges,
		.range_count = 3,
		.port = pv_mock_port_ops(f->mock),
		.port_ctx = f->mock,
	};
	assert_int_equal(pv_partition_create(&pc, &f->part), PV_OK);
	f->img = fake_image();
	f->initrd = malloc(3 * 4096 + 17);
	assert_non_null(f->initrd);
	memset(f->initrd, 0x5a, 3 * 4096 + 17);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 64 * MiB);
}

static int setup_small(void **state)
{
	return setup_with(state, 16 * MiB);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pv_partition_destroy(f->part);
	pv_mock_destroy(f->mock);
	free(f->img);
	free(f->initrd);
	free(f);
	return 0;
}

static void rd(struct fx *f, uint64_t gpa, void *buf, size_t len)
{
	assert_int_equal(pv_mem_read(f->part, PV_ACCESS_PARAVISOR, pv_gpa(gpa), buf, len), PV_OK);
}

static void test_load_and_start(void **state)
{
	struct fx *f = *state;
	const char *cmd = "console=ttyS0 earlyprintk=serial";
	const struct pv_linux_e820_extra acpi = {PV_ACPI_DEFAULT_BASE, 0x20000, PV_E820_ACPI};
	struct pv_linux_boot_config c = {
		.kernel = f->img,
		.kernel_size = IMAGE_SIZE,
		.initrd = f->initrd,
		.initrd_size = 3 * 4096 + 17,
		.cmdline = cmd,
		.extra = &acpi,
		.extra_count = 1,
		.rsdp_gpa = PV_ACPI_DEFAULT_BASE,
	};
	static struct pv_linux_plan plan;
	static uint8_t buf[KERNEL_BYTES];
	uint8_t bp[4096];

	/* Dirty the init_size area to see it zeroed. */
	memset(buf, 0xee, 4096);
	assert_int_equal(
		pv_mem_write(f->part, PV_ACCESS_PARAVISOR, pv_gpa(0x1000000 + 4 * MiB), buf, 4096),
		PV_OK);

	assert_int_equal(pv_linux_load(f->part, &c, &plan), PV_OK);
	/* The map was discovered: low RAM (split by the ACPI range) and high RAM. */
	assert_int_equal(plan.e820_count, 4);
	assert_int_equal(plan.e820[3].addr, 0x100000000ull);
	assert_int_equal(plan.kernel_gpa, 0x1000000);
	assert_int_equal(plan.initrd_gpa, (64 * MiB - (3 * 4096 + 17)) & ~0xfffull);

	rd(f, 0x1000000, buf, KERNEL_BYTES);
	assert_memory_equal(buf, f->img + SETUP_SIZE, KERNEL_BYTES);
	rd(f, 0x1000000 + 4 * MiB, buf, 4096);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(buf[i], 0);
	rd(f, plan.initrd_gpa, buf, 3 * 4096 + 17);
	assert_memory_equal(buf, f->initrd, 3 * 4096 + 17);
	rd(f, plan.cmdline_gpa, buf, strlen(cmd) + 1);
	assert_string_equal((char *)buf, cmd);
	rd(f, plan.boot_params_gpa, bp, sizeof(bp));
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(bp[0x1e8], 4);
	assert_int_equal(get64(bp + 0x70), PV_ACPI_DEFAULT_BASE);
	rd(f, plan.page_tables_gpa, buf, 16);
	assert_int_equal(get64(buf), (plan.page_tables_gpa + 0x1000) | 3);
	rd(f, plan.gdt_gpa + 0x10, buf, 8);
	assert_int_equal(get64(buf), 0x00af9b000000ffffull);

	/* Start: keep the vCPU's APIC base. */
	struct pv_vcpu *v = pv_partition_vcpu(f->part, 0);
	struct pv_sregs s;
	struct pv_regs r;
	assert_int_equal(pv_vcpu_get_sregs(v, &s), PV_OK);
	s.apic_base = 0xfee00900;
	assert_int_equal(pv_vcpu_set_sregs(v, &s), PV_OK);
	assert_int_equal(pv_linux_start(v, &plan), PV_OK);
	assert_int_equal(pv_mock_get_regs(f->mock, 0, &r), PV_OK);
	assert_int_equal(pv_mock_get_sregs(f->mock, 0, &s), PV_OK);
	assert_int_equal(r.rip, 0x1000200);
	assert_int_equal(r.gpr[PV_RSI], plan.boot_params_gpa);
	assert_int_equal(s.cr3, plan.page_tables_gpa);
	assert_int_equal(s.efer & 0x500, 0x500);
	assert_int_equal(s.cs.selector, 0x10);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.apic_base, 0xfee00900);

	/* Port failures come back. */
	assert_int_equal(pv_mock_fail_op(f->mock, PV_MOCK_OP_SET_SREGS, 1, PV_EPORT), PV_OK);
	assert_int_equal(pv_linux_start(v, &plan), PV_EPORT);
	assert_int_equal(pv_mock_fail_op(f->mock, PV_MOCK_OP_GET_SREGS, 1, PV_EPORT), PV_OK);
	assert_int_equal(pv_linux_start(v, &plan), PV_EPORT);
	assert_int_equal(pv_linux_start(NULL, &plan), PV_EINVAL);
}

static void test_load_rejects(void **state)
{
	struct fx *f = *state;
	static struct pv_linux_plan plan;
	struct pv_linux_boot_config c = {.kernel = f->img, .kernel_size = IMAGE_SIZE};
	uint8_t probe[16], zero[16] = {0};

	/* 16 MiB of low RAM cannot hold a kernel at 16 MiB. */
	assert_int_equal(pv_linux_load(f->part, &c, &plan), PV_ERANGE);
	/* Nothing was written for a refused image. */
	rd(f, 0x7000, probe, sizeof(probe));
	assert_memory_equal(probe, zero, sizeof(zero));
	/* A lower address works (aligned to 2 MiB, init_size fits below 16 MiB). */
	c.kernel_gpa = 0x400000;
	assert_int_equal(pv_linux_load(f->part, &c, &plan), PV_OK);
	assert_int_equal(plan.kernel_gpa, 0x400000);
	/* Truncated and wrong-magic images. */
	c.kernel_size = IMAGE_SIZE - 32;
	assert_int_equal(pv_linux_load(f->part, &c, &plan), PV_EBADMSG);
	c.kernel_size = IMAGE_SIZE;
	f->img[0x202] = 'X';
	assert_int_equal(pv_linux_load(f->part, &c, &plan), PV_EBADMSG);
	assert_int_equal(pv_linux_load(NULL, &c, &plan), PV_EINVAL);
	assert_int_equal(pv_linux_load(f->part, NULL, &plan), PV_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_and_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_rejects, setup_small, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
