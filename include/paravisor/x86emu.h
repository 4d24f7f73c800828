/* SPDX-License-Identifier: MIT */
/**
 * @file x86emu.h
 * @brief x86 instruction decoder/emulator and guest page-table walker.
 *
 * Used when a guest exit reports only "an access happened at RIP" (SEV-SNP
 * \#VC, TDX \#VE, Hyper-V intercepts carrying instruction bytes): the
 * paravisor fetches the instruction through the guest page tables, decodes it
 * and emulates its memory, register and flag effects exactly.
 *
 * The emulator touches guest memory only through a ::pv_x86emu_ops callback
 * table, by guest physical address. Page-table reads and accessed/dirty
 * updates go through the same table.
 *
 * Typical use from an exit handler:
 * @code
 *   struct pv_x86emu_state st;   // filled from the vCPU
 *   struct pv_x86_fault f;
 *   pv_err_t e = pv_x86emu_step(&st, &my_ops, my_ctx, &f);
 *   if (e == PV_OK)              write st.regs (and st.xmm) back to the vCPU
 *   else if (e == PV_EFAULTINJ)  inject f.vector / f.error_code (CR2 = f.address)
 *   else if (e == PV_ENOTSUP)    inject #UD (f is filled with vector 6)
 * @endcode
 */
#ifndef PARAVISOR_X86EMU_H
#define PARAVISOR_X86EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <paravisor/error.h>
#include <paravisor/regs.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Longest legal x86 instruction, in bytes. */
#define PV_X86_MAX_INSN_LEN 15

/** @brief Maximum string-instruction iterations executed by one
 *  pv_x86emu_execute() call. When more remain, RIP is left on the
 *  instruction (the guest re-executes it and exits again), exactly as the
 *  CPU does when it takes an interrupt in the middle of a REP. */
#define PV_X86EMU_REP_BATCH 1024u

/** @brief Exception vectors reported in pv_x86_fault::vector. */
enum pv_x86_vector {
	PV_X86_VEC_UD = 6,  /**< Invalid opcode. */
	PV_X86_VEC_NM = 7,  /**< Device not available (CR0.TS with SSE). */
	PV_X86_VEC_SS = 12, /**< Stack-segment fault. */
	PV_X86_VEC_GP = 13, /**< General protection. */
	PV_X86_VEC_PF = 14  /**< Page fault. */
};

/** @brief Page-fault error-code bits (pv_x86_fault::error_code for \#PF). */
enum pv_x86_pf_ec {
	PV_X86_PF_P = 1u << 0,    /**< 0: not present; 1: protection violation. */
	PV_X86_PF_W = 1u << 1,    /**< The access was a write. */
	PV_X86_PF_U = 1u << 2,    /**< The access was made at CPL 3. */
	PV_X86_PF_RSVD = 1u << 3, /**< A reserved bit was set in a paging entry. */
	PV_X86_PF_I = 1u << 4     /**< The access was an instruction fetch. */
};

/** @brief Access-type flags for pv_x86emu_translate(). */
enum pv_x86_access {
	PV_X86_ACC_READ = 0,        /**< Data read. */
	PV_X86_ACC_WRITE = 1u << 0, /**< Data write. */
	PV_X86_ACC_FETCH = 1u << 1, /**< Instruction fetch. */
	PV_X86_ACC_IMPLICIT =
		1u << 2 /**< Implicit supervisor access (ignores CPL and EFLAGS.AC). */
};

/** @brief Processor mode used for decoding. */
enum pv_x86_mode {
	PV_X86_MODE_16 = 0, /**< Real mode, virtual-8086 or 16-bit protected mode. */
	PV_X86_MODE_32 = 1, /**< 32-bit protected or compatibility mode. */
	PV_X86_MODE_64 = 2  /**< 64-bit long mode. */
};

