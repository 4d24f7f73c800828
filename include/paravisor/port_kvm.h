/* SPDX-License-Identifier: MIT */
/**
 * @file port_kvm.h
 * @brief The Linux /dev/kvm port and its boot helpers (hosted builds only).
 *
 * Create a port context with pv_kvm_create(), then pass pv_kvm_port_ops() and
 * the context to pv_partition_create() (pv_partition_config::port and
 * pv_partition_config::port_ctx). One context may serve several partitions;
 * each partition is one KVM VM.
 *
 * What the port does:
 * - RAM ranges become KVM memory slots backed by anonymous host memory;
 *   MMIO and reserved ranges stay unbacked, so accesses exit as MMIO.
 * - Port I/O, MMIO, RDMSR/WRMSR (KVM_CAP_X86_USER_SPACE_MSR with an MSR
 *   filter covering 0x40000000-0x400000FF plus every range the library
 *   names, and MSRs KVM does not know), HLT, shutdown and internal errors
 *   are translated into ::pv_exit.
 * - CPUID: the library's table is merged over KVM_GET_SUPPORTED_CPUID and
 *   installed with KVM_SET_CPUID2. KVM's own hypervisor leaves
 *   (0x40000000 and up, "KVMKVMKVM") are never exposed.
 * - Hypercalls: KVM on this class of host has no Hyper-V support, so the
 *   port's hypercall_code operation supplies `out PV_KVM_HYPERCALL_PORT, al;
 *   ret` for the guest's hypercall page. That OUT is reported as
 *   ::PV_EXIT_HYPERCALL with the Hyper-V register ABI (64-bit: RCX control,
 *   RDX input, R8 output, result in RAX; 32-bit: EDX:EAX control, EBX:ECX
 *   input, EDI:ESI output, result in EDX:EAX).
 * - Interrupts: with pv_kvm_options::irqchip the in-kernel LAPIC/IOAPIC/PIC
 *   is used (::PV_PORT_CAP_IRQCHIP; irq_line is KVM_IRQ_LINE, msi is
 *   KVM_SIGNAL_MSI, an injected interrupt is a fixed MSI to the vCPU's APIC
 *   ID, so the guest must have software-enabled its LAPIC). Application
 *   processors then wait for INIT/SIPI from the guest, unless the library
 *   sets their registers before their first run (it starts them itself,
 *   as the TMK runner does). Without it the port delivers injected vectors
 *   itself with KVM_INTERRUPT and the interrupt window, and HLT exits to the
 *   library. Exceptions go in with KVM_SET_VCPU_EVENTS, NMIs with KVM_NMI;
 *   an event given as the completion of an I/O exit (the hypercall OUT
 *   included) is delivered after that instruction retires.
 * - MMIO emulation mode (pv_kvm_options::emulate_mmio or
 *   pv_kvm_set_emulate_mmio()): every KVM_EXIT_MMIO is reported as an MMIO
 *   exit of size 0, so the library's x86 emulator decodes and executes the
 *   instruction and calls the MMIO handlers; KVM's own pending emulation of
 *   the access is completed with dummy data and discarded first (see
 *   ports/kvm/README.md). get_xmm/set_xmm give the emulator XMM0-XMM15
 *   (KVM_GET_FPU/KVM_SET_FPU).
 * - Stop: a signal (pv_kvm_options::kick_signal, SIGUSR1 by default, whose
 *   process-wide handler the port installs) plus kvm_run::immediate_exit.
 * - Clock: CLOCK_MONOTONIC. Timers: one timer thread per partition.
 *
 * The boot helpers (pv_kvm_load_flat(), pv_kvm_load_elf(),
 * pv_kvm_build_long_mode_tables(), pv_kvm_setup_long_mode()) use only the
 * public library API, so they work on any port.
 */
#ifndef PARAVISOR_PORT_KVM_H
#define PARAVISOR_PORT_KVM_H

#include "paravisor/error.h"
#include "paravisor/port.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque kvm port context (the /dev/kvm handle and options). */
struct pv_kvm;

/** @brief Default I/O port the hypercall sequence writes to (8-bit port). */
#define PV_KVM_HYPERCALL_PORT 0xE7u

/** @brief Options of a kvm port context. Initialise with pv_kvm_options_init(). */
struct pv_kvm_options {
	/** Use KVM's in-kernel interrupt controllers (default false). */
	bool irqchip;
	/** Also create KVM's in-kernel i8254 PIT (only with @c irqchip; default false). */
	bool pit;
	/** I/O port (0x00-0xFF) used by the hypercall sequence; 0 selects
	 *  ::PV_KVM_HYPERCALL_PORT. */
	uint16_t hypercall_port;
	/** Signal used to kick a running vCPU; 0 selects SIGUSR1. */
	int kick_signal;
	/** Device node; NULL selects "/dev/kvm". */
	const char *device_path;
	/** Report MMIO exits with size 0 so the library emulates the whole
	 *  instruction (default false: KVM's decoded access is reported).
	 *  The default of every partition; see pv_kvm_set_emulate_mmio(). */
	bool emulate_mmio;
};

/** @brief Counters of the MMIO emulation mode (pv_kvm_get_emu_stats()). */
struct pv_kvm_emu_stats {
	uint64_t reads;       /**< Read exits handed to the library with size 0. */
	uint64_t writes;      /**< Write exits handed over after rewinding the store. */
	uint64_t fallbacks;   /**< Write exits reported with KVM's decoded access because
				   no instruction explained them. */
	uint64_t flush_exits; /**< Extra KVM exits taken while discarding KVM's own
				   pending emulation (fragments, read-modify-write halves). */
	uint64_t refused;     /**< Instructions KVM's emulator refused
				   (KVM_INTERNAL_ERROR_EMULATION) handed to the library. */
};

