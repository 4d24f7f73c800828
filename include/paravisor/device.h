/* SPDX-License-Identifier: MIT */
/**
 * @file device.h
 * @brief What a device model may use besides the dispatch tables and the
 *        memory accessors: interrupt lines, MSIs, the clock and timers.
 */
#ifndef PARAVISOR_DEVICE_H
#define PARAVISOR_DEVICE_H

#include "paravisor/error.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Interrupt router installed by the embedder (optional).
 *
 * When set, device interrupt lines and MSIs go here instead of to the port's
 * interrupt controller: an embedder without an in-kernel irqchip (or a test)
 * decides which vCPU gets which vector.
 * @param ctx Router context.
 * @param is_msi false: line @p gsi set to @p level; true: MSI (@p address, @p data).
 * @param gsi Line number (lines only).
 * @param level New line level (lines only).
 * @param address MSI address (MSI only).
 * @param data MSI data (MSI only).
 * @return ::PV_OK or an error passed back to the device.
 */
typedef pv_err_t (*pv_irq_router_fn)(void *ctx, bool is_msi, uint32_t gsi, bool level,
				     uint64_t address, uint32_t data);

/**
 * @brief Install (or, with NULL, remove) the embedder's interrupt router.
 * @param part Partition.
 * @param fn Router.
 * @param ctx Router context.
 */
void pv_irq_set_router(struct pv_partition *part, pv_irq_router_fn fn, void *ctx);

/**
 * @brief Set the level of an interrupt line (edge devices pulse 1 then 0).
 * @param part Partition.
 * @param gsi Line number.
 * @param level New level.
 * @return ::PV_OK; ::PV_ENOTSUP when neither a router nor a port irqchip exists.
 */
pv_err_t pv_irq_set(struct pv_partition *part, uint32_t gsi, bool level);

/**
 * @brief Send a message-signalled interrupt.
 * @param part Partition.
 * @param address MSI address (0xFEExxxxx, destination APIC ID in bits 19:12).
 * @param data MSI data (vector in bits 7:0).
 * @return ::PV_OK; ::PV_ENOTSUP when neither a router nor a port irqchip exists.
 */
pv_err_t pv_msi_send(struct pv_partition *part, uint64_t address, uint32_t data);

/**
 * @brief The partition clock: the port's monotonic nanoseconds.
 * @param part Partition.
 * @return Nanoseconds.
 */
uint64_t pv_clock_ns(struct pv_partition *part);

/** @brief Opaque one-shot timer. */
struct pv_timer;

/** @brief Timer callback; runs on a port thread, never on the arming thread's stack. */
typedef void (*pv_timer_fn)(void *ctx);

/**
 * @brief Create a one-shot timer.
 * @param part Partition.
 * @param fn Callback.
 * @param ctx Callback context.
 * @param out Receives the timer.
 * @return ::PV_OK; ::PV_ENOTSUP if the port has no timers; ::PV_ENOMEM.
 */
pv_err_t pv_timer_create(struct pv_partition *part, pv_timer_fn fn, void *ctx,
			 struct pv_timer **out);

/**
 * @brief Arm a timer to fire once at an absolute pv_clock_ns() time.
 * @param timer Timer (re-arming replaces the previous deadline).
 * @param deadline_ns Deadline; a past deadline fires as soon as possible.
 * @return ::PV_OK or the port's error.
 */
pv_err_t pv_timer_arm(struct pv_timer *timer, uint64_t deadline_ns);

/**
 * @brief Cancel a timer; on return its callback is not running and will not run.
 * @param timer Timer.
 */
void pv_timer_cancel(struct pv_timer *timer);

/**
 * @brief Destroy a timer (cancelling it first). NULL is ignored.
 *
 * Timers still alive when pv_partition_destroy() runs are destroyed by it;
 * their handles are invalid afterwards.
 * @param timer Timer.
 */
void pv_timer_destroy(struct pv_timer *timer);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_DEVICE_H */
