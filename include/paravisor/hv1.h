/* SPDX-License-Identifier: MIT */
/**
 * @file hv1.h
 * @brief The Hyper-V hypervisor interface ("hv1", TLFS) emulated for the
 *        lower VTL: CPUID leaves, synthetic MSRs, hypercalls, SynIC, timers.
 *
 * This header's host-side SynIC API (message handlers, event handlers,
 * posting messages and signalling events) is what VMBus and devices use.
 */
#ifndef PARAVISOR_HV1_H
#define PARAVISOR_HV1_H

#include "paravisor/error.h"
#include "paravisor/exit.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque hv1 emulator instance (one per partition). */
struct pv_hv1;

/** @brief Number of synthetic interrupt sources per vCPU. */
#define PV_HV1_SINT_COUNT 16u
/** @brief Maximum payload of a SynIC message in bytes. */
#define PV_HV1_MESSAGE_PAYLOAD_MAX 240u

/** @brief Version of the save record written by pv_hv1_save(). */
#define PV_HV1_SAVE_VERSION 1u

/** @name CPUID 0x40000003.EAX partition privileges (TLFS HV_PARTITION_PRIVILEGE_MASK bits 31:0)
 *  @{ */
#define PV_HV1_PRIV_VP_RUNTIME (1u << 0)       /**< AccessVpRunTimeReg: VP_RUNTIME MSR. */
#define PV_HV1_PRIV_TIME_REF_COUNT (1u << 1)   /**< AccessPartitionReferenceCounter. */
#define PV_HV1_PRIV_SYNIC (1u << 2)            /**< AccessSynicRegs: SynIC MSRs. */
#define PV_HV1_PRIV_SYNTHETIC_TIMERS (1u << 3) /**< AccessSyntheticTimerRegs. */
#define PV_HV1_PRIV_APIC_MSRS (1u << 4)        /**< AccessIntrCtrlRegs: EOI/ICR/TPR, VP assist. */
#define PV_HV1_PRIV_HYPERCALL_MSRS (1u << 5)   /**< AccessHypercallMsrs: GUEST_OS_ID, HYPERCALL. */
#define PV_HV1_PRIV_VP_INDEX (1u << 6)         /**< AccessVpIndex. */
#define PV_HV1_PRIV_RESET (1u << 7)            /**< AccessResetReg (not implemented). */
#define PV_HV1_PRIV_REFERENCE_TSC (1u << 9)    /**< AccessPartitionReferenceTsc. */
#define PV_HV1_PRIV_GUEST_IDLE (1u << 10)      /**< AccessGuestIdleReg (not implemented). */
#define PV_HV1_PRIV_FREQUENCY_MSRS (1u << 11)  /**< AccessFrequencyRegs. */
/** @} */

/** @name CPUID 0x40000003.EBX partition privileges (bits 63:32)
 *  @{ */
#define PV_HV1_PRIV_POST_MESSAGES (1u << 4) /**< PostMessages: HvPostMessage allowed. */
#define PV_HV1_PRIV_SIGNAL_EVENTS (1u << 5) /**< SignalEvents: HvSignalEvent allowed. */
/** @} */

/** @name CPUID 0x40000003.EDX features
 *  @{ */
#define PV_HV1_FEAT_FREQUENCY_MSRS (1u << 8)  /**< TSC/APIC frequency MSRs available. */
#define PV_HV1_FEAT_DIRECT_STIMERS (1u << 19) /**< Direct-mode synthetic timers. */
/** @} */

/** @name CPUID 0x40000004.EAX implementation recommendations
 *  @{ */
#define PV_HV1_REC_REMOTE_FLUSH (1u << 2)        /**< Use hypercalls for remote TLB flushes. */
#define PV_HV1_REC_APIC_MSRS (1u << 3)           /**< Use the EOI/ICR/TPR MSRs. */
#define PV_HV1_REC_DEPRECATE_AEOI (1u << 9)      /**< Do not use SINT auto-EOI. */
#define PV_HV1_REC_CLUSTER_IPI (1u << 10)        /**< Use HvSendSyntheticClusterIpi. */
#define PV_HV1_REC_EX_PROCESSOR_MASKS (1u << 11) /**< Use the *Ex* (VP set) hypercalls. */
/** @} */

