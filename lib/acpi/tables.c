/* SPDX-License-Identifier: MIT */
/*
 * ACPI table generation: RSDP, XSDT, RSDT, FADT, FACS, MADT, DSDT, TPM2.
 * Layouts follow the ACPI 6.x specification (chapter 5.2) and the TCG ACPI
 * specification (TPM2 table). Everything is built in a host buffer; only
 * pv_acpi_install() touches guest memory.
 */
#include "acpi/acpi_internal.h"
#include "acpi/aml.h"
#include "core/util.h"
#include "paravisor/acpi.h"

#define HDR_LEN 36u
#define FADT_LEN 276u
#define FACS_LEN 64u
#define TPM2_LEN 76u
#define OEM_TABLE_ID "PVTABLES"
#define CREATOR_ID "PVSR"

uint8_t pv_acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void table_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev, const char oem[6])
{
	pv_memcpy(t, sig, 4);
	put_le(t + 4, len, 4);
	t[8] = rev;
	t[9] = 0; /* checksum, set by table_checksum() */
	pv_memcpy(t + 10, oem, 6);
	pv_memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le(t + 24, 1, 4);
	pv_memcpy(t + 28, CREATOR_ID, 4);
	put_le(t + 32, 1, 4);
}

static void table_checksum(uint8_t *t, size_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)(0u - pv_acpi_sum(t, len));
}

/* Generic Address Structure: system I/O space. */
static void gas_io(uint8_t *g, uint16_t port, uint8_t bits, uint8_t access_size)
{
	g[0] = 1; /* system I/O */
	g[1] = bits;
	g[2] = 0;
	g[3] = access_size; /* 1 byte, 2 word, 3 dword */
	put_le(g + 4, port, 8);
}

static size_t build_fadt(uint8_t *t, const struct acpi_ctx *c, uint64_t facs, uint64_t dsdt)
{
	uint16_t pm = c->pm_base;
	uint16_t boot_arch = 1u << 2; /* VGA not present; no 8042 */
	uint32_t flags = (1u << 0) |  /* WBINVD */
			 (1u << 2) |  /* C1 supported */
			 (1u << 4) |  /* power button is not a fixed feature */
			 (1u << 5) |  /* sleep button is not a fixed feature */
			 (1u << 6) |  /* RTC wake status not in fixed registers */
			 (1u << 10);  /* reset register supported */

	pv_memset(t, 0, FADT_LEN);
	table_header(t, "FACP", FADT_LEN, 6, c->oem);
	put_le(t + 36, facs, 4);
	put_le(t + 40, dsdt, 4);
	t[45] = 0;                            /* preferred PM profile: unspecified */
	put_le(t + 46, PV_ACPI_SCI_IRQ, 2);   /* SCI_INT */
	put_le(t + 48, 0, 4);                 /* no SMI_CMD: always in ACPI mode */
	put_le(t + 56, pm + ACPI_PM1_EVT, 4); /* PM1a_EVT_BLK */
	put_le(t + 64, pm + ACPI_PM1_CNT, 4); /* PM1a_CNT_BLK */
	if (c->pm_timer)
		put_le(t + 76, pm + ACPI_PM_TMR, 4); /* PM_TMR_BLK */
	t[88] = 4;                                   /* PM1_EVT_LEN */
	t[89] = 2;                                   /* PM1_CNT_LEN */
	t[91] = c->pm_timer ? 4 : 0;                 /* PM_TMR_LEN */
	put_le(t + 96, 101, 2);                      /* P_LVL2_LAT > 100: no C2 */
	put_le(t + 98, 1001, 2);                     /* P_LVL3_LAT > 1000: no C3 */
	if (c->devices & PV_ACPI_DEV_RTC)
		t[108] = 0x32; /* CENTURY CMOS index */
	if (c->devices & (PV_ACPI_DEV_COM1 | PV_ACPI_DEV_RTC))
		boot_arch |= 1u << 0; /* legacy (ISA) devices */
	if (!(c->devices & PV_ACPI_DEV_RTC))
		boot_arch |= 1u << 5; /* CMOS RTC not present */
	put_le(t + 109, boot_arch, 2);
	put_le(t + 112, flags, 4);
	gas_io(t + 116, (uint16_t)(pm + ACPI_RESET), 8, 1); /* RESET_REG */
	t[128] = PV_ACPI_RESET_VALUE;
	t[131] = 0;               /* FADT minor version */
	put_le(t + 132, facs, 8); /* X_FIRMWARE_CTRL */
	put_le(t + 140, dsdt, 8); /* X_DSDT */
	gas_io(t + 148, (uint16_t)(pm + ACPI_PM1_EVT), 32, 2);
	gas_io(t + 172, (uint16_t)(pm + ACPI_PM1_CNT), 16, 2);
	if (c->pm_timer)
		gas_io(t + 208, (uint16_t)(pm + ACPI_PM_TMR), 32, 3);
	table_checksum(t, FADT_LEN);
	return FADT_LEN;
}

