/* SPDX-License-Identifier: MIT */
/*
 * Open channels: mapping the ring GPADL, draining the guest-to-host ring into
 * device callbacks, sending packets, signalling, and bounds-checked access to
 * GPA-direct ranges and GPADLs on behalf of devices.
 *
 * Lock order: server lock -> channel in_lock -> channel out_lock -> GPADL lock.
 */
#include "vmbus/vmbus_internal.h"

/* ---- ring memory over a page list ---- */

static pv_err_t pages_access(struct vmb_ring_pages *pg, uint64_t off, void *buf, size_t len,
			     bool write)
{
	struct pv_vmbus *vmbus = pg->vmbus;
	uint8_t *p = buf;
	uint64_t end;

	if (vmb_add_overflow(off, len, &end) || end > (uint64_t)pg->npages * PV_PAGE_SIZE)
		return PV_ERANGE;
	while (len) {
		uint64_t in_page = off % PV_PAGE_SIZE;
		size_t chunk = (size_t)(PV_PAGE_SIZE - in_page);
		uint64_t gpa = pg->pfns[off / PV_PAGE_SIZE] * PV_PAGE_SIZE + in_page;
		pv_err_t e;

		if (chunk > len)
			chunk = len;
		e = write ? vmbus->ops.mem_write(vmbus->ops.ctx, gpa, p, chunk) :
			    vmbus->ops.mem_read(vmbus->ops.ctx, gpa, p, chunk);
		if (e != PV_OK)
			return e;
		p += chunk;
		off += chunk;
		len -= chunk;
	}
	return PV_OK;
}

static pv_err_t pages_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	return pages_access(ctx, off, buf, len, false);
}

static pv_err_t pages_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	return pages_access(ctx, off, (void *)(uintptr_t)buf, len, true);
}

/* ---- open / close (server lock held) ---- */

pv_err_t vmb_channel_open(struct pv_vmbus *vmbus, struct pv_vmbus_channel *chan, uint32_t gpadl_id,
			  uint32_t downstream, uint32_t target_vp, uint32_t open_id,
			  bool attach_indices)
{
	struct vmb_ring_io io;
	struct vmb_gpadl *g;
	uint64_t *pfns = NULL;
	uint8_t *pkt_buf = NULL;
	uint32_t npages = 0, i;
	pv_err_t e = PV_EINVAL;

	if (target_vp >= vmbus->vcpu_count)
		return PV_EINVAL;
	vmb_lock(vmbus, vmbus->gpadl_lock);
	g = vmb_gpadl_find(vmbus, gpadl_id);
	if (g && g->complete && g->relid == chan->relid && !g->in_use) {
		bool pages_only = true;

		for (i = 0; i < g->nranges; i++)
			if (g->ranges[i].byte_offset != 0 ||
			    g->ranges[i].byte_count != g->ranges[i].pfn_count * PV_PAGE_SIZE)
				pages_only = false;
		npages = g->npfns;
		if (pages_only && downstream >= 2 && downstream < npages &&
		    npages - downstream >= 2) {
			pfns = vmb_alloc(vmbus, sizeof(uint64_t) * npages);
			if (pfns)
				vmb_memcpy(pfns, g->pfns, sizeof(uint64_t) * npages);
			e = pfns ? PV_OK : PV_ENOMEM;
		}
	}
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	if (e != PV_OK)
		return g ? e : PV_ENOENT;

	pkt_buf = vmb_alloc(vmbus, chan->desc.max_packet + VMB_PKT_DESC_SIZE);
	if (!pkt_buf) {
		vmb_free(vmbus, pfns);
		return PV_ENOMEM;
	}
	chan->in_pages.vmbus = vmbus;
	chan->in_pages.pfns = pfns;
	chan->in_pages.npages = downstream;
	chan->out_pages.vmbus = vmbus;
	chan->out_pages.pfns = pfns + downstream;
	chan->out_pages.npages = npages - downstream;
	io.read = pages_read;
	io.write = pages_write;
	io.ctx = &chan->in_pages;
	e = vmb_ring_init(&chan->in, &io, (uint64_t)downstream * PV_PAGE_SIZE);
	io.ctx = &chan->out_pages;
	if (e == PV_OK)
		e = vmb_ring_init(&chan->out, &io, (uint64_t)(npages - downstream) * PV_PAGE_SIZE);
	if (e == PV_OK && attach_indices) {
		e = vmb_ring_attach_consumer(&chan->in);
		if (e == PV_OK)
			e = vmb_ring_attach_producer(&chan->out);
	}
	if (e == PV_OK && chan->desc.ops->open)
		e = chan->desc.ops->open(chan->desc.ctx, chan);
	if (e != PV_OK) {
		vmb_free(vmbus, pfns);
		vmb_free(vmbus, pkt_buf);
		return e;
	}
	vmb_lock(vmbus, chan->in_lock);
	vmb_lock(vmbus, chan->out_lock);
	chan->ring_pfns = pfns;
	chan->ring_npages = npages;
	chan->pkt_buf = pkt_buf;
	chan->pkt_cap = chan->desc.max_packet + VMB_PKT_DESC_SIZE;
	chan->open_id = open_id;
	chan->ring_gpadl = gpadl_id;
	chan->downstream = downstream;
	chan->target_vp = target_vp;
	chan->out_blocked = false;
	__atomic_store_n(&chan->ready, true, __ATOMIC_RELEASE);
	chan->state = VMB_CH_OPEN;
	vmb_unlock(vmbus, chan->out_lock);
	vmb_unlock(vmbus, chan->in_lock);
	vmb_lock(vmbus, vmbus->gpadl_lock);
	g->in_use = chan->relid;
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	return PV_OK;
}

