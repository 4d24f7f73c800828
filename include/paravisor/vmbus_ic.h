/* SPDX-License-Identifier: MIT */
/**
 * @file vmbus_ic.h
 * @brief Integration-component VMBus devices: heartbeat, shutdown and time
 *        synchronisation (what Linux's hv_utils and Windows' IC services bind to).
 *
 * Each IC is a VMBus device. When the guest opens it, the host sends the IC
 * version negotiation (framework 1.0/3.0 and the message versions of the
 * IC); the guest answers with its choice. Afterwards the host sends requests
 * (heartbeat, shutdown, time samples) as transactions and the guest answers
 * each one in place. The embedder drives the requests with the calls below.
 */
#ifndef PARAVISOR_VMBUS_IC_H
#define PARAVISOR_VMBUS_IC_H

#include "paravisor/error.h"
#include "paravisor/vmbus.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque IC device. */
struct pv_vmbus_ic;

/** @brief Which integration component. */
enum pv_vmbus_ic_kind {
	PV_VMBUS_IC_HEARTBEAT = 0, /**< Heartbeat (57164f39-9115-4e78-ab55-382f3bd5422d). */
	PV_VMBUS_IC_SHUTDOWN,      /**< Shutdown (0e0b6031-5213-4934-818b-38d90ced39db). */
	PV_VMBUS_IC_TIMESYNC       /**< Time sync (9527e630-d0ae-497b-adce-e80ab0175caf). */
};

/** @brief IC state. */
enum pv_vmbus_ic_state {
	PV_VMBUS_IC_CLOSED = 0,  /**< The guest has not opened the channel. */
	PV_VMBUS_IC_NEGOTIATING, /**< Version negotiation sent, no answer yet. */
	PV_VMBUS_IC_READY,       /**< Versions agreed; requests can be sent. */
	PV_VMBUS_IC_FAILED       /**< The guest supports none of the offered versions. */
};

/** @brief Events reported to pv_vmbus_ic_config::event. */
enum pv_vmbus_ic_event {
	PV_VMBUS_IC_EV_READY = 0,     /**< Negotiation completed. */
	PV_VMBUS_IC_EV_FAILED,        /**< Negotiation failed. */
	PV_VMBUS_IC_EV_HEARTBEAT,     /**< A heartbeat answer arrived. */
	PV_VMBUS_IC_EV_SHUTDOWN_DONE, /**< The guest answered a shutdown request. */
	PV_VMBUS_IC_EV_TIMESYNC_DONE, /**< The guest answered a time sample. */
	PV_VMBUS_IC_EV_CLOSED         /**< The guest closed the channel. */
};

/** @brief Shutdown request flags (pv_vmbus_ic_shutdown_request()). */
enum pv_vmbus_ic_shutdown_flags {
	PV_VMBUS_IC_SHUTDOWN_FORCE = 1u << 0,    /**< Do not wait for applications. */
	PV_VMBUS_IC_SHUTDOWN_RESTART = 1u << 1,  /**< Reboot instead of power off. */
	PV_VMBUS_IC_SHUTDOWN_HIBERNATE = 1u << 2 /**< Hibernate. */
};

/** @brief Time-sync message flags. */
enum pv_vmbus_ic_timesync_flags {
	PV_VMBUS_IC_TIMESYNC_PROBE = 0, /**< Probe. */
	PV_VMBUS_IC_TIMESYNC_SYNC = 1,  /**< Set the guest clock. */
	PV_VMBUS_IC_TIMESYNC_SAMPLE = 2 /**< A sample for the guest's clock discipline. */
};

/** @brief HRESULT the guest returns for success. */
#define PV_VMBUS_IC_S_OK 0x00000000u

/** @brief IC configuration. */
struct pv_vmbus_ic_config {
	enum pv_vmbus_ic_kind kind; /**< Which IC. */
	struct pv_guid instance_id; /**< Instance GUID; all zero selects a built-in one per kind. */
	/** Time sync: current UTC in 100 ns units since 1601-01-01. Mandatory for
	 *  ::PV_VMBUS_IC_TIMESYNC. */
	uint64_t (*utc_now)(void *ctx);
	/** Time sync: the guest's reference time (TIME_REF_COUNT timeline, 100 ns).
	 *  Mandatory for ::PV_VMBUS_IC_TIMESYNC. */
	uint64_t (*reference_time)(void *ctx);
	void *time_ctx; /**< Context of the time callbacks. */
	/** Heartbeat and time sync: once negotiated, send a heartbeat request
	 *  (or a time SAMPLE) every @c period_ns on a port timer; 0 = only when
	 *  asked. Needs the server's partition and a port with timers. */
	uint64_t period_ns;
	/** Optional event callback; runs on the thread that handled the guest's
	 *  packet (or the open), without IC locks held. */
	void (*event)(void *ctx, struct pv_vmbus_ic *ic, enum pv_vmbus_ic_event ev);
	void *event_ctx; /**< Context of @c event. */
};