static size_t build_facs(uint8_t *t)
{
	pv_memset(t, 0, FACS_LEN);
	pv_memcpy(t, "FACS", 4);
	put_le(t + 4, FACS_LEN, 4);
	t[32] = 2; /* version */
	return FACS_LEN;
}

static size_t madt_len(uint32_t vcpus)
{
	return 44u + 8u * vcpus + 12u + 2u * 10u + 6u;
}

static size_t build_madt(uint8_t *t, const struct acpi_ctx *c)
{
	size_t len = madt_len(c->vcpu_count);
	uint8_t *p = t + 44;

	pv_memset(t, 0, len);
	table_header(t, "APIC", (uint32_t)len, 5, c->oem);
	put_le(t + 36, PV_ACPI_LAPIC_ADDR, 4);
	put_le(t + 40, 1, 4); /* PCAT_COMPAT: dual 8259 present */
	for (uint32_t i = 0; i < c->vcpu_count; i++, p += 8) {
		p[0] = 0; /* processor local APIC */
		p[1] = 8;
		p[2] = (uint8_t)i;   /* ACPI processor UID */
		p[3] = (uint8_t)i;   /* APIC ID */
		put_le(p + 4, 1, 4); /* enabled */
	}
	p[0] = 1; /* I/O APIC */
	p[1] = 12;
	p[2] = c->ioapic_id;
	put_le(p + 4, PV_ACPI_IOAPIC_ADDR, 4);
	put_le(p + 8, 0, 4); /* GSI base */
	p += 12;
	/* ISA IRQ0 (PIT) -> GSI2, conforming polarity and trigger. */
	p[0] = 2;
	p[1] = 10;
	p[2] = 0;
	p[3] = 0;
	put_le(p + 4, 2, 4);
	put_le(p + 8, 0, 2);
	p += 10;
	/* ISA IRQ9 (SCI) -> GSI9, active high (01), level triggered (11 << 2). */
	p[0] = 2;
	p[1] = 10;
	p[2] = 0;
	p[3] = PV_ACPI_SCI_IRQ;
	put_le(p + 4, PV_ACPI_SCI_IRQ, 4);
	put_le(p + 8, 0x000d, 2);
	p += 10;
	/* Local APIC NMI on LINT1 for all processors. */
	p[0] = 4;
	p[1] = 6;
	p[2] = 0xff;
	put_le(p + 3, 0, 2);
	p[5] = 1;
	table_checksum(t, len);
	return len;
}