/** @brief Segment register numbers (encoding order). */
enum pv_x86_seg {
	PV_X86_SEG_ES = 0, /**< ES */
	PV_X86_SEG_CS,     /**< CS */
	PV_X86_SEG_SS,     /**< SS */
	PV_X86_SEG_DS,     /**< DS */
	PV_X86_SEG_FS,     /**< FS */
	PV_X86_SEG_GS,     /**< GS */
	PV_X86_SEG_NONE    /**< No segment (used for "no override"). */
};

/** @brief Operation of a decoded instruction (pv_x86_insn::op). */
enum pv_x86_op {
	PV_X86_OP_INVALID = 0, /**< Not decoded. */
	PV_X86_OP_MOV,         /**< MOV 88-8B, A0-A3, C6/C7 and MOVNTI. */
	PV_X86_OP_MOVZX,       /**< MOVZX 0F B6/B7. */
	PV_X86_OP_MOVSX,       /**< MOVSX 0F BE/BF and MOVSXD 63. */
	PV_X86_OP_ADD,         /**< ADD. */
	PV_X86_OP_OR,          /**< OR. */
	PV_X86_OP_ADC,         /**< ADC. */
	PV_X86_OP_SBB,         /**< SBB. */
	PV_X86_OP_AND,         /**< AND. */
	PV_X86_OP_SUB,         /**< SUB. */
	PV_X86_OP_XOR,         /**< XOR. */
	PV_X86_OP_CMP,         /**< CMP. */
	PV_X86_OP_TEST,        /**< TEST 84/85/A8/A9, F6/F7 /0. */
	PV_X86_OP_INC,         /**< INC FE/FF /0. */
	PV_X86_OP_DEC,         /**< DEC FE/FF /1. */
	PV_X86_OP_NOT,         /**< NOT F6/F7 /2. */
	PV_X86_OP_NEG,         /**< NEG F6/F7 /3. */
	PV_X86_OP_XCHG,        /**< XCHG 86/87. */
	PV_X86_OP_CMPXCHG,     /**< CMPXCHG 0F B0/B1. */
	PV_X86_OP_XADD,        /**< XADD 0F C0/C1. */
	PV_X86_OP_BT,          /**< BT 0F A3, 0F BA /4. */
	PV_X86_OP_BTS,         /**< BTS 0F AB, 0F BA /5. */
	PV_X86_OP_BTR,         /**< BTR 0F B3, 0F BA /6. */
	PV_X86_OP_BTC,         /**< BTC 0F BB, 0F BA /7. */
	PV_X86_OP_SETCC,       /**< SETcc 0F 90-9F. */
	PV_X86_OP_MOVS,        /**< MOVS A4/A5. */
	PV_X86_OP_CMPS,        /**< CMPS A6/A7. */
	PV_X86_OP_STOS,        /**< STOS AA/AB. */
	PV_X86_OP_LODS,        /**< LODS AC/AD. */
	PV_X86_OP_SCAS,        /**< SCAS AE/AF. */
	PV_X86_OP_SSE_LOAD, /**< 16-byte load to XMM (MOVDQA/MOVDQU/MOVAPS/MOVUPS/MOVAPD/MOVUPD). */
	PV_X86_OP_SSE_STORE, /**< 16-byte store from XMM (same family, plus MOVNTDQ/MOVNTPS/MOVNTPD). */
	PV_X86_OP_MOVQ_LOAD,  /**< MOVQ xmm, xmm/m64 (F3 0F 7E): load, zero upper. */
	PV_X86_OP_MOVQ_STORE, /**< MOVQ xmm/m64, xmm (66 0F D6). */
	PV_X86_OP_MOVD_TOX,   /**< MOVD/MOVQ xmm, r/m32/64 (66 [REX.W] 0F 6E). */
	PV_X86_OP_MOVD_FROMX, /**< MOVD/MOVQ r/m32/64, xmm (66 [REX.W] 0F 7E). */
	PV_X86_OP_COUNT       /**< Number of operations. */
};