/** @brief The class GUID of an IC kind.
 *  @param kind IC kind.
 *  @return The GUID (all zero for an unknown kind). */
struct pv_guid pv_vmbus_ic_class_id(enum pv_vmbus_ic_kind kind);

/**
 * @brief Create an IC device and add it to the server (offered at once if
 *        the guest already asked for offers).
 * @param vmbus Server.
 * @param cfg Configuration (copied).
 * @param out Receives the IC.
 * @return ::PV_OK; ::PV_EINVAL (also: @c period_ns without a partition, or
 *         for the shutdown IC); ::PV_ENOMEM; pv_timer_create()'s error; or
 *         pv_vmbus_device_add()'s error.
 */
pv_err_t pv_vmbus_ic_create(struct pv_vmbus *vmbus, const struct pv_vmbus_ic_config *cfg,
			    struct pv_vmbus_ic **out);

/**
 * @brief Rescind the IC's channel and free the IC. NULL is ignored.
 * @pre Not called from one of the IC's own callbacks.
 * @param ic IC.
 */
void pv_vmbus_ic_destroy(struct pv_vmbus_ic *ic);

/**
 * @brief The IC's channel.
 * @param ic IC.
 * @return Its channel.
 */
struct pv_vmbus_channel *pv_vmbus_ic_channel(struct pv_vmbus_ic *ic);

/**
 * @brief Current state.
 * @param ic IC.
 * @return The state.
 */
enum pv_vmbus_ic_state pv_vmbus_ic_get_state(struct pv_vmbus_ic *ic);

/**
 * @brief Versions agreed with the guest.
 * @param ic IC.
 * @param framework Receives major << 16 | minor of the framework version.
 * @param message Receives major << 16 | minor of the message version.
 * @return ::PV_OK; ::PV_ESTATE before negotiation completed.
 */
pv_err_t pv_vmbus_ic_versions(struct pv_vmbus_ic *ic, uint32_t *framework, uint32_t *message);

/**
 * @brief Send one heartbeat request carrying the current sequence number.
 *
 * The heartbeat IC also sends one by itself right after negotiation.
 * @param ic Heartbeat IC.
 * @return ::PV_OK; ::PV_EINVAL (other kind); ::PV_ESTATE (not ready);
 *         ::PV_EBUSY (a request is outstanding or the ring is full).
 */
pv_err_t pv_vmbus_ic_heartbeat_request(struct pv_vmbus_ic *ic);

/**
 * @brief Read the heartbeat sequence last reported by the guest.
 * @param ic Heartbeat IC.
 * @param sequence Receives the guest's sequence number (0 before the first answer).
 * @param answers Receives how many heartbeat answers arrived (may be NULL).
 * @return ::PV_OK or ::PV_EINVAL.
 */
pv_err_t pv_vmbus_ic_heartbeat_get(struct pv_vmbus_ic *ic, uint64_t *sequence, uint64_t *answers);

/**
 * @brief Ask the guest to shut down.
 * @param ic Shutdown IC.
 * @param flags ::pv_vmbus_ic_shutdown_flags.
 * @param reason Reason code (e.g. 0x80000000 for planned).
 * @param message Optional NUL-terminated text for the guest (truncated to 2047 bytes), or NULL.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ESTATE (not ready); ::PV_EBUSY.
 */
pv_err_t pv_vmbus_ic_shutdown_request(struct pv_vmbus_ic *ic, uint32_t flags, uint32_t reason,
				      const char *message);

/**
 * @brief Result of the last shutdown request.
 * @param ic Shutdown IC.
 * @param status Receives the guest's HRESULT (::PV_VMBUS_IC_S_OK: it is shutting down).
 * @return ::PV_OK; ::PV_ENOENT (no answer yet); ::PV_EINVAL.
 */
pv_err_t pv_vmbus_ic_shutdown_result(struct pv_vmbus_ic *ic, uint32_t *status);

/**
 * @brief Send a time sample (message version 4.0 layout or the older one).
 * @param ic Time-sync IC.
 * @param flags ::pv_vmbus_ic_timesync_flags.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ESTATE; ::PV_EBUSY.
 */
pv_err_t pv_vmbus_ic_timesync_send(struct pv_vmbus_ic *ic, uint8_t flags);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_VMBUS_IC_H */