static size_t build_tpm2(uint8_t *t, const struct acpi_ctx *c)
{
	pv_memset(t, 0, TPM2_LEN);
	table_header(t, "TPM2", TPM2_LEN, 4, c->oem);
	put_le(t + 36, 0, 2);                                      /* platform class: client */
	put_le(t + 40, (uint64_t)PV_ACPI_TPM_CRB_BASE + 0x40u, 8); /* CRB control area */
	put_le(t + 48, PV_ACPI_TPM2_START_CRB, 4);                 /* start method */
	/* 12 bytes of start-method parameters (none for CRB), then an empty
	 * event log area: LAML = 0, LASA = 0. */
	table_checksum(t, TPM2_LEN);
	return TPM2_LEN;
}

static void dsdt_named_crs(struct pv_aml *a, const struct pv_aml_res *r)
{
	if (r->overflow) {
		a->err = a->err ? a->err : PV_ERANGE;
		return;
	}
	pv_aml_name(a, "_CRS");
	pv_aml_buffer(a, r->buf, r->len);
}

static pv_err_t build_dsdt(uint8_t *t, size_t cap, const struct acpi_ctx *c, size_t *out_len)
{
	struct pv_aml a;
	struct pv_aml_res r;
	pv_err_t err;

	if (cap < HDR_LEN)
		return PV_ERANGE;
	pv_aml_init(&a, t + HDR_LEN, cap - HDR_LEN);
	pv_aml_scope(&a, "_SB");
	if (c->devices & PV_ACPI_DEV_VMBUS) {
		/* The VMBus MMIO module, as Hyper-V / OpenVMM name it. */
		pv_aml_device(&a, "VMOD");
		pv_aml_name(&a, "_HID");
		pv_aml_string(&a, "ACPI0004");
		pv_aml_name(&a, "_UID");
		pv_aml_integer(&a, 0);
		pv_aml_res_init(&r);
		for (unsigned i = 0; i < 2; i++)
			if (c->vmbus_mmio[i].size)
				pv_aml_res_qword_mem(&r, c->vmbus_mmio[i].base,
						     c->vmbus_mmio[i].size);
		pv_aml_res_end(&r);
		dsdt_named_crs(&a, &r);
		pv_aml_device(&a, "VMBS");
		pv_aml_name(&a, "_STA");
		pv_aml_integer(&a, 0x0f);
		pv_aml_name(&a, "_DDN");
		pv_aml_string(&a, "VMBUS");
		pv_aml_name(&a, "_HID");
		pv_aml_string(&a, "VMBus");
		pv_aml_name(&a, "_UID");
		pv_aml_integer(&a, 0);
		pv_aml_res_init(&r);
		pv_aml_res_interrupt(&r, c->vmbus_irq, true, false);
		pv_aml_res_end(&r);
		dsdt_named_crs(&a, &r);
		pv_aml_close(&a); /* VMBS */
		pv_aml_close(&a); /* VMOD */
	}
	if (c->devices & PV_ACPI_DEV_COM1) {
		pv_aml_device(&a, "COM1");
		pv_aml_name(&a, "_HID");
		pv_aml_eisaid(&a, "PNP0501");
		pv_aml_name(&a, "_UID");
		pv_aml_integer(&a, 1);
		pv_aml_name(&a, "_STA");
		pv_aml_integer(&a, 0x0f);
		pv_aml_res_init(&r);
		pv_aml_res_io(&r, 0x3f8, 0x3f8, 1, 8);
		pv_aml_res_irq(&r, 4);
		pv_aml_res_end(&r);
		dsdt_named_crs(&a, &r);
		pv_aml_close(&a);
	}
	if (c->devices & PV_ACPI_DEV_RTC) {
		pv_aml_device(&a, "RTC");
		pv_aml_name(&a, "_HID");
		pv_aml_eisaid(&a, "PNP0B00");
		pv_aml_name(&a, "_STA");
		pv_aml_integer(&a, 0x0f);
		pv_aml_res_init(&r);
		pv_aml_res_io(&r, 0x70, 0x70, 1, 2);
		pv_aml_res_irq(&r, 8);
		pv_aml_res_end(&r);
		dsdt_named_crs(&a, &r);
		pv_aml_close(&a);
	}
	if (c->devices & PV_ACPI_DEV_TPM) {
		pv_aml_device(&a, "TPM");
		pv_aml_name(&a, "_HID");
		pv_aml_string(&a, "MSFT0101");
		pv_aml_name(&a, "_STA");
		pv_aml_integer(&a, 0x0f);
		pv_aml_res_init(&r);
		pv_aml_res_mem32_fixed(&r, PV_ACPI_TPM_CRB_BASE, PV_ACPI_TPM_CRB_SIZE);
		pv_aml_res_end(&r);
		dsdt_named_crs(&a, &r);
		pv_aml_close(&a);
	}
	pv_aml_close(&a); /* \_SB */
	/* _S5: SLP_TYPa, SLP_TYPb, reserved, reserved. */
	pv_aml_name(&a, "_S5");
	pv_aml_package(&a, 4);
	pv_aml_integer(&a, PV_ACPI_SLP_TYP_S5);
	pv_aml_integer(&a, PV_ACPI_SLP_TYP_S5);
	pv_aml_integer(&a, 0);
	pv_aml_integer(&a, 0);
	pv_aml_close(&a);
	err = pv_aml_finish(&a);
	if (err)
		return err;
	/* Revision 2: 64-bit integers. */
	table_header(t, "DSDT", (uint32_t)(HDR_LEN + a.len), 2, c->oem);
	table_checksum(t, HDR_LEN + a.len);
	*out_len = HDR_LEN + a.len;
	return PV_OK;
}

