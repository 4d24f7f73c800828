/* SPDX-License-Identifier: MIT */
/*
 * Save/restore of the VMBus server: connection state, channels (by instance
 * GUID, with their relid, state and ring positions) and GPADLs (in their
 * wire form, so a restore re-validates them exactly like a guest message).
 *
 * Record (little-endian):
 *   header  0 magic "PVVB", 4 version, 8 total length, 12 state,
 *           16 protocol version, 20 target VP, 24 message SINT,
 *           28 channel count, 32 GPADL count, 36 reserved
 *   channel 0 instance GUID, 16 relid, 20 state, 24 open id, 28 ring GPADL,
 *           32 downstream offset, 36 target VP, 40 inbound read index,
 *           44 outbound write index, 48 flags (b0 rescinded, b1 out blocked),
 *           52 bytes the blocked sender needs, 56 reserved
 *   GPADL   0 id, 4 relid, 8 flags (b0 complete), 12 range_buflen,
 *           14 rangecount, 16 bytes received, 20 reserved, 24 raw range
 *           bytes padded to 8
 */
#include "vmbus/vmbus_internal.h"

#define SAVE_MAGIC 0x42565650u /* "PVVB" */
#define SAVE_VERSION 1u
#define SAVE_HDR 40u
#define SAVE_CHAN 64u
#define SAVE_GPADL_HDR 24u
#define CHF_RESCINDED 1u
#define CHF_OUT_BLOCKED 2u

struct writer {
	uint8_t *buf;
	size_t cap, len;
};

static uint8_t *reserve(struct writer *w, size_t n)
{
	uint8_t *p = NULL;

	if (w->buf && w->cap >= w->len && w->cap - w->len >= n)
		p = w->buf + w->len;
	w->len += n;
	return p;
}

/* Rebuild the wire form of a complete GPADL's ranges. */
static void gpadl_raw(const struct vmb_gpadl *g, uint8_t *p)
{
	uint32_t i, j, pos = 0;

	for (i = 0; i < g->nranges; i++) {
		const struct vmb_gpadl_range *r = &g->ranges[i];

		vmb_put32(p + pos, r->byte_count);
		vmb_put32(p + pos + 4, r->byte_offset);
		pos += 8;
		for (j = 0; j < r->pfn_count; j++, pos += 8)
			vmb_put64(p + pos, g->pfns[r->pfn_index + j]);
	}
}

static void save_gpadl(struct writer *w, const struct vmb_gpadl *g)
{
	uint32_t raw = g->complete ? 8u * g->nranges + 8u * g->npfns : g->received;
	uint32_t padded = (raw + 7) & ~7u;
	uint8_t *p = reserve(w, SAVE_GPADL_HDR + padded);

	if (!p)
		return;
	vmb_memset(p, 0, SAVE_GPADL_HDR + padded);
	vmb_put32(p, g->id);
	vmb_put32(p + 4, g->relid);
	vmb_put32(p + 8, g->complete ? 1 : 0);
	vmb_put16(p + 12, g->complete ? (uint16_t)raw : g->range_buflen);
	vmb_put16(p + 14, g->complete ? (uint16_t)g->nranges : g->rangecount);
	vmb_put32(p + 16, raw);
	if (g->complete)
		gpadl_raw(g, p + SAVE_GPADL_HDR);
	else
		vmb_memcpy(p + SAVE_GPADL_HDR, g->raw, raw);
}

static void save_chan(struct writer *w, struct pv_vmbus_channel *c)
{
	uint8_t *p = reserve(w, SAVE_CHAN);

	if (!p)
		return;
	vmb_memset(p, 0, SAVE_CHAN);
	vmb_memcpy(p, c->desc.instance_id.b, 16);
	vmb_put32(p + 16, c->relid);
	vmb_put32(p + 20, c->state);
	vmb_put32(p + 48,
		  (c->detached ? CHF_RESCINDED : 0) | (c->out_blocked ? CHF_OUT_BLOCKED : 0));
	if (c->state != VMB_CH_OPEN)
		return;
	vmb_lock(c->vmbus, c->in_lock);
	vmb_lock(c->vmbus, c->out_lock);
	vmb_put32(p + 24, c->open_id);
	vmb_put32(p + 28, c->ring_gpadl);
	vmb_put32(p + 32, c->downstream);
	vmb_put32(p + 36, c->target_vp);
	vmb_put32(p + 40, c->in.committed);
	vmb_put32(p + 44, c->out.priv);
	vmb_put32(p + 52, c->out_needed);
	vmb_unlock(c->vmbus, c->out_lock);
	vmb_unlock(c->vmbus, c->in_lock);
}

