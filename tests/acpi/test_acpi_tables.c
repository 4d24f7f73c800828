/* SPDX-License-Identifier: MIT */
/* ACPI table builder and AML encoder: layouts, lengths, checksums, content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acpi/aml.h"
#include "paravisor/acpi.h"

static uint8_t blob[PV_ACPI_MAX_SIZE];

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static const uint8_t *at(uint64_t gpa, uint64_t base)
{
	assert_true(gpa >= base && gpa - base < sizeof(blob));
	return blob + (gpa - base);
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

static void check_table(const uint8_t *t, const char *sig, uint32_t len)
{
	assert_memory_equal(t, sig, 4);
	if (len)
		assert_int_equal(get32(t + 4), len);
	assert_int_equal(pv_acpi_sum(t, get32(t + 4)), 0);
}

static void build_default(struct pv_acpi_layout *l, uint32_t vcpus)
{
	struct pv_acpi_config c = {.vcpu_count = vcpus, .devices = PV_ACPI_DEV_ALL};

	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), l), PV_OK);
}

static void test_rsdp_xsdt(void **state)
{
	(void)state;
	struct pv_acpi_layout l;
	const uint64_t base = PV_ACPI_DEFAULT_BASE;

	build_default(&l, 4);
	assert_int_equal(l.rsdp, base);
	const uint8_t *r = at(l.rsdp, base);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(pv_acpi_sum(r, 20), 0);
	assert_int_equal(pv_acpi_sum(r, 36), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(get32(r + 20), 36);
	assert_memory_equal(r + 9, "PVISOR", 6);
	assert_int_equal(get64(r + 24), l.xsdt);
	assert_int_equal(get32(r + 16), l.rsdt);

	const uint8_t *x = at(l.xsdt, base);
	check_table(x, "XSDT", 36 + 3 * 8);
	assert_int_equal(get64(x + 36), l.fadt);
	assert_int_equal(get64(x + 44), l.madt);
	assert_int_equal(get64(x + 52), l.tpm2);
	const uint8_t *rs = at(l.rsdt, base);
	check_table(rs, "RSDT", 36 + 3 * 4);
	assert_int_equal(get32(rs + 36), l.fadt);
	assert_int_equal(get32(rs + 44), l.tpm2);
	/* Tables are aligned and inside the blob, the FACS to 64 bytes. */
	assert_int_equal(l.facs % 64, 0);
	assert_int_equal(l.dsdt % 16, 0);
	assert_true(l.size <= sizeof(blob));
	assert_true(l.tpm2 + 76 <= base + l.size);

	/* Corrupting a byte breaks the checksum. */
	blob[l.madt - base + 40] ^= 1;
	assert_int_not_equal(pv_acpi_sum(at(l.madt, base), get32(at(l.madt, base) + 4)), 0);
}

static void test_fadt(void **state)
{
	(void)state;
	struct pv_acpi_layout l;
	const uint64_t base = PV_ACPI_DEFAULT_BASE;

	build_default(&l, 2);
	const uint8_t *f = at(l.fadt, base);
	check_table(f, "FACP", 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(get32(f + 36), l.facs);
	assert_int_equal(get32(f + 40), l.dsdt);
	assert_int_equal(get64(f + 132), l.facs);
	assert_int_equal(get64(f + 140), l.dsdt);
	assert_int_equal(get16(f + 46), 9);               /* SCI */
	assert_int_equal(get32(f + 48), 0);               /* no SMI_CMD */
	assert_int_equal(get32(f + 56), PV_ACPI_PM_BASE); /* PM1a_EVT */
	assert_int_equal(get32(f + 64), PV_ACPI_PM_BASE + 4);
	assert_int_equal(get32(f + 76), PV_ACPI_PM_BASE + 8);
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[91], 4);
	assert_int_equal(get32(f + 112) & (1u << 20), 0);        /* not hardware-reduced */
	assert_int_equal(get32(f + 112) & (1u << 10), 1u << 10); /* reset register */
	assert_int_equal(f[116], 1);                             /* reset reg in I/O space */
	assert_int_equal(get64(f + 120), PV_ACPI_PM_BASE + 0xc);
	assert_int_equal(f[128], PV_ACPI_RESET_VALUE);
	assert_int_equal(f[108], 0x32);          /* century */
	assert_int_equal(get16(f + 109) & 3, 1); /* legacy devices, no 8042 */
	/* X_PM1a_CNT: I/O, 16 bits. */
	assert_int_equal(f[172], 1);
	assert_int_equal(f[173], 16);
	assert_int_equal(get64(f + 176), PV_ACPI_PM_BASE + 4);
	const uint8_t *facs = at(l.facs, base);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(get32(facs + 4), 64);

	/* Other PM base, no PM timer. */
	struct pv_acpi_config c = {.vcpu_count = 1, .pm_base = 0xb000, .no_pm_timer = true};
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_OK);
	f = at(l.fadt, base);
	check_table(f, "FACP", 276);
	assert_int_equal(get32(f + 56), 0xb000);
	assert_int_equal(get32(f + 76), 0);
	assert_int_equal(f[91], 0);
	assert_int_equal(f[108], 0);                           /* no RTC: no century */
	assert_int_equal(get16(f + 109) & (1u << 5), 1u << 5); /* CMOS RTC not present */
	assert_int_equal(l.tpm2, 0);
	check_table(at(l.xsdt, base), "XSDT", 36 + 2 * 8);
}