/**
 * @brief Fill @p opts with the defaults (no irqchip, default port and signal).
 * @param opts Options to initialise.
 */
void pv_kvm_options_init(struct pv_kvm_options *opts);

/**
 * @brief Check whether KVM is usable here (device opens, API version 12,
 *        a VM can be created, the capabilities the port needs exist).
 * @param device_path Device node, or NULL for "/dev/kvm".
 * @param reason Receives a human-readable reason on failure (may be NULL).
 * @param cap Capacity of @p reason in bytes.
 * @return ::PV_OK when usable; ::PV_ENOTSUP (missing/unusable, see @p reason).
 */
pv_err_t pv_kvm_probe(const char *device_path, char *reason, size_t cap);

/**
 * @brief Open KVM and create a port context.
 * @param opts Options (NULL: defaults).
 * @param out Receives the context.
 * @return ::PV_OK; ::PV_EINVAL (bad option, e.g. @c pit without @c irqchip);
 *         ::PV_ENOTSUP (KVM missing or lacking a needed capability); ::PV_ENOMEM.
 */
pv_err_t pv_kvm_create(const struct pv_kvm_options *opts, struct pv_kvm **out);

/**
 * @brief Destroy a port context.
 * @pre Every partition created with it was destroyed.
 * @param kvm Context, or NULL (ignored).
 */
void pv_kvm_destroy(struct pv_kvm *kvm);

/**
 * @brief The port operations of a context (capabilities depend on its options).
 * @param kvm Context.
 * @return The operation table, valid until pv_kvm_destroy(); NULL if @p kvm is NULL.
 */
const struct pv_port_ops *pv_kvm_port_ops(const struct pv_kvm *kvm);

/**
 * @brief Turn the MMIO emulation mode of a kvm partition on or off.
 *
 * Takes effect at the next MMIO exit of each vCPU.
 * @param part Partition created on a kvm port context.
 * @param on true: MMIO exits reach the library with size 0 (emulated by
 *        the library); false: with KVM's decoded access.
 * @return ::PV_OK; ::PV_EINVAL if @p part is NULL or not a kvm partition.
 */
pv_err_t pv_kvm_set_emulate_mmio(struct pv_partition *part, bool on);

/**
 * @brief Read the MMIO emulation-mode counters of a kvm partition.
 * @param part Partition created on a kvm port context.
 * @param out Receives the counters.
 * @return ::PV_OK; ::PV_EINVAL if an argument is NULL or @p part is not a
 *         kvm partition.
 */
pv_err_t pv_kvm_get_emu_stats(struct pv_partition *part, struct pv_kvm_emu_stats *out);

/**
 * @brief Copy a flat binary image into guest RAM.
 * @param part Partition.
 * @param gpa Load address.
 * @param image Image bytes.
 * @param size Image size.
 * @return ::PV_OK or the error of pv_mem_write() (nothing partial is left
 *         only if the range check fails up front).
 */
pv_err_t pv_kvm_load_flat(struct pv_partition *part, pv_gpa_t gpa, const void *image, size_t size);

/**
 * @brief Load the PT_LOAD segments of an ELF64 x86-64 image at their
 *        physical addresses (file bytes copied, the rest zeroed).
 * @param part Partition.
 * @param image ELF file bytes (untrusted: every header is checked).
 * @param size File size.
 * @param entry Receives the entry point.
 * @return ::PV_OK; ::PV_EBADMSG for a malformed or non-x86-64 ELF; or the
 *         error of pv_mem_write()/pv_mem_zero().
 */
pv_err_t pv_kvm_load_elf(struct pv_partition *part, const void *image, size_t size,
			 uint64_t *entry);

/** @brief Bytes of guest RAM pv_kvm_build_long_mode_tables() uses (GDT + page tables). */
#define PV_KVM_BOOT_TABLES_SIZE (7u * 4096u)

/**
 * @brief Write a GDT (null, 64-bit code 0x08, data 0x10, TSS 0x18) and
 *        page tables identity-mapping the first 4 GiB with 2 MiB pages.
 * @param part Partition.
 * @param tables Page-aligned GPA of ::PV_KVM_BOOT_TABLES_SIZE bytes of RAM.
 * @return ::PV_OK; ::PV_EINVAL if unaligned; or pv_mem_write()'s error.
 */
pv_err_t pv_kvm_build_long_mode_tables(struct pv_partition *part, pv_gpa_t tables);

/**
 * @brief Put a vCPU in 64-bit long mode using tables written by
 *        pv_kvm_build_long_mode_tables(), at @p rip with the given RSP,
 *        RDI and RSI (RFLAGS = 0x2, other GPRs zero).
 * @param vcpu vCPU (not running).
 * @param tables The GPA given to pv_kvm_build_long_mode_tables().
 * @param rip Entry point.
 * @param rsp Initial stack pointer.
 * @param rdi First argument register.
 * @param rsi Second argument register.
 * @return ::PV_OK or the port's register-access error.
 */
pv_err_t pv_kvm_setup_long_mode(struct pv_vcpu *vcpu, pv_gpa_t tables, uint64_t rip, uint64_t rsp,
				uint64_t rdi, uint64_t rsi);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_PORT_KVM_H */