pv_err_t pv_vmbus_save(struct pv_vmbus *vmbus, void *buf, size_t cap, size_t *len)
{
	struct writer w = {buf, cap, 0};
	struct vmb_gpadl *g;
	uint32_t relid, nchan = 0;
	uint8_t *h;

	if (!vmbus || !len || (cap && !buf))
		return PV_EINVAL;
	vmb_lock(vmbus, vmbus->lock);
	h = reserve(&w, SAVE_HDR);
	for (relid = 1; relid <= VMB_MAX_RELID; relid++) {
		if (vmbus->chans[relid]) {
			save_chan(&w, vmbus->chans[relid]);
			nchan++;
		}
	}
	vmb_lock(vmbus, vmbus->gpadl_lock);
	for (g = vmbus->gpadls; g; g = g->next)
		save_gpadl(&w, g);
	if (h) {
		vmb_memset(h, 0, SAVE_HDR);
		vmb_put32(h, SAVE_MAGIC);
		vmb_put32(h + 4, SAVE_VERSION);
		vmb_put32(h + 8, (uint32_t)w.len);
		vmb_put32(h + 12, vmbus->state);
		vmb_put32(h + 16, vmbus->version);
		vmb_put32(h + 20, vmbus->target_vp);
		h[24] = vmbus->msg_sint;
		vmb_put32(h + 28, nchan);
		vmb_put32(h + 32, vmbus->ngpadls);
	}
	vmb_unlock(vmbus, vmbus->gpadl_lock);
	vmb_unlock(vmbus, vmbus->lock);
	*len = w.len;
	return w.len <= cap ? PV_OK : PV_ERANGE;
}

/* ---- restore ---- */

static struct pv_vmbus_channel *new_detached(struct pv_vmbus *vmbus, uint32_t relid)
{
	struct pv_vmbus_channel *c = vmb_alloc(vmbus, sizeof(*c));

	if (!c)
		return NULL;
	c->vmbus = vmbus;
	c->relid = relid;
	c->conn_id = VMB_CHANNEL_CONN_BASE | relid;
	c->detached = true;
	c->state = VMB_CH_RESCINDED;
	c->in_lock = vmbus->plat->lock_create(vmbus->plat->ctx);
	c->out_lock = vmbus->plat->lock_create(vmbus->plat->ctx);
	if (!c->in_lock || !c->out_lock ||
	    vmbus->ops.register_event_handler(vmbus->ops.ctx, c->conn_id, vmb_on_event, vmbus) !=
		    PV_OK) {
		if (c->in_lock)
			vmbus->plat->lock_destroy(vmbus->plat->ctx, c->in_lock);
		if (c->out_lock)
			vmbus->plat->lock_destroy(vmbus->plat->ctx, c->out_lock);
		vmb_free(vmbus, c);
		return NULL;
	}
	return c;
}

static bool version_ok(uint32_t v)
{
	return v == PV_VMBUS_VERSION_WIN8 || v == PV_VMBUS_VERSION_WIN8_1 ||
	       v == PV_VMBUS_VERSION_WIN10 || v == PV_VMBUS_VERSION_4_1 ||
	       (v >= PV_VMBUS_VERSION_5_0 && v <= PV_VMBUS_VERSION_5_3);
}