/** @name Hypercall status codes (TLFS HV_STATUS), returned in RAX bits 15:0
 *  @{ */
#define PV_HV1_STATUS_SUCCESS 0x0000u                 /**< Success. */
#define PV_HV1_STATUS_INVALID_HYPERCALL_CODE 0x0002u  /**< Unknown call code. */
#define PV_HV1_STATUS_INVALID_HYPERCALL_INPUT 0x0003u /**< Bad control word or rep use. */
#define PV_HV1_STATUS_INVALID_ALIGNMENT 0x0004u       /**< Misaligned or page-crossing GPA. */
#define PV_HV1_STATUS_INVALID_PARAMETER 0x0005u       /**< Bad input field. */
#define PV_HV1_STATUS_ACCESS_DENIED 0x0006u         /**< Privilege missing or GPA not accessible. */
#define PV_HV1_STATUS_INVALID_PORT_ID 0x0011u       /**< Unknown port. */
#define PV_HV1_STATUS_INVALID_CONNECTION_ID 0x0012u /**< Unknown connection ID. */
#define PV_HV1_STATUS_INSUFFICIENT_BUFFERS 0x0013u  /**< No message buffer; retry. */
#define PV_HV1_STATUS_INVALID_VP_INDEX 0x000Eu      /**< Bad VP index. */
#define PV_HV1_STATUS_INVALID_SYNIC_STATE 0x0018u   /**< SynIC not set up for this. */
/** @} */

/** @name Hypercall call codes implemented by the library
 *  @{ */
#define PV_HV1_CALL_FLUSH_VA_SPACE 0x0002u    /**< HvFlushVirtualAddressSpace. */
#define PV_HV1_CALL_FLUSH_VA_LIST 0x0003u     /**< HvFlushVirtualAddressList (rep). */
#define PV_HV1_CALL_NOTIFY_LONG_SPIN 0x0008u  /**< HvNotifyLongSpinWait. */
#define PV_HV1_CALL_SEND_IPI 0x000Bu          /**< HvSendSyntheticClusterIpi. */
#define PV_HV1_CALL_FLUSH_VA_SPACE_EX 0x0013u /**< HvFlushVirtualAddressSpaceEx (var header). */
#define PV_HV1_CALL_FLUSH_VA_LIST_EX 0x0014u  /**< HvFlushVirtualAddressListEx (rep, var header). */
#define PV_HV1_CALL_SEND_IPI_EX 0x0015u       /**< HvSendSyntheticClusterIpiEx (var header). */
#define PV_HV1_CALL_POST_MESSAGE 0x005Cu      /**< HvPostMessage. */
#define PV_HV1_CALL_SIGNAL_EVENT 0x005Du      /**< HvSignalEvent. */
/** @} */

/** @brief Message type of the synthetic-timer expiration message. */
#define PV_HV1_MSG_TIMER_EXPIRED 0x80000010u

/** @brief How the hypercall page traps when the port supplies no code. */
enum pv_hv1_vendor {
	PV_HV1_VENDOR_AUTO = 0, /**< From CPUID leaf 0 in the core table (default Intel). */
	PV_HV1_VENDOR_INTEL,    /**< vmcall (0F 01 C1). */
	PV_HV1_VENDOR_AMD       /**< vmmcall (0F 01 D9). */
};

/**
 * @brief What the guest is told and how the emulator behaves.
 *
 * Start from pv_hv1_config_default() and adjust. The CPUID leaves
 * 0x40000000-0x40000006 are computed from it; an MSR or hypercall exists for
 * the guest only if its privilege/feature bit is set here (TLFS gating).
 */
