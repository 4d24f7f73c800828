/* SPDX-License-Identifier: MIT */
/**
 * @file regs.h
 * @brief x86-64 vCPU register state in the port-neutral layout.
 */
#ifndef PARAVISOR_REGS_H
#define PARAVISOR_REGS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Index of each general-purpose register in pv_regs::gpr. */
enum pv_gpr {
	PV_RAX = 0,  /**< RAX */
	PV_RCX,      /**< RCX */
	PV_RDX,      /**< RDX */
	PV_RBX,      /**< RBX */
	PV_RSP,      /**< RSP */
	PV_RBP,      /**< RBP */
	PV_RSI,      /**< RSI */
	PV_RDI,      /**< RDI */
	PV_R8,       /**< R8 */
	PV_R9,       /**< R9 */
	PV_R10,      /**< R10 */
	PV_R11,      /**< R11 */
	PV_R12,      /**< R12 */
	PV_R13,      /**< R13 */
	PV_R14,      /**< R14 */
	PV_R15,      /**< R15 */
	PV_GPR_COUNT /**< Number of general-purpose registers (16). */
};

/** @brief General-purpose registers, instruction pointer and flags.
 *  The GPR order is the x86 encoding order (RAX=0 ... R15=15). */
struct pv_regs {
	uint64_t gpr[PV_GPR_COUNT]; /**< Indexed by ::pv_gpr. */
	uint64_t rip;               /**< Instruction pointer. */
	uint64_t rflags;            /**< RFLAGS. */
};

/** @brief One segment register, in the unpacked "descriptor cache" form. */
struct pv_segment {
	uint64_t base;     /**< Linear base address. */
	uint32_t limit;    /**< Byte-granular limit (already scaled by G). */
	uint16_t selector; /**< Visible selector. */
	uint8_t type;      /**< Descriptor type field (4 bits). */
	uint8_t present;   /**< P bit. */
	uint8_t dpl;       /**< Descriptor privilege level. */
	uint8_t db;        /**< D/B (default operand size) bit. */
	uint8_t s;         /**< S bit: 1 = code/data, 0 = system. */
	uint8_t l;         /**< L bit: 64-bit code segment. */
	uint8_t g;         /**< G (granularity) bit. */
	uint8_t avl;       /**< AVL bit. */
	uint8_t unusable;  /**< 1 when the segment is unusable (null). */
};

/** @brief A descriptor-table register (GDTR, IDTR). */
struct pv_dtable {
	uint64_t base;  /**< Linear base address. */
	uint16_t limit; /**< Limit in bytes. */
};

/** @brief Segment, descriptor-table and control registers. */
struct pv_sregs {
	struct pv_segment cs;  /**< CS */
	struct pv_segment ds;  /**< DS */
	struct pv_segment es;  /**< ES */
	struct pv_segment fs;  /**< FS */
	struct pv_segment gs;  /**< GS */
	struct pv_segment ss;  /**< SS */
	struct pv_segment tr;  /**< Task register. */
	struct pv_segment ldt; /**< LDTR. */
	struct pv_dtable gdt;  /**< GDTR. */
	struct pv_dtable idt;  /**< IDTR. */
	uint64_t cr0;          /**< CR0 */
	uint64_t cr2;          /**< CR2 */
	uint64_t cr3;          /**< CR3 */
	uint64_t cr4;          /**< CR4 */
	uint64_t cr8;          /**< CR8 (TPR) */
	uint64_t efer;         /**< IA32_EFER */
	uint64_t apic_base;    /**< IA32_APIC_BASE */
};

/** @brief RFLAGS bits used by the library. */
enum pv_rflags {
	PV_RFLAGS_CF = 1u << 0,    /**< Carry. */
	PV_RFLAGS_FIXED = 1u << 1, /**< Always-one bit 1. */
	PV_RFLAGS_PF = 1u << 2,    /**< Parity. */
	PV_RFLAGS_AF = 1u << 4,    /**< Adjust. */
	PV_RFLAGS_ZF = 1u << 6,    /**< Zero. */
	PV_RFLAGS_SF = 1u << 7,    /**< Sign. */
	PV_RFLAGS_TF = 1u << 8,    /**< Trap. */
	PV_RFLAGS_IF = 1u << 9,    /**< Interrupt enable. */
	PV_RFLAGS_DF = 1u << 10,   /**< Direction. */
	PV_RFLAGS_OF = 1u << 11    /**< Overflow. */
};

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_REGS_H */