/** @brief Operand forms of a decoded instruction (pv_x86_insn::form). */
enum pv_x86_form {
	PV_X86_FORM_RM_REG = 0, /**< r/m is the destination, ModRM.reg the source. */
	PV_X86_FORM_REG_RM,     /**< ModRM.reg is the destination, r/m the source. */
	PV_X86_FORM_RM_IMM,     /**< r/m is the destination, an immediate the source. */
	PV_X86_FORM_RM,         /**< r/m is the only operand (INC, NOT, SETcc...). */
	PV_X86_FORM_ACC_IMM,    /**< Accumulator destination, immediate source. */
	PV_X86_FORM_ACC_MOFFS,  /**< Accumulator destination, moffs source (A0/A1). */
	PV_X86_FORM_MOFFS_ACC,  /**< moffs destination, accumulator source (A2/A3). */
	PV_X86_FORM_STRING      /**< Implicit string operands. */
};

/** @brief Prefix flags (pv_x86_insn::prefixes). */
enum pv_x86_prefix {
	PV_X86_PFX_LOCK = 1u << 0,   /**< F0 */
	PV_X86_PFX_REP = 1u << 1,    /**< F3 (REP/REPE) */
	PV_X86_PFX_REPNE = 1u << 2,  /**< F2 (REPNE) */
	PV_X86_PFX_OPSIZE = 1u << 3, /**< 66 */
	PV_X86_PFX_ADSIZE = 1u << 4, /**< 67 */
	PV_X86_PFX_SEG = 1u << 5     /**< A segment override was present. */
};

/** @brief Register number meaning "none" in pv_x86_insn base/index. */
#define PV_X86_REG_NONE 0xffu
/** @brief pv_x86_insn::base value for RIP-relative addressing. */
#define PV_X86_REG_RIP 0xfeu

/** @brief A decoded instruction. Plain data; safe to copy. */
struct pv_x86_insn {
	uint8_t len;      /**< Length in bytes (1..15). */
	uint8_t mode;     /**< ::pv_x86_mode used to decode. */
	uint8_t op;       /**< ::pv_x86_op. */
	uint8_t form;     /**< ::pv_x86_form. */
	uint8_t opsize;   /**< Operand size in bytes: 1, 2, 4, 8 or 16. */
	uint8_t srcsize;  /**< Source size for MOVZX/MOVSX/MOVSXD (1, 2 or 4); else == opsize. */
	uint8_t addrsize; /**< Address size in bytes: 2, 4 or 8. */
	uint8_t prefixes; /**< ::pv_x86_prefix bits. */
	uint8_t rex;      /**< REX byte (0 when absent). */
	uint8_t map;      /**< Opcode map: 0 = one-byte, 1 = 0F. */
	uint8_t opcode;   /**< Opcode byte within the map. */
	uint8_t cc;       /**< Condition code for SETcc (0..15). */
	bool has_modrm;   /**< A ModRM byte was present. */
	bool mem;         /**< The instruction has an explicit memory operand. */
	uint8_t modrm;    /**< Raw ModRM byte. */
	uint8_t reg;      /**< ModRM.reg extended by REX.R (register operand / XMM number). */
	uint8_t rm;       /**< ModRM.rm extended by REX.B when it names a register. */
	uint8_t seg; /**< Effective segment (::pv_x86_seg) of the memory operand / string source. */
	uint8_t base;     /**< Base register, ::PV_X86_REG_NONE or ::PV_X86_REG_RIP. */
	uint8_t index;    /**< Index register or ::PV_X86_REG_NONE. */
	uint8_t scale;    /**< Index scale: 1, 2, 4 or 8. */
	uint8_t imm_size; /**< Immediate size in bytes (0 when none). */
	int64_t disp;     /**< Sign-extended displacement; for moffs, the zero-extended offset. */
	uint64_t imm;     /**< Immediate, sign-extended to 64 bits where the CPU does so. */
};