/* Reserve len bytes at the next align-aligned offset. */
static pv_err_t blob_take(size_t *off, size_t align, size_t len, size_t cap, size_t *at)
{
	size_t o = (*off + align - 1u) & ~(align - 1u);

	if (o < *off || o > cap || len > cap - o)
		return PV_ERANGE;
	*at = o;
	*off = o + len;
	return PV_OK;
}

pv_err_t pv_acpi_ctx_init(struct acpi_ctx *c, const struct pv_acpi_config *cfg)
{
	static const char default_oem[6] = {'P', 'V', 'I', 'S', 'O', 'R'};
	bool oem_zero = true;

	if (!cfg || cfg->vcpu_count == 0 || cfg->vcpu_count > PV_MAX_VCPUS)
		return PV_EINVAL;
	if (cfg->devices & ~(uint32_t)PV_ACPI_DEV_ALL)
		return PV_EINVAL;
	c->vcpu_count = cfg->vcpu_count;
	c->base = cfg->base_gpa ? cfg->base_gpa : PV_ACPI_DEFAULT_BASE;
	if (!pv_is_aligned_u64(c->base, 16))
		return PV_EINVAL;
	c->pm_base = cfg->pm_base ? cfg->pm_base : PV_ACPI_PM_BASE;
	if (c->pm_base % 4u || (uint32_t)c->pm_base + PV_ACPI_PM_PORTS > 0x10000u)
		return PV_EINVAL;
	c->devices = cfg->devices;
	c->vmbus_irq = cfg->vmbus_irq ? cfg->vmbus_irq : 5u;
	if (c->vmbus_irq > 0xffu)
		return PV_EINVAL;
	c->ioapic_id = cfg->ioapic_id;
	c->pm_timer = !cfg->no_pm_timer;
	for (unsigned i = 0; i < 2; i++) {
		uint64_t last;

		c->vmbus_mmio[i] = cfg->vmbus_mmio[i];
		if (cfg->vmbus_mmio[i].size &&
		    !pv_range_last(cfg->vmbus_mmio[i].base, cfg->vmbus_mmio[i].size, &last))
			return PV_EINVAL;
	}
	for (unsigned i = 0; i < 6; i++)
		if (cfg->oem_id[i])
			oem_zero = false;
	pv_memcpy(c->oem, oem_zero ? default_oem : cfg->oem_id, 6);
	return PV_OK;
}

