/* SPDX-License-Identifier: MIT */
/*
 * Private layouts of the core objects. Only lib/core includes this file.
 */
#ifndef PV_CORE_INTERNAL_H
#define PV_CORE_INTERNAL_H

#include "paravisor/pv.h"

/* Per-page state word: bit 0 = shared with the host, then 3 permission bits
 * (R, W, X) per VTL starting at bit 1. A 16-bit word fits PV_MAX_VTLS = 3. */
#define PV_PAGE_SHARED_BIT 1u
#define PV_PAGE_PERM_SHIFT(vtl) (1u + 3u * (vtl))
#define PV_PAGE_DEFAULT_STATE ((uint16_t)(0x1FFu << 1)) /* private, RWX for every VTL */

/* One range of the memory map as the partition keeps it. */
struct pv_mem_slot {
	uint64_t base;
	uint64_t last; /* inclusive: no overflow at the top of the address space */
	enum pv_mem_kind kind;
	uint8_t *hva;    /* RAM only: host mapping from the port */
	uint16_t *pages; /* RAM only: one state word per page */
};

/* Handler of a registered range; the member used depends on the table. */
union pv_handler_fn {
	pv_io_fn io;
	pv_mmio_fn mmio;
	pv_msr_fn msr;
};

struct pv_range_entry {
	uint64_t first;
	uint64_t last; /* inclusive */
	union pv_handler_fn fn;
	void *ctx;
};

/* An immutable sorted snapshot of a handler table. Lookups read the current
 * snapshot without locks; writers publish a new one and retire the old one
 * to a list freed with the partition, so a reader never sees freed memory. */
struct pv_range_table {
	struct pv_range_table *retired_next;
	uint32_t count;
	/* entries[i].last, packed (it follows entries[] in the same block) so
	 * the lookup's branchless binary search touches few cache lines. */
	uint64_t *last_keys;
	struct pv_range_entry entries[];
};

struct pv_cpuid_table {
	struct pv_cpuid_table *retired_next;
	uint32_t count;
	struct pv_cpuid_entry entries[];
};

/* A registered table: the published snapshot plus the retired ones. */
struct pv_range_set {
	struct pv_range_table *current;
	struct pv_range_table *retired;
};

struct pv_filter {
	pv_exit_filter_fn fn;
	void *ctx;
};

struct pv_vcpu {
	struct pv_partition *part;
	uint32_t index;
	void *port_data;
	bool port_created;
	void *wake_event;        /* HLT waits here; inject and stop signal it */
	bool stop_requested;     /* atomic */
	uint64_t cpuid_gen_seen; /* CPUID table generation pushed to the port */
	struct pv_stats stats;   /* written only by this vCPU's thread */
};

struct pv_partition {
	const struct pv_platform *platform;
	const struct pv_port_ops *port;
	void *port_data;
	bool port_created;
	uint32_t vcpu_count;
	uint32_t vtl_count;
	enum pv_isolation_type isolation;

	uint32_t slot_count;
	struct pv_mem_slot slots[PV_MAX_MEM_RANGES]; /* sorted by base */

	struct pv_vcpu *vcpus;

	void *reg_lock; /* serializes writers of the tables below */
	struct pv_range_set io;
	struct pv_range_set mmio;
	struct pv_range_set msr;
	struct pv_cpuid_table *cpuid; /* published snapshot */
	struct pv_cpuid_table *cpuid_retired;
	uint64_t cpuid_gen;           /* bumped on every change; starts at 1 */
	bool cpuid_pushed_by_library; /* the port needs cpuid_update calls */
	struct pv_filter filters[PV_FILTER_STAGE_COUNT];

	pv_irq_router_fn irq_router;
	void *irq_router_ctx;
	void *cmpxchg_lock;      /* fallback for compare-exchanges the CPU cannot do atomically */
	struct pv_timer *timers; /* live timers, destroyed with the partition */
};

/* memory.c */
const struct pv_mem_slot *pv_mem_find_slot(const struct pv_partition *part, uint64_t gpa);

/* mmio_emulate.c */
void pv_mmio_emulate(struct pv_vcpu *vcpu, struct pv_exit *exit);

/* device.c */
void pv_timers_destroy_all(struct pv_partition *part);

/* dispatch.c */
void pv_dispatch_free_tables(struct pv_partition *part);
pv_err_t pv_cpuid_push(struct pv_vcpu *vcpu);

/* Hot path of every I/O, MMIO and MSR exit: inlined into the dispatcher. */
static inline const struct pv_range_entry *pv_range_find(const struct pv_range_table *t,
							 uint64_t key)
{
	if (!t || t->count == 0)
		return NULL;
	/* Branchless lower bound: the first entry whose last address >= key. */
	const uint64_t *k = t->last_keys;
	uint32_t base = 0, n = t->count;
	while (n > 1) {
		uint32_t half = n / 2;
		base = k[base + half] < key ? base + half : base;
		n -= half;
	}
	base += k[base] < key;
	if (base == t->count || t->entries[base].first > key)
		return NULL;
	return &t->entries[base];
}

#endif /* PV_CORE_INTERNAL_H */
