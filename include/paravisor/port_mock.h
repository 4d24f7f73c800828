/* SPDX-License-Identifier: MIT */
/**
 * @file port_mock.h
 * @brief The mock port: an in-process software hypervisor for unit tests.
 *
 * The mock implements every operation of ::pv_port_ops without any
 * virtualization hardware:
 *
 * - guest RAM is zeroed host memory (map_ram);
 * - each vCPU replays a scripted array of ::pv_exit (or asks a test callback
 *   for its next exit); when the script is exhausted it reports
 *   ::PV_EXIT_SHUTDOWN (configurable), or blocks until stopped;
 * - it records every completion, register write, injected event, MSR write,
 *   cpuid_update, msr_filter_update, irq_line/msi and isolation_op call so a
 *   test can assert what the library did;
 * - any port operation can be told to fail on its Nth call;
 * - its clock only moves when the test calls pv_mock_advance_clock(), which
 *   fires due timers synchronously, in deadline order.
 *
 * Typical use:
 * @code
 *   struct pv_mock_config mc = { .caps = PV_PORT_CAP_CPUID_EXITS | PV_PORT_CAP_TIMERS };
 *   struct pv_mock *mock;
 *   pv_mock_create(&mc, &mock);
 *   struct pv_exit script[1] = { { .kind = PV_EXIT_IO,
 *       .u.io = { .port = 0x80, .size = 1, .is_write = true, .count = 1, .data = 7 } } };
 *   pv_mock_set_script(mock, 0, script, 1);
 *   struct pv_partition_config pc = { ..., .port = pv_mock_port_ops(mock), .port_ctx = mock };
 *   pv_partition_create(&pc, &part);
 *   pv_vcpu_run(pv_partition_vcpu(part, 0), &last);   // OUT, then SHUTDOWN
 *   pv_mock_completion_count(mock, 0);                 // 1
 *   pv_partition_destroy(part);
 *   pv_mock_destroy(mock);
 * @endcode
 *
 * One mock serves one partition at a time. Script, register and recording
 * state is kept per vCPU index and survives vCPU and partition destruction,
 * so a test can inspect it afterwards. Query functions may be called from any
 * thread; they take the mock's lock. Script and callback setters of a vCPU
 * must not be called while that vCPU is inside vcpu_run. The mock uses libc
 * and POSIX threads.
 */
#ifndef PARAVISOR_PORT_MOCK_H
#define PARAVISOR_PORT_MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/error.h"
#include "paravisor/exit.h"
#include "paravisor/port.h"
#include "paravisor/regs.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque mock port instance; it is the @c port_ctx of the partition. */
struct pv_mock;

/** @brief Port operations, for call counting and failure injection. */
enum pv_mock_op {
	PV_MOCK_OP_PARTITION_CREATE = 0, /**< partition_create (can fail). */
	PV_MOCK_OP_PARTITION_DESTROY,    /**< partition_destroy (counted only). */
	PV_MOCK_OP_MAP_RAM,              /**< map_ram (can fail). */
	PV_MOCK_OP_UNMAP_RAM,            /**< unmap_ram (counted only). */
	PV_MOCK_OP_VCPU_CREATE,          /**< vcpu_create (can fail). */
	PV_MOCK_OP_VCPU_DESTROY,         /**< vcpu_destroy (counted only). */
	PV_MOCK_OP_VCPU_RUN,             /**< vcpu_run (can fail). */
	PV_MOCK_OP_VCPU_COMPLETE,        /**< vcpu_complete (can fail). */
	PV_MOCK_OP_GET_REGS,             /**< get_regs (can fail). */
	PV_MOCK_OP_SET_REGS,             /**< set_regs (can fail). */
	PV_MOCK_OP_GET_SREGS,            /**< get_sregs (can fail). */
	PV_MOCK_OP_SET_SREGS,            /**< set_sregs (can fail). */
	PV_MOCK_OP_GET_MSR,              /**< get_msr (can fail). */
	PV_MOCK_OP_SET_MSR,              /**< set_msr (can fail). */
	PV_MOCK_OP_INJECT,               /**< inject (can fail). */
	PV_MOCK_OP_STOP,                 /**< stop (counted only). */
	PV_MOCK_OP_CLOCK_NS,             /**< clock_ns (counted only). */
	PV_MOCK_OP_TIMER_CREATE,         /**< timer_create (can fail). */
	PV_MOCK_OP_TIMER_ARM,            /**< timer_arm (can fail). */
	PV_MOCK_OP_TIMER_CANCEL,         /**< timer_cancel (counted only). */
	PV_MOCK_OP_TIMER_DESTROY,        /**< timer_destroy (counted only). */
	PV_MOCK_OP_CPUID_UPDATE,         /**< cpuid_update (can fail). */
	PV_MOCK_OP_MSR_FILTER_UPDATE,    /**< msr_filter_update (can fail). */
	PV_MOCK_OP_HYPERCALL_CODE,       /**< hypercall_code (can fail). */
	PV_MOCK_OP_IRQ_LINE,             /**< irq_line (can fail). */
	PV_MOCK_OP_MSI,                  /**< msi (can fail). */
	PV_MOCK_OP_ISOLATION_OP,         /**< isolation_op (can fail). */
	PV_MOCK_OP_GET_XMM,              /**< get_xmm (can fail). */
	PV_MOCK_OP_SET_XMM,              /**< set_xmm (can fail). */
	PV_MOCK_OP_COUNT                 /**< Number of operations; not an operation. */
};

