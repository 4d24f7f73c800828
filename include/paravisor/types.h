/* SPDX-License-Identifier: MIT */
/**
 * @file types.h
 * @brief Address types and small shared definitions.
 *
 * A guest physical address is a distinct type (::pv_gpa_t) so that it cannot
 * be confused with a host pointer or a plain integer by accident.
 */
#ifndef PARAVISOR_TYPES_H
#define PARAVISOR_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A guest physical address. Build with pv_gpa(), read with pv_gpa_val(). */
typedef struct pv_gpa {
	uint64_t v; /**< The raw address; prefer pv_gpa_val(). */
} pv_gpa_t;

/**
 * @brief Make a ::pv_gpa_t from a raw address.
 * @param addr Raw guest physical address.
 * @return The typed address.
 */
static inline pv_gpa_t pv_gpa(uint64_t addr)
{
	pv_gpa_t g = {addr};
	return g;
}

/**
 * @brief Raw value of a guest physical address.
 * @param gpa Typed address.
 * @return The address as an integer.
 */
static inline uint64_t pv_gpa_val(pv_gpa_t gpa)
{
	return gpa.v;
}

/** @brief Size of a guest page (4 KiB). */
#define PV_PAGE_SIZE 4096u
/** @brief log2 of ::PV_PAGE_SIZE. */
#define PV_PAGE_SHIFT 12u

/** @brief Maximum number of virtual trust levels a partition may have. */
#define PV_MAX_VTLS 3u
/** @brief Maximum number of vCPUs in a partition. */
#define PV_MAX_VCPUS 256u

/** @brief Isolation technology protecting the guest from the host. */
enum pv_isolation_type {
	PV_ISOLATION_NONE = 0, /**< No hardware isolation. */
	PV_ISOLATION_VBS,      /**< Hyper-V virtualization-based security (VTLs). */
	PV_ISOLATION_SNP,      /**< AMD SEV-SNP. */
	PV_ISOLATION_TDX       /**< Intel TDX. */
};

/** @brief Opaque partition handle. */
struct pv_partition;
/** @brief Opaque vCPU handle. */
struct pv_vcpu;

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_TYPES_H */
