/* SPDX-License-Identifier: MIT */
/*
 * The loader's 64-bit entry state on real KVM: a fake bzImage whose entry
 * code (at load address + 0x200) reads the boot parameters, the command
 * line, the initrd and the RSDP through the identity map, uses the stack,
 * reports over I/O ports and finally powers off through the ACPI PM1a
 * control register. Exits 77 (skipped) when /dev/kvm is not usable.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot/bzimage_fixture.h"
#include "kvmport/kvm_fixture.h"
#include "paravisor/acpi.h"
#include "paravisor/boot_linux.h"
#include "paravisor/port_kvm.h"
#include "paravisor/pv.h"

#define MiB (1024ull * 1024ull)
#define SETUP_SIZE (5u * 512u)
#define KERNEL_BYTES 4096u
#define IMAGE_SIZE (SETUP_SIZE + KERNEL_BYTES)
#define REPORT_PORT 0x510u

/* 64-bit entry code; see the file comment. */
static const uint8_t entry_code[] = {
	0x8b, 0x86, 0x02, 0x02, 0x00, 0x00, /* mov eax, [rsi+0x202]   "HdrS" */
	0x66, 0xba, 0x10, 0x05, 0xef,       /* out 0x510, eax */
	0x8b, 0x86, 0x28, 0x02, 0x00, 0x00, /* mov eax, [rsi+0x228]   cmd_line_ptr */
	0x8a, 0x00,                         /* mov al, [rax] */
	0x66, 0xba, 0x11, 0x05, 0xee,       /* out 0x511, al */
	0x8b, 0x86, 0x18, 0x02, 0x00, 0x00, /* mov eax, [rsi+0x218]   ramdisk_image */
	0x8b, 0x00,                         /* mov eax, [rax] */
	0x66, 0xba, 0x12, 0x05, 0xef,       /* out 0x512, eax */
	0x68, 0x34, 0x12, 0x00, 0x00,       /* push 0x1234 */
	0x5b,                               /* pop rbx */
	0x89, 0xd8,                         /* mov eax, ebx */
	0x66, 0xba, 0x13, 0x05, 0xef,       /* out 0x513, eax */
	0x8c, 0xc8,                         /* mov eax, cs */
	0x66, 0xba, 0x14, 0x05, 0xef,       /* out 0x514, eax */
	0x48, 0x8b, 0x46, 0x70,             /* mov rax, [rsi+0x70]    acpi_rsdp_addr */
	0x8b, 0x00,                         /* mov eax, [rax] */
	0x66, 0xba, 0x15, 0x05, 0xef,       /* out 0x515, eax */
	0x66, 0xba, 0x04, 0x06,             /* mov dx, PM1a_CNT (0x604) */
	0x66, 0xb8, 0x00, 0x34,             /* mov ax, SLP_EN | SLP_TYP 5 */
	0x66, 0xef,                         /* out dx, ax */
	0xf4,                               /* hlt */
	0xeb, 0xfd,                         /* jmp hlt */
};

struct fx {
	struct pv_kvm *kvm;
	struct pv_partition *part;
	struct pv_vcpu *vcpu;
	uint32_t seen[8];
	unsigned seen_mask;
	unsigned power_offs;
	volatile int done;
};

static uint8_t *fake_image(void)
{
	uint8_t *img = calloc(1, IMAGE_SIZE);

	assert_non_null(img);
	bzimage_fake_header(img, KERNEL_BYTES, 255, 0x10000);
	memcpy(img + SETUP_SIZE + 0x200, entry_code, sizeof(entry_code));
	return img;
}

static pv_err_t report_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			  bool is_write, uint32_t *data)
{
	struct fx *f = ctx;

	(void)vcpu;
	(void)size;
	if (is_write && offset < 8) {
		f->seen[offset] = *data;
		f->seen_mask |= 1u << offset;
	}
	return PV_OK;
}

static void on_power(void *ctx, enum pv_acpi_power_event ev, uint8_t typ)
{
	struct fx *f = ctx;

	if (ev == PV_ACPI_POWER_OFF && typ == PV_ACPI_SLP_TYP_S5)
		f->power_offs++;
	pv_vcpu_stop(f->vcpu);
}

static void *watchdog(void *arg)
{
	struct fx *f = arg;

	for (int i = 0; i < 600 && !f->done; i++)
		usleep(100000);
	if (!f->done)
		pv_vcpu_stop(f->vcpu);
	return NULL;
}

static void test_entry_on_kvm(void **state)
{
	struct fx *f = *state;
	uint8_t *img = fake_image();
	static uint8_t initrd[8192];
	struct pv_acpi_config ac = {.devices = PV_ACPI_DEV_ALL};
	struct pv_acpi_layout al;
	struct pv_acpi_pm *pm;
	static struct pv_linux_plan plan;
	const struct pv_linux_e820_extra acpi = {PV_ACPI_DEFAULT_BASE, 0x20000, PV_E820_ACPI};
	struct pv_exit last;
	pthread_t wd;

	memcpy(initrd, "INRD", 4);
	assert_int_equal(pv_acpi_install(f->part, &ac, &al), PV_OK);
	assert_int_equal(pv_acpi_pm_create(f->part, 0, on_power, f, &pm), PV_OK);
	assert_int_equal(pv_io_register(f->part, REPORT_PORT, 8, report_io, f), PV_OK);
	struct pv_linux_boot_config c = {
		.kernel = img,
		.kernel_size = IMAGE_SIZE,
		.initrd = initrd,
		.initrd_size = sizeof(initrd),
		.cmdline = "Zconsole=ttyS0",
		.extra = &acpi,
		.extra_count = 1,
		.rsdp_gpa = al.rsdp,
	};
	assert_int_equal(pv_linux_load(f->part, &c, &plan), PV_OK);
	assert_int_equal(pv_linux_start(f->vcpu, &plan), PV_OK);

	assert_int_equal(pthread_create(&wd, NULL, watchdog, f), 0);
	pv_err_t err = pv_vcpu_run(f->vcpu, &last);
	f->done = 1;
	pthread_join(wd, NULL);
	assert_int_equal(err, PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f->seen_mask, 0x3f);
	assert_int_equal(f->seen[0], 0x53726448u); /* "HdrS" */
	assert_int_equal(f->seen[1] & 0xff, 'Z');  /* command line */
	assert_int_equal(f->seen[2], 0x44524e49u); /* "INRD" */
	assert_int_equal(f->seen[3], 0x1234);      /* stack */
	assert_int_equal(f->seen[4] & 0xffff, PV_LINUX_BOOT_CS);
	assert_int_equal(f->seen[5], 0x20445352u); /* "RSD " */
	assert_int_equal(f->power_offs, 1);
	pv_acpi_pm_destroy(pm);
	free(img);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_kvm_options o;

	assert_non_null(f);
	pv_kvm_options_init(&o);
	assert_int_equal(kvmfx_create(&o, 32 * MiB, 1, &f->kvm, &f->part), PV_OK);
	f->vcpu = pv_partition_vcpu(f->part, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pv_partition_destroy(f->part);
	pv_kvm_destroy(f->kvm);
	free(f);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entry_on_kvm, setup, teardown),
	};
	char reason[256] = "";

	if (pv_kvm_probe(NULL, reason, sizeof(reason)) != PV_OK) {
		printf("kvm not usable (%s): skipping\n", reason);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
