/* SPDX-License-Identifier: MIT */
/* One-blob in-memory vTPM storage for programs that need a TPM for one run
 * (fuzz_crb, the devices TMK runner, bench_vtpm): keeps the permanent state in
 * a malloc'd copy, accepts and drops every other blob, never touches a disk. */
#ifndef PV_TEST_VTPM_MEMSTORE_H
#define PV_TEST_VTPM_MEMSTORE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "paravisor/vtpm.h"

struct vtpm_memstore {
	uint8_t *blob; /* the permanent state, or NULL before the first store */
	size_t len;
};

static inline pv_err_t vtpm_memstore_load(void *ctx, const char *name, uint8_t *buf, size_t cap,
					  size_t *len)
{
	struct vtpm_memstore *m = ctx;
	if (strcmp(name, PV_VTPM_STATE_PERMANENT) || !m->blob)
		return PV_ENOENT;
	*len = m->len;
	if (!buf || cap < m->len)
		return PV_ERANGE;
	memcpy(buf, m->blob, m->len);
	return PV_OK;
}

static inline pv_err_t vtpm_memstore_store(void *ctx, const char *name, const uint8_t *data,
					   size_t len)
{
	struct vtpm_memstore *m = ctx;
	if (strcmp(name, PV_VTPM_STATE_PERMANENT))
		return PV_OK;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return PV_ENOMEM;
	memcpy(copy, data, len);
	free(m->blob);
	m->blob = copy;
	m->len = len;
	return PV_OK;
}

static inline pv_err_t vtpm_memstore_remove(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return PV_OK;
}

/* Point the vTPM's storage callbacks at @m. */
static inline void vtpm_memstore_attach(struct vtpm_memstore *m, struct pv_vtpm_storage *s)
{
	s->ctx = m;
	s->load = vtpm_memstore_load;
	s->store = vtpm_memstore_store;
	s->remove = vtpm_memstore_remove;
}

static inline void vtpm_memstore_free(struct vtpm_memstore *m)
{
	free(m->blob);
	m->blob = NULL;
	m->len = 0;
}

#endif /* PV_TEST_VTPM_MEMSTORE_H */
