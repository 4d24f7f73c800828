/* SPDX-License-Identifier: MIT */
/*
 * The ACPI fixed-hardware registers the FADT points at: PM1a status,
 * enable and control, the PM timer and the reset register. A guest write of
 * SLP_EN or of the reset value reaches the embedder's callback. Also
 * pv_acpi_install(), which writes the tables into guest memory.
 */
#include "acpi/acpi_internal.h"
#include "core/platform_internal.h"
#include "core/util.h"
#include "paravisor/device.h"
#include "paravisor/dispatch.h"
#include "paravisor/memory.h"
#include "paravisor/partition.h"

struct pv_acpi_pm {
	struct pv_partition *part;
	uint16_t base;
	pv_acpi_power_fn fn;
	void *ctx;
	void *lock;
	uint16_t sts;
	uint16_t en;
	uint16_t cnt; /* SLP_TYP kept; SLP_EN never stored */
	uint64_t requests;
};

static uint32_t pm_timer_value(struct pv_acpi_pm *pm)
{
	uint64_t ns = pv_clock_ns(pm->part);
	/* ticks = ns * 3579545 / 1e9, without overflowing 64 bits. */
	uint64_t ticks = (ns / 1000000000u) * ACPI_PM_TIMER_HZ +
			 (ns % 1000000000u) * ACPI_PM_TIMER_HZ / 1000000000u;

	return (uint32_t)(ticks & 0xffffffu);
}

/* Register file read of one byte at offset off (lock held). */
static uint8_t pm_read_byte(struct pv_acpi_pm *pm, uint16_t off, uint32_t timer)
{
	uint16_t cnt = (uint16_t)(pm->cnt | ACPI_PM1_CNT_SCI_EN);

	switch (off) {
	case ACPI_PM1_STS:
	case ACPI_PM1_STS + 1u:
		return (uint8_t)(pm->sts >> (8u * (off - ACPI_PM1_STS)));
	case ACPI_PM1_EN:
	case ACPI_PM1_EN + 1u:
		return (uint8_t)(pm->en >> (8u * (off - ACPI_PM1_EN)));
	case ACPI_PM1_CNT:
	case ACPI_PM1_CNT + 1u:
		return (uint8_t)(cnt >> (8u * (off - ACPI_PM1_CNT)));
	case ACPI_PM_TMR:
	case ACPI_PM_TMR + 1u:
	case ACPI_PM_TMR + 2u:
	case ACPI_PM_TMR + 3u:
		return (uint8_t)(timer >> (8u * (off - ACPI_PM_TMR)));
	default:
		return 0; /* reset register and reserved ports read as zero */
	}
}

static pv_err_t pm_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size, bool is_write,
		      uint32_t *data)
{
	struct pv_acpi_pm *pm = ctx;
	const struct pv_platform *pf = pv_partition_platform(pm->part);
	enum pv_acpi_power_event event = PV_ACPI_POWER_OFF;
	bool fire = false;
	uint8_t slp_typ = 0;

	if ((size != 1 && size != 2 && size != 4) || offset >= PV_ACPI_PM_PORTS ||
	    size > PV_ACPI_PM_PORTS - offset)
		return PV_EINVAL;
	if (!is_write) {
		uint32_t timer = pm_timer_value(pm);
		uint32_t v = 0;

		pf->lock_acquire(pf->ctx, pm->lock);
		for (uint8_t i = 0; i < size; i++)
			v |= (uint32_t)pm_read_byte(pm, (uint16_t)(offset + i), timer) << (8u * i);
		pf->lock_release(pf->ctx, pm->lock);
		*data = v;
		return PV_OK;
	}

	pf->lock_acquire(pf->ctx, pm->lock);
	for (uint8_t i = 0; i < size; i++) {
		uint16_t off = (uint16_t)(offset + i);
		uint8_t b = (uint8_t)(*data >> (8u * i));

		if (off == ACPI_PM1_STS || off == ACPI_PM1_STS + 1u) {
			/* Write one to clear. */
			pm->sts &= (uint16_t) ~((uint16_t)b << (8u * (off - ACPI_PM1_STS)));
		} else if (off == ACPI_PM1_EN || off == ACPI_PM1_EN + 1u) {
			unsigned sh = 8u * (off - ACPI_PM1_EN);

			pm->en = (uint16_t)((pm->en & ~(0xffu << sh)) | ((uint16_t)b << sh));
		} else if (off == ACPI_PM1_CNT || off == ACPI_PM1_CNT + 1u) {
			unsigned sh = 8u * (off - ACPI_PM1_CNT);
			uint16_t v = (uint16_t)((pm->cnt & ~(0xffu << sh)) | ((uint16_t)b << sh));

			pm->cnt = (uint16_t)(v & ACPI_PM1_CNT_SLP_TYP_MASK);
			if (v & ACPI_PM1_CNT_SLP_EN) {
				slp_typ = (uint8_t)((v & ACPI_PM1_CNT_SLP_TYP_MASK) >>
						    ACPI_PM1_CNT_SLP_TYP_SHIFT);
				event = slp_typ == PV_ACPI_SLP_TYP_S5 ? PV_ACPI_POWER_OFF :
									PV_ACPI_SLEEP;
				fire = true;
			}
		} else if (off == ACPI_RESET && b == PV_ACPI_RESET_VALUE) {
			event = PV_ACPI_RESET;
			fire = true;
		}
	}
	if (fire)
		pm->requests++;
	pf->lock_release(pf->ctx, pm->lock);

	if (fire) {
		pv_log(pm->part, PV_LOG_INFO, "acpi", "guest requested %s (SLP_TYP %u)",
		       event == PV_ACPI_RESET ? "reset" :
		       event == PV_ACPI_SLEEP ? "sleep" :
						"power-off",
		       slp_typ);
		if (pm->fn)
			pm->fn(pm->ctx, event, slp_typ);
	}
	return PV_OK;
}

