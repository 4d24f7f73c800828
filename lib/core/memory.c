/* SPDX-License-Identifier: MIT */
/*
 * Guest physical memory: the map, checked accessors and per-page state.
 *
 * Every access is checked completely before any byte moves, so a failed
 * call has no effect. Ranges are walked slot by slot, so an access may span
 * adjacent RAM ranges but never touches a hole, MMIO or reserved space.
 */
#include "internal.h"
#include "platform_internal.h"
#include "util.h"

const struct pv_mem_slot *pv_mem_find_slot(const struct pv_partition *part, uint64_t gpa)
{
	uint32_t lo = 0, hi = part->slot_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct pv_mem_slot *s = &part->slots[mid];
		if (gpa < s->base)
			hi = mid;
		else if (gpa > s->last)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

static bool accessor_valid(const struct pv_partition *part, enum pv_accessor who)
{
	if (who == PV_ACCESS_PARAVISOR || who == PV_ACCESS_HOST)
		return true;
	return (unsigned)who < part->vtl_count;
}

/* May @who access a page in state @state with permission bits @perm? */
static bool page_allows(uint16_t state, enum pv_accessor who, unsigned perm)
{
	if (who == PV_ACCESS_PARAVISOR)
		return true;
	if (who == PV_ACCESS_HOST)
		return (state & PV_PAGE_SHARED_BIT) != 0;
	unsigned have = (state >> PV_PAGE_PERM_SHIFT((unsigned)who)) & PV_PERM_RWX;
	return (have & perm) == perm;
}

/* Check [gpa, gpa+len) completely. len must be > 0. */
static pv_err_t check_range(const struct pv_partition *part, enum pv_accessor who, uint64_t gpa,
			    uint64_t len, unsigned perm)
{
	uint64_t last;
	if (!pv_range_last(gpa, len, &last))
		return PV_ERANGE;
	uint64_t addr = gpa;
	for (;;) {
		const struct pv_mem_slot *s = pv_mem_find_slot(part, addr);
		if (!s)
			return PV_ERANGE;
		if (s->kind != PV_MEM_RAM)
			return PV_EFAULT;
		uint64_t chunk_last = PV_MIN(last, s->last);
		if (who != PV_ACCESS_PARAVISOR) {
			uint64_t first_page = (addr - s->base) >> PV_PAGE_SHIFT;
			uint64_t last_page = (chunk_last - s->base) >> PV_PAGE_SHIFT;
			for (uint64_t p = first_page; p <= last_page; p++)
				if (!page_allows(s->pages[p], who, perm))
					return PV_EACCES;
		}
		if (chunk_last == last)
			return PV_OK;
		addr = chunk_last + 1;
	}
}

enum copy_dir {
	TO_GUEST,
	FROM_GUEST,
	ZERO_GUEST
};

/* Move bytes once the whole range was checked. */
static void move_bytes(const struct pv_partition *part, uint64_t gpa, uint8_t *buf, size_t len,
		       enum copy_dir dir)
{
	while (len) {
		const struct pv_mem_slot *s = pv_mem_find_slot(part, gpa);
		uint64_t avail = s->last - gpa + 1; /* >= 1, may be 2^64 only if slot spans all */
		size_t n = avail < len ? (size_t)avail : len;
		uint8_t *host = s->hva + (gpa - s->base);
		if (dir == TO_GUEST)
			pv_memcpy(host, buf, n);
		else if (dir == FROM_GUEST)
			pv_memcpy(buf, host, n);
		else
			pv_memset(host, 0, n);
		if (buf)
			buf += n;
		gpa += n;
		len -= n;
	}
}

pv_err_t pv_mem_check(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa, size_t len,
		      unsigned perm)
{
	if (!part || !accessor_valid(part, who) ||
	    (perm & ~(unsigned)(PV_PERM_READ | PV_PERM_WRITE)))
		return PV_EINVAL;
	if (len == 0)
		return PV_OK;
	return check_range(part, who, pv_gpa_val(gpa), len, perm);
}

/* Validate the arguments, check the whole range, then move the bytes:
 * the common body of pv_mem_read, pv_mem_write and pv_mem_zero. */
static pv_err_t access_bytes(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa,
			     uint8_t *buf, size_t len, enum copy_dir dir)
{
	if (!part || !accessor_valid(part, who))
		return PV_EINVAL;
	if (len == 0)
		return PV_OK;
	pv_err_t err = check_range(part, who, pv_gpa_val(gpa), len,
				   dir == FROM_GUEST ? PV_PERM_READ : PV_PERM_WRITE);
	if (err)
		return err;
	move_bytes(part, pv_gpa_val(gpa), buf, len, dir);
	return PV_OK;
}

pv_err_t pv_mem_read(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa, void *buf,
		     size_t len)
{
	if (!buf && len)
		return PV_EINVAL;
	return access_bytes(part, who, gpa, buf, len, FROM_GUEST);
}

pv_err_t pv_mem_write(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa,
		      const void *buf, size_t len)
{
	if (!buf && len)
		return PV_EINVAL;
	/* move_bytes only reads through buf for TO_GUEST. */
	return access_bytes(part, who, gpa, (uint8_t *)(uintptr_t)buf, len, TO_GUEST);
}

pv_err_t pv_mem_zero(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa, size_t len)
{
	return access_bytes(part, who, gpa, NULL, len, ZERO_GUEST);
}

pv_err_t pv_mem_copy(struct pv_partition *part, enum pv_accessor who, pv_gpa_t dst, pv_gpa_t src,
		     size_t len)
{
	if (!part || !accessor_valid(part, who))
		return PV_EINVAL;
	if (len == 0)
		return PV_OK;
	uint64_t d = pv_gpa_val(dst), s = pv_gpa_val(src);
	pv_err_t err = check_range(part, who, s, len, PV_PERM_READ);
	if (!err)
		err = check_range(part, who, d, len, PV_PERM_WRITE);
	if (err)
		return err;
	/* Bounce through a stack buffer; walk backwards when the destination
	 * overlaps the tail of the source, as memmove does. */
	uint8_t bounce[256];
	bool backwards = d > s && d - s < len;
	size_t done = 0;
	while (done < len) {
		size_t n = PV_MIN(sizeof(bounce), len - done);
		uint64_t off = backwards ? len - done - n : done;
		move_bytes(part, s + off, bounce, n, FROM_GUEST);
		move_bytes(part, d + off, bounce, n, TO_GUEST);
		done += n;
	}
	return PV_OK;
}

/* Resolve a page-aligned run of pages to RAM slots; nothing is changed. */
static pv_err_t check_pages(const struct pv_partition *part, uint64_t gpa, uint64_t npages)
{
	uint64_t len;
	if (!pv_is_aligned_u64(gpa, PV_PAGE_SIZE) || npages == 0)
		return PV_EINVAL;
	if (pv_mul_overflow_u64(npages, PV_PAGE_SIZE, &len))
		return PV_ERANGE;
	return check_range(part, PV_ACCESS_PARAVISOR, gpa, len, 0);
}

/* Apply (state & keep) | set to each page of a checked run. */
static void update_pages(struct pv_partition *part, uint64_t gpa, uint64_t npages, uint16_t keep,
			 uint16_t set)
{
	while (npages) {
		const struct pv_mem_slot *s = pv_mem_find_slot(part, gpa);
		uint64_t page = (gpa - s->base) >> PV_PAGE_SHIFT;
		uint64_t in_slot = ((s->last - s->base) >> PV_PAGE_SHIFT) + 1 - page;
		uint64_t n = PV_MIN(in_slot, npages);
		for (uint64_t i = 0; i < n; i++) {
			uint16_t *w = &s->pages[page + i];
			pv_atomic_store_relaxed(
				w, (uint16_t)((pv_atomic_load_relaxed(w) & keep) | set));
		}
		npages -= n;
		gpa += n << PV_PAGE_SHIFT;
	}
}

pv_err_t pv_mem_set_visibility(struct pv_partition *part, pv_gpa_t gpa, uint64_t npages,
			       enum pv_page_visibility vis)
{
	if (!part || (vis != PV_VIS_PRIVATE && vis != PV_VIS_SHARED))
		return PV_EINVAL;
	pv_err_t err = check_pages(part, pv_gpa_val(gpa), npages);
	if (err)
		return err;
	update_pages(part, pv_gpa_val(gpa), npages, (uint16_t)~PV_PAGE_SHARED_BIT,
		     vis == PV_VIS_SHARED ? PV_PAGE_SHARED_BIT : 0);
	return PV_OK;
}

pv_err_t pv_mem_set_perm(struct pv_partition *part, unsigned vtl, pv_gpa_t gpa, uint64_t npages,
			 unsigned perm)
{
	if (!part || vtl >= part->vtl_count || (perm & ~(unsigned)PV_PERM_RWX))
		return PV_EINVAL;
	pv_err_t err = check_pages(part, pv_gpa_val(gpa), npages);
	if (err)
		return err;
	uint16_t mask = (uint16_t)(PV_PERM_RWX << PV_PAGE_PERM_SHIFT(vtl));
	update_pages(part, pv_gpa_val(gpa), npages, (uint16_t)~mask,
		     (uint16_t)(perm << PV_PAGE_PERM_SHIFT(vtl)));
	return PV_OK;
}

pv_err_t pv_mem_get_page(struct pv_partition *part, pv_gpa_t gpa, enum pv_page_visibility *vis,
			 unsigned perms[PV_MAX_VTLS])
{
	if (!part)
		return PV_EINVAL;
	const struct pv_mem_slot *s = pv_mem_find_slot(part, pv_gpa_val(gpa));
	if (!s)
		return PV_ERANGE;
	if (s->kind != PV_MEM_RAM)
		return PV_EFAULT;
	uint16_t st =
		pv_atomic_load_relaxed(&s->pages[(pv_gpa_val(gpa) - s->base) >> PV_PAGE_SHIFT]);
	if (vis)
		*vis = (st & PV_PAGE_SHARED_BIT) ? PV_VIS_SHARED : PV_VIS_PRIVATE;
	if (perms)
		for (unsigned v = 0; v < PV_MAX_VTLS; v++)
			perms[v] = (st >> PV_PAGE_PERM_SHIFT(v)) & PV_PERM_RWX;
	return PV_OK;
}

pv_err_t pv_mem_lookup(struct pv_partition *part, pv_gpa_t gpa, struct pv_mem_range *out)
{
	if (!part || !out)
		return PV_EINVAL;
	const struct pv_mem_slot *s = pv_mem_find_slot(part, pv_gpa_val(gpa));
	if (!s)
		return PV_ENOENT;
	out->base = pv_gpa(s->base);
	out->size = s->last - s->base + 1;
	out->kind = s->kind;
	return PV_OK;
}

/* Used by the instruction emulator's LOCKed operations and by components that
 * publish values the guest may change concurrently. Other shapes than the
 * CPU's atomics (16 bytes, misaligned) take a partition lock, which only
 * serializes them against each other. */
pv_err_t pv_mem_cmpxchg(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa, unsigned len,
			void *expected, const void *desired, bool *swapped)
{
	uint64_t a = pv_gpa_val(gpa);
	if (!part || !expected || !desired || !swapped || len == 0 || len > 16 ||
	    !accessor_valid(part, who))
		return PV_EINVAL;
	pv_err_t err = check_range(part, who, a, len, PV_PERM_READ | PV_PERM_WRITE);
	if (err)
		return err;
	const struct pv_mem_slot *s = pv_mem_find_slot(part, a);
	uint8_t *host = s->hva + (a - s->base);
	bool aligned = (len & (len - 1)) == 0 && len <= 8 && (a & (len - 1)) == 0 &&
		       a + len - 1 <= s->last;
	if (aligned) {
		switch (len) {
#define PV_CAS(T)                                                                           \
	do {                                                                                \
		T exp, des;                                                                 \
		pv_memcpy(&exp, expected, sizeof(T));                                       \
		pv_memcpy(&des, desired, sizeof(T));                                        \
		*swapped = __atomic_compare_exchange_n((T *)(void *)host, &exp, des, false, \
						       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
		pv_memcpy(expected, &exp, sizeof(T));                                       \
	} while (0)
		case 1:
			PV_CAS(uint8_t);
			break;
		case 2:
			PV_CAS(uint16_t);
			break;
		case 4:
			PV_CAS(uint32_t);
			break;
		default:
			PV_CAS(uint64_t);
			break;
#undef PV_CAS
		}
		return PV_OK;
	}
	uint8_t cur[16];
	pv_lock(part, part->cmpxchg_lock);
	move_bytes(part, a, cur, len, FROM_GUEST);
	*swapped = pv_memcmp(cur, expected, len) == 0;
	if (*swapped)
		move_bytes(part, a, (uint8_t *)(uintptr_t)desired, len, TO_GUEST);
	else
		pv_memcpy(expected, cur, len);
	pv_unlock(part, part->cmpxchg_lock);
	return PV_OK;
}

pv_err_t pv_mem_ranges(struct pv_partition *part, struct pv_mem_range *out, size_t max,
		       size_t *count)
{
	if (!part || !count || (max && !out))
		return PV_EINVAL;
	for (uint32_t i = 0; i < part->slot_count && i < max; i++) {
		const struct pv_mem_slot *s = &part->slots[i];
		out[i] = (struct pv_mem_range){pv_gpa(s->base), s->last - s->base + 1, s->kind};
	}
	*count = part->slot_count;
	return PV_OK;
}
