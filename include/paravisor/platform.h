/* SPDX-License-Identifier: MIT */
/**
 * @file platform.h
 * @brief The platform table: allocation, locks, wait events and logging.
 *
 * The core never calls libc or an OS directly; everything it needs from its
 * environment comes through this table, so it can be built freestanding.
 * Hosted builds get a ready-made table from pv_platform_hosted().
 */
#ifndef PARAVISOR_PLATFORM_H
#define PARAVISOR_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Services the embedding environment provides to the library.
 *
 *  All members are mandatory unless marked optional. Every function may be
 *  called from any vCPU thread concurrently. */
struct pv_platform {
	/** Context passed to every callback below. */
	void *ctx;
	/** Allocate @p size zero-filled bytes aligned to 16; NULL on failure. */
	void *(*alloc)(void *ctx, size_t size);
	/** Free memory from @c alloc; NULL is ignored. */
	void (*free)(void *ctx, void *ptr);
	/** Create a mutual-exclusion lock; NULL on failure. */
	void *(*lock_create)(void *ctx);
	/** Destroy a lock from @c lock_create. */
	void (*lock_destroy)(void *ctx, void *lock);
	/** Acquire a lock (not recursive). */
	void (*lock_acquire)(void *ctx, void *lock);
	/** Release a lock. */
	void (*lock_release)(void *ctx, void *lock);
	/** Create an auto-reset wake-up event; NULL on failure. */
	void *(*event_create)(void *ctx);
	/** Destroy an event. */
	void (*event_destroy)(void *ctx, void *event);
	/** Wait until the event is signalled or @p timeout_ns elapses
	 *  (UINT64_MAX: forever). Returns true if signalled, and resets it. */
	bool (*event_wait)(void *ctx, void *event, uint64_t timeout_ns);
	/** Signal an event, waking one waiter (or the next one to wait). */
	void (*event_signal)(void *ctx, void *event);
	/** Optional log sink; NULL discards messages. */
	pv_log_sink_fn log;
	/** Context for @c log. */
	void *log_ctx;
	/** Messages above this level are dropped before formatting. */
	enum pv_log_level log_level;
};

/**
 * @brief The hosted (Linux userspace) platform table.
 *
 * Uses calloc/free, pthread mutexes and condition variables, and logs to
 * stderr at ::PV_LOG_WARN and above. Not available in freestanding builds.
 * @return A static table; never NULL.
 */
const struct pv_platform *pv_platform_hosted(void);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_PLATFORM_H */