void vmb_channel_close(struct pv_vmbus *vmbus, struct pv_vmbus_channel *chan)
{
	struct vmb_gpadl *g;

	vmb_lock(vmbus, chan->in_lock);
	vmb_lock(vmbus, chan->out_lock);
	__atomic_store_n(&chan->ready, false, __ATOMIC_RELEASE);
	chan->state = VMB_CH_OFFERED;
	vmb_unlock(vmbus, chan->out_lock);
	vmb_unlock(vmbus, chan->in_lock);
	if (!chan->detached && chan->desc.ops->close)
		chan->desc.ops->close(chan->desc.ctx, chan);
	vmb_lock(vmbus, vmbus->gpadl_lock);
	g = vmb_gpadl_find(vmbus, chan->ring_gpadl);
	if (g && g->in_use == chan->relid)
		g->in_use = 0;
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	vmb_free(vmbus, chan->ring_pfns);
	vmb_free(vmbus, chan->pkt_buf);
	chan->ring_pfns = NULL;
	chan->pkt_buf = NULL;
	chan->pkt_cap = 0;
}

/* ---- inbound ---- */

static void signal_guest(struct pv_vmbus_channel *chan)
{
	struct pv_vmbus *vmbus = chan->vmbus;
	pv_err_t e;

	e = vmbus->ops.signal_event(vmbus->ops.ctx, chan->target_vp, vmbus->msg_sint, chan->relid);
	if (e == PV_OK)
		vmb_count(vmbus, &vmbus->stats.signals_out);
}

