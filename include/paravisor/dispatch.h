/* SPDX-License-Identifier: MIT */
/**
 * @file dispatch.h
 * @brief Exit dispatch: handler tables, filters and the CPUID table.
 *
 * Order for every exit: isolation filter -> hv1 filter -> the registered
 * I/O-port, MMIO and MSR tables and the CPUID table -> the default policy:
 * IN/MMIO reads return all ones, OUT/MMIO writes are ignored (both counted),
 * an unknown MSR raises \#GP, an unknown CPUID leaf returns zeros, an
 * unhandled hypercall raises \#UD.
 *
 * Registration may happen while vCPUs run: lookups read an immutable sorted
 * array published atomically, so the hot path takes no lock and allocates
 * nothing. Replaced arrays are kept until the partition is destroyed, so a
 * handler's context must stay valid until pv_partition_destroy() unless the
 * caller knows no vCPU is running.
 */
#ifndef PARAVISOR_DISPATCH_H
#define PARAVISOR_DISPATCH_H

#include "paravisor/error.h"
#include "paravisor/exit.h"
#include "paravisor/port.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Port I/O handler.
 * @param ctx Registration context.
 * @param vcpu vCPU performing the access.
 * @param offset Port number minus the registered base.
 * @param size 1, 2 or 4.
 * @param is_write true for OUT.
 * @param data In: value written; out: value read (low @p size bytes used).
 * @return ::PV_OK; an error is counted and a read then returns all ones.
 */
typedef pv_err_t (*pv_io_fn)(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			     bool is_write, uint32_t *data);

/**
 * @brief MMIO handler.
 * @param ctx Registration context.
 * @param vcpu vCPU performing the access.
 * @param offset GPA minus the registered base.
 * @param size 1, 2, 4 or 8.
 * @param is_write true for stores.
 * @param data In: value stored; out: value loaded.
 * @return ::PV_OK; an error is counted and a read then returns all ones.
 */
typedef pv_err_t (*pv_mmio_fn)(void *ctx, struct pv_vcpu *vcpu, uint64_t offset, uint8_t size,
			       bool is_write, uint64_t *data);

/**
 * @brief MSR handler.
 * @param ctx Registration context.
 * @param vcpu vCPU performing the access.
 * @param index MSR number.
 * @param is_write true for WRMSR.
 * @param value In: value written; out: value read.
 * @return ::PV_OK; any error makes the guest take \#GP.
 */
typedef pv_err_t (*pv_msr_fn)(void *ctx, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
			      uint64_t *value);

/**
 * @brief Exit filter (isolation backend, hv1): first look at every exit.
 * @param ctx Filter context.
 * @param vcpu vCPU.
 * @param exit The exit; a filter may rewrite it or write its completion.
 * @return true if the exit is fully handled (completion written), false to
 *         pass it on down the dispatch order.
 */
typedef bool (*pv_exit_filter_fn)(void *ctx, struct pv_vcpu *vcpu, struct pv_exit *exit);

/** @brief Dispatch stages that accept a filter, in the order they run. */
enum pv_filter_stage {
	PV_FILTER_ISOLATION = 0, /**< Isolation backend. */
	PV_FILTER_HV1,           /**< Hyper-V interface emulation. */
	PV_FILTER_STAGE_COUNT    /**< Number of stages; not a stage. */
};

/**
 * @brief Register a handler for I/O ports [base, base+count).
 * @param part Partition.
 * @param base First port.
 * @param count Number of ports (1 .. 65536 - base).
 * @param fn Handler.
 * @param ctx Handler context.
 * @return ::PV_OK; ::PV_EINVAL (NULL fn, zero count, past port 0xFFFF);
 *         ::PV_EEXIST if any port is already registered; ::PV_ENOMEM.
 */
pv_err_t pv_io_register(struct pv_partition *part, uint16_t base, uint32_t count, pv_io_fn fn,
			void *ctx);