pv_err_t pv_vmbus_restore(struct pv_vmbus *vmbus, const void *buf, size_t len)
{
	struct pv_vmbus_channel *live[VMB_MAX_RELID + 1];
	const uint8_t *b = buf;
	uint32_t nchan, ngpadl, i, relid, nlive = 0, nresc;
	size_t pos;
	pv_err_t e;

	if (!vmbus || !buf)
		return PV_EINVAL;
	vmb_lock(vmbus, vmbus->lock);
	if (vmbus->state != PV_VMBUS_DISCONNECTED || vmbus->gpadls) {
		vmb_unlock(vmbus, vmbus->lock);
		return PV_ESTATE;
	}
	for (relid = 1; relid <= VMB_MAX_RELID; relid++) {
		struct pv_vmbus_channel *c = vmbus->chans[relid];

		if (c && (c->detached || c->state != VMB_CH_PENDING)) {
			vmb_unlock(vmbus, vmbus->lock);
			return PV_ESTATE;
		}
		if (c)
			live[nlive++] = c;
	}
	e = PV_EVERSION;
	if (len < SAVE_HDR || len > 0xffffffffu)
		goto out;
	{
		uint32_t total = vmb_get32(b + 8), state = vmb_get32(b + 12);
		bool seen[VMB_MAX_RELID + 1];

		nchan = vmb_get32(b + 28);
		ngpadl = vmb_get32(b + 32);
		if (vmb_get32(b) != SAVE_MAGIC || vmb_get32(b + 4) != SAVE_VERSION ||
		    total != len || state > PV_VMBUS_OFFERS_SENT || nchan > VMB_MAX_RELID ||
		    ngpadl > VMB_MAX_GPADLS || (size_t)nchan * SAVE_CHAN > len - SAVE_HDR)
			goto out;
		if (state != PV_VMBUS_DISCONNECTED &&
		    (!version_ok(vmb_get32(b + 16)) || vmb_get32(b + 20) >= vmbus->vcpu_count ||
		     b[24] >= PV_HV1_SINT_COUNT))
			goto out;
		vmb_memset(seen, 0, sizeof(seen));
		nresc = 0;
		for (i = 0; i < nchan; i++) {
			const uint8_t *c = b + SAVE_HDR + (size_t)i * SAVE_CHAN;
			uint32_t cstate = vmb_get32(c + 20), flags = vmb_get32(c + 48);
			uint32_t j;

			relid = vmb_get32(c + 16);
			if (relid == 0 || relid > VMB_MAX_RELID || seen[relid] ||
			    cstate > VMB_CH_RESCINDED ||
			    ((flags & CHF_RESCINDED) != 0) != (cstate == VMB_CH_RESCINDED) ||
			    (state != PV_VMBUS_OFFERS_SENT && cstate != VMB_CH_PENDING))
				goto out;
			seen[relid] = true;
			if (cstate == VMB_CH_RESCINDED) {
				nresc++;
				continue;
			}
			for (j = 0; j < nlive; j++)
				if (vmb_memeq(live[j]->desc.instance_id.b, c, 16))
					break;
			if (j == nlive) {
				e = PV_ENOENT;
				goto out;
			}
		}
		if (nresc + nlive > VMB_MAX_RELID)
			goto out;
		vmbus->state = (enum pv_vmbus_state)state;
		vmbus->version = state ? vmb_get32(b + 16) : 0;
		vmbus->target_vp = state ? vmb_get32(b + 20) : 0;
		vmbus->msg_sint = state ? b[24] : VMB_DEFAULT_SINT;
	}

	/* Channels: saved relids first, then any device the record does not know. */
	for (i = 0; i < nlive; i++) {
		vmbus->ops.unregister_event_handler(vmbus->ops.ctx, live[i]->conn_id);
		vmbus->chans[live[i]->relid] = NULL;
		live[i]->relid = 0;
	}
	e = PV_OK;
	for (i = 0; i < nchan && e == PV_OK; i++) {
		const uint8_t *c = b + SAVE_HDR + (size_t)i * SAVE_CHAN;
		struct pv_vmbus_channel *ch = NULL;
		uint32_t j;

		relid = vmb_get32(c + 16);
		if (vmb_get32(c + 20) == VMB_CH_RESCINDED) {
			ch = new_detached(vmbus, relid);
			if (!ch)
				e = PV_ENOMEM;
			else
				vmbus->chans[relid] = ch;
			continue;
		}
		for (j = 0; j < nlive; j++)
			if (live[j]->relid == 0 && vmb_memeq(live[j]->desc.instance_id.b, c, 16))
				ch = live[j];
		if (!ch) {
			e = PV_EVERSION; /* same GUID saved twice */
			break;
		}
		ch->relid = relid;
		ch->conn_id = VMB_CHANNEL_CONN_BASE | relid;
		ch->state = vmb_get32(c + 20) == VMB_CH_PENDING ? VMB_CH_PENDING : VMB_CH_OFFERED;
		vmbus->chans[relid] = ch;
	}
	for (i = 0; i < nlive; i++) {
		struct pv_vmbus_channel *ch = live[i];

		if (ch->relid == 0) {
			for (relid = 1; relid <= VMB_MAX_RELID && vmbus->chans[relid]; relid++)
				;
			if (relid > VMB_MAX_RELID) {
				e = PV_EBUSY;
				relid = 0;
			}
			ch->relid = relid;
			ch->conn_id = VMB_CHANNEL_CONN_BASE | relid;
			ch->state = VMB_CH_PENDING;
			if (relid)
				vmbus->chans[relid] = ch;
		}
		if (ch->relid &&
		    vmbus->ops.register_event_handler(vmbus->ops.ctx, ch->conn_id, vmb_on_event,
						      vmbus) != PV_OK &&
		    e == PV_OK)
			e = PV_ENOMEM;
	}
	if (e != PV_OK)
		goto out;

	/* GPADLs, validated like guest messages. */
	pos = SAVE_HDR + (size_t)nchan * SAVE_CHAN;
	for (i = 0; i < ngpadl; i++) {
		struct vmb_gpadl *g;
		uint32_t raw, padded, flags;
		struct pv_vmbus_channel *ch;

		e = PV_EVERSION;
		if (len - pos < SAVE_GPADL_HDR)
			goto out;
		raw = vmb_get32(b + pos + 16);
		flags = vmb_get32(b + pos + 8);
		padded = (raw + 7) & ~7u;
		relid = vmb_get32(b + pos + 4);
		ch = relid >= 1 && relid <= VMB_MAX_RELID ? vmbus->chans[relid] : NULL;
		if (raw > 0xffff || padded > len - pos - SAVE_GPADL_HDR || flags > 1 || !ch ||
		    ch->state == VMB_CH_PENDING || raw > vmb_get16(b + pos + 12) ||
		    vmb_get16(b + pos + 14) == 0 || raw == 0)
			goto out;
		g = vmb_alloc(vmbus, sizeof(*g));
		if (g)
			g->raw = vmb_alloc(vmbus, vmb_get16(b + pos + 12));
		if (!g || !g->raw) {
			vmb_free(vmbus, g);
			e = PV_ENOMEM;
			goto out;
		}
		g->id = vmb_get32(b + pos);
		g->relid = relid;
		g->range_buflen = vmb_get16(b + pos + 12);
		g->rangecount = vmb_get16(b + pos + 14);
		g->received = raw;
		vmb_memcpy(g->raw, b + pos + SAVE_GPADL_HDR, raw);
		e = PV_OK;
		if (flags & 1) {
			e = raw == g->range_buflen ? vmb_gpadl_finish(vmbus, g) : PV_EVERSION;
			g->complete = e == PV_OK;
		}
		if (e == PV_OK)
			e = vmb_gpadl_insert(vmbus, g);
		if (e != PV_OK) {
			vmb_gpadl_destroy(vmbus, g);
			e = e == PV_ENOMEM ? e : PV_EVERSION;
			goto out;
		}
		pos += SAVE_GPADL_HDR + padded;
	}
	e = pos == len ? PV_OK : PV_EVERSION;
	if (e != PV_OK)
		goto out;

	/* Open channels: map rings at the saved positions. */
	for (i = 0; i < nchan; i++) {
		const uint8_t *c = b + SAVE_HDR + (size_t)i * SAVE_CHAN;
		struct pv_vmbus_channel *ch = vmbus->chans[vmb_get32(c + 16)];
		uint32_t rd = vmb_get32(c + 40), wr = vmb_get32(c + 44);

		if (vmb_get32(c + 20) != VMB_CH_OPEN)
			continue;
		e = vmb_channel_open(vmbus, ch, vmb_get32(c + 28), vmb_get32(c + 32),
				     vmb_get32(c + 36), vmb_get32(c + 24), false);
		if (e != PV_OK) {
			e = PV_EVERSION;
			goto out;
		}
		vmb_lock(vmbus, ch->in_lock);
		vmb_lock(vmbus, ch->out_lock);
		if (rd % 8 || rd >= ch->in.data_size || wr % 8 || wr >= ch->out.data_size ||
		    vmb_get32(c + 52) > ch->out.data_size)
			e = PV_EVERSION;
		ch->in.priv = ch->in.committed = rd;
		ch->out.priv = wr;
		ch->out_blocked = (vmb_get32(c + 48) & CHF_OUT_BLOCKED) != 0;
		ch->out_needed = vmb_get32(c + 52);
		vmb_unlock(vmbus, ch->out_lock);
		vmb_unlock(vmbus, ch->in_lock);
		if (e != PV_OK)
			goto out;
	}
	/* Devices the record did not know are offered now, as a hot add. */
	if (vmbus->state == PV_VMBUS_OFFERS_SENT)
		for (relid = 1; relid <= VMB_MAX_RELID; relid++)
			if (vmbus->chans[relid] && !vmbus->chans[relid]->detached &&
			    vmbus->chans[relid]->state == VMB_CH_PENDING)
				vmb_send_offer(vmbus, vmbus->chans[relid]);
	for (relid = 1; relid <= VMB_MAX_RELID; relid++) {
		struct pv_vmbus_channel *ch = vmbus->chans[relid];

		if (ch && ch->state == VMB_CH_OPEN && ch->desc.ops->opened)
			ch->desc.ops->opened(ch->desc.ctx, ch);
	}
	vmb_unlock(vmbus, vmbus->lock);
	return PV_OK;

out:
	vmb_reset_connection(vmbus);
	vmb_unlock(vmbus, vmbus->lock);
	return e;
}