struct pv_hv1_config {
	uint32_t privileges_low;  /**< 0x40000003.EAX (PV_HV1_PRIV_*). */
	uint32_t privileges_high; /**< 0x40000003.EBX (PV_HV1_PRIV_POST_MESSAGES...). */
	uint32_t features_ecx;    /**< 0x40000003.ECX. */
	uint32_t features_edx;    /**< 0x40000003.EDX (PV_HV1_FEAT_*). */
	uint32_t recommendations; /**< 0x40000004.EAX (PV_HV1_REC_*). */
	uint32_t spin_retries;    /**< 0x40000004.EBX (0xFFFFFFFF: never notify). */
	uint32_t phys_addr_bits;  /**< 0x40000004.ECX[6:0] (0: not reported). */
	uint32_t build_number;    /**< 0x40000002.EAX. */
	uint16_t version_major;   /**< 0x40000002.EBX[31:16]. */
	uint16_t version_minor;   /**< 0x40000002.EBX[15:0]. */
	uint32_t service_pack;    /**< 0x40000002.ECX. */
	uint32_t service_branch;  /**< 0x40000002.EDX. */
	uint32_t max_vps;         /**< 0x40000005.EAX (0: the partition's vCPU count). */
	uint32_t max_lps;         /**< 0x40000005.EBX (0: the partition's vCPU count). */
	uint32_t hw_features;     /**< 0x40000006.EAX. */
	/** Guest TSC frequency in Hz; 0 = unknown (no frequency MSRs, TSC page
	 *  left invalid so the guest reads TIME_REF_COUNT). Must exceed 10 MHz. */
	uint64_t tsc_frequency_hz;
	/** Local APIC timer frequency in Hz reported by APIC_FREQUENCY. */
	uint64_t apic_frequency_hz;
	/** Messages queued per SINT behind a full slot (1 .. 256). */
	uint32_t sint_queue_depth;
	/** Trap instruction for the hypercall page when the port has no hypercall_code. */
	enum pv_hv1_vendor vendor;
};

/** @brief Flags of a hypercall descriptor (pv_hv1_hypercall_desc::flags). */
enum pv_hv1_hypercall_flags {
	PV_HV1_HC_REP = 1u << 0,    /**< Rep call: rep count must be non-zero. */
	PV_HV1_HC_VARHDR = 1u << 1, /**< A variable header is allowed. */
	PV_HV1_HC_FAST =
		1u << 2 /**< Register-based (fast) form allowed (input <= 16 bytes, no output). */
};

/** @brief One parsed, validated hypercall as a handler sees it. */
struct pv_hv1_hypercall {
	struct pv_hv1 *hv1;   /**< Instance. */
	struct pv_vcpu *vcpu; /**< Calling vCPU. */
	uint8_t vtl;          /**< Calling VTL. */
	uint16_t code;        /**< Call code (control bits 15:0). */
	bool fast;            /**< Register-based call. */
	uint16_t varhdr_size; /**< Variable header size in bytes. */
	uint16_t rep_count;   /**< Rep count (0 for simple calls). */
	uint16_t rep_start;   /**< First rep to process. */
	/** Input copied once from the guest: fixed header, variable header,
	 *  then rep_count elements (all of them, from element 0). */
	const uint8_t *input;
	uint32_t input_size; /**< Bytes in @c input. */
	/** Output buffer, zero-filled; written back to the guest's output GPA
	 *  (rep elements up to the reps completed) after the handler returns. */
	uint8_t *output;
	uint32_t output_size; /**< Bytes in @c output. */
	/** Out: total reps completed (rep calls). Preset to rep_count, so a
	 *  handler only sets it on partial completion. */
	uint16_t reps_completed;
};

/**
 * @brief Hypercall handler.
 * @param ctx Registration context.
 * @param call Parsed call (input already validated for size and alignment).
 * @return A PV_HV1_STATUS_* code for the guest.
 */
typedef uint16_t (*pv_hv1_hypercall_fn)(void *ctx, struct pv_hv1_hypercall *call);

/** @brief Registration of one hypercall code. */
struct pv_hv1_hypercall_desc {
	uint16_t code;            /**< Call code. */
	uint32_t flags;           /**< ::pv_hv1_hypercall_flags. */
	uint32_t input_size;      /**< Fixed input header bytes (multiple of 8 for memory calls). */
	uint32_t output_size;     /**< Fixed output bytes (simple calls). */
	uint32_t rep_input_size;  /**< Input bytes per rep element (rep calls). */
	uint32_t rep_output_size; /**< Output bytes per rep element (rep calls). */
	pv_hv1_hypercall_fn fn;   /**< Handler. */
	void *ctx;                /**< Handler context. */
};

