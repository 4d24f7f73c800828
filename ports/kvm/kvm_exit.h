/* SPDX-License-Identifier: MIT */
/*
 * Pure translation between struct kvm_run / KVM register structures and the
 * library's normalized shapes. No system calls happen here, so the unit
 * tests in tests/kvmport/ drive these functions with a fake kvm_run.
 */
#ifndef PV_PORTS_KVM_EXIT_H
#define PV_PORTS_KVM_EXIT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/exit.h"
#include "paravisor/port.h"
#include "paravisor/regs.h"
#include "paravisor/x86emu.h"

/* Result of pv_kvm_xlate_exit(). */
enum pv_kvm_xlate {
	PV_KVM_XLATE_EXIT = 0, /* @exit is filled: hand it to the library */
	PV_KVM_XLATE_HYPERCALL, /* the hypercall OUT: fill registers with pv_kvm_hypercall_from_regs() */
	PV_KVM_XLATE_REENTER, /* nothing for the library (interrupt window, EINTR-like) */
	PV_KVM_XLATE_BAD      /* kvm_run is inconsistent: @exit is an internal error */
};

/* Codes in pv_exit_error::code for errors the port itself reports. */
#define PV_KVM_ERR_FAIL_ENTRY 0x10000   /* KVM_EXIT_FAIL_ENTRY; data[0] = hw reason */
#define PV_KVM_ERR_BAD_RUN 0x10001      /* malformed kvm_run; data[0] = exit reason */
#define PV_KVM_ERR_UNKNOWN_EXIT 0x10002 /* unhandled exit reason; data[0] = reason */
#define PV_KVM_ERR_HW_UNKNOWN 0x10003   /* KVM_EXIT_UNKNOWN; data[0] = hw reason */

/* Port-specific exit codes (pv_exit_port::code). */
#define PV_KVM_PORT_DEBUG 1 /* KVM_EXIT_DEBUG; data[0] = exception, data[1] = pc */

/* Completion work the caller must still do (flags from pv_kvm_xlate_complete()). */
#define PV_KVM_TODO_INJECT (1u << 0) /* deliver exit->inject through vCPU events */
#define PV_KVM_TODO_HCALL (1u << 1)  /* write the hypercall result into the registers */

/*
 * Translate the exit KVM left in @run (mapped size @run_size) into @exit.
 * @hc_port is the port the hypercall sequence writes to. Every offset and
 * count in @run is checked against @run_size.
 */
enum pv_kvm_xlate pv_kvm_xlate_exit(struct kvm_run *run, size_t run_size, uint16_t hc_port,
				    struct pv_exit *exit);

/*
 * Apply the library's completion in @exit to @run (IN data, MMIO load data,
 * RDMSR value, MSR #GP as msr.error). @todo receives PV_KVM_TODO_* flags.
 * An MMIO exit of size 0 (emulation mode) is not for this function: the
 * port completes it itself (nothing is pending in KVM).
 * Returns PV_EINVAL when @exit does not match the exit pending in @run.
 */
pv_err_t pv_kvm_xlate_complete(struct kvm_run *run, size_t run_size, uint16_t hc_port,
			       const struct pv_exit *exit, unsigned *todo);

/* Fill exit->u.hypercall from registers (64-bit or 32-bit register ABI). */
void pv_kvm_hypercall_from_regs(const struct kvm_regs *regs, const struct kvm_sregs *sregs,
				struct pv_exit *exit);

/* Write a hypercall result: RAX (64-bit) or EDX:EAX (32-bit). */
void pv_kvm_hypercall_set_result(struct kvm_regs *regs, bool is_64bit, uint64_t result);

/* Register layout conversion. */
void pv_kvm_regs_from_kvm(const struct kvm_regs *in, struct pv_regs *out);
void pv_kvm_regs_to_kvm(const struct pv_regs *in, struct kvm_regs *out);
void pv_kvm_sregs_from_kvm(const struct kvm_sregs *in, struct pv_sregs *out);
/* Updates @out in place so fields without a pv_sregs equivalent survive. */
void pv_kvm_sregs_to_kvm(const struct pv_sregs *in, struct kvm_sregs *out);

