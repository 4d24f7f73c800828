/* SPDX-License-Identifier: MIT */
/**
 * @file acpi.h
 * @brief ACPI tables generated from the partition configuration, and the
 *        PM1 / reset registers they point at.
 *
 * pv_acpi_build() writes one contiguous blob, in this order, each table
 * 16-byte aligned (the FACS 64-byte aligned): RSDP (revision 2), XSDT,
 * RSDT, FADT, FACS, MADT, DSDT and, when a TPM is configured, TPM2.
 * Placed at 0xE0000 (the default) the RSDP is also found by the legacy
 * BIOS-area scan; pass its address to the Linux loader too
 * (::pv_linux_boot_config::rsdp_gpa) and mark the blob as ACPI memory in
 * the E820 map.
 *
 * Fixed hardware (FADT, not hardware-reduced), on I/O ports starting at
 * @c pm_base (default ::PV_ACPI_PM_BASE = 0x600):
 *
 * | port | width | register |
 * |---|---|---|
 * | pm_base + 0 | 2 | PM1a status (write 1 to clear) |
 * | pm_base + 2 | 2 | PM1a enable |
 * | pm_base + 4 | 2 | PM1a control: SCI_EN reads 1; SLP_TYP bits 12:10, SLP_EN bit 13 |
 * | pm_base + 8 | 4 | PM timer, 24-bit, 3.579545 MHz |
 * | pm_base + 0xC | 1 | reset register: writing ::PV_ACPI_RESET_VALUE resets |
 *
 * SCI is IRQ 9 (level, active high: MADT override). No SMI command port:
 * the platform is always in ACPI mode. The DSDT's _S5 package gives
 * SLP_TYP = ::PV_ACPI_SLP_TYP_S5, so a guest's ACPI power-off is a write of
 * SLP_EN | (5 << 10) to PM1a control, reported to the embedder as
 * ::PV_ACPI_POWER_OFF.
 *
 * DSDT contents: `\_SB.VMOD` (_HID "ACPI0004", _CRS with the optional VMBus
 * MMIO windows) containing VMBS (_HID "VMBus", _UID 0, _DDN "VMBUS", _STA
 * 0xF, _CRS with one extended Interrupt() descriptor, the kind Linux's
 * vmbus_walk_resources() reads); `\_SB.COM1` (PNP0501, I/O 0x3F8-0x3FF, IRQ
 * 4); `\_SB.RTC` (PNP0B00, I/O 0x70-0x71, IRQ 8); `\_SB.TPM` (MSFT0101, CRB at
 * Memory32Fixed 0xFED40000 size 0x5000); `\_S5`. The MADT lists one local
 * APIC per vCPU (APIC ID = vCPU index), the I/O APIC at 0xFEC00000 and the
 * overrides IRQ0 -> GSI2 and IRQ9 level/active-high.
 */
#ifndef PARAVISOR_ACPI_H
#define PARAVISOR_ACPI_H

#include "paravisor/error.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Default GPA of the table blob (the BIOS read-only area the RSDP scan covers). */
#define PV_ACPI_DEFAULT_BASE 0xe0000u
/** @brief Default first I/O port of the PM1 / timer / reset block. */
#define PV_ACPI_PM_BASE 0x600u
/** @brief Number of I/O ports the PM block occupies. */
#define PV_ACPI_PM_PORTS 0x10u
/** @brief The SCI interrupt line. */
#define PV_ACPI_SCI_IRQ 9u
/** @brief SLP_TYP value the _S5 package announces. */
#define PV_ACPI_SLP_TYP_S5 5u
/** @brief Value written to the reset register to reset the machine. */
#define PV_ACPI_RESET_VALUE 0x01u
/** @brief Local APIC address in the MADT. */
#define PV_ACPI_LAPIC_ADDR 0xfee00000u
/** @brief I/O APIC address in the MADT. */
#define PV_ACPI_IOAPIC_ADDR 0xfec00000u
/** @brief TPM CRB register window base (DSDT device MSFT0101). */
#define PV_ACPI_TPM_CRB_BASE 0xfed40000u
/** @brief TPM CRB register window size. */
#define PV_ACPI_TPM_CRB_SIZE 0x5000u
/** @brief TPM2 table start method: Command Response Buffer. */
#define PV_ACPI_TPM2_START_CRB 7u
/** @brief Largest blob pv_acpi_build() can produce for ::PV_MAX_VCPUS vCPUs. */
#define PV_ACPI_MAX_SIZE 0x2000u

/** @brief Devices described in the DSDT (bit set for pv_acpi_config::devices). */
enum pv_acpi_device {
	PV_ACPI_DEV_VMBUS = 1u << 0, /**< `\_SB.VMOD.VMBS` ("VMBus"). */
	PV_ACPI_DEV_COM1 = 1u << 1,  /**< `\_SB.COM1` (PNP0501). */
	PV_ACPI_DEV_RTC = 1u << 2,   /**< `\_SB.RTC` (PNP0B00), and FADT CENTURY = 0x32. */
	PV_ACPI_DEV_TPM = 1u << 3,   /**< `\_SB.TPM` (MSFT0101) and the TPM2 table. */
	PV_ACPI_DEV_ALL = 0xfu       /**< All of the above. */
};

/** @brief A memory window for the VMBus MMIO module's _CRS (QWordMemory). */
struct pv_acpi_window {
	uint64_t base; /**< First address. */
	uint64_t size; /**< Length in bytes (0: no window). */
};

