/* SPDX-License-Identifier: MIT */
/* The PM1 / PM timer / reset registers and pv_acpi_install() on the mock port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "paravisor/acpi.h"
#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

#define PM PV_ACPI_PM_BASE

struct fx {
	struct pv_mock *mock;
	struct pv_partition *part;
	struct pv_vcpu *vcpu;
	struct pv_acpi_pm *pm;
	unsigned events;
	enum pv_acpi_power_event last;
	uint8_t last_typ;
};

static void on_power(void *ctx, enum pv_acpi_power_event ev, uint8_t typ)
{
	struct fx *f = ctx;

	f->events++;
	f->last = ev;
	f->last_typ = typ;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS, .clock_start_ns = 0};
	struct pv_mem_range ram = {pv_gpa(0), 2u << 20, PV_MEM_RAM};

	assert_non_null(f);
	assert_int_equal(pv_mock_create(&mc, &f->mock), PV_OK);
	struct pv_partition_config pc = {
		.vcpu_count = 2,
		.vtl_count = 1,
		.ranges = &ram,
		.range_count = 1,
		.port = pv_mock_port_ops(f->mock),
		.port_ctx = f->mock,
	};
	assert_int_equal(pv_partition_create(&pc, &f->part), PV_OK);
	f->vcpu = pv_partition_vcpu(f->part, 0);
	assert_int_equal(pv_acpi_pm_create(f->part, 0, on_power, f, &f->pm), PV_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pv_acpi_pm_destroy(f->pm);
	pv_partition_destroy(f->part);
	pv_mock_destroy(f->mock);
	free(f);
	return 0;
}

static uint32_t in(struct fx *f, uint16_t port, uint8_t size)
{
	struct pv_exit e;

	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_IO;
	e.u.io.port = port;
	e.u.io.size = size;
	e.u.io.count = 1;
	assert_int_equal(pv_vcpu_dispatch(f->vcpu, &e), PV_OK);
	return e.u.io.data;
}

static void out(struct fx *f, uint16_t port, uint8_t size, uint32_t v)
{
	struct pv_exit e;

	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_IO;
	e.u.io.port = port;
	e.u.io.size = size;
	e.u.io.is_write = true;
	e.u.io.count = 1;
	e.u.io.data = v;
	assert_int_equal(pv_vcpu_dispatch(f->vcpu, &e), PV_OK);
}

static void test_pm1_control_poweroff(void **state)
{
	struct fx *f = *state;

	/* Always in ACPI mode: SCI_EN reads 1. */
	assert_int_equal(in(f, PM + 4, 2) & 1, 1);
	/* Writing SLP_TYP without SLP_EN does nothing but is kept. */
	out(f, PM + 4, 2, 5u << 10);
	assert_int_equal(f->events, 0);
	assert_int_equal(in(f, PM + 4, 2), (5u << 10) | 1);
	/* Linux's S5 entry: SLP_TYP = 5 | SLP_EN. */
	out(f, PM + 4, 2, (5u << 10) | (1u << 13));
	assert_int_equal(f->events, 1);
	assert_int_equal(f->last, PV_ACPI_POWER_OFF);
	assert_int_equal(f->last_typ, 5);
	/* SLP_EN reads back as 0. */
	assert_int_equal(in(f, PM + 4, 2) & (1u << 13), 0);
	/* Another sleep type is a sleep request. */
	out(f, PM + 4, 2, (1u << 10) | (1u << 13));
	assert_int_equal(f->events, 2);
	assert_int_equal(f->last, PV_ACPI_SLEEP);
	assert_int_equal(f->last_typ, 1);
	/* Byte-wide write of the high byte also works (SLP_EN is bit 13). */
	out(f, PM + 5, 1, (5u << 2) | (1u << 5));
	assert_int_equal(f->events, 3);
	assert_int_equal(f->last, PV_ACPI_POWER_OFF);
}

static void test_reset_register(void **state)
{
	struct fx *f = *state;

	out(f, PM + 0xc, 1, 0x02);
	assert_int_equal(f->events, 0);
	out(f, PM + 0xc, 1, PV_ACPI_RESET_VALUE);
	assert_int_equal(f->events, 1);
	assert_int_equal(f->last, PV_ACPI_RESET);
	assert_int_equal(in(f, PM + 0xc, 1), 0);
}

