/* SPDX-License-Identifier: MIT */
/**
 * @file exit.h
 * @brief The normalized exit: one shape for every port.
 *
 * A port fills a ::pv_exit when the lower VTL stops running. The dispatcher
 * handles it and writes the *completion* into the same structure (the data of
 * an IN or MMIO read, an MSR value, CPUID registers, a hypercall result, or an
 * event to inject); the port then applies the completion before re-entering.
 */
#ifndef PARAVISOR_EXIT_H
#define PARAVISOR_EXIT_H

#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Why the lower VTL stopped. Values are stable (used as counter indexes). */
enum pv_exit_kind {
	PV_EXIT_NONE = 0,         /**< Nothing to do (e.g. the port was kicked). */
	PV_EXIT_IO,               /**< Port I/O: pv_exit::u.io. */
	PV_EXIT_MMIO,             /**< Memory-mapped I/O: pv_exit::u.mmio. */
	PV_EXIT_MSR_READ,         /**< RDMSR: pv_exit::u.msr. */
	PV_EXIT_MSR_WRITE,        /**< WRMSR: pv_exit::u.msr. */
	PV_EXIT_CPUID,            /**< CPUID: pv_exit::u.cpuid. */
	PV_EXIT_HYPERCALL,        /**< Hyper-V ABI hypercall: pv_exit::u.hypercall. */
	PV_EXIT_HLT,              /**< HLT with no interrupt the port could deliver. */
	PV_EXIT_SHUTDOWN,         /**< Shutdown or triple fault. */
	PV_EXIT_INTERRUPT_WINDOW, /**< The guest can now accept an interrupt. */
	PV_EXIT_STOPPED,          /**< pv_vcpu_stop() was honoured. */
	PV_EXIT_INTERNAL_ERROR,   /**< The port could not run the vCPU: pv_exit::u.error. */
	PV_EXIT_PORT_SPECIFIC,    /**< Port-defined: pv_exit::u.port. */
	PV_EXIT_KIND_COUNT        /**< Number of kinds; not a kind. */
};

/** @brief Port I/O exit (IN/OUT/INS/OUTS). */
struct pv_exit_io {
	uint16_t port;  /**< Port number. */
	uint8_t size;   /**< Access width: 1, 2 or 4. */
	bool is_write;  /**< true for OUT/OUTS. */
	uint32_t count; /**< Repetitions (1 for plain IN/OUT). */
	/** For count == 1: data written (OUT) or to be returned (IN, completion). */
	uint32_t data;
	/** For count > 1: port-owned buffer of size*count bytes; OUTS data in,
	 *  INS data out. NULL when count == 1. */
	uint8_t *rep_data;
};

/** @brief Memory-mapped I/O exit.
 *
 * A port that decoded the access sets @c size, @c is_write and @c data. A port
 * that could not (a confidential guest's \#VC/\#VE, an intercept with only
 * instruction bytes) sets @c size to 0 and, if it has them, @c insn: the
 * dispatcher then fetches (if needed), decodes and emulates the whole
 * instruction with the x86 emulator, calls the MMIO handlers for its
 * accesses, and writes the vCPU registers (RIP included) itself, or sets
 * pv_exit::inject. The port's completion must then neither advance RIP nor
 * write a load result. */
struct pv_exit_mmio {
	pv_gpa_t gpa;     /**< Address accessed (informational when @c size is 0). */
	uint8_t size;     /**< 1, 2, 4 or 8 bytes; 0: emulate from the instruction. */
	bool is_write;    /**< true for stores. */
	uint64_t data;    /**< Store data, or load result (completion). */
	uint8_t insn_len; /**< Valid bytes in @c insn (0 if none). */
	uint8_t insn[15]; /**< Instruction bytes, when the port supplies them. */
};

/** @brief RDMSR/WRMSR exit. */
struct pv_exit_msr {
	uint32_t index; /**< MSR number (ECX). */
	uint64_t value; /**< Written value, or value read (completion). */
};

