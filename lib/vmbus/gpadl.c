/* SPDX-License-Identifier: MIT */
/*
 * GPADLs (guest physical address descriptor lists): the guest describes a
 * buffer as ranges of pages in a GPADL_HEADER message and as many GPADL_BODY
 * messages as the page numbers need. The raw range bytes are collected, then
 * parsed and validated once complete; only then is GPADL_CREATED sent with
 * status 0. The list is protected by the GPADL leaf lock; the handlers below
 * run under the server lock as well.
 */
#include "vmbus/vmbus_internal.h"

/* GPA bits: page numbers above this would overflow a 64-bit address. */
#define VMB_MAX_PFN ((1ull << 52) - 1)

struct vmb_gpadl *vmb_gpadl_find(struct pv_vmbus *vmbus, uint32_t id)
{
	struct vmb_gpadl *g;

	for (g = vmbus->gpadls; g; g = g->next)
		if (g->id == id)
			return g;
	return NULL;
}

void vmb_gpadl_destroy(struct pv_vmbus *vmbus, struct vmb_gpadl *g)
{
	vmb_free(vmbus, g->raw);
	vmb_free(vmbus, g->ranges);
	vmb_free(vmbus, g->pfns);
	vmb_free(vmbus, g);
}

/* Unlink and free; caller holds the server lock. */
static void gpadl_remove(struct pv_vmbus *vmbus, struct vmb_gpadl *g)
{
	struct vmb_gpadl **pp;

	vmb_lock(vmbus, vmbus->gpadl_lock);
	for (pp = &vmbus->gpadls; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	vmbus->ngpadls--;
	if (g->complete)
		vmbus->gpadl_pages -= g->npfns;
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	vmb_gpadl_destroy(vmbus, g);
}

pv_err_t vmb_gpadl_insert(struct pv_vmbus *vmbus, struct vmb_gpadl *g)
{
	vmb_lock(vmbus, vmbus->gpadl_lock);
	if (vmbus->ngpadls >= VMB_MAX_GPADLS || vmb_gpadl_find(vmbus, g->id)) {
		vmb_unlock(vmbus, vmbus->gpadl_lock);
		return PV_EBUSY;
	}
	g->next = vmbus->gpadls;
	vmbus->gpadls = g;
	vmbus->ngpadls++;
	if (g->complete)
		vmbus->gpadl_pages += g->npfns;
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	return PV_OK;
}

void vmb_gpadl_free_relid(struct pv_vmbus *vmbus, uint32_t relid)
{
	struct vmb_gpadl *g = vmbus->gpadls, *next;

	for (; g; g = next) {
		next = g->next;
		if (g->relid == relid)
			gpadl_remove(vmbus, g);
	}
}

void vmb_gpadl_free_all(struct pv_vmbus *vmbus)
{
	while (vmbus->gpadls)
		gpadl_remove(vmbus, vmbus->gpadls);
}

/* Parse the collected range bytes into ranges and a flat PFN array. */
pv_err_t vmb_gpadl_finish(struct pv_vmbus *vmbus, struct vmb_gpadl *g)
{
	uint32_t pos = 0, i, npfns = 0, pass;
	uint64_t total = 0;

	/* Pass 0 validates and counts; pass 1 fills the arrays. */
	for (pass = 0; pass < 2; pass++) {
		pos = 0;
		npfns = 0;
		total = 0;
		for (i = 0; i < g->rangecount; i++) {
			uint32_t count, offset, j;
			uint64_t pages;

			if (g->range_buflen - pos < 8)
				return PV_EBADMSG;
			count = vmb_get32(g->raw + pos);
			offset = vmb_get32(g->raw + pos + 4);
			pos += 8;
			if (count == 0 || offset >= PV_PAGE_SIZE)
				return PV_EBADMSG;
			pages = ((uint64_t)offset + count + PV_PAGE_SIZE - 1) / PV_PAGE_SIZE;
			if (pages > (uint64_t)(g->range_buflen - pos) / 8)
				return PV_EBADMSG;
			if (pass == 1) {
				g->ranges[i].byte_count = count;
				g->ranges[i].byte_offset = offset;
				g->ranges[i].pfn_count = (uint32_t)pages;
				g->ranges[i].pfn_index = npfns;
			}
			for (j = 0; j < pages; j++) {
				uint64_t pfn = vmb_get64(g->raw + pos + 8u * j);

				if (pfn > VMB_MAX_PFN)
					return PV_EBADMSG;
				if (pass == 1)
					g->pfns[npfns + j] = pfn;
			}
			pos += (uint32_t)pages * 8u;
			npfns += (uint32_t)pages;
			total += count;
		}
		if (pos != g->range_buflen)
			return PV_EBADMSG;
		if (pass == 0) {
			if (vmbus->gpadl_pages + npfns > vmbus->cfg.max_gpadl_pages)
				return PV_ENOMEM;
			g->ranges = vmb_alloc(vmbus, sizeof(*g->ranges) * g->rangecount);
			g->pfns = vmb_alloc(vmbus, sizeof(uint64_t) * npfns);
			if (!g->ranges || !g->pfns)
				return PV_ENOMEM;
		}
	}
	g->nranges = g->rangecount;
	g->npfns = npfns;
	g->total_bytes = total;
	vmb_free(vmbus, g->raw);
	g->raw = NULL;
	return PV_OK;
}

static void send_created(struct pv_vmbus *vmbus, uint32_t relid, uint32_t id, uint32_t status)
{
	vmb_post_relid_status(vmbus, VMB_MSG_GPADL_CREATED, relid, id, status, 20);
}

/* All range bytes are in: validate, mark complete and answer. */
static void complete(struct pv_vmbus *vmbus, struct vmb_gpadl *g)
{
	pv_err_t e = vmb_gpadl_finish(vmbus, g);
	uint32_t relid = g->relid, id = g->id;

	if (e != PV_OK) {
		vmb_count(vmbus, &vmbus->stats.malformed);
		gpadl_remove(vmbus, g);
		send_created(vmbus, relid, id, VMB_STATUS_FAIL);
		return;
	}
	vmb_lock(vmbus, vmbus->gpadl_lock);
	g->complete = true;
	vmbus->gpadl_pages += g->npfns;
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	send_created(vmbus, relid, id, 0);
}

void vmb_gpadl_handle_header(struct pv_vmbus *vmbus, const uint8_t *msg, uint32_t size)
{
	uint32_t relid = vmb_get32(msg + 8);
	uint32_t id = vmb_get32(msg + 12);
	uint16_t buflen = vmb_get16(msg + 16);
	uint16_t rangecount = vmb_get16(msg + 18);
	uint32_t bytes = size - VMB_SZ_GPADL_HEADER;
	struct pv_vmbus_channel *chan = NULL;
	struct vmb_gpadl *g;

	if (relid >= 1 && relid <= VMB_MAX_RELID)
		chan = vmbus->chans[relid];
	vmb_lock(vmbus, vmbus->gpadl_lock);
	g = vmb_gpadl_find(vmbus, id);
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	if (g) {
		/* Duplicate ID: answering would confuse the owner of the first one. */
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	if (!chan || chan->state == VMB_CH_PENDING || chan->state == VMB_CH_RESCINDED) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		send_created(vmbus, relid, id, VMB_STATUS_FAIL);
		return;
	}
	if (rangecount == 0 || buflen % 8 != 0 || buflen < 16u * rangecount || bytes % 8 != 0 ||
	    bytes > buflen || bytes == 0) {
		vmb_count(vmbus, &vmbus->stats.malformed);
		send_created(vmbus, relid, id, VMB_STATUS_FAIL);
		return;
	}
	/* Bound the memory a guest can pin with GPADLs it never completes. */
	{
		struct vmb_gpadl *p;
		uint32_t pending = 0;

		for (p = vmbus->gpadls; p; p = p->next)
			pending += !p->complete;
		if (pending >= VMB_MAX_PENDING_GPADLS) {
			vmb_count(vmbus, &vmbus->stats.unexpected);
			send_created(vmbus, relid, id, VMB_STATUS_FAIL);
			return;
		}
	}
	g = vmb_alloc(vmbus, sizeof(*g));
	if (g)
		g->raw = vmb_alloc(vmbus, buflen);
	if (!g || !g->raw) {
		vmb_free(vmbus, g);
		send_created(vmbus, relid, id, VMB_STATUS_FAIL);
		return;
	}
	g->id = id;
	g->relid = relid;
	g->range_buflen = buflen;
	g->rangecount = rangecount;
	g->received = bytes;
	vmb_memcpy(g->raw, msg + VMB_SZ_GPADL_HEADER, bytes);
	if (vmb_gpadl_insert(vmbus, g) != PV_OK) {
		vmb_gpadl_destroy(vmbus, g);
		send_created(vmbus, relid, id, VMB_STATUS_FAIL);
		return;
	}
	if (g->received == g->range_buflen)
		complete(vmbus, g);
}

void vmb_gpadl_handle_body(struct pv_vmbus *vmbus, const uint8_t *msg, uint32_t size)
{
	uint32_t id = vmb_get32(msg + 12);
	uint32_t bytes = size - VMB_SZ_GPADL_BODY;
	struct vmb_gpadl *g;

	vmb_lock(vmbus, vmbus->gpadl_lock);
	g = vmb_gpadl_find(vmbus, id);
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	if (!g || g->complete) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	if (bytes == 0 || bytes % 8 != 0 || bytes > (uint32_t)g->range_buflen - g->received) {
		uint32_t relid = g->relid;

		vmb_count(vmbus, &vmbus->stats.malformed);
		gpadl_remove(vmbus, g);
		send_created(vmbus, relid, id, VMB_STATUS_FAIL);
		return;
	}
	vmb_memcpy(g->raw + g->received, msg + VMB_SZ_GPADL_BODY, bytes);
	g->received += bytes;
	if (g->received == g->range_buflen)
		complete(vmbus, g);
}

void vmb_gpadl_handle_teardown(struct pv_vmbus *vmbus, const uint8_t *msg, uint32_t size)
{
	uint32_t relid = vmb_get32(msg + 8);
	uint32_t id = vmb_get32(msg + 12);
	struct vmb_gpadl *g;
	uint8_t m[12];

	(void)size;
	vmb_lock(vmbus, vmbus->gpadl_lock);
	g = vmb_gpadl_find(vmbus, id);
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	if (!g || g->relid != relid || g->in_use) {
		/* Unknown, someone else's, or still the ring of an open channel. */
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	gpadl_remove(vmbus, g);
	vmb_memset(m, 0, sizeof(m));
	vmb_put32(m, VMB_MSG_GPADL_TORNDOWN);
	vmb_put32(m + 8, id);
	vmb_post(vmbus, m, sizeof(m));
}

pv_err_t vmb_gpadl_access(struct pv_vmbus *vmbus, const struct vmb_gpadl *g, uint64_t offset,
			  void *buf, size_t len, bool write)
{
	uint64_t end, start = 0;
	uint8_t *p = buf;
	uint32_t i;

	if (vmb_add_overflow(offset, len, &end) || end > g->total_bytes)
		return PV_ERANGE;
	for (i = 0; i < g->nranges && len; i++) {
		const struct vmb_gpadl_range *r = &g->ranges[i];
		uint64_t pos;

		if (offset >= start + r->byte_count) {
			start += r->byte_count;
			continue;
		}
		pos = r->byte_offset + (offset - start);
		while (len && pos < (uint64_t)r->byte_offset + r->byte_count) {
			uint64_t in_page = pos % PV_PAGE_SIZE;
			uint64_t chunk = PV_PAGE_SIZE - in_page;
			uint64_t left = (uint64_t)r->byte_offset + r->byte_count - pos;
			uint64_t gpa =
				g->pfns[r->pfn_index + pos / PV_PAGE_SIZE] * PV_PAGE_SIZE + in_page;
			pv_err_t e;

			if (chunk > left)
				chunk = left;
			if (chunk > len)
				chunk = len;
			e = write ? vmbus->ops.mem_write(vmbus->ops.ctx, gpa, p, (size_t)chunk) :
				    vmbus->ops.mem_read(vmbus->ops.ctx, gpa, p, (size_t)chunk);
			if (e != PV_OK)
				return e;
			p += chunk;
			len -= (size_t)chunk;
			pos += chunk;
			offset += chunk;
		}
		start += r->byte_count;
	}
	return PV_OK;
}
