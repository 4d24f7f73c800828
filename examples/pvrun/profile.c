/* SPDX-License-Identifier: MIT */
/* pvrun --exit-profile (see profile.h). */
#define _GNU_SOURCE
#include "profile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* MSRs are sparse: a small open-addressed table; later MSRs beyond its
 * capacity are counted as "other". */
#define PROF_MSR_SLOTS 256

struct prof_msr {
	uint32_t index;
	uint32_t used;
	uint64_t count;
};

static struct {
	double t0;
	double first_exit; /* seconds after t0; written once, by the first exit */
	int first_taken;   /* atomic: set by the exit that writes first_exit */
	uint64_t io[65536];
	struct prof_msr msr[PROF_MSR_SLOTS];
	uint64_t msr_other, mmio, other;
} prof;

static double prof_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void prof_count_msr(uint32_t index)
{
	uint32_t h = (index * 2654435761u) % PROF_MSR_SLOTS;

	for (uint32_t n = 0; n < PROF_MSR_SLOTS; n++, h = (h + 1) % PROF_MSR_SLOTS) {
		struct prof_msr *m = &prof.msr[h];
		uint32_t expected = 0;
		/* Claim a free slot once; vCPU threads may race for it. */
		if (!__atomic_load_n(&m->used, __ATOMIC_ACQUIRE) &&
		    __atomic_compare_exchange_n(&m->used, &expected, 1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_store_n(&m->index, index, __ATOMIC_RELEASE);
			__atomic_store_n(&m->used, 2, __ATOMIC_RELEASE);
		}
		while (__atomic_load_n(&m->used, __ATOMIC_ACQUIRE) == 1)
			; /* another thread is writing the index */
		if (__atomic_load_n(&m->index, __ATOMIC_ACQUIRE) == index) {
			__atomic_fetch_add(&m->count, 1, __ATOMIC_RELAXED);
			return;
		}
	}
	__atomic_fetch_add(&prof.msr_other, 1, __ATOMIC_RELAXED);
}

static bool prof_filter(void *ctx, struct pv_vcpu *vcpu, struct pv_exit *exit)
{
	(void)ctx;
	(void)vcpu;
	/* The report reads first_exit after the vCPU threads have ended. */
	if (!__atomic_load_n(&prof.first_taken, __ATOMIC_RELAXED) &&
	    !__atomic_exchange_n(&prof.first_taken, 1, __ATOMIC_ACQ_REL))
		prof.first_exit = prof_now() - prof.t0;
	switch (exit->kind) {
	case PV_EXIT_IO:
		__atomic_fetch_add(&prof.io[exit->u.io.port], 1, __ATOMIC_RELAXED);
		break;
	case PV_EXIT_MSR_READ:
	case PV_EXIT_MSR_WRITE:
		prof_count_msr(exit->u.msr.index);
		break;
	case PV_EXIT_MMIO:
		__atomic_fetch_add(&prof.mmio, 1, __ATOMIC_RELAXED);
		break;
	default:
		__atomic_fetch_add(&prof.other, 1, __ATOMIC_RELAXED);
		break;
	}
	return false; /* count only: the normal dispatch handles the exit */
}

pv_err_t pvrun_profile_install(struct pv_partition *part, double t0)
{
	prof.t0 = t0;
	prof.first_exit = 0;
	prof.first_taken = 0;
	return pv_dispatch_set_filter(part, PV_FILTER_ISOLATION, prof_filter, NULL);
}

struct prof_row {
	uint32_t key;
	uint64_t count;
};

static int prof_by_count(const void *a, const void *b)
{
	const struct prof_row *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->key < y->key ? -1 : x->key > y->key; /* ties: lowest first */
}

static void prof_print(FILE *f, const char *what, struct prof_row *rows, size_t n)
{
	qsort(rows, n, sizeof(*rows), prof_by_count);
	fprintf(f, "pvrun: exit profile: %s:", what);
	for (size_t i = 0; i < n && i < 8; i++) {
		fprintf(f, " 0x%x=%llu", rows[i].key, (unsigned long long)rows[i].count);
	}
	fprintf(f, n ? "\n" : " none\n");
}

void pvrun_profile_report(FILE *f)
{
	static struct prof_row rows[65536];
	size_t n = 0;

	if (__atomic_load_n(&prof.first_taken, __ATOMIC_ACQUIRE))
		fprintf(f, "pvrun: exit profile: first exit %.3f s after start", prof.first_exit);
	else
		fprintf(f, "pvrun: exit profile: no exit");
	fprintf(f, "; mmio %llu, other %llu\n", (unsigned long long)prof.mmio,
		(unsigned long long)prof.other);
	for (uint32_t p = 0; p < 65536; p++)
		if (prof.io[p])
			rows[n++] = (struct prof_row){p, prof.io[p]};
	prof_print(f, "I/O ports", rows, n);
	n = 0;
	for (uint32_t i = 0; i < PROF_MSR_SLOTS; i++)
		if (prof.msr[i].used == 2)
			rows[n++] = (struct prof_row){prof.msr[i].index, prof.msr[i].count};
	prof_print(f, "MSRs", rows, n);
	if (prof.msr_other)
		fprintf(f, "pvrun: exit profile: %llu MSR exits on MSRs beyond the table\n",
			(unsigned long long)prof.msr_other);
}
