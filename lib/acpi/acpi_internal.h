/* SPDX-License-Identifier: MIT */
/* Private definitions shared by the ACPI table builder and the PM block. */
#ifndef PV_ACPI_INTERNAL_H
#define PV_ACPI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "paravisor/acpi.h"

/* Offsets inside the PM I/O block (see acpi.h). */
#define ACPI_PM1_EVT 0x0u /* status (2 bytes) then enable (2 bytes) */
#define ACPI_PM1_STS 0x0u
#define ACPI_PM1_EN 0x2u
#define ACPI_PM1_CNT 0x4u
#define ACPI_PM_TMR 0x8u
#define ACPI_RESET 0xcu

#define ACPI_PM1_CNT_SCI_EN (1u << 0)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10u
#define ACPI_PM1_CNT_SLP_TYP_MASK (7u << 10)
#define ACPI_PM1_CNT_SLP_EN (1u << 13)
#define ACPI_PM_TIMER_HZ 3579545u

/* A validated configuration with the defaults applied. */
struct acpi_ctx {
	uint32_t vcpu_count;
	uint64_t base;
	uint16_t pm_base;
	uint32_t devices;
	uint32_t vmbus_irq;
	uint8_t ioapic_id;
	bool pm_timer;
	struct pv_acpi_window vmbus_mmio[2];
	char oem[6];
};

pv_err_t pv_acpi_ctx_init(struct acpi_ctx *c, const struct pv_acpi_config *cfg);

#endif /* PV_ACPI_INTERNAL_H */