static void test_madt(void **state)
{
	(void)state;
	struct pv_acpi_layout l;
	const uint64_t base = PV_ACPI_DEFAULT_BASE;
	const uint32_t n = 3;

	build_default(&l, n);
	const uint8_t *m = at(l.madt, base);
	check_table(m, "APIC", 44 + 8 * n + 12 + 20 + 6);
	assert_int_equal(get32(m + 36), 0xfee00000);
	assert_int_equal(get32(m + 40), 1);
	const uint8_t *p = m + 44;
	for (uint32_t i = 0; i < n; i++, p += 8) {
		assert_int_equal(p[0], 0);
		assert_int_equal(p[1], 8);
		assert_int_equal(p[3], i);
		assert_int_equal(get32(p + 4), 1);
	}
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], 12);
	assert_int_equal(get32(p + 4), 0xfec00000);
	assert_int_equal(get32(p + 8), 0);
	p += 12;
	assert_int_equal(p[0], 2);
	assert_int_equal(p[3], 0);
	assert_int_equal(get32(p + 4), 2);
	p += 10;
	assert_int_equal(p[0], 2);
	assert_int_equal(p[3], 9);
	assert_int_equal(get32(p + 4), 9);
	assert_int_equal(get16(p + 8), 0x000d);
	p += 10;
	assert_int_equal(p[0], 4);

	/* The most vCPUs still fit in PV_ACPI_MAX_SIZE. */
	build_default(&l, 256);
	m = at(l.madt, base);
	check_table(m, "APIC", 44 + 8 * 256 + 12 + 20 + 6);
	assert_int_equal(m[44 + 8 * 255 + 3], 255);
}

static void test_tpm2(void **state)
{
	(void)state;
	struct pv_acpi_layout l;
	const uint64_t base = PV_ACPI_DEFAULT_BASE;

	build_default(&l, 1);
	const uint8_t *t = at(l.tpm2, base);
	check_table(t, "TPM2", 76);
	assert_int_equal(get64(t + 40), 0xfed40040);
	assert_int_equal(get32(t + 48), 7);
}

static void test_dsdt_content(void **state)
{
	(void)state;
	struct pv_acpi_layout l;
	const uint64_t base = PV_ACPI_DEFAULT_BASE;

	build_default(&l, 2);
	const uint8_t *d = at(l.dsdt, base);
	uint32_t len = get32(d + 4);
	check_table(d, "DSDT", 0);
	assert_int_equal(d[8], 2);
	assert_true(len > 36 && l.dsdt + len <= base + l.size);
	assert_true(contains(d, len, "\x0dVMBus\0", 7));
	assert_true(contains(d, len,
			     "\x0d"
			     "ACPI0004\0",
			     10));
	assert_true(contains(d, len, "\x0dMSFT0101\0", 10));
	/* EisaId("PNP0501") and ("PNP0B00") as DWords. */
	assert_true(contains(d, len, "\x0c\x41\xd0\x05\x01", 5));
	assert_true(contains(d, len, "\x0c\x41\xd0\x0b\x00", 5));
	/* IO(Decode16, 0x3F8, 0x3F8, 1, 8) + IRQNoFlags(){4}. */
	assert_true(contains(d, len, "\x47\x01\xf8\x03\xf8\x03\x01\x08\x22\x10\x00", 11));
	/* IO 0x70-0x71 + IRQ 8. */
	assert_true(contains(d, len, "\x47\x01\x70\x00\x70\x00\x01\x02\x22\x00\x01", 11));
	/* Memory32Fixed(ReadWrite, 0xFED40000, 0x5000). */
	assert_true(contains(d, len, "\x86\x09\x00\x01\x00\x00\xd4\xfe\x00\x50\x00\x00", 12));
	/* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive){5}. */
	assert_true(contains(d, len, "\x89\x06\x00\x03\x01\x05\x00\x00\x00\x79\x00", 11));
	/* Name(\_S5, Package(4){5, 5, 0, 0}). */
	assert_true(contains(d, len, "\x08_S5_\x12\x08\x04\x0a\x05\x0a\x05\x00\x00", 14));

	/* Without devices only _S5 remains, and a VMBus window shows up as QWordMemory. */
	struct pv_acpi_config c = {.vcpu_count = 1};
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_OK);
	d = at(l.dsdt, base);
	assert_false(contains(d, get32(d + 4), "VMBus", 5));
	c.devices = PV_ACPI_DEV_VMBUS;
	c.vmbus_mmio[1].base = 0x1000000000ull;
	c.vmbus_mmio[1].size = 0x100000000ull;
	c.vmbus_irq = 7;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_OK);
	d = at(l.dsdt, base);
	check_table(d, "DSDT", 0);
	assert_true(contains(d, get32(d + 4), "\x8a\x2b\x00\x00\x0c\x01", 6));
	assert_true(contains(d, get32(d + 4), "\x89\x06\x00\x03\x01\x07\x00", 7));
}