/**
 * @brief Fill @p cfg with the defaults for @p part.
 *
 * Advertises what is implemented and what Linux needs: privileges
 * VP_RUNTIME, TIME_REF_COUNT, SYNIC, HYPERCALL_MSRS, VP_INDEX,
 * REFERENCE_TSC, APIC_MSRS (VP assist page; EOI/ICR/TPR forwarded to the
 * x2APIC MSRs on irqchip ports), SYNTHETIC_TIMERS and direct timers when the
 * port has ::PV_PORT_CAP_TIMERS, POST_MESSAGES and SIGNAL_EVENTS; "deprecate
 * auto-EOI" when the port has ::PV_PORT_CAP_IRQCHIP (an in-kernel APIC cannot
 * auto-EOI); queue depth 16; vendor auto. Frequencies are 0 (unknown): set
 * tsc_frequency_hz to make the TSC page valid; to expose the frequency MSRs
 * also set ::PV_HV1_PRIV_FREQUENCY_MSRS in the privileges and
 * ::PV_HV1_FEAT_FREQUENCY_MSRS in the features (pvrun does both).
 * @param part Partition (read for vCPU count and port capabilities; may be NULL).
 * @param cfg Out.
 */
void pv_hv1_config_default(struct pv_partition *part, struct pv_hv1_config *cfg);

/**
 * @brief Create the hv1 emulator of a partition and install it.
 *
 * Installs CPUID leaves 0x40000000-0x40000006 with pv_cpuid_set() (and
 * removes any "KVMKVMKVM" signature leaves from the table), the MSR handler
 * for 0x40000000-0x400000FF with pv_msr_register(), and the
 * ::PV_FILTER_HV1 exit filter that handles ::PV_EXIT_HYPERCALL exits.
 * Registers the built-in hypercalls (post message, signal event, the four
 * flush calls, long spin wait, synthetic cluster IPI and its Ex form).
 *
 * CPUID.1:ECX[31] (hypervisor present) belongs to whoever owns leaf 1: if
 * leaf 1 is already in the table the bit is set here; an owner that sets
 * leaf 1 later must set it itself (or call pv_hv1_cpuid_set_hv_bit()).
 * @pre No vCPU is running.
 * @param part Partition.
 * @param cfg Configuration (copied), or NULL for pv_hv1_config_default().
 * @param out Receives the instance.
 * @return ::PV_OK; ::PV_EINVAL (bad config: queue depth, frequency);
 *         ::PV_EEXIST if an hv1 filter or the MSR range is taken; ::PV_ENOMEM.
 */
pv_err_t pv_hv1_create(struct pv_partition *part, const struct pv_hv1_config *cfg,
		       struct pv_hv1 **out);

/**
 * @brief Uninstall and free the emulator (timers are destroyed first).
 * @pre No vCPU is running.
 * @param hv1 Instance, or NULL.
 */
void pv_hv1_destroy(struct pv_hv1 *hv1);

/**
 * @brief Set CPUID.1:ECX[31] (hypervisor present) in the core CPUID table.
 * @param part Partition.
 * @return ::PV_OK; ::PV_ENOENT if the table has no leaf 1; ::PV_ENOMEM.
 */
pv_err_t pv_hv1_cpuid_set_hv_bit(struct pv_partition *part);

/**
 * @brief Register a hypercall code (e.g. VTL calls from an isolation backend).
 * @param hv1 Instance.
 * @param desc Descriptor (copied).
 * @return ::PV_OK; ::PV_EINVAL (NULL fn, fast with sizes over 16 bytes or
 *         output, rep sizes on a simple call, sizes over a page);
 *         ::PV_EEXIST if the code is registered; ::PV_ENOMEM.
 */
pv_err_t pv_hv1_register_hypercall(struct pv_hv1 *hv1, const struct pv_hv1_hypercall_desc *desc);

/**
 * @brief Remove a hypercall registration (built-in ones included).
 * @param hv1 Instance.
 * @param code Call code.
 * @return ::PV_OK or ::PV_ENOENT.
 */