/** @brief Creation parameters of a mock port. A zeroed struct is valid. */
struct pv_mock_config {
	/** Bit set of ::pv_port_caps the ops table advertises. The optional
	 *  operations follow the flags: timer_* only with ::PV_PORT_CAP_TIMERS,
	 *  msr_filter_update only with ::PV_PORT_CAP_MSR_FILTER, irq_line and msi
	 *  only with ::PV_PORT_CAP_IRQCHIP. unmap_ram, get_msr, set_msr,
	 *  cpuid_update, hypercall_code and isolation_op are always present. */
	uint32_t caps;
	/** Initial value of the mock clock, in nanoseconds. */
	uint64_t clock_start_ns;
	/** Exit reported by a vCPU whose script is exhausted;
	 *  ::PV_EXIT_NONE (0) selects ::PV_EXIT_SHUTDOWN. Per-vCPU override:
	 *  pv_mock_set_end_kind(). */
	enum pv_exit_kind end_kind;
	/** Do not record completions (counts are still kept); for benchmarks. */
	bool no_recording;
	/** Provide the optional get_xmm/set_xmm operations (SSE register
	 *  access for MMIO emulation); without them the ops are NULL. */
	bool xmm_ops;
};

/**
 * @brief Test callback producing a vCPU's next exit (instead of a script).
 * @param ctx Context given to pv_mock_set_exit_callback().
 * @param vcpu_index vCPU index.
 * @param seq 0-based number of this exit for this vCPU (counts callback exits).
 * @param exit Zeroed exit to fill. If it has count > 1 I/O, the callback
 *        supplies the rep_data buffer and keeps it valid until the completion.
 * @return ::PV_OK, or an error that vcpu_run then returns.
 */
typedef pv_err_t (*pv_mock_exit_fn)(void *ctx, uint32_t vcpu_index, uint64_t seq,
				    struct pv_exit *exit);

/**
 * @brief Test callback told about every completion (after it was recorded).
 * @param ctx Context given to pv_mock_set_complete_callback().
 * @param vcpu_index vCPU index.
 * @param exit The completed exit, as the library wrote it.
 */
typedef void (*pv_mock_complete_fn)(void *ctx, uint32_t vcpu_index, const struct pv_exit *exit);

/**
 * @brief Test callback implementing isolation_op.
 * @param ctx Context given to pv_mock_set_isolation_callback().
 * @param vcpu_index vCPU index.
 * @param op Operation.
 * @param args In/out arguments.
 * @return What isolation_op returns.
 */
typedef pv_err_t (*pv_mock_isolation_fn)(void *ctx, uint32_t vcpu_index, enum pv_isolation_op op,
					 uint64_t args[6]);

/** @brief One recorded irq_line or msi call. */
struct pv_mock_irq {
	bool is_msi;      /**< false: irq_line; true: msi. */
	uint32_t gsi;     /**< Line (irq_line only). */
	bool level;       /**< Level (irq_line only). */
	uint64_t address; /**< MSI address (msi only). */
	uint32_t data;    /**< MSI data (msi only). */
};

/** @brief One recorded isolation_op call (arguments as passed in). */
struct pv_mock_isolation_call {
	uint32_t vcpu_index;     /**< vCPU that made the call. */
	enum pv_isolation_op op; /**< Operation. */
	uint64_t args[6];        /**< Arguments on entry. */
};

