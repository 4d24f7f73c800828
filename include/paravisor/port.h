/* SPDX-License-Identifier: MIT */
/**
 * @file port.h
 * @brief The port contract: how the library enters the lower VTL.
 *
 * A port is a table of operations (::pv_port_ops) plus a context pointer. The
 * core calls it; a port never calls back into the core except through the
 * struct pv_vcpu and struct pv_partition handles it was given (for logging and memory).
 *
 * Threading: operations marked "vCPU thread" are only called from the thread
 * running pv_vcpu_run() for that vCPU. Operations marked "any thread" may be
 * called concurrently from any thread, including timer callbacks.
 *
 * Failure: every operation returning ::pv_err_t returns ::PV_OK or a negative
 * code; the port logs the OS detail (errno, hypervisor status) itself. The
 * core turns a failed vcpu_run into an error return of pv_vcpu_run(); a
 * failed completion is fatal for that vCPU run (it returns the error).
 */
#ifndef PARAVISOR_PORT_H
#define PARAVISOR_PORT_H

#include "paravisor/error.h"
#include "paravisor/exit.h"
#include "paravisor/memory.h"
#include "paravisor/regs.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pv_partition_config;

/** @brief Port capability flags (pv_port_ops::caps). */
enum pv_port_caps {
	/** The port models local APICs (and an I/O APIC/PIC): interrupts go
	 *  through irq_line/msi, and HLT is handled inside the port. */
	PV_PORT_CAP_IRQCHIP = 1u << 0,
	/** CPUID exits reach the library. Without it the library pushes its
	 *  CPUID table with cpuid_update before each vCPU first runs. */
	PV_PORT_CAP_CPUID_EXITS = 1u << 1,
	/** MSR accesses exit only for MSRs named through msr_filter_update. */
	PV_PORT_CAP_MSR_FILTER = 1u << 2,
	/** timer_create/arm/cancel/destroy are implemented. */
	PV_PORT_CAP_TIMERS = 1u << 3,
	/** vCPUs may run concurrently on separate host threads. */
	PV_PORT_CAP_SMP = 1u << 4
};

/** @brief One CPUID result the library wants the guest to see. */
struct pv_cpuid_entry {
	uint32_t leaf;    /**< EAX input. */
	uint32_t subleaf; /**< ECX input (ignored if @c any_subleaf). */
	bool any_subleaf; /**< The result does not depend on ECX. */
	uint32_t eax;     /**< Output EAX. */
	uint32_t ebx;     /**< Output EBX. */
	uint32_t ecx;     /**< Output ECX. */
	uint32_t edx;     /**< Output EDX. */
};

/** @brief A contiguous range of MSR numbers. */
struct pv_msr_range {
	uint32_t first; /**< First MSR number. */
	uint32_t count; /**< Number of MSRs (> 0). */
};

/** @brief Callback of a port one-shot timer; runs on a port-owned thread. */
typedef void (*pv_port_timer_fn)(void *ctx);

/** @brief Isolation primitives a port may offer to an isolation backend. */
enum pv_isolation_op {
	PV_ISO_OP_PVALIDATE = 1, /**< SNP PVALIDATE: args gpa, page size, validate. */
	PV_ISO_OP_RMPADJUST,     /**< SNP RMPADJUST: args gpa, page size, attrs. */
	PV_ISO_OP_VMGEXIT,       /**< SNP GHCB exit: args GHCB GPA, exit code, info1, info2. */
	PV_ISO_OP_TDCALL         /**< TDX TDCALL: args leaf, rcx, rdx, r8, r9, r10. */
};

/** @brief The operations a port implements. */
struct pv_port_ops {
	/** Short name, e.g. "mock" or "kvm". Mandatory. */
	const char *name;
	/** Bit set of ::pv_port_caps. */
	uint32_t caps;

	/** Mandatory. Create the port's per-partition state. Called once from
	 *  pv_partition_create() before any other operation.
	 *  @p part is the handle being created (for logging). */
	pv_err_t (*partition_create)(void *port_ctx, struct pv_partition *part,
				     const struct pv_partition_config *config, void **pdata);
	/** Mandatory. Free per-partition state; called after every vCPU was destroyed. */
	void (*partition_destroy)(void *pdata);
	/** Mandatory. Back a RAM range with host memory and map it into the
	 *  guest; return the host address of its first byte in @p hva. The
	 *  memory must stay valid until unmap_ram/partition_destroy. */
	pv_err_t (*map_ram)(void *pdata, pv_gpa_t gpa, uint64_t size, void **hva);
	/** Optional. Undo map_ram (partition_destroy must also release it). */
	void (*unmap_ram)(void *pdata, pv_gpa_t gpa, uint64_t size, void *hva);

