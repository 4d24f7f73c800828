/* SPDX-License-Identifier: MIT */
/*
 * Small freestanding helpers shared by the device models: memory fill/copy,
 * locking through the platform table, and a bounds-checked little-endian
 * byte-record writer/reader for save/restore. Internal to lib/devices.
 */
#ifndef PV_DEVICES_DEV_COMMON_H
#define PV_DEVICES_DEV_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/error.h"
#include "paravisor/partition.h"
#include "paravisor/platform.h"

static inline void pvd_memset(void *dst, int c, size_t n)
{
	volatile uint8_t *d = dst;
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)c;
}

static inline void pvd_memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}

static inline void *pvd_alloc(struct pv_partition *part, size_t size)
{
	const struct pv_platform *p = pv_partition_platform(part);
	return p->alloc(p->ctx, size);
}

static inline void pvd_free(struct pv_partition *part, void *ptr)
{
	const struct pv_platform *p = pv_partition_platform(part);
	p->free(p->ctx, ptr);
}

static inline void *pvd_lock_create(struct pv_partition *part)
{
	const struct pv_platform *p = pv_partition_platform(part);
	return p->lock_create(p->ctx);
}

static inline void pvd_lock_destroy(struct pv_partition *part, void *lock)
{
	const struct pv_platform *p = pv_partition_platform(part);
	if (lock)
		p->lock_destroy(p->ctx, lock);
}

static inline void pvd_lock(struct pv_partition *part, void *lock)
{
	const struct pv_platform *p = pv_partition_platform(part);
	p->lock_acquire(p->ctx, lock);
}

static inline void pvd_unlock(struct pv_partition *part, void *lock)
{
	const struct pv_platform *p = pv_partition_platform(part);
	p->lock_release(p->ctx, lock);
}

/* Byte-record writer: writes are dropped once the capacity is exceeded but the
 * length keeps counting, so a caller can learn the size it needs. */
struct pvd_wr {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

static inline void pvd_put_u8(struct pvd_wr *w, uint8_t v)
{
	if (w->buf && w->len < w->cap)
		w->buf[w->len] = v;
	w->len++;
}

static inline void pvd_put_u16(struct pvd_wr *w, uint16_t v)
{
	pvd_put_u8(w, (uint8_t)v);
	pvd_put_u8(w, (uint8_t)(v >> 8));
}

static inline void pvd_put_u32(struct pvd_wr *w, uint32_t v)
{
	pvd_put_u16(w, (uint16_t)v);
	pvd_put_u16(w, (uint16_t)(v >> 16));
}

static inline void pvd_put_u64(struct pvd_wr *w, uint64_t v)
{
	pvd_put_u32(w, (uint32_t)v);
	pvd_put_u32(w, (uint32_t)(v >> 32));
}

static inline void pvd_put_bytes(struct pvd_wr *w, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pvd_put_u8(w, p[i]);
}

/* Byte-record reader: a read past the end sets @c bad and yields zeros. */
struct pvd_rd {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool bad;
};

static inline uint8_t pvd_get_u8(struct pvd_rd *r)
{
	if (r->pos >= r->len) {
		r->bad = true;
		return 0;
	}
	return r->buf[r->pos++];
}

static inline uint16_t pvd_get_u16(struct pvd_rd *r)
{
	uint16_t lo = pvd_get_u8(r);
	return (uint16_t)(lo | ((uint16_t)pvd_get_u8(r) << 8));
}

static inline uint32_t pvd_get_u32(struct pvd_rd *r)
{
	uint32_t lo = pvd_get_u16(r);
	return lo | ((uint32_t)pvd_get_u16(r) << 16);
}

static inline uint64_t pvd_get_u64(struct pvd_rd *r)
{
	uint64_t lo = pvd_get_u32(r);
	return lo | ((uint64_t)pvd_get_u32(r) << 32);
}

static inline void pvd_get_bytes(struct pvd_rd *r, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pvd_get_u8(r);
}

/* Every device record starts with: magic (4 bytes), version (u16), body
 * length (u32). */
#define PVD_REC_HDR 10u

static inline void pvd_rec_begin(struct pvd_wr *w, uint32_t magic, uint16_t version,
				 uint32_t body_len)
{
	pvd_put_u32(w, magic);
	pvd_put_u16(w, version);
	pvd_put_u32(w, body_len);
}

/* Check a record header: magic, version and that the body length matches the
 * buffer exactly. */
static inline pv_err_t pvd_rec_check(struct pvd_rd *r, uint32_t magic, uint16_t version)
{
	if (r->len < PVD_REC_HDR)
		return PV_EBADMSG;
	if (pvd_get_u32(r) != magic)
		return PV_EBADMSG;
	if (pvd_get_u16(r) != version)
		return PV_EVERSION;
	uint32_t body = pvd_get_u32(r);
	if ((size_t)body != r->len - PVD_REC_HDR)
		return PV_EBADMSG;
	return PV_OK;
}

/* Finish a save: report the size and whether it fit. */
static inline pv_err_t pvd_rec_end(const struct pvd_wr *w, size_t *out_len)
{
	if (out_len)
		*out_len = w->len;
	if (!w->buf || w->len > w->cap)
		return PV_ERANGE;
	return PV_OK;
}

#define PVD_MAGIC(a, b, c, d)                                                                      \
	((uint32_t)(uint8_t)(a) | ((uint32_t)(uint8_t)(b) << 8) | ((uint32_t)(uint8_t)(c) << 16) | \
	 ((uint32_t)(uint8_t)(d) << 24))

#endif /* PV_DEVICES_DEV_COMMON_H */