/** @brief CPUID exit; outputs are the completion. */
struct pv_exit_cpuid {
	uint32_t leaf;    /**< EAX input. */
	uint32_t subleaf; /**< ECX input. */
	uint32_t eax;     /**< Output EAX. */
	uint32_t ebx;     /**< Output EBX. */
	uint32_t ecx;     /**< Output ECX. */
	uint32_t edx;     /**< Output EDX. */
};

/** @brief Hyper-V hypercall (register ABI: RCX control, RDX input, R8 output). */
struct pv_exit_hypercall {
	uint64_t control; /**< Hypercall input value (RCX). */
	uint64_t input;   /**< Input GPA, or first fast input register (RDX). */
	uint64_t output;  /**< Output GPA, or second fast input register (R8). */
	uint64_t result;  /**< Hypercall result value (RAX), the completion. */
	bool is_64bit;    /**< The caller was in 64-bit mode. */
	/** Which VTL made the call. */
	uint8_t vtl;
};

/** @brief The port failed to run the vCPU. */
struct pv_exit_error {
	int32_t code;     /**< Port-specific reason (e.g. KVM's suberror). */
	uint64_t data[4]; /**< Port-specific detail. */
};

/** @brief A port-specific exit the core passes to the embedder unchanged. */
struct pv_exit_port {
	uint32_t code;    /**< Port-defined code. */
	uint64_t data[4]; /**< Port-defined payload. */
};

/** @brief Kind of event to inject into the guest. */
enum pv_event_kind {
	PV_EVENT_NONE = 0,  /**< No event. */
	PV_EVENT_EXCEPTION, /**< A processor exception (vector < 32). */
	PV_EVENT_INTERRUPT, /**< An external interrupt vector. */
	PV_EVENT_NMI        /**< A non-maskable interrupt. */
};

/** @brief An event to inject into the guest. */
struct pv_event {
	enum pv_event_kind kind; /**< What to inject. */
	uint8_t vector;          /**< Vector number. */
	bool has_error_code;     /**< Deliver @c error_code (exceptions only). */
	uint32_t error_code;     /**< Exception error code. */
	uint64_t cr2;            /**< Faulting address for \#PF (vector 14). */
};

/** @brief Exception vectors used by the library. */
enum pv_exception_vector {
	PV_VEC_DE = 0,  /**< Divide error. */
	PV_VEC_UD = 6,  /**< Invalid opcode. */
	PV_VEC_GP = 13, /**< General protection. */
	PV_VEC_PF = 14  /**< Page fault. */
};

/** @brief A normalized exit and, after dispatch, its completion. */
struct pv_exit {
	enum pv_exit_kind kind; /**< Selects the member of @c u. */
	union {
		struct pv_exit_io io;               /**< ::PV_EXIT_IO */
		struct pv_exit_mmio mmio;           /**< ::PV_EXIT_MMIO */
		struct pv_exit_msr msr;             /**< ::PV_EXIT_MSR_READ / ::PV_EXIT_MSR_WRITE */
		struct pv_exit_cpuid cpuid;         /**< ::PV_EXIT_CPUID */
		struct pv_exit_hypercall hypercall; /**< ::PV_EXIT_HYPERCALL */
		struct pv_exit_error error;         /**< ::PV_EXIT_INTERNAL_ERROR */
		struct pv_exit_port port;           /**< ::PV_EXIT_PORT_SPECIFIC */
	} u;                                        /**< Kind-specific data. */
	/** Completion: an event to inject instead of completing the instruction
	 *  (e.g. \#GP for an unknown MSR). Kind ::PV_EVENT_NONE means "complete
	 *  normally and advance past the instruction". */
	struct pv_event inject;
};

/**
 * @brief Name of an exit kind, for logs and summaries.
 * @param kind Any value.
 * @return A static string ("unknown" for out-of-range values).
 */
const char *pv_exit_kind_name(enum pv_exit_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_EXIT_H */