/* The hypercall sequence: out imm8, al; ret. Returns its length or 0 if @cap is short. */
size_t pv_kvm_hypercall_code(uint16_t hc_port, uint8_t *buf, size_t cap);

/*
 * Build a KVM MSR filter that denies (so exits to userspace) every MSR in
 * @ranges plus 0x40000000-0x400000FF, and allows the rest. @bitmaps is
 * storage for KVM_MSR_FILTER_MAX_RANGES bitmaps. Returns PV_OK, PV_EINVAL
 * for a bad range, PV_ERANGE when the set needs more than
 * KVM_MSR_FILTER_MAX_RANGES windows, or PV_ENOMEM.
 */
pv_err_t pv_kvm_build_msr_filter(const struct pv_msr_range *ranges, size_t count,
				 struct kvm_msr_filter *filter,
				 uint8_t (*bitmaps)[KVM_MSR_FILTER_MAX_BITMAP_SIZE]);

/*
 * Merge the library's CPUID table over KVM's supported entries for the vCPU
 * with APIC ID @apic_id: supported leaves in 0x40000000-0x4FFFFFFF are
 * dropped, a leaf the library defines replaces every supported entry of that
 * leaf, APIC ID fields of kept entries are patched. Returns the number of
 * entries written to @out, or -1 if @cap is too small.
 */
long pv_kvm_merge_cpuid(const struct kvm_cpuid_entry2 *sup, size_t nsup,
			const struct pv_cpuid_entry *lib, size_t nlib, uint32_t apic_id,
			struct kvm_cpuid_entry2 *out, size_t cap);

/* XMM0-XMM15 of struct kvm_fpu <-> the library's 16 x 16 little-endian bytes. */
void pv_kvm_xmm_from_fpu(const struct kvm_fpu *fpu, uint8_t xmm[16][16]);
/* Updates @fpu in place: only the XMM registers change. */
void pv_kvm_xmm_to_fpu(const uint8_t xmm[16][16], struct kvm_fpu *fpu);

/* Reads guest RAM by GPA; any other address (MMIO, unbacked) fails. */
typedef pv_err_t (*pv_kvm_ram_read_fn)(void *ctx, uint64_t gpa, void *buf, unsigned len);

/*
 * Emulation mode, write exits (kvm_rewind.c). KVM reports an MMIO store
 * only after it retired the instruction: RIP is past it and string
 * registers have stepped. Given that state (@post, with segments and
 * control registers) and the reported write (@gpa, @len <= 8 bytes of
 * @data), find the instruction: the shortest one ending at RIP (or, for a
 * REP string store KVM has not finished, the one at RIP) whose trial
 * execution from the rewound state makes exactly this first write and
 * ends in @post's registers. Guest RAM is read through @read_ram; nothing
 * is written. On PV_OK, @pre is the state before the instruction (RIP on
 * it, RCX/RSI/RDI of a string store rewound by one element). PV_ENOENT
 * when no instruction explains the write (push to MMIO, an instruction the
 * library does not decode, ...), PV_EINVAL for bad arguments.
 */
pv_err_t pv_kvm_rewind_store(const struct pv_x86emu_state *post, uint64_t gpa, unsigned len,
			     const uint8_t *data, pv_kvm_ram_read_fn read_ram, void *ctx,
			     struct pv_x86emu_state *pre);

/*
 * Decode the instruction at CS:RIP of @st, reading guest RAM through
 * @read_ram (page tables walked, nothing written). Returns
 * pv_x86emu_decode()'s result, PV_EFAULT when no byte can be fetched.
 */
pv_err_t pv_kvm_decode_at(const struct pv_x86emu_state *st, pv_kvm_ram_read_fn read_ram, void *ctx,
			  struct pv_x86_insn *out);

#endif /* PV_PORTS_KVM_EXIT_H */