	/** Mandatory. Create vCPU @p index (0-based); @p vcpu is its handle. */
	pv_err_t (*vcpu_create)(void *pdata, uint32_t index, struct pv_vcpu *vcpu, void **vdata);
	/** Mandatory. Destroy a vCPU; it is not running. */
	void (*vcpu_destroy)(void *vdata);
	/** Mandatory, vCPU thread. Enter the lower VTL and return when it exits,
	 *  with @p exit filled (pv_exit::inject cleared). A pending stop makes
	 *  it return ::PV_EXIT_STOPPED without entering. */
	pv_err_t (*vcpu_run)(void *vdata, struct pv_exit *exit);
	/** Mandatory, vCPU thread. Apply the completion the dispatcher wrote
	 *  into @p exit (read data, MSR value, CPUID output, hypercall result,
	 *  or the event in pv_exit::inject instead of completing). */
	pv_err_t (*vcpu_complete)(void *vdata, const struct pv_exit *exit);
	/** Mandatory, vCPU thread (or vCPU not running). Read GPRs/RIP/RFLAGS. */
	pv_err_t (*get_regs)(void *vdata, struct pv_regs *regs);
	/** Mandatory, vCPU thread (or vCPU not running). Write GPRs/RIP/RFLAGS. */
	pv_err_t (*set_regs)(void *vdata, const struct pv_regs *regs);
	/** Mandatory, vCPU thread (or vCPU not running). Read segment/control registers. */
	pv_err_t (*get_sregs)(void *vdata, struct pv_sregs *sregs);
	/** Mandatory, vCPU thread (or vCPU not running). Write segment/control registers. */
	pv_err_t (*set_sregs)(void *vdata, const struct pv_sregs *sregs);
	/** Optional, vCPU thread. Read an MSR the port/hardware holds. */
	pv_err_t (*get_msr)(void *vdata, uint32_t index, uint64_t *value);
	/** Optional, vCPU thread. Write an MSR the port/hardware holds. */
	pv_err_t (*set_msr)(void *vdata, uint32_t index, uint64_t value);
	/** Mandatory, any thread. Queue an event for delivery at the next
	 *  entry the guest can take it (interrupts wait for IF=1). */
	pv_err_t (*inject)(void *vdata, const struct pv_event *event);
	/** Mandatory, any thread. Make a running vcpu_run return promptly with
	 *  ::PV_EXIT_STOPPED; if not running, the next vcpu_run does. */
	void (*stop)(void *vdata);

	/** Mandatory, any thread. Monotonic clock in nanoseconds. */
	uint64_t (*clock_ns)(void *pdata);
	/** Optional (::PV_PORT_CAP_TIMERS). Create a one-shot timer. */
	pv_err_t (*timer_create)(void *pdata, pv_port_timer_fn fn, void *ctx, void **timer);
	/** Optional. Arm (or re-arm) a timer to fire once at @p deadline_ns (clock_ns time). */
	pv_err_t (*timer_arm)(void *pdata, void *timer, uint64_t deadline_ns);
	/** Optional. Cancel a timer; after return its callback is not running and will not run. */
	void (*timer_cancel)(void *pdata, void *timer);
	/** Optional. Destroy a timer (cancelled first). */
	void (*timer_destroy)(void *pdata, void *timer);

	/** Optional, vCPU thread. Install the CPUID results for this vCPU
	 *  (ports without ::PV_PORT_CAP_CPUID_EXITS). */
	pv_err_t (*cpuid_update)(void *vdata, const struct pv_cpuid_entry *entries, size_t count);
	/** Optional, any thread (::PV_PORT_CAP_MSR_FILTER). The complete set
	 *  of MSR ranges that must exit to the library; replaces the last set. */
	pv_err_t (*msr_filter_update)(void *pdata, const struct pv_msr_range *ranges, size_t count);
	/** Optional. Write into @p buf (capacity @p cap) the instruction
	 *  sequence a guest's hypercall page must contain so that a call traps
	 *  to this port as ::PV_EXIT_HYPERCALL, ending with a return; set @p len.
	 *  When NULL the library writes vmcall (Intel) / vmmcall (AMD). */
	pv_err_t (*hypercall_code)(void *pdata, uint8_t *buf, size_t cap, size_t *len);
	/** Optional (::PV_PORT_CAP_IRQCHIP), any thread. Set an interrupt line level. */
	pv_err_t (*irq_line)(void *pdata, uint32_t gsi, bool level);
	/** Optional (::PV_PORT_CAP_IRQCHIP), any thread. Deliver an MSI. */
	pv_err_t (*msi)(void *pdata, uint64_t address, uint32_t data);
	/** Optional, vCPU thread. Execute an isolation primitive; @p args
	 *  are in/out as documented per ::pv_isolation_op. */
	pv_err_t (*isolation_op)(void *vdata, enum pv_isolation_op op, uint64_t args[6]);
	/** Optional, vCPU thread. Read XMM0-XMM15 (16 little-endian bytes
	 *  each). Without it (and set_xmm) MMIO done with SSE/MOVD/MOVQ
	 *  instructions cannot be emulated and the guest gets \#UD. */
	pv_err_t (*get_xmm)(void *vdata, uint8_t xmm[16][16]);
	/** Optional, vCPU thread. Write XMM0-XMM15. */
	pv_err_t (*set_xmm)(void *vdata, const uint8_t xmm[16][16]);
};

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_PORT_H */