pv_err_t pv_hv1_unregister_hypercall(struct pv_hv1 *hv1, uint16_t code);

/**
 * @brief The partition reference time (TIME_REF_COUNT), 100 ns units.
 * @param hv1 Instance.
 * @return Reference time.
 */
uint64_t pv_hv1_reference_time(struct pv_hv1 *hv1);

/**
 * @brief Handle one exit the way the installed filter does.
 *
 * For ports or backends that call the emulator directly.
 * @param hv1 Instance.
 * @param vcpu vCPU.
 * @param exit Exit; for ::PV_EXIT_HYPERCALL the result (or a \#UD) is written.
 * @return true if handled (only hypercall exits are).
 */
bool pv_hv1_handle_exit(struct pv_hv1 *hv1, struct pv_vcpu *vcpu, struct pv_exit *exit);

/**
 * @brief Called when a SINT's message slot was freed and its queue has room again.
 * @param ctx Context.
 * @param vp_index vCPU.
 * @param sint SINT.
 */
typedef void (*pv_hv1_sint_ready_fn)(void *ctx, uint32_t vp_index, uint8_t sint);

/**
 * @brief Install (or remove with NULL) the back-pressure callback: after
 *        pv_hv1_post_message() returned ::PV_EBUSY for a SINT, @p fn is
 *        called once that SINT's queue has room (from the thread that
 *        processed the guest's end-of-message, no hv1 lock held).
 * @param hv1 Instance.
 * @param fn Callback or NULL.
 * @param ctx Callback context.
 */
void pv_hv1_set_sint_ready_fn(struct pv_hv1 *hv1, pv_hv1_sint_ready_fn fn, void *ctx);

/**
 * @brief Bytes pv_hv1_save() needs right now.
 * @param hv1 Instance.
 * @return Record size in bytes.
 */
size_t pv_hv1_save_size(struct pv_hv1 *hv1);

/**
 * @brief Save all emulator state into a versioned, self-describing record.
 *
 * Record: 32-byte header (magic "PVH1", version ::PV_HV1_SAVE_VERSION,
 * header size, total size, section count, vCPU count), then sections of
 * {u16 tag, u16 version, u32 length, payload}: partition registers, overlay
 * pages (original guest contents), one per vCPU (SynIC and timer registers),
 * one per non-empty SINT queue. Little-endian.
 * @pre No vCPU is running (timers may).
 * @param hv1 Instance.
 * @param buf Destination.
 * @param cap Capacity of @p buf.
 * @param len Out: bytes written (or needed, on ::PV_ERANGE).
 * @return ::PV_OK; ::PV_ERANGE if @p cap is too small; ::PV_EINVAL.
 */
pv_err_t pv_hv1_save(struct pv_hv1 *hv1, void *buf, size_t cap, size_t *len);

/**
 * @brief Restore state from a record of pv_hv1_save().
 *
 * The record is untrusted: every field is validated (reserved bits, GPAs in
 * RAM, queue sizes, message sizes, vCPU indexes, duplicate or missing
 * sections) before anything changes. Reference time continues from the saved
 * value; enabled timers are re-armed. Guest memory is not written.
 * @pre No vCPU is running.
 * @param hv1 Instance.
 * @param buf Record.
 * @param len Record size.
 * @return ::PV_OK; ::PV_EVERSION for a wrong version or any validation
 *         failure (state unchanged); ::PV_EINVAL; ::PV_ENOMEM.
 */
pv_err_t pv_hv1_restore(struct pv_hv1 *hv1, const void *buf, size_t len);

/**
 * @brief Handler for a guest HvPostMessage on one connection ID.
 * @param ctx Registration context.
 * @param vcpu vCPU that made the hypercall.
 * @param connection_id Connection ID the guest posted to.
 * @param message_type Message type from the hypercall input.
 * @param payload Payload, already copied out of guest memory.
 * @param size Payload size in bytes (<= ::PV_HV1_MESSAGE_PAYLOAD_MAX).
 * @return ::PV_OK (HV_STATUS_SUCCESS); ::PV_EBUSY (the guest gets
 *         HV_STATUS_INSUFFICIENT_BUFFERS); any other error gives
 *         HV_STATUS_INVALID_PARAMETER.
 */