/** @brief Length of the sequence written by the mock's hypercall_code op. */
#define PV_MOCK_HYPERCALL_CODE_LEN 9u

/** @brief Initializer of the bytes the mock's hypercall_code op writes:
 *  "mov eax, 0x4b434f4d ('MOCK'); vmcall; ret". */
#define PV_MOCK_HYPERCALL_CODE_BYTES                                 \
	{                                                            \
		0xb8, 0x4d, 0x4f, 0x43, 0x4b, 0x0f, 0x01, 0xc1, 0xc3 \
	}

/** @brief Largest rep_data buffer a script entry may carry (bytes). */
#define PV_MOCK_MAX_REP_BYTES (1u << 20)

/* ---- lifetime ---------------------------------------------------------- */

/**
 * @brief Create a mock port.
 * @param config Parameters (copied), or NULL for all defaults (no caps).
 * @param out Receives the mock.
 * @return ::PV_OK; ::PV_EINVAL for a NULL @p out or unknown caps bits;
 *         ::PV_ENOMEM.
 */
pv_err_t pv_mock_create(const struct pv_mock_config *config, struct pv_mock **out);

/**
 * @brief Destroy a mock and all its recordings.
 * @pre The partition using it was destroyed.
 * @param mock Mock, or NULL (ignored).
 */
void pv_mock_destroy(struct pv_mock *mock);

/**
 * @brief The operations table to put in pv_partition_config::port (with the
 *        mock as pv_partition_config::port_ctx).
 * @param mock Mock.
 * @return A table owned by the mock, valid until pv_mock_destroy().
 */
const struct pv_port_ops *pv_mock_port_ops(struct pv_mock *mock);

/**
 * @brief The partition handle the mock was created for, while it lives.
 * @param mock Mock.
 * @return The handle given to partition_create, or NULL.
 */
struct pv_partition *pv_mock_partition(struct pv_mock *mock);

/**
 * @brief The vCPU handle given to vcpu_create for an index, while it lives.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The handle, or NULL.
 */