pv_err_t pv_acpi_pm_create(struct pv_partition *part, uint16_t pm_base, pv_acpi_power_fn fn,
			   void *ctx, struct pv_acpi_pm **out)
{
	const struct pv_platform *pf;
	struct pv_acpi_pm *pm;
	pv_err_t err;

	if (!part || !out)
		return PV_EINVAL;
	*out = NULL;
	if (pm_base == 0)
		pm_base = PV_ACPI_PM_BASE;
	if (pm_base % 4u || (uint32_t)pm_base + PV_ACPI_PM_PORTS > 0x10000u)
		return PV_EINVAL;
	pm = pv_alloc(part, sizeof(*pm));
	if (!pm)
		return PV_ENOMEM;
	pf = pv_partition_platform(part);
	pm->lock = pf->lock_create(pf->ctx);
	if (!pm->lock) {
		pv_free(part, pm);
		return PV_ENOMEM;
	}
	pm->part = part;
	pm->base = pm_base;
	pm->fn = fn;
	pm->ctx = ctx;
	err = pv_io_register(part, pm_base, PV_ACPI_PM_PORTS, pm_io, pm);
	if (err) {
		pf->lock_destroy(pf->ctx, pm->lock);
		pv_free(part, pm);
		return err;
	}
	*out = pm;
	return PV_OK;
}

void pv_acpi_pm_destroy(struct pv_acpi_pm *pm)
{
	const struct pv_platform *pf;

	if (!pm)
		return;
	pf = pv_partition_platform(pm->part);
	pv_io_unregister(pm->part, pm->base);
	pf->lock_destroy(pf->ctx, pm->lock);
	pv_free(pm->part, pm);
}

pv_err_t pv_acpi_install(struct pv_partition *part, const struct pv_acpi_config *cfg,
			 struct pv_acpi_layout *layout)
{
	struct pv_acpi_config c;
	struct pv_acpi_layout l;
	uint8_t *buf;
	pv_err_t err;

	if (!part || !cfg)
		return PV_EINVAL;
	c = *cfg;
	if (c.vcpu_count == 0)
		c.vcpu_count = pv_partition_vcpu_count(part);
	buf = pv_alloc(part, PV_ACPI_MAX_SIZE);
	if (!buf)
		return PV_ENOMEM;
	err = pv_acpi_build(&c, buf, PV_ACPI_MAX_SIZE, &l);
	if (!err)
		err = pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(l.rsdp), buf, l.size);
	pv_free(part, buf);
	if (err) {
		pv_log(part, PV_LOG_ERROR, "acpi", "installing the ACPI tables failed: %s",
		       pv_strerror(err));
		return err;
	}
	if (layout)
		*layout = l;
	return PV_OK;
}