/** @brief A fault the guest must receive. */
struct pv_x86_fault {
	uint8_t vector;      /**< ::pv_x86_vector. */
	bool has_error_code; /**< pv_x86_fault::error_code is valid. */
	uint32_t error_code; /**< Error code pushed by the exception. */
	uint64_t address;    /**< Faulting linear address (CR2) for \#PF. */
};

/** @brief Guest register state read and written by the emulator. */
struct pv_x86emu_state {
	struct pv_regs regs;   /**< GPRs, RIP, RFLAGS. */
	struct pv_sregs sregs; /**< Segments, CR0/CR3/CR4, EFER. CPL is sregs.ss.dpl. */
	uint8_t xmm[16][16];   /**< XMM0..XMM15, little-endian bytes. */
	uint8_t maxphyaddr;    /**< Guest MAXPHYADDR (for reserved-bit checks); 0 means 52. */
};

/**
 * @brief Guest memory access callbacks, by guest physical address.
 *
 * Each call covers at most one page (never crosses a 4 KiB boundary) and at
 * most 16 bytes (page-table reads are 4 or 8 bytes). A callback returns
 * ::PV_OK, or an error that the emulator passes back unchanged (for example
 * ::PV_EFAULT for an unbacked GPA).
 */
struct pv_x86emu_ops {
	/** @brief Read @p len bytes at @p gpa into @p buf. */
	pv_err_t (*read_mem)(void *ctx, uint64_t gpa, void *buf, unsigned len);
	/** @brief Write @p len bytes from @p buf to @p gpa. */
	pv_err_t (*write_mem)(void *ctx, uint64_t gpa, const void *buf, unsigned len);
	/** @brief Atomically compare @p len bytes at @p gpa with @p expected and,
	 *  if equal, replace them with @p desired and set *@p swapped = true.
	 *  Otherwise set *@p swapped = false and copy the current bytes into
	 *  @p expected. @p len is 1, 2, 4, 8 or 16. Used for LOCKed
	 *  read-modify-writes, XCHG with memory, CMPXCHG (locked or not) and
	 *  accessed/dirty updates of page-table entries; it can therefore be
	 *  called on an MMIO GPA, where the device model decides what "atomic"
	 *  means. */
	pv_err_t (*cmpxchg_mem)(void *ctx, uint64_t gpa, unsigned len, void *expected,
				const void *desired, bool *swapped);
};

/**
 * @brief Processor mode the state decodes in (from CR0.PE, EFER.LMA, CS.L, CS.D).
 * @param st Register state.
 * @return A ::pv_x86_mode value.
 */
enum pv_x86_mode pv_x86emu_mode(const struct pv_x86emu_state *st);

/**
 * @brief Translate a linear address to a guest physical address.
 *
 * Walks the guest page tables of @p st (paging off, 32-bit, PAE, 4-level or
 * 5-level), checks present/write/user/NX/SMEP/SMAP/WP and reserved bits, and
 * sets accessed (and, for writes, dirty) bits with @c cmpxchg_mem once the
 * translation succeeds. PAE PDPTEs are read from memory at CR3 on every walk.
 *
 * @param st     Register state (CR0/CR3/CR4/EFER, CPL, RFLAGS.AC).
 * @param ops    Memory callbacks.
 * @param ctx    Opaque pointer passed to the callbacks.
 * @param la     Linear address.
 * @param access ::pv_x86_access flags.
 * @param gpa    Out: guest physical address.
 * @param fault  Out: the \#PF (or \#GP for a non-canonical address) on ::PV_EFAULTINJ.
 * @return ::PV_OK; ::PV_EFAULTINJ with @p fault filled; ::PV_EINVAL for null
 *         arguments; or an error returned by a callback.
 */
pv_err_t pv_x86emu_translate(const struct pv_x86emu_state *st, const struct pv_x86emu_ops *ops,
			     void *ctx, uint64_t la, unsigned access, uint64_t *gpa,
			     struct pv_x86_fault *fault);