/** @brief What the tables describe. Zero fields select the documented defaults. */
struct pv_acpi_config {
	uint32_t vcpu_count; /**< 1 .. ::PV_MAX_VCPUS local APICs (IDs 0..n-1). */
	uint64_t base_gpa;   /**< GPA of the blob (16-byte aligned); 0: ::PV_ACPI_DEFAULT_BASE. */
	uint16_t pm_base;    /**< PM block I/O base (4-aligned, block below 0x10000); 0: 0x600. */
	uint32_t devices;    /**< ::pv_acpi_device bits. */
	uint32_t vmbus_irq;  /**< GSI in the VMBus _CRS Interrupt(); 0: 5. */
	uint8_t ioapic_id;   /**< I/O APIC ID (default 0). */
	bool no_pm_timer;    /**< Leave the PM timer out of the FADT. */
	struct pv_acpi_window vmbus_mmio[2]; /**< Optional low/high MMIO windows for VMBus. */
	char oem_id[6]; /**< OEM ID (not NUL-terminated); all zero: "PVISOR". */
};

/** @brief Where pv_acpi_build() put each table (GPAs) and how long the blob is. */
struct pv_acpi_layout {
	uint64_t rsdp; /**< RSDP (36 bytes). */
	uint64_t xsdt; /**< XSDT. */
	uint64_t rsdt; /**< RSDT. */
	uint64_t fadt; /**< FADT (276 bytes, revision 6). */
	uint64_t facs; /**< FACS (64 bytes). */
	uint64_t madt; /**< MADT. */
	uint64_t dsdt; /**< DSDT. */
	uint64_t tpm2; /**< TPM2 (0 without ::PV_ACPI_DEV_TPM). */
	size_t size;   /**< Bytes used from the blob's start. */
};

/**
 * @brief Build the ACPI tables into a host buffer (no partition needed).
 * @param cfg Configuration.
 * @param buf Output buffer (its bytes are laid out as at @c cfg->base_gpa).
 * @param cap Capacity of @p buf (::PV_ACPI_MAX_SIZE is always enough).
 * @param layout Receives table addresses and the blob size.
 * @return ::PV_OK; ::PV_EINVAL for NULL arguments, a bad vCPU count,
 *         unaligned base, a bad PM base, a bad VMBus IRQ or unknown device
 *         bits; ::PV_ERANGE if the blob would not fit in @p cap or would
 *         cross 4 GiB.
 */
pv_err_t pv_acpi_build(const struct pv_acpi_config *cfg, uint8_t *buf, size_t cap,
		       struct pv_acpi_layout *layout);

/**
 * @brief Checksum byte sum of a table (or the RSDP's first 20 / all 36 bytes).
 * @param p Bytes.
 * @param len Length.
 * @return The 8-bit sum; a correctly checksummed table sums to 0.
 */
uint8_t pv_acpi_sum(const uint8_t *p, size_t len);

/** @brief Power events the PM registers report to the embedder. */
enum pv_acpi_power_event {
	PV_ACPI_POWER_OFF = 0, /**< SLP_EN with SLP_TYP = ::PV_ACPI_SLP_TYP_S5 (S5). */
	PV_ACPI_SLEEP,         /**< SLP_EN with another SLP_TYP (passed as @c slp_typ). */
	PV_ACPI_RESET          /**< ::PV_ACPI_RESET_VALUE written to the reset register. */
};

/**
 * @brief Embedder callback for guest power requests. Runs on the vCPU thread
 *        that wrote the register; typically it records the request and calls
 *        pv_vcpu_stop() on every vCPU.
 * @param ctx Callback context.
 * @param event What the guest asked for.
 * @param slp_typ The SLP_TYP field written (sleep/power-off events).
 */
typedef void (*pv_acpi_power_fn)(void *ctx, enum pv_acpi_power_event event, uint8_t slp_typ);

/** @brief Opaque PM1 / PM timer / reset register block. */
struct pv_acpi_pm;

/**
 * @brief Emulate the PM block: register its I/O ports on the partition.
 * @param part Partition.
 * @param pm_base First port (0: ::PV_ACPI_PM_BASE); must match the tables.
 * @param fn Power callback (may be NULL: requests are then only logged).
 * @param ctx Callback context.
 * @param out Receives the block.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM; or pv_io_register()'s error.
 */
pv_err_t pv_acpi_pm_create(struct pv_partition *part, uint16_t pm_base, pv_acpi_power_fn fn,
			   void *ctx, struct pv_acpi_pm **out);

/**
 * @brief Unregister and free a PM block. NULL is ignored.
 * @pre No vCPU is running.
 * @param pm Block.
 */
void pv_acpi_pm_destroy(struct pv_acpi_pm *pm);

/**
 * @brief Build the tables and write them into guest memory at @c cfg->base_gpa.
 *
 * Uses pv_mem_write() with ::PV_ACCESS_PARAVISOR only.
 * @param part Partition.
 * @param cfg Configuration (@c vcpu_count 0 takes the partition's count).
 * @param layout Receives the table addresses (may be NULL).
 * @return ::PV_OK; pv_acpi_build()'s errors; ::PV_ENOMEM; or the accessor's error.
 */
pv_err_t pv_acpi_install(struct pv_partition *part, const struct pv_acpi_config *cfg,
			 struct pv_acpi_layout *layout);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_ACPI_H */