struct pv_vcpu *pv_mock_vcpu(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Number of vCPUs created and not yet destroyed.
 * @param mock Mock.
 * @return The count.
 */
uint32_t pv_mock_live_vcpus(struct pv_mock *mock);

/**
 * @brief Number of RAM mappings made by map_ram and not yet released.
 * @param mock Mock.
 * @return The count.
 */
size_t pv_mock_live_ram_maps(struct pv_mock *mock);

/**
 * @brief Whether a partition currently exists on the mock.
 * @param mock Mock.
 * @return true between partition_create and partition_destroy.
 */
bool pv_mock_partition_live(struct pv_mock *mock);

/**
 * @brief Host pointer to mapped guest RAM, for tests to preload or inspect it.
 * @param mock Mock.
 * @param gpa First byte.
 * @param len Bytes that must lie in the same mapping.
 * @return The host address of @p gpa, or NULL if [gpa, gpa+len) is not inside
 *         one live mapping.
 */
void *pv_mock_ram_ptr(struct pv_mock *mock, pv_gpa_t gpa, size_t len);

/* ---- scripts and callbacks -------------------------------------------- */

/**
 * @brief Give a vCPU the exits it reports, in order (replaces any script).
 *
 * The array and every non-NULL io.rep_data buffer (io.size * io.count bytes,
 * at most ::PV_MOCK_MAX_REP_BYTES) are copied. Each vcpu_run reports the
 * next entry with pv_exit::inject cleared and rep_data pointing to a
 * port-owned copy; fields are otherwise passed exactly as given, so
 * malformed exits can be scripted. May be called before the vCPU exists.
 * @param mock Mock.
 * @param vcpu_index vCPU index (< ::PV_MAX_VCPUS).
 * @param exits Exits (may be NULL when @p n is 0).
 * @param n Number of exits.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_script(struct pv_mock *mock, uint32_t vcpu_index, const struct pv_exit *exits,
			    size_t n);

/**
 * @brief Like pv_mock_set_script(), but the script repeats forever.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param exits Exits (copied).
 * @param n Number of exits (> 0).
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_script_repeat(struct pv_mock *mock, uint32_t vcpu_index,
				   const struct pv_exit *exits, size_t n);

/**
 * @brief Number of script entries a vCPU has reported since its script was
 *        last set.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count (keeps growing for a repeating script).
 */
uint64_t pv_mock_script_position(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Set the exit a vCPU reports once its script is exhausted.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param kind Any kind (the exit is zeroed apart from the kind).
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_end_kind(struct pv_mock *mock, uint32_t vcpu_index, enum pv_exit_kind kind);

/**
 * @brief Make a vCPU whose script is exhausted block inside vcpu_run until
 *        stop() is called (then it reports ::PV_EXIT_STOPPED), like a guest
 *        that runs forever.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param block true to block, false to report the end kind.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_block_when_done(struct pv_mock *mock, uint32_t vcpu_index, bool block);

/**
 * @brief Produce a vCPU's exits with a callback; it takes precedence over
 *        the script while set.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param fn Callback, or NULL to go back to the script.
 * @param ctx Callback context.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_exit_callback(struct pv_mock *mock, uint32_t vcpu_index, pv_mock_exit_fn fn,
				   void *ctx);

/**
 * @brief Be told about each completion of a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param fn Callback, or NULL.
 * @param ctx Callback context.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_complete_callback(struct pv_mock *mock, uint32_t vcpu_index,
				       pv_mock_complete_fn fn, void *ctx);

/**
 * @brief Implement isolation_op with a callback (default: record, return ::PV_OK).
 * @param mock Mock.
 * @param fn Callback, or NULL for the default.
 * @param ctx Callback context.
 */
void pv_mock_set_isolation_callback(struct pv_mock *mock, pv_mock_isolation_fn fn, void *ctx);

/**
 * @brief Number of vcpu_run calls on a vCPU (including failed ones).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
uint64_t pv_mock_run_count(struct pv_mock *mock, uint32_t vcpu_index);

/* ---- registers ---------------------------------------------------------- */

/**
 * @brief Read a vCPU's GPRs, RIP and RFLAGS as the mock holds them.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param regs Out.
 * @return ::PV_OK or ::PV_EINVAL.
 */
pv_err_t pv_mock_get_regs(struct pv_mock *mock, uint32_t vcpu_index, struct pv_regs *regs);

/**
 * @brief Set a vCPU's GPRs, RIP and RFLAGS (not recorded as a write).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param regs New values.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_regs(struct pv_mock *mock, uint32_t vcpu_index, const struct pv_regs *regs);

/**
 * @brief Read a vCPU's segment and control registers.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param sregs Out.
 * @return ::PV_OK or ::PV_EINVAL.
 */
pv_err_t pv_mock_get_sregs(struct pv_mock *mock, uint32_t vcpu_index, struct pv_sregs *sregs);

/**
 * @brief Set a vCPU's segment and control registers (not recorded).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param sregs New values.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_sregs(struct pv_mock *mock, uint32_t vcpu_index, const struct pv_sregs *sregs);

/**
 * @brief Read an MSR of a vCPU as get_msr would (never-written MSRs read 0).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param index MSR number.
 * @param value Out.
 * @return ::PV_OK or ::PV_EINVAL.
 */
pv_err_t pv_mock_get_msr(struct pv_mock *mock, uint32_t vcpu_index, uint32_t index,
			 uint64_t *value);

/**
 * @brief Set an MSR of a vCPU (not recorded as a write).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param index MSR number.
 * @param value Value.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM (more than 256 distinct MSRs).
 */
pv_err_t pv_mock_set_msr(struct pv_mock *mock, uint32_t vcpu_index, uint32_t index, uint64_t value);

/**
 * @brief Read a vCPU's XMM0-XMM15 as get_xmm would.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param xmm Out: 16 registers of 16 little-endian bytes.
 * @return ::PV_OK or ::PV_EINVAL.
 */
pv_err_t pv_mock_get_xmm(struct pv_mock *mock, uint32_t vcpu_index, uint8_t xmm[16][16]);

/**
 * @brief Set a vCPU's XMM0-XMM15 (not counted as a write).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param xmm New values.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_mock_set_xmm(struct pv_mock *mock, uint32_t vcpu_index, const uint8_t xmm[16][16]);

/**
 * @brief Number of successful set_xmm calls on a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
size_t pv_mock_xmm_write_count(struct pv_mock *mock, uint32_t vcpu_index);

/* ---- recordings --------------------------------------------------------- */

/**
 * @brief Number of completions recorded for a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count (0 for an unknown index).
 */
size_t pv_mock_completion_count(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Get a recorded completion (a copy of the ::pv_exit given to vcpu_complete).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param i 0-based, in completion order.
 * @param out Receives the copy; for string I/O its rep_data points to a
 *        mock-owned copy of the buffer, valid until pv_mock_destroy() or
 *        pv_mock_clear_records().
 * @return ::PV_OK; ::PV_ENOENT if @p i is out of range; ::PV_EINVAL.
 */
pv_err_t pv_mock_completion_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i,
				struct pv_exit *out);

/**
 * @brief Total vcpu_complete calls that succeeded on a vCPU (counted even
 *        without recording).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
uint64_t pv_mock_completions_total(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Number of events queued with the inject op on a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
size_t pv_mock_inject_count(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Get an event queued with the inject op.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param i 0-based, in call order.
 * @param out Receives the event.
 * @return ::PV_OK; ::PV_ENOENT; ::PV_EINVAL.
 */
pv_err_t pv_mock_inject_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i,
			    struct pv_event *out);

/**
 * @brief Number of injected events not yet delivered (the next vcpu_run
 *        delivers all of them).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
size_t pv_mock_pending_events(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Number of set_regs calls recorded on a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
size_t pv_mock_regs_write_count(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Get the registers passed to a recorded set_regs call.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param i 0-based.
 * @param out Receives them.
 * @return ::PV_OK; ::PV_ENOENT; ::PV_EINVAL.
 */
pv_err_t pv_mock_regs_write_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i,
				struct pv_regs *out);