/* Validate a copied packet and describe it; false if malformed. */
static bool parse_packet(struct pv_vmbus_channel *chan, uint32_t len, struct pv_vmbus_packet *pkt)
{
	const uint8_t *b = chan->pkt_buf;
	uint32_t off = vmb_get16(b + 2) * 8u;
	uint32_t i, pos, count;

	pkt->type = vmb_get16(b);
	pkt->flags = vmb_get16(b + 6);
	pkt->trans_id = vmb_get64(b + 8);
	pkt->data = b + off;
	pkt->len = len - off;
	pkt->range_count = 0;
	pkt->ranges = NULL;
	chan->pctx.chan = chan;
	chan->pctx.pkt = b;
	pkt->priv = &chan->pctx;
	if (pkt->type != PV_VMBUS_PKT_DATA_GPA_DIRECT)
		return true;
	if (off < 24)
		return false;
	count = vmb_get32(b + 20);
	if (count == 0 || count > VMB_MAX_GPA_RANGES)
		return false;
	pos = 24;
	for (i = 0; i < count; i++) {
		uint32_t bc, bo;
		uint64_t pages;

		if (off - pos < 8)
			return false;
		bc = vmb_get32(b + pos);
		bo = vmb_get32(b + pos + 4);
		pos += 8;
		if (bc == 0 || bo >= PV_PAGE_SIZE)
			return false;
		pages = ((uint64_t)bo + bc + PV_PAGE_SIZE - 1) / PV_PAGE_SIZE;
		if (pages > (off - pos) / 8)
			return false;
		chan->ranges[i].byte_count = bc;
		chan->ranges[i].byte_offset = bo;
		chan->ranges[i].pfn_count = (uint32_t)pages;
		chan->pctx.pfn_off[i] = pos;
		pos += (uint32_t)pages * 8u;
	}
	pkt->range_count = count;
	pkt->ranges = chan->ranges;
	return true;
}

/* Drain the inbound ring; in_lock held. */
void vmb_channel_drain(struct pv_vmbus_channel *chan)
{
	struct pv_vmbus *vmbus = chan->vmbus;
	unsigned batch = 0;

	while (chan->ready) {
		struct pv_vmbus_packet pkt;
		uint32_t len = 0;
		bool sig = false;
		pv_err_t e = vmb_ring_read(&chan->in, chan->pkt_buf, chan->pkt_cap, &len);

		if (e == PV_ENOENT || (e == PV_OK && ++batch % 16 == 0)) {
			bool was_empty = e == PV_ENOENT;

			if (chan->in.priv == chan->in.committed) {
				if (was_empty)
					break;
			} else if (vmb_ring_commit_read(&chan->in, &sig) == PV_OK && sig) {
				signal_guest(chan);
			}
			if (was_empty)
				continue; /* re-check after publishing the read index */
		}
		if (e == PV_ERANGE) {
			vmb_count(vmbus, &vmbus->stats.bad_packets);
			continue;
		}
		if (e != PV_OK) {
			vmb_count(vmbus, &vmbus->stats.ring_errors);
			pv_log(vmbus->cfg.part, PV_LOG_WARN, "vmbus",
			       "relid %u: inbound ring unusable (%d)", chan->relid, e);
			break;
		}
		if (!parse_packet(chan, len, &pkt)) {
			vmb_count(vmbus, &vmbus->stats.bad_packets);
			continue;
		}
		vmb_count(vmbus, &vmbus->stats.packets_in);
		chan->desc.ops->packet(chan->desc.ctx, chan, &pkt);
	}
}

/* After the guest signalled: wake a device waiting for outbound space. */
static void check_writable(struct pv_vmbus_channel *chan)
{
	struct pv_vmbus *vmbus = chan->vmbus;
	uint32_t free_bytes;
	bool wake = false;

	vmb_lock(vmbus, chan->out_lock);
	if (chan->ready && chan->out_blocked &&
	    vmb_ring_free_bytes(&chan->out, &free_bytes) == PV_OK &&
	    free_bytes > chan->out_needed) {
		vmb_ring_set_pending(&chan->out, 0);
		chan->out_blocked = false;
		wake = true;
	}
	vmb_unlock(vmbus, chan->out_lock);
	if (wake && !chan->detached && chan->desc.ops->writable)
		chan->desc.ops->writable(chan->desc.ctx, chan);
}