/**
 * @brief Decode one instruction.
 * @param bytes Instruction bytes.
 * @param len   Number of bytes available (at most 15 are looked at).
 * @param mode  ::pv_x86_mode to decode in.
 * @param out   Out: the decoded instruction.
 * @return ::PV_OK; ::PV_ERANGE when @p len is too short for the instruction
 *         (fetch more bytes and retry); ::PV_ENOTSUP for an instruction the
 *         emulator does not handle or that is invalid (the guest should get
 *         \#UD); ::PV_EBADMSG when the instruction exceeds 15 bytes (\#GP);
 *         ::PV_EINVAL for bad arguments.
 */
pv_err_t pv_x86emu_decode(const uint8_t *bytes, size_t len, enum pv_x86_mode mode,
			  struct pv_x86_insn *out);

/**
 * @brief Execute one decoded instruction against @p st.
 *
 * Memory operands go through segmentation, pv_x86emu_translate() and @p ops.
 * LOCKed read-modify-write instructions (and XCHG with memory) use
 * @c cmpxchg_mem. String instructions run up to ::PV_X86EMU_REP_BATCH
 * iterations; RIP advances only when the instruction is complete.
 *
 * @param st    Register state, updated in place (only on success; on a fault
 *              it reflects completed string iterations, RIP unchanged).
 * @param insn  Instruction from pv_x86emu_decode() in pv_x86emu_mode(@p st).
 * @param ops   Memory callbacks.
 * @param ctx   Opaque pointer passed to the callbacks.
 * @param fault Out: fault to inject on ::PV_EFAULTINJ / ::PV_ENOTSUP.
 * @return ::PV_OK; ::PV_EFAULTINJ (inject @p fault); ::PV_ENOTSUP (inject \#UD,
 *         @p fault holds vector 6); ::PV_EINVAL for bad arguments;
 *         ::PV_EBUSY when a LOCKed update kept losing a race; or an error
 *         returned by a callback.
 */
pv_err_t pv_x86emu_execute(struct pv_x86emu_state *st, const struct pv_x86_insn *insn,
			   const struct pv_x86emu_ops *ops, void *ctx, struct pv_x86_fault *fault);

/**
 * @brief Fetch the instruction at CS:RIP, decode it and execute it.
 *
 * The fetch translates each page separately, so an instruction crossing a
 * page boundary needs both pages mapped and executable.
 *
 * @param st    Register state, updated in place.
 * @param ops   Memory callbacks.
 * @param ctx   Opaque pointer passed to the callbacks.
 * @param fault Out: fault to inject (see pv_x86emu_execute()).
 * @return As pv_x86emu_execute(); additionally ::PV_EFAULTINJ with \#GP(0) for
 *         an instruction longer than 15 bytes.
 */
pv_err_t pv_x86emu_step(struct pv_x86emu_state *st, const struct pv_x86emu_ops *ops, void *ctx,
			struct pv_x86_fault *fault);

/**
 * @brief Decode instruction bytes supplied by the exit and execute them.
 *
 * For exits that already carry the instruction bytes (Hyper-V intercept
 * messages, a \#VC/\#VE handler that fetched them): no fetch through the
 * guest page tables is made unless @p bytes is too short for the
 * instruction, in which case this behaves as pv_x86emu_step().
 *
 * @param st    Register state, updated in place; RIP must point at the
 *              instruction the bytes belong to.
 * @param bytes Instruction bytes (may be NULL when @p len is 0).
 * @param len   Number of valid bytes.
 * @param ops   Memory callbacks.
 * @param ctx   Opaque pointer passed to the callbacks.
 * @param fault Out: fault to inject (see pv_x86emu_execute()).
 * @return As pv_x86emu_step().
 */
pv_err_t pv_x86emu_step_bytes(struct pv_x86emu_state *st, const uint8_t *bytes, size_t len,
			      const struct pv_x86emu_ops *ops, void *ctx,
			      struct pv_x86_fault *fault);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_X86EMU_H */
