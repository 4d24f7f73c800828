/* SPDX-License-Identifier: MIT */
/**
 * @file error.h
 * @brief Status codes returned by every libparavisor call.
 *
 * Functions return ::pv_err_t: zero on success, a negative @c PV_E* code on
 * failure. Codes are stable ABI; new ones are only ever appended.
 */
#ifndef PARAVISOR_ERROR_H
#define PARAVISOR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Result of a libparavisor call: ::PV_OK or a negative @c PV_E* code. */
typedef int pv_err_t;

/** @brief Success. */
#define PV_OK 0
/** @brief An argument is invalid (null pointer, bad size, bad flag). */
#define PV_EINVAL (-1)
/** @brief Out of memory. */
#define PV_ENOMEM (-2)
/** @brief Address or length outside every usable range, or arithmetic overflow. */
#define PV_ERANGE (-3)
/** @brief The access is forbidden by page state (VTL permission or visibility). */
#define PV_EACCES (-4)
/** @brief A registration overlaps an existing one, or the object already exists. */
#define PV_EEXIST (-5)
/** @brief No such object (handler, range, vCPU, MSR, channel...). */
#define PV_ENOENT (-6)
/** @brief The operation is not supported by this port, build or configuration. */
#define PV_ENOTSUP (-7)
/** @brief Resource busy, or a queue is full; try again later. */
#define PV_EBUSY (-8)
/** @brief The object is in the wrong state for this operation. */
#define PV_ESTATE (-9)
/** @brief Malformed input from the guest or the host (bad header, bad length). */
#define PV_EBADMSG (-10)
/** @brief The port (hypervisor interface) failed; details were logged. */
#define PV_EPORT (-11)
/** @brief An I/O error in a backend (file, socket, storage). */
#define PV_EIO (-12)
/** @brief A timeout expired. */
#define PV_ETIMEDOUT (-13)
/** @brief A guest physical address is not backed by RAM (MMIO, reserved or a hole). */
#define PV_EFAULT (-14)
/** @brief The caller must inject a fault into the guest (see the exit's event). */
#define PV_EFAULTINJ (-15)
/** @brief The operation was interrupted by a stop request. */
#define PV_EINTR (-16)
/** @brief A saved record has the wrong version or fails validation. */
#define PV_EVERSION (-17)

/**
 * @brief Describe a status code.
 * @param err A ::pv_err_t value (any value is accepted).
 * @return A static, NUL-terminated English string; "unknown error" for
 *         values that are not defined codes. Never NULL.
 */
const char *pv_strerror(pv_err_t err);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_ERROR_H */