static void test_build_errors(void **state)
{
	(void)state;
	struct pv_acpi_layout l;
	struct pv_acpi_config c = {.vcpu_count = 1, .devices = PV_ACPI_DEV_ALL};

	assert_int_equal(pv_acpi_build(NULL, blob, sizeof(blob), &l), PV_EINVAL);
	assert_int_equal(pv_acpi_build(&c, NULL, sizeof(blob), &l), PV_EINVAL);
	assert_int_equal(pv_acpi_build(&c, blob, 100, &l), PV_ERANGE);
	assert_int_equal(pv_acpi_build(&c, blob, 600, &l), PV_ERANGE);
	c.vcpu_count = 0;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_EINVAL);
	c.vcpu_count = 257;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_EINVAL);
	c.vcpu_count = 1;
	c.base_gpa = 0xe0008;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_EINVAL);
	c.base_gpa = 0xffffff00;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_ERANGE);
	c.base_gpa = 0;
	c.pm_base = 0x601;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_EINVAL);
	c.pm_base = 0xfff8;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_EINVAL);
	c.pm_base = 0;
	c.devices = 0x100;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_EINVAL);
	c.devices = PV_ACPI_DEV_VMBUS;
	c.vmbus_mmio[0].base = UINT64_MAX - 10;
	c.vmbus_mmio[0].size = 0x1000;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_EINVAL);
	/* A blob above 4 GiB cannot be referenced from the RSDT. */
	c.vmbus_mmio[0].size = 0;
	c.base_gpa = 0x100000000ull;
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_ERANGE);
	/* Different OEM ID is honoured. */
	c.base_gpa = 0;
	memcpy(c.oem_id, "ACMEOS", 6);
	assert_int_equal(pv_acpi_build(&c, blob, sizeof(blob), &l), PV_OK);
	assert_memory_equal(blob + 9, "ACMEOS", 6);
	assert_memory_equal(at(l.madt, PV_ACPI_DEFAULT_BASE) + 10, "ACMEOS", 6);
}

/* --- the AML encoder itself --- */

static void test_aml_pkglen(void **state)
{
	(void)state;
	uint8_t e[4];

	assert_int_equal(pv_aml_pkglen_encode(0, e), 1);
	assert_int_equal(e[0], 1);
	assert_int_equal(pv_aml_pkglen_encode(62, e), 1);
	assert_int_equal(e[0], 63);
	/* 63 + 1 = 64 does not fit in 6 bits: two bytes, total 65. */
	assert_int_equal(pv_aml_pkglen_encode(63, e), 2);
	assert_int_equal(e[0], 0x40 | (65 & 0xf));
	assert_int_equal(e[1], 65 >> 4);
	assert_int_equal(pv_aml_pkglen_encode(4093, e), 2);
	assert_int_equal(pv_aml_pkglen_encode(4094, e), 3);
	assert_int_equal(e[0], 0x80 | (4097 & 0xf));
	assert_int_equal(e[1], (4097 >> 4) & 0xff);
	assert_int_equal(e[2], 4097 >> 12);
	assert_int_equal(pv_aml_pkglen_encode((1u << 28) - 5, e), 4);
	assert_int_equal(pv_aml_pkglen_encode(1u << 28, e), 0);
}