pv_err_t vmb_on_event(void *ctx, struct pv_vcpu *vcpu, uint32_t connection_id, uint16_t flag_number)
{
	struct pv_vmbus *vmbus = ctx;
	struct pv_vmbus_channel *chan = NULL;
	uint32_t relid = connection_id & ~VMB_CHANNEL_CONN_BASE;

	(void)vcpu;
	(void)flag_number;
	vmb_count(vmbus, &vmbus->stats.signals_in);
	vmb_lock(vmbus, vmbus->lock);
	if (relid >= 1 && relid <= VMB_MAX_RELID &&
	    connection_id == (VMB_CHANNEL_CONN_BASE | relid))
		chan = vmbus->chans[relid];
	if (!chan || chan->state != VMB_CH_OPEN) {
		vmb_unlock(vmbus, vmbus->lock);
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return PV_OK;
	}
	vmb_lock(vmbus, chan->in_lock);
	vmb_unlock(vmbus, vmbus->lock);
	vmb_channel_drain(chan);
	check_writable(chan);
	vmb_unlock(vmbus, chan->in_lock);
	return PV_OK;
}

/* ---- device API ---- */

pv_err_t pv_vmbus_channel_poll(struct pv_vmbus_channel *chan)
{
	struct pv_vmbus *vmbus;
	pv_err_t e = PV_OK;

	if (!chan)
		return PV_EINVAL;
	vmbus = chan->vmbus;
	vmb_lock(vmbus, chan->in_lock);
	vmb_channel_drain(chan);
	if (chan->ready && chan->in.broken)
		e = PV_EBADMSG;
	check_writable(chan);
	vmb_unlock(vmbus, chan->in_lock);
	return e;
}

static pv_err_t send(struct pv_vmbus_channel *chan, uint16_t type, uint16_t flags,
		     uint64_t trans_id, const void *data, uint32_t len)
{
	struct pv_vmbus *vmbus = chan->vmbus;
	struct vmb_ring_buf b = {data, len};
	uint32_t needed = 0, free_bytes;
	bool sig = false;
	pv_err_t e;

	vmb_lock(vmbus, chan->out_lock);
	if (!chan->ready) {
		vmb_unlock(vmbus, chan->out_lock);
		return PV_ESTATE;
	}
	e = vmb_ring_write(&chan->out, type, flags, trans_id, &b, 1, &sig, &needed);
	if (e == PV_EBUSY) {
		/* Ask the guest to signal when it has freed enough, then re-check
		 * in case it already did before seeing the request. */
		chan->out_blocked = true;
		chan->out_needed = needed;
		vmb_ring_set_pending(&chan->out, needed);
		vmb_fence();
		if (vmb_ring_free_bytes(&chan->out, &free_bytes) == PV_OK && free_bytes > needed) {
			e = vmb_ring_write(&chan->out, type, flags, trans_id, &b, 1, &sig, &needed);
			if (e == PV_OK) {
				chan->out_blocked = false;
				vmb_ring_set_pending(&chan->out, 0);
			}
		}
	}
	if (e == PV_OK)
		vmb_count(vmbus, &vmbus->stats.packets_out);
	else if (e == PV_EBADMSG)
		vmb_count(vmbus, &vmbus->stats.ring_errors);
	if (sig)
		signal_guest(chan);
	vmb_unlock(vmbus, chan->out_lock);
	return e;
}

pv_err_t pv_vmbus_send(struct pv_vmbus_channel *chan, uint16_t type, uint16_t flags,
		       uint64_t trans_id, const void *data, uint32_t len)
{
	if (!chan || (len && !data))
		return PV_EINVAL;
	if (type != PV_VMBUS_PKT_DATA_INBAND && type != PV_VMBUS_PKT_COMPLETION)
		return PV_EINVAL;
	return send(chan, type, flags, trans_id, data, len);
}

pv_err_t pv_vmbus_send_completion(struct pv_vmbus_channel *chan, uint64_t trans_id,
				  const void *data, uint32_t len)
{
	return pv_vmbus_send(chan, PV_VMBUS_PKT_COMPLETION, 0, trans_id, data, len);
}