static void test_status_enable(void **state)
{
	struct fx *f = *state;

	assert_int_equal(in(f, PM + 0, 2), 0);
	out(f, PM + 2, 2, 0x0121);
	assert_int_equal(in(f, PM + 2, 2), 0x0121);
	/* A 32-bit access covers status and enable. */
	assert_int_equal(in(f, PM + 0, 4), 0x01210000u);
	/* Write-one-to-clear status does not disturb enable. */
	out(f, PM + 0, 2, 0xffff);
	assert_int_equal(in(f, PM + 2, 2), 0x0121);
	out(f, PM + 3, 1, 0x00);
	assert_int_equal(in(f, PM + 2, 2), 0x0021);
	assert_int_equal(f->events, 0);
}

static void test_pm_timer(void **state)
{
	struct fx *f = *state;
	uint32_t t0, t1;

	t0 = in(f, PM + 8, 4);
	assert_true(t0 <= 0xffffff);
	pv_mock_advance_clock(f->mock, 1000000000ull); /* one second */
	t1 = in(f, PM + 8, 4);
	assert_int_equal((t1 - t0) & 0xffffff, 3579545u & 0xffffff);
	/* 24-bit wrap: ~4.69 s per period. */
	pv_mock_advance_clock(f->mock, 4000000000ull);
	assert_true(in(f, PM + 8, 4) <= 0xffffff);
}

static void test_create_errors(void **state)
{
	struct fx *f = *state;
	struct pv_acpi_pm *pm2;

	assert_int_equal(pv_acpi_pm_create(f->part, 0x601, NULL, NULL, &pm2), PV_EINVAL);
	assert_int_equal(pv_acpi_pm_create(f->part, 0xfff8, NULL, NULL, &pm2), PV_EINVAL);
	assert_int_equal(pv_acpi_pm_create(NULL, 0, NULL, NULL, &pm2), PV_EINVAL);
	/* The ports are taken. */
	assert_int_equal(pv_acpi_pm_create(f->part, 0, NULL, NULL, &pm2), PV_EEXIST);
	/* A second block elsewhere without a callback works and only logs. */
	assert_int_equal(pv_acpi_pm_create(f->part, 0xb000, NULL, NULL, &pm2), PV_OK);
	out(f, 0xb004, 2, (5u << 10) | (1u << 13));
	assert_int_equal(f->events, 0);
	pv_acpi_pm_destroy(pm2);
	pv_acpi_pm_destroy(NULL);
	/* After destroy the ports are free again (unhandled reads are all ones). */
	assert_int_equal(in(f, 0xb004, 2), 0xffff);
}

static void test_install(void **state)
{
	struct fx *f = *state;
	struct pv_acpi_config c = {.devices = PV_ACPI_DEV_ALL};
	struct pv_acpi_layout l;
	uint8_t rsdp[36], hdr[36];

	assert_int_equal(pv_acpi_install(f->part, &c, &l), PV_OK);
	assert_int_equal(l.rsdp, PV_ACPI_DEFAULT_BASE);
	assert_int_equal(pv_mem_read(f->part, PV_ACCESS_PARAVISOR, pv_gpa(l.rsdp), rsdp, 36),
			 PV_OK);
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(pv_acpi_sum(rsdp, 36), 0);
	/* The vCPU count came from the partition. */
	assert_int_equal(pv_mem_read(f->part, PV_ACCESS_PARAVISOR, pv_gpa(l.madt), hdr, 36), PV_OK);
	assert_memory_equal(hdr, "APIC", 4);
	assert_int_equal(hdr[4], 44 + 8 * 2 + 12 + 20 + 6);
	/* Outside RAM: the accessor's error comes back. */
	c.base_gpa = 0x1fff00;
	assert_int_equal(pv_acpi_install(f->part, &c, &l), PV_ERANGE);
	c.base_gpa = 0;
	c.vcpu_count = 300;
	assert_int_equal(pv_acpi_install(f->part, &c, &l), PV_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pm1_control_poweroff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pm_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