/**
 * @brief Number of set_sregs calls recorded on a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
size_t pv_mock_sregs_write_count(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Get the registers passed to a recorded set_sregs call.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param i 0-based.
 * @param out Receives them.
 * @return ::PV_OK; ::PV_ENOENT; ::PV_EINVAL.
 */
pv_err_t pv_mock_sregs_write_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i,
				 struct pv_sregs *out);

/**
 * @brief Number of set_msr calls recorded on a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
size_t pv_mock_msr_write_count(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Get a recorded set_msr call.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param i 0-based.
 * @param index Receives the MSR number (may be NULL).
 * @param value Receives the value (may be NULL).
 * @return ::PV_OK; ::PV_ENOENT; ::PV_EINVAL.
 */
pv_err_t pv_mock_msr_write_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i, uint32_t *index,
			       uint64_t *value);

/**
 * @brief Number of cpuid_update calls on a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @return The count.
 */
size_t pv_mock_cpuid_update_count(struct pv_mock *mock, uint32_t vcpu_index);

/**
 * @brief Copy the table of the latest cpuid_update call of a vCPU.
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param out Destination (may be NULL when @p cap is 0).
 * @param cap Capacity of @p out in entries.
 * @param count Receives the number of entries in the table.
 * @return ::PV_OK (at most @p cap entries copied); ::PV_ENOENT if none was
 *         installed; ::PV_EINVAL.
 */
pv_err_t pv_mock_cpuid_entries(struct pv_mock *mock, uint32_t vcpu_index,
			       struct pv_cpuid_entry *out, size_t cap, size_t *count);

/**
 * @brief Look a leaf up in the latest cpuid_update table of a vCPU, as a
 *        port executing CPUID would (exact subleaf first, then any-subleaf).
 * @param mock Mock.
 * @param vcpu_index vCPU index.
 * @param leaf Leaf.
 * @param subleaf Subleaf.
 * @param out Receives the entry.
 * @return ::PV_OK; ::PV_ENOENT; ::PV_EINVAL.
 */
pv_err_t pv_mock_cpuid_lookup(struct pv_mock *mock, uint32_t vcpu_index, uint32_t leaf,
			      uint32_t subleaf, struct pv_cpuid_entry *out);

/**
 * @brief Number of msr_filter_update calls.
 * @param mock Mock.
 * @return The count.
 */
size_t pv_mock_msr_filter_update_count(struct pv_mock *mock);

/**
 * @brief Copy the ranges of a recorded msr_filter_update call.
 * @param mock Mock.
 * @param call 0-based call number.
 * @param out Destination (may be NULL when @p cap is 0).
 * @param cap Capacity in ranges.
 * @param count Receives the number of ranges of that call.
 * @return ::PV_OK; ::PV_ENOENT; ::PV_EINVAL.
 */
pv_err_t pv_mock_msr_filter_get(struct pv_mock *mock, size_t call, struct pv_msr_range *out,
				size_t cap, size_t *count);

/**
 * @brief Whether an MSR is in the latest msr_filter_update set.
 * @param mock Mock.
 * @param index MSR number.
 * @return true if it would exit.
 */
bool pv_mock_msr_filtered(struct pv_mock *mock, uint32_t index);