pv_err_t pv_acpi_build(const struct pv_acpi_config *cfg, uint8_t *buf, size_t cap,
		       struct pv_acpi_layout *layout)
{
	struct acpi_ctx c;
	size_t off = 0, rsdp, xsdt, rsdt, fadt, facs, madt, dsdt, tpm2 = 0, dsdt_len, end;
	unsigned nent = 2u;
	pv_err_t err;

	if (!buf || !layout)
		return PV_EINVAL;
	pv_memset(layout, 0, sizeof(*layout));
	err = pv_acpi_ctx_init(&c, cfg);
	if (err)
		return err;
	if (c.devices & PV_ACPI_DEV_TPM)
		nent++;
	pv_memset(buf, 0, cap);
	if ((err = blob_take(&off, 16, 36, cap, &rsdp)) ||
	    (err = blob_take(&off, 16, HDR_LEN + 8u * nent, cap, &xsdt)) ||
	    (err = blob_take(&off, 16, HDR_LEN + 4u * nent, cap, &rsdt)) ||
	    (err = blob_take(&off, 16, FADT_LEN, cap, &fadt)) ||
	    (err = blob_take(&off, 64, FACS_LEN, cap, &facs)) ||
	    (err = blob_take(&off, 16, madt_len(c.vcpu_count), cap, &madt)))
		return err;
	dsdt = (off + 15u) & ~(size_t)15u;
	if (dsdt > cap)
		return PV_ERANGE;
	err = build_dsdt(buf + dsdt, cap - dsdt, &c, &dsdt_len);
	if (err)
		return err;
	off = dsdt + dsdt_len;
	if ((c.devices & PV_ACPI_DEV_TPM) && (err = blob_take(&off, 16, TPM2_LEN, cap, &tpm2)))
		return err;
	/* Every table must be addressable through the 32-bit RSDT fields. */
	if (c.base > 0xffffffffu || off > 0xffffffffu - c.base + 1u)
		return PV_ERANGE;

	build_fadt(buf + fadt, &c, c.base + facs, c.base + dsdt);
	build_facs(buf + facs);
	build_madt(buf + madt, &c);
	if (tpm2)
		build_tpm2(buf + tpm2, &c);

	/* XSDT and RSDT: FADT, MADT, [TPM2]. */
	{
		uint64_t ents[3] = {c.base + fadt, c.base + madt, c.base + tpm2};
		uint8_t *x = buf + xsdt, *r = buf + rsdt;

		table_header(x, "XSDT", HDR_LEN + 8u * nent, 1, c.oem);
		table_header(r, "RSDT", HDR_LEN + 4u * nent, 1, c.oem);
		for (unsigned i = 0; i < nent; i++) {
			put_le(x + HDR_LEN + 8u * i, ents[i], 8);
			put_le(r + HDR_LEN + 4u * i, ents[i], 4);
		}
		table_checksum(x, HDR_LEN + 8u * nent);
		table_checksum(r, HDR_LEN + 4u * nent);
	}
	/* RSDP revision 2. */
	{
		uint8_t *p = buf + rsdp;

		pv_memcpy(p, "RSD PTR ", 8);
		pv_memcpy(p + 9, c.oem, 6);
		p[15] = 2;
		put_le(p + 16, c.base + rsdt, 4);
		put_le(p + 20, 36, 4);
		put_le(p + 24, c.base + xsdt, 8);
		p[8] = (uint8_t)(0u - pv_acpi_sum(p, 20));
		p[32] = (uint8_t)(0u - pv_acpi_sum(p, 36));
	}
	end = off;
	layout->rsdp = c.base + rsdp;
	layout->xsdt = c.base + xsdt;
	layout->rsdt = c.base + rsdt;
	layout->fadt = c.base + fadt;
	layout->facs = c.base + facs;
	layout->madt = c.base + madt;
	layout->dsdt = c.base + dsdt;
	layout->tpm2 = tpm2 ? c.base + tpm2 : 0;
	layout->size = end;
	return PV_OK;
}
