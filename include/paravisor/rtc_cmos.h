/* SPDX-License-Identifier: MIT */
/**
 * @file rtc_cmos.h
 * @brief MC146818 CMOS real-time clock at I/O ports 0x70 (index) / 0x71 (data).
 *
 * Time runs from the partition clock (pv_clock_ns()) plus a settable base
 * epoch in Unix seconds. Registers 0x00-0x09 and the century byte 0x32 show
 * the current time in BCD or binary (register B DM bit) and 12- or 24-hour
 * format; the day of week is derived from the date (Sunday = 1). Register A
 * carries the update-in-progress bit (set during the 244 us before each
 * second boundary), the divider control (DV = 11x halts the clock; the first
 * update after it is released comes half a second later) and the periodic
 * rate; register B the SET bit (freezes the time registers so the guest can
 * write them), interrupt enables and formats; register C the flags
 * (IRQF, PF, AF, UF), cleared by reading it; register D reads 0x80 (valid
 * RAM). All 128 bytes are addressable; the rest is battery-backed RAM.
 *
 * Bit 7 of a write to the index port is the NMI mask (see pv_rtc_nmi_masked()).
 * Reads of the index port return 0xFF (write-only on PC chipsets).
 * The interrupt line is held high while register C's IRQF is set.
 * Multi-byte accesses are split into byte accesses at consecutive ports
 * (out of range bytes read 0xFF, writes ignored).
 */
#ifndef PARAVISOR_RTC_CMOS_H
#define PARAVISOR_RTC_CMOS_H

#include "paravisor/error.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Standard index port. */
#define PV_RTC_IO_BASE 0x70u
/** @brief Ports occupied (index + data). */
#define PV_RTC_PORT_COUNT 2u
/** @brief Standard interrupt line. */
#define PV_RTC_IRQ 8u
/** @brief Bytes of CMOS (registers + RAM). */
#define PV_RTC_CMOS_SIZE 128u
/** @brief Index of the century byte (ACPI FADT CENTURY). */
#define PV_RTC_CENTURY_INDEX 0x32u

/** @brief RTC configuration. */
struct pv_rtc_config {
	uint16_t io_base;   /**< Index port (data port is io_base + 1); usually ::PV_RTC_IO_BASE. */
	uint32_t irq;       /**< Interrupt line (GSI). */
	uint64_t epoch_sec; /**< Unix time shown at creation (clamped to 1970..2499). */
	/** Initial CMOS RAM image (::PV_RTC_CMOS_SIZE bytes) or NULL for zeros;
	 *  the clock registers 0x00-0x0D are not taken from it. */
	const uint8_t *nvram;
};

/** @brief Opaque RTC instance. */
struct pv_rtc;

/**
 * @brief Create the RTC and register its ports.
 *
 * Register A starts as 0x26 (normal divider, 1024 Hz periodic rate) and
 * register B as 0x02 (24-hour, BCD). Uses one port timer for interrupts if
 * the port has timers; without them flags are still computed on access.
 * @param part Partition.
 * @param config Configuration (copied).
 * @param out Receives the device.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM; ::PV_EEXIST if a port is taken.
 */
pv_err_t pv_rtc_create(struct pv_partition *part, const struct pv_rtc_config *config,
		       struct pv_rtc **out);

/**
 * @brief Unregister and free the RTC. NULL is ignored.
 * @pre No vCPU is accessing the device.
 * @param rtc Device.
 */
void pv_rtc_destroy(struct pv_rtc *rtc);

/**
 * @brief Perform a port access exactly as a guest IN/OUT would.
 * @param rtc Device.
 * @param offset 0 (index port) or 1 (data port); others read 0xFF.
 * @param size 1, 2 or 4.
 * @param is_write true for OUT.
 * @param data In: value written; out: value read.
 * @return ::PV_OK; ::PV_EINVAL for a NULL argument or a bad size.
 */
pv_err_t pv_rtc_io(struct pv_rtc *rtc, uint16_t offset, uint8_t size, bool is_write,
		   uint32_t *data);

/**
 * @brief Set the wall-clock time the RTC shows now.
 * @param rtc Device.
 * @param unix_sec Seconds since 1970-01-01 00:00:00 UTC (clamped to 1970..2499).
 */
void pv_rtc_set_time(struct pv_rtc *rtc, uint64_t unix_sec);

/**
 * @brief Read the wall-clock time the RTC keeps (including guest changes).
 * @param rtc Device.
 * @return Seconds since the Unix epoch.
 */
uint64_t pv_rtc_get_time(struct pv_rtc *rtc);

/**
 * @brief Whether the guest last wrote the index port with bit 7 set.
 *
 * The embedder's NMI source should hold NMIs while this is true.
 * @param rtc Device.
 * @return true when NMIs are masked.
 */
bool pv_rtc_nmi_masked(struct pv_rtc *rtc);

/**
 * @brief Save the device state into a versioned byte record.
 * @param rtc Device.
 * @param buf Destination (NULL to query the size).
 * @param cap Capacity.
 * @param len Receives the record length.
 * @return ::PV_OK; ::PV_ERANGE if it does not fit; ::PV_EINVAL.
 */
pv_err_t pv_rtc_save(struct pv_rtc *rtc, uint8_t *buf, size_t cap, size_t *len);

/**
 * @brief Restore the device state (validated before anything changes).
 * @param rtc Device.
 * @param buf Record from pv_rtc_save().
 * @param len Length.
 * @return ::PV_OK; ::PV_EVERSION; ::PV_EBADMSG; ::PV_EINVAL.
 */
pv_err_t pv_rtc_restore(struct pv_rtc *rtc, const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_RTC_CMOS_H */
