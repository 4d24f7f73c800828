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
