/* SPDX-License-Identifier: MIT */
/**
 * @file log.h
 * @brief Log levels and the sink callback. The library never prints directly.
 */
#ifndef PARAVISOR_LOG_H
#define PARAVISOR_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Severity of a log message (lower is more severe). */
enum pv_log_level {
	PV_LOG_ERROR = 0, /**< Something failed; an error code was returned. */
	PV_LOG_WARN,      /**< Unexpected but handled (e.g. bad guest input). */
	PV_LOG_INFO,      /**< Lifecycle events. */
	PV_LOG_DEBUG      /**< Per-exit detail; off by default. */
};

/**
 * @brief Log sink: receives one formatted, NUL-terminated message.
 * @param ctx Context pointer given with the sink.
 * @param level Severity.
 * @param subsystem Short subsystem tag, e.g. "core", "hv1", "kvm".
 * @param msg The message, without trailing newline.
 */
typedef void (*pv_log_sink_fn)(void *ctx, enum pv_log_level level, const char *subsystem,
			       const char *msg);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_LOG_H */