static void test_aml_names_ints(void **state)
{
	(void)state;
	uint8_t b[64];
	struct pv_aml a;

	pv_aml_init(&a, b, sizeof(b));
	pv_aml_namestring(&a, "\\_SB.PCI0.ISA");
	assert_int_equal(pv_aml_finish(&a), PV_OK);
	assert_int_equal(a.len, 1 + 2 + 12);
	assert_memory_equal(b, "\\\x2f\x03_SB_PCI0ISA_", 15);

	pv_aml_init(&a, b, sizeof(b));
	pv_aml_namestring(&a, "^AB.C");
	assert_memory_equal(b,
			    "^\x2e"
			    "AB__C___",
			    10);
	pv_aml_namestring(&a, "_HID");
	assert_memory_equal(b + 10, "_HID", 4);
	pv_aml_integer(&a, 0);
	pv_aml_integer(&a, 1);
	pv_aml_integer(&a, 0x80);
	pv_aml_integer(&a, 0x1234);
	pv_aml_integer(&a, 0x12345678);
	pv_aml_integer(&a, 0x100000000ull);
	assert_int_equal(pv_aml_finish(&a), PV_OK);
	assert_memory_equal(b + 14,
			    "\x00\x01\x0a\x80\x0b\x34\x12\x0c\x78\x56\x34\x12"
			    "\x0e\x00\x00\x00\x00\x01\x00\x00\x00",
			    21);

	/* Bad names are sticky errors. */
	const char *bad[] = {"ABCDE", "1ABC", "a", "AB..C", "AB.", "A-B"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pv_aml_init(&a, b, sizeof(b));
		pv_aml_namestring(&a, bad[i]);
		pv_aml_integer(&a, 5);
		assert_int_equal(pv_aml_finish(&a), PV_EINVAL);
	}
	pv_aml_init(&a, b, sizeof(b));
	pv_aml_eisaid(&a, "pnp0501");
	assert_int_equal(pv_aml_finish(&a), PV_EINVAL);
	pv_aml_init(&a, b, sizeof(b));
	pv_aml_eisaid(&a, "PNP05011");
	assert_int_equal(pv_aml_finish(&a), PV_EINVAL);
	/* Overflow. */
	pv_aml_init(&a, b, 4);
	pv_aml_string(&a, "LONGSTRING");
	assert_int_equal(pv_aml_finish(&a), PV_ERANGE);
	/* Unbalanced packages. */
	pv_aml_init(&a, b, sizeof(b));
	pv_aml_device(&a, "DEV0");
	assert_int_equal(pv_aml_finish(&a), PV_EINVAL);
	pv_aml_init(&a, b, sizeof(b));
	pv_aml_close(&a);
	assert_int_equal(pv_aml_finish(&a), PV_EINVAL);
}

static void test_aml_nesting(void **state)
{
	(void)state;
	static uint8_t b[512];
	struct pv_aml a;
	uint8_t big[100];

	memset(big, 0xab, sizeof(big));
	pv_aml_init(&a, b, sizeof(b));
	pv_aml_device(&a, "DEV0");
	pv_aml_name(&a, "BUF0");
	pv_aml_buffer(&a, big, sizeof(big));
	pv_aml_close(&a);
	assert_int_equal(pv_aml_finish(&a), PV_OK);
	/* DeviceOp, 2-byte PkgLength, name, NameOp, name, BufferOp, 2-byte PkgLength,
	 * BytePrefix 100, 100 bytes. */
	size_t buf_body = 2 + 100;           /* size integer + bytes */
	size_t buf_total = 1 + 2 + buf_body; /* BufferOp + pkglen + body */
	size_t dev_body = 4 + 1 + 4 + buf_total;
	assert_int_equal(a.len, 2 + 2 + dev_body);
	assert_int_equal(b[0], 0x5b);
	assert_int_equal(b[1], 0x82);
	assert_int_equal(b[2] >> 6, 1);
	assert_int_equal((b[2] & 0xf) | (b[3] << 4), dev_body + 2);
	assert_memory_equal(b + 4,
			    "DEV0\x08"
			    "BUF0\x11",
			    10);
	assert_int_equal((b[14] & 0xf) | (b[15] << 4), buf_body + 2);
	assert_int_equal(b[16], 0x0a);
	assert_int_equal(b[17], 100);
	assert_int_equal(b[18], 0xab);
	assert_int_equal(b[a.len - 1], 0xab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp_xsdt),    cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_madt),         cmocka_unit_test(test_tpm2),
		cmocka_unit_test(test_dsdt_content), cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_aml_pkglen),   cmocka_unit_test(test_aml_names_ints),
		cmocka_unit_test(test_aml_nesting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