/**
 * @brief Number of irq_line and msi calls.
 * @param mock Mock.
 * @return The count.
 */
size_t pv_mock_irq_count(struct pv_mock *mock);

/**
 * @brief Get a recorded irq_line or msi call.
 * @param mock Mock.
 * @param i 0-based.
 * @param out Receives it.
 * @return ::PV_OK; ::PV_ENOENT; ::PV_EINVAL.
 */
pv_err_t pv_mock_irq_get(struct pv_mock *mock, size_t i, struct pv_mock_irq *out);

/**
 * @brief Number of isolation_op calls.
 * @param mock Mock.
 * @return The count.
 */
size_t pv_mock_isolation_op_count(struct pv_mock *mock);

/**
 * @brief Get a recorded isolation_op call.
 * @param mock Mock.
 * @param i 0-based.
 * @param out Receives it.
 * @return ::PV_OK; ::PV_ENOENT; ::PV_EINVAL.
 */
pv_err_t pv_mock_isolation_op_get(struct pv_mock *mock, size_t i,
				  struct pv_mock_isolation_call *out);

/**
 * @brief Forget every recording (completions, writes, events, calls) but
 *        keep scripts, registers and counters.
 * @param mock Mock.
 */
void pv_mock_clear_records(struct pv_mock *mock);

/* ---- failure injection and call counts ----------------------------------- */

/**
 * @brief Make one future call of an operation fail.
 * @param mock Mock.
 * @param op Operation (one marked "can fail").
 * @param nth Which call, counted from now: 1 is the next call.
 * @param err Error it returns (negative).
 * @return ::PV_OK; ::PV_EINVAL for a bad op, an op that cannot fail,
 *         @p nth 0 or a non-negative @p err.
 */
pv_err_t pv_mock_fail_op(struct pv_mock *mock, enum pv_mock_op op, uint64_t nth, pv_err_t err);

/**
 * @brief Make every call of an operation fail, from the Nth one on.
 * @param mock Mock.
 * @param op Operation (one marked "can fail").
 * @param nth First failing call, counted from now: 1 is the next call.
 * @param err Error they return (negative).
 * @return As pv_mock_fail_op().
 */
pv_err_t pv_mock_fail_op_from(struct pv_mock *mock, enum pv_mock_op op, uint64_t nth, pv_err_t err);

/**
 * @brief Cancel every armed failure.
 * @param mock Mock.
 */
void pv_mock_clear_failures(struct pv_mock *mock);

/**
 * @brief Number of calls of an operation since the mock was created
 *        (including failed ones).
 * @param mock Mock.
 * @param op Operation.
 * @return The count (0 for a bad op).
 */
uint64_t pv_mock_op_calls(struct pv_mock *mock, enum pv_mock_op op);

/**
 * @brief Name of an operation, e.g. "vcpu_run".
 * @param op Operation.
 * @return A static string ("unknown" for a bad value).
 */
const char *pv_mock_op_name(enum pv_mock_op op);

/* ---- clock and timers ------------------------------------------------------ */

/**
 * @brief Current mock clock (what clock_ns returns).
 * @param mock Mock.
 * @return Nanoseconds.
 */
uint64_t pv_mock_clock(struct pv_mock *mock);

/**
 * @brief Advance the clock and fire every timer that falls due, synchronously
 *        on the calling thread, in deadline order (ties in arming order).
 *
 * While a timer fires the clock reads its deadline, so a callback re-arming
 * relative to pv_clock_ns() fires again in the same call if it falls due.
 * An advance of 0 fires timers armed in the past.
 * @param mock Mock.
 * @param ns Nanoseconds to add (saturates at UINT64_MAX).
 * @return Number of timer callbacks run.
 */
size_t pv_mock_advance_clock(struct pv_mock *mock, uint64_t ns);

/**
 * @brief Number of timers created and not destroyed.
 * @param mock Mock.
 * @return The count.
 */
size_t pv_mock_live_timers(struct pv_mock *mock);

/**
 * @brief Number of armed timers.
 * @param mock Mock.
 * @return The count.
 */
size_t pv_mock_armed_timers(struct pv_mock *mock);

/**
 * @brief Earliest deadline among armed timers.
 * @param mock Mock.
 * @param deadline_ns Receives it.
 * @return true if a timer is armed (else @p deadline_ns is untouched).
 */
bool pv_mock_next_deadline(struct pv_mock *mock, uint64_t *deadline_ns);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_PORT_MOCK_H */