static pv_err_t range_access(struct pv_vmbus_channel *chan, const struct pv_vmbus_packet *pkt,
			     uint32_t range, uint32_t offset, void *buf, uint32_t len, bool write)
{
	const struct vmb_pkt_ctx *pc;
	struct pv_vmbus *vmbus;
	uint8_t *p = buf;
	uint64_t pos, end;

	if (!chan || !pkt || (len && !buf))
		return PV_EINVAL;
	pc = pkt->priv;
	if (pc != &chan->pctx || pc->chan != chan || range >= pkt->range_count ||
	    pkt->ranges != chan->ranges)
		return PV_EINVAL;
	vmbus = chan->vmbus;
	if ((uint64_t)offset + len > chan->ranges[range].byte_count)
		return PV_ERANGE;
	pos = (uint64_t)chan->ranges[range].byte_offset + offset;
	end = pos + len;
	while (pos < end) {
		uint64_t in_page = pos % PV_PAGE_SIZE;
		uint64_t chunk = PV_PAGE_SIZE - in_page;
		uint64_t pfn = vmb_get64(pc->pkt + pc->pfn_off[range] + 8u * (pos / PV_PAGE_SIZE));
		pv_err_t e;

		if (pfn >= (1ull << 52))
			return PV_ERANGE;
		if (chunk > end - pos)
			chunk = end - pos;
		e = write ? vmbus->ops.mem_write(vmbus->ops.ctx, pfn * PV_PAGE_SIZE + in_page, p,
						 (size_t)chunk) :
			    vmbus->ops.mem_read(vmbus->ops.ctx, pfn * PV_PAGE_SIZE + in_page, p,
						(size_t)chunk);
		if (e != PV_OK)
			return e;
		p += chunk;
		pos += chunk;
	}
	return PV_OK;
}

pv_err_t pv_vmbus_packet_read_range(struct pv_vmbus_channel *chan,
				    const struct pv_vmbus_packet *pkt, uint32_t range,
				    uint32_t offset, void *buf, uint32_t len)
{
	return range_access(chan, pkt, range, offset, buf, len, false);
}

pv_err_t pv_vmbus_packet_write_range(struct pv_vmbus_channel *chan,
				     const struct pv_vmbus_packet *pkt, uint32_t range,
				     uint32_t offset, const void *buf, uint32_t len)
{
	return range_access(chan, pkt, range, offset, (void *)(uintptr_t)buf, len, true);
}

static pv_err_t gpadl_io(struct pv_vmbus_channel *chan, uint32_t id, uint64_t offset, void *buf,
			 size_t len, bool write)
{
	struct pv_vmbus *vmbus;
	struct vmb_gpadl *g;
	pv_err_t e;

	if (!chan || (len && !buf))
		return PV_EINVAL;
	vmbus = chan->vmbus;
	vmb_lock(vmbus, vmbus->gpadl_lock);
	g = vmb_gpadl_find(vmbus, id);
	if (!g || !g->complete || g->relid != chan->relid)
		e = PV_ENOENT;
	else
		e = vmb_gpadl_access(vmbus, g, offset, buf, len, write);
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	return e;
}

pv_err_t pv_vmbus_gpadl_read(struct pv_vmbus_channel *chan, uint32_t gpadl_id, uint64_t offset,
			     void *buf, size_t len)
{
	return gpadl_io(chan, gpadl_id, offset, buf, len, false);
}

pv_err_t pv_vmbus_gpadl_write(struct pv_vmbus_channel *chan, uint32_t gpadl_id, uint64_t offset,
			      const void *buf, size_t len)
{
	return gpadl_io(chan, gpadl_id, offset, (void *)(uintptr_t)buf, len, true);
}

uint32_t pv_vmbus_channel_relid(const struct pv_vmbus_channel *chan)
{
	return chan ? chan->relid : 0;
}

bool pv_vmbus_channel_is_open(const struct pv_vmbus_channel *chan)
{
	return chan && __atomic_load_n(&chan->ready, __ATOMIC_ACQUIRE);
}

struct pv_vmbus *pv_vmbus_channel_server(struct pv_vmbus_channel *chan)
{
	return chan ? chan->vmbus : NULL;
}