/**
 * @brief Remove the I/O registration that starts at @p base.
 * @param part Partition.
 * @param base The base given to pv_io_register().
 * @return ::PV_OK or ::PV_ENOENT.
 */
pv_err_t pv_io_unregister(struct pv_partition *part, uint16_t base);

/**
 * @brief Register a handler for the MMIO range [base, base+size).
 * @param part Partition.
 * @param base First address.
 * @param size Length in bytes (> 0, no wraparound).
 * @param fn Handler.
 * @param ctx Handler context.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ERANGE on wraparound; ::PV_EEXIST on
 *         overlap with another MMIO registration or with RAM; ::PV_ENOMEM.
 */
pv_err_t pv_mmio_register(struct pv_partition *part, pv_gpa_t base, uint64_t size, pv_mmio_fn fn,
			  void *ctx);

/**
 * @brief Remove the MMIO registration that starts at @p base.
 * @param part Partition.
 * @param base The base given to pv_mmio_register().
 * @return ::PV_OK or ::PV_ENOENT.
 */
pv_err_t pv_mmio_unregister(struct pv_partition *part, pv_gpa_t base);

/**
 * @brief Register a handler for MSRs [first, first+count).
 *
 * On ports with ::PV_PORT_CAP_MSR_FILTER the port is told to make these
 * MSRs exit.
 * @param part Partition.
 * @param first First MSR.
 * @param count Number of MSRs (> 0, no 32-bit wraparound).
 * @param fn Handler.
 * @param ctx Handler context.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_EEXIST on overlap; ::PV_ENOMEM; or the
 *         port's msr_filter_update error (then nothing was registered).
 */
pv_err_t pv_msr_register(struct pv_partition *part, uint32_t first, uint32_t count, pv_msr_fn fn,
			 void *ctx);

/**
 * @brief Remove the MSR registration that starts at @p first.
 * @param part Partition.
 * @param first The first MSR given to pv_msr_register().
 * @return ::PV_OK or ::PV_ENOENT.
 */
pv_err_t pv_msr_unregister(struct pv_partition *part, uint32_t first);

/**
 * @brief Set (add or replace) a CPUID table entry.
 *
 * The guest sees the table on the next CPUID exit, or, on ports without
 * CPUID exits, at its vCPUs' next entry. Leaf 1 EBX[31:24] and leaves 0xB /
 * 0x1F EDX are patched per vCPU with its APIC ID.
 * @param part Partition.
 * @param entry Entry to store (copied).
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_cpuid_set(struct pv_partition *part, const struct pv_cpuid_entry *entry);

/**
 * @brief Remove a CPUID entry.
 * @param part Partition.
 * @param leaf Leaf.
 * @param subleaf Subleaf (ignored for any-subleaf entries).
 * @return ::PV_OK or ::PV_ENOENT.
 */
pv_err_t pv_cpuid_remove(struct pv_partition *part, uint32_t leaf, uint32_t subleaf);

/**
 * @brief Look up what the table answers for CPUID(@p leaf, @p subleaf).
 * @param part Partition.
 * @param leaf Leaf.
 * @param subleaf Subleaf.
 * @param out Receives the entry (not patched per vCPU).
 * @return ::PV_OK or ::PV_ENOENT.
 */
pv_err_t pv_cpuid_get(struct pv_partition *part, uint32_t leaf, uint32_t subleaf,
		      struct pv_cpuid_entry *out);

/**
 * @brief Install the filter of a dispatch stage (one per stage).
 * @param part Partition.
 * @param stage Stage.
 * @param fn Filter, or NULL to remove it.
 * @param ctx Filter context.
 * @return ::PV_OK; ::PV_EINVAL for a bad stage; ::PV_EEXIST if the stage
 *         already has a filter and @p fn is not NULL.
 */
pv_err_t pv_dispatch_set_filter(struct pv_partition *part, enum pv_filter_stage stage,
				pv_exit_filter_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_DISPATCH_H */