typedef pv_err_t (*pv_hv1_message_fn)(void *ctx, struct pv_vcpu *vcpu, uint32_t connection_id,
				      uint32_t message_type, const void *payload, uint32_t size);

/**
 * @brief Handler for a guest HvSignalEvent on one connection ID.
 * @param ctx Registration context.
 * @param vcpu vCPU that made the hypercall.
 * @param connection_id Connection ID signalled.
 * @param flag_number Event flag number from the hypercall input.
 * @return ::PV_OK; an error gives the guest HV_STATUS_INVALID_PARAMETER.
 */
typedef pv_err_t (*pv_hv1_event_fn)(void *ctx, struct pv_vcpu *vcpu, uint32_t connection_id,
				    uint16_t flag_number);

/**
 * @brief Route guest HvPostMessage calls on @p connection_id to @p fn.
 * @param hv1 Instance.
 * @param connection_id Connection ID (24 bits).
 * @param fn Handler.
 * @param ctx Handler context.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_EEXIST if already registered; ::PV_ENOMEM.
 */
pv_err_t pv_hv1_register_message_handler(struct pv_hv1 *hv1, uint32_t connection_id,
					 pv_hv1_message_fn fn, void *ctx);

/**
 * @brief Remove a message handler.
 * @param hv1 Instance.
 * @param connection_id Connection ID.
 * @return ::PV_OK or ::PV_ENOENT.
 */
pv_err_t pv_hv1_unregister_message_handler(struct pv_hv1 *hv1, uint32_t connection_id);

/**
 * @brief Route guest HvSignalEvent calls on @p connection_id to @p fn.
 * @param hv1 Instance.
 * @param connection_id Connection ID (24 bits).
 * @param fn Handler.
 * @param ctx Handler context.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_EEXIST; ::PV_ENOMEM.
 */
pv_err_t pv_hv1_register_event_handler(struct pv_hv1 *hv1, uint32_t connection_id,
				       pv_hv1_event_fn fn, void *ctx);

/**
 * @brief Remove an event handler.
 * @param hv1 Instance.
 * @param connection_id Connection ID.
 * @return ::PV_OK or ::PV_ENOENT.
 */
pv_err_t pv_hv1_unregister_event_handler(struct pv_hv1 *hv1, uint32_t connection_id);

/**
 * @brief Post a message to SINT @p sint of vCPU @p vp_index (host to guest).
 *
 * The message goes into the SINT's slot of the vCPU's message page if free,
 * otherwise into a bounded per-SINT queue delivered in order as the guest
 * frees the slot (end-of-message). The SINT interrupt is asserted on delivery.
 * @param hv1 Instance.
 * @param vp_index Target vCPU.
 * @param sint SINT number (< ::PV_HV1_SINT_COUNT).
 * @param message_type Message type (non-zero).
 * @param payload Payload bytes.
 * @param size Payload size (<= ::PV_HV1_MESSAGE_PAYLOAD_MAX).
 * @return ::PV_OK (delivered or queued); ::PV_EBUSY when the queue is full
 *         (back-pressure: retry later); ::PV_ESTATE when the guest has not
 *         enabled the SynIC message page or the SINT; ::PV_EINVAL.
 */
pv_err_t pv_hv1_post_message(struct pv_hv1 *hv1, uint32_t vp_index, uint8_t sint,
			     uint32_t message_type, const void *payload, uint32_t size);

/**
 * @brief Set event flag @p flag_number in the SINT's event-flags slot of
 *        vCPU @p vp_index and assert the SINT if the flag was clear.
 * @param hv1 Instance.
 * @param vp_index Target vCPU.
 * @param sint SINT number.
 * @param flag_number Bit number within the SINT's 2048-bit flag set.
 * @return ::PV_OK; ::PV_ESTATE when the event page or SINT is not enabled; ::PV_EINVAL.
 */
pv_err_t pv_hv1_signal_event(struct pv_hv1 *hv1, uint32_t vp_index, uint8_t sint,
			     uint32_t flag_number);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_HV1_H */
