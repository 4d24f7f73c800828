/* SPDX-License-Identifier: MIT */
/*
 * Short-hands for calling the partition's platform table from library code.
 */
#ifndef PV_CORE_PLATFORM_INTERNAL_H
#define PV_CORE_PLATFORM_INTERNAL_H

#include "paravisor/partition.h"
#include "paravisor/platform.h"

/* Zeroed allocation through the partition's platform; NULL on failure. */
static inline void *pv_alloc(struct pv_partition *part, size_t size)
{
	const struct pv_platform *pf = pv_partition_platform(part);
	return pf->alloc(pf->ctx, size);
}

static inline void pv_free(struct pv_partition *part, void *ptr)
{
	const struct pv_platform *pf = pv_partition_platform(part);
	if (ptr)
		pf->free(pf->ctx, ptr);
}

/* A lock object from the platform; NULL on failure. */
static inline void *pv_lock_create(struct pv_partition *part)
{
	const struct pv_platform *pf = pv_partition_platform(part);
	return pf->lock_create(pf->ctx);
}

static inline void pv_lock_destroy(struct pv_partition *part, void *lock)
{
	const struct pv_platform *pf = pv_partition_platform(part);
	if (lock)
		pf->lock_destroy(pf->ctx, lock);
}

static inline void pv_lock(struct pv_partition *part, void *lock)
{
	const struct pv_platform *pf = pv_partition_platform(part);
	pf->lock_acquire(pf->ctx, lock);
}

static inline void pv_unlock(struct pv_partition *part, void *lock)
{
	const struct pv_platform *pf = pv_partition_platform(part);
	pf->lock_release(pf->ctx, lock);
}

#endif /* PV_CORE_PLATFORM_INTERNAL_H */
