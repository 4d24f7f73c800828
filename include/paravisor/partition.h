/* SPDX-License-Identifier: MIT */
/**
 * @file partition.h
 * @brief Partition lifecycle, configuration and statistics.
 */
#ifndef PARAVISOR_PARTITION_H
#define PARAVISOR_PARTITION_H

#include "paravisor/error.h"
#include "paravisor/exit.h"
#include "paravisor/memory.h"
#include "paravisor/platform.h"
#include "paravisor/port.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Maximum number of ranges in a partition memory map. */
#define PV_MAX_MEM_RANGES 64u

/** @brief What a partition is made of. Copied by pv_partition_create(). */
struct pv_partition_config {
	uint32_t vcpu_count;               /**< 1 .. ::PV_MAX_VCPUS. */
	uint32_t vtl_count;                /**< Lower VTLs managed: 1 .. ::PV_MAX_VTLS. */
	enum pv_isolation_type isolation;  /**< Isolation type. */
	const struct pv_mem_range *ranges; /**< Memory map; any order, no overlaps. */
	size_t range_count;                /**< 1 .. ::PV_MAX_MEM_RANGES. */
	const struct pv_port_ops *port;    /**< Port operations (mandatory ones non-NULL). */
	void *port_ctx;                    /**< Port context given to partition_create. */
	/** Platform table; NULL selects pv_platform_hosted() in hosted builds. */
	const struct pv_platform *platform;
};

/** @brief Counters kept by the dispatcher (summed over vCPUs). */
struct pv_stats {
	uint64_t exits[PV_EXIT_KIND_COUNT]; /**< Exits seen, by ::pv_exit_kind. */
	uint64_t io_unhandled_reads;   /**< IN from a port nobody registered (returned all ones). */
	uint64_t io_unhandled_writes;  /**< OUT to a port nobody registered (ignored). */
	uint64_t mmio_unhandled_reads; /**< MMIO loads nobody handled (returned all ones). */
	uint64_t mmio_unhandled_writes; /**< MMIO stores nobody handled (ignored). */
	uint64_t msr_unhandled;         /**< RDMSR/WRMSR nobody handled (\#GP injected). */
	uint64_t cpuid_unhandled;       /**< CPUID leaves not in the table (zeros returned). */
	uint64_t hypercall_unhandled;   /**< Hypercalls nobody handled (\#UD injected). */
	uint64_t handler_errors;        /**< Registered handlers that returned an error. */
	uint64_t bad_exits;             /**< Malformed exits from the port (bad kind/size). */
	uint64_t mmio_emulated; /**< MMIO instructions decoded and emulated by the library. */
	uint64_t
		mmio_emulation_faults; /**< Emulations that ended in a fault injected into the guest. */
};

/**
 * @brief Create a partition: validate the config, map RAM, create vCPUs.
 * @param config Configuration (copied; the range array may be freed after).
 * @param out Receives the new partition.
 * @return ::PV_OK; ::PV_EINVAL for a bad config (zero/too many vCPUs or
 *         ranges, unaligned or overlapping or wrapping ranges, missing
 *         mandatory port ops); ::PV_ENOMEM; or the port's error. On failure
 *         everything created so far is released and @p *out is NULL.
 */
pv_err_t pv_partition_create(const struct pv_partition_config *config, struct pv_partition **out);

/**
 * @brief Destroy a partition and everything it owns.
 * @pre No vCPU of the partition is running.
 * @param part Partition, or NULL (ignored).
 */
void pv_partition_destroy(struct pv_partition *part);

/**
 * @brief Get a vCPU by index.
 * @param part Partition.
 * @param index 0 .. vcpu_count-1.
 * @return The vCPU, or NULL for a bad index.
 */
struct pv_vcpu *pv_partition_vcpu(struct pv_partition *part, uint32_t index);

/**
 * @brief Number of vCPUs.
 * @param part Partition.
 * @return The configured vCPU count.
 */
uint32_t pv_partition_vcpu_count(const struct pv_partition *part);

/**
 * @brief Number of lower VTLs.
 * @param part Partition.
 * @return The configured VTL count.
 */
uint32_t pv_partition_vtl_count(const struct pv_partition *part);

/**
 * @brief The partition's isolation type.
 * @param part Partition.
 * @return The configured isolation type.
 */
enum pv_isolation_type pv_partition_isolation(const struct pv_partition *part);

/**
 * @brief The port's per-partition data (for port-specific extension calls).
 * @param part Partition.
 * @return What the port's partition_create stored.
 */
void *pv_partition_port_data(struct pv_partition *part);

/**
 * @brief The port operations of the partition.
 * @param part Partition.
 * @return The port table given at creation.
 */
const struct pv_port_ops *pv_partition_port(const struct pv_partition *part);

/**
 * @brief The platform table in use.
 * @param part Partition.
 * @return The platform table (never NULL).
 */
const struct pv_platform *pv_partition_platform(const struct pv_partition *part);

/**
 * @brief Sum the dispatcher counters over all vCPUs.
 * @param part Partition.
 * @param out Receives the counters.
 */
void pv_partition_get_stats(struct pv_partition *part, struct pv_stats *out);

/**
 * @brief Log through the partition's platform sink (printf-like subset:
 *        %%s %%c %%d %%i %%u %%x %%X %%p %%%% with l/ll/z modifiers and 0/width).
 * @param part Partition (NULL: message dropped).
 * @param level Severity.
 * @param subsystem Short tag.
 * @param fmt Format string.
 * @param ... Arguments.
 */
void pv_log(struct pv_partition *part, enum pv_log_level level, const char *subsystem,
	    const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_PARTITION_H */
