/* SPDX-License-Identifier: MIT */
/* Save/restore of the hv1 state as a versioned, self-describing record.
 *
 * Layout (little-endian):
 *   header (32): u32 magic "PVH1", u16 version, u16 header size, u32 total
 *                size, u32 section count, u32 vCPU count, u32 queue depth,
 *                u64 reserved (0)
 *   sections:    u16 tag, u16 section version (1), u32 payload length, payload
 *     PART  (48):  guest OS ID, HYPERCALL, REFERENCE_TSC, reference time,
 *                  u32 TSC sequence, u32 reserved, u64 reserved
 *     OVL   (16+4096): u32 kind (0 hypercall, 1 TSC), u32 reserved, u64 GPA,
 *                  the guest's original page contents
 *     VP    (328): u32 index, u32 reserved, SCONTROL, SIEFP, SIMP, VP assist,
 *                  SINT0-15, then per timer: config, count, expiration,
 *                  pending expiration, u32 flags (b0 message pending), u32 reserved
 *     QUEUE (16+n*256): u32 vCPU, u8 SINT, 3 reserved, u32 n, u32 reserved,
 *                  n messages in slot format
 * Restore parses and validates everything into a staging copy first and
 * commits only if all of it is valid. */
#include "core/hv1/hv1_internal.h"

#define SAVE_MAGIC 0x31485650u /* "PVH1" */
#define SAVE_HDR 32u
#define SEC_HDR 8u
#define TAG_PART 1u
#define TAG_OVL 2u
#define TAG_VP 3u
#define TAG_QUEUE 4u
#define PART_SIZE 48u
#define OVL_SIZE (16u + PV_PAGE_SIZE)
#define VP_SIZE (40u + 8u * PV_HV1_SINT_COUNT + 40u * HV1_STIMER_COUNT)
#define QUEUE_HDR 16u

static size_t queue_bytes(uint32_t n)
{
	return SEC_HDR + QUEUE_HDR + (size_t)n * HV1_SLOT_SIZE;
}

static size_t save_size_locked(struct pv_hv1 *hv1)
{
	size_t n = SAVE_HDR + SEC_HDR + PART_SIZE;
	if (hv1->hc_overlay.active)
		n += SEC_HDR + OVL_SIZE;
	if (hv1->tsc_overlay.active)
		n += SEC_HDR + OVL_SIZE;
	for (uint32_t i = 0; i < hv1->vp_count; i++) {
		n += SEC_HDR + VP_SIZE;
		for (uint32_t s = 0; s < PV_HV1_SINT_COUNT; s++)
			if (hv1->vps[i].queue[s].count)
				n += queue_bytes(hv1->vps[i].queue[s].count);
	}
	return n;
}

size_t pv_hv1_save_size(struct pv_hv1 *hv1)
{
	if (!hv1)
		return 0;
	hv1_lock(hv1, hv1->lock);
	for (uint32_t i = 0; i < hv1->vp_count; i++)
		hv1_lock(hv1, hv1->vps[i].lock);
	size_t n = save_size_locked(hv1);
	for (uint32_t i = 0; i < hv1->vp_count; i++)
		hv1_unlock(hv1, hv1->vps[i].lock);
	hv1_unlock(hv1, hv1->lock);
	return n;
}

static uint8_t *sec(uint8_t *p, uint16_t tag, uint32_t len)
{
	p[0] = (uint8_t)tag;
	p[1] = (uint8_t)(tag >> 8);
	p[2] = 1;
	p[3] = 0;
	hv1_put32(p + 4, len);
	return p + SEC_HDR;
}

static uint8_t *put_overlay(uint8_t *p, uint32_t kind, const struct hv1_overlay *ov)
{
	uint8_t *q = sec(p, TAG_OVL, OVL_SIZE);
	hv1_put32(q, kind);
	hv1_put32(q + 4, 0);
	hv1_put64(q + 8, ov->gpa);
	hv1_copy(q + 16, ov->saved, PV_PAGE_SIZE);
	return q + OVL_SIZE;
}

pv_err_t pv_hv1_save(struct pv_hv1 *hv1, void *buf, size_t cap, size_t *len)
{
	if (!hv1 || !len || (!buf && cap))
		return PV_EINVAL;
	pv_err_t err = PV_OK;
	hv1_lock(hv1, hv1->lock);
	for (uint32_t i = 0; i < hv1->vp_count; i++)
		hv1_lock(hv1, hv1->vps[i].lock);

	size_t need = save_size_locked(hv1);
	*len = need;
	if (cap < need || !buf) {
		err = PV_ERANGE;
		goto out;
	}
	uint8_t *base = buf, *p = base;
	uint32_t sections = 0;
	hv1_zero(p, SAVE_HDR);
	p += SAVE_HDR;

	uint8_t *q = sec(p, TAG_PART, PART_SIZE);
	hv1_zero(q, PART_SIZE);
	hv1_put64(q, hv1->guest_os_id);
	hv1_put64(q + 8, hv1->hypercall);
	hv1_put64(q + 16, hv1->ref_tsc);
	hv1_put64(q + 24, hv1_ref_time(hv1));
	hv1_put32(q + 32, hv1->tsc_seq);
	p = q + PART_SIZE;
	sections++;
	if (hv1->hc_overlay.active) {
		p = put_overlay(p, 0, &hv1->hc_overlay);
		sections++;
	}
	if (hv1->tsc_overlay.active) {
		p = put_overlay(p, 1, &hv1->tsc_overlay);
		sections++;
	}
	for (uint32_t i = 0; i < hv1->vp_count; i++) {
		struct hv1_vp *vp = &hv1->vps[i];
		q = sec(p, TAG_VP, VP_SIZE);
		hv1_zero(q, VP_SIZE);
		hv1_put32(q, vp->index);
		hv1_put64(q + 8, vp->scontrol);
		hv1_put64(q + 16, vp->siefp);
		hv1_put64(q + 24, vp->simp);
		hv1_put64(q + 32, vp->vp_assist);
		for (uint32_t s = 0; s < PV_HV1_SINT_COUNT; s++)
			hv1_put64(q + 40 + 8 * s, vp->sint[s]);
		for (uint32_t t = 0; t < HV1_STIMER_COUNT; t++) {
			uint8_t *r = q + 40 + 8 * PV_HV1_SINT_COUNT + 40 * t;
			const struct hv1_stimer *st = &vp->stimer[t];
			hv1_put64(r, st->config);
			hv1_put64(r + 8, st->count);
			hv1_put64(r + 16, st->expiration);
			hv1_put64(r + 24, st->pending_expiration);
			hv1_put32(r + 32, st->msg_pending ? 1u : 0u);
		}
		p = q + VP_SIZE;
		sections++;
		for (uint32_t s = 0; s < PV_HV1_SINT_COUNT; s++) {
			const struct hv1_queue *qu = &vp->queue[s];
			if (!qu->count)
				continue;
			q = sec(p, TAG_QUEUE, (uint32_t)(QUEUE_HDR + qu->count * HV1_SLOT_SIZE));
			hv1_zero(q, QUEUE_HDR);
			hv1_put32(q, vp->index);
			q[4] = (uint8_t)s;
			hv1_put32(q + 8, qu->count);
			q += QUEUE_HDR;
			for (uint32_t k = 0; k < qu->count; k++) {
				uint32_t slot = (qu->head + k) % hv1->cfg.sint_queue_depth;
				hv1_copy(q, qu->slots[slot].bytes, HV1_SLOT_SIZE);
				q += HV1_SLOT_SIZE;
			}
			p = q;
			sections++;
		}
	}
	hv1_put32(base, SAVE_MAGIC);
	base[4] = (uint8_t)PV_HV1_SAVE_VERSION;
	base[5] = (uint8_t)(PV_HV1_SAVE_VERSION >> 8);
	base[6] = (uint8_t)SAVE_HDR;
	base[7] = 0;
	hv1_put32(base + 8, (uint32_t)need);
	hv1_put32(base + 12, sections);
	hv1_put32(base + 16, hv1->vp_count);
	hv1_put32(base + 20, hv1->cfg.sint_queue_depth);
out:
	for (uint32_t i = 0; i < hv1->vp_count; i++)
		hv1_unlock(hv1, hv1->vps[i].lock);
	hv1_unlock(hv1, hv1->lock);
	return err;
}

/* ---- restore ---- */

struct vp_stage {
	bool seen;
	uint64_t scontrol, siefp, simp, vp_assist;
	uint64_t sint[PV_HV1_SINT_COUNT];
	uint64_t config[HV1_STIMER_COUNT], count[HV1_STIMER_COUNT];
	uint64_t expiration[HV1_STIMER_COUNT], pending_exp[HV1_STIMER_COUNT];
	bool msg_pending[HV1_STIMER_COUNT];
	const uint8_t *queue[PV_HV1_SINT_COUNT];
	uint32_t queue_count[PV_HV1_SINT_COUNT];
	struct hv1_msg *queue_mem[PV_HV1_SINT_COUNT];
};

struct stage {
	bool part_seen;
	uint64_t guest_os_id, hypercall, ref_tsc, ref_time;
	uint32_t tsc_seq;
	const uint8_t *ovl[2];
	uint64_t ovl_gpa[2];
	struct vp_stage *vps;
};

static bool page_ok(struct pv_hv1 *hv1, uint64_t reg)
{
	if (!(reg & HV1_PAGE_ENABLE))
		return true;
	return pv_mem_check(hv1->part, PV_ACCESS_PARAVISOR, pv_gpa(reg & HV1_PFN_MASK),
			    PV_PAGE_SIZE, PV_PERM_READ | PV_PERM_WRITE) == PV_OK;
}

static bool parse_part(struct pv_hv1 *hv1, struct stage *st, const uint8_t *q, uint32_t n)
{
	if (st->part_seen || n != PART_SIZE)
		return false;
	st->part_seen = true;
	st->guest_os_id = hv1_le64(q);
	st->hypercall = hv1_le64(q + 8);
	st->ref_tsc = hv1_le64(q + 16);
	st->ref_time = hv1_le64(q + 24);
	st->tsc_seq = hv1_le32(q + 32);
	if (hv1_le32(q + 36) || hv1_le64(q + 40))
		return false;
	if ((st->hypercall & HV1_PAGE_ENABLE) && st->guest_os_id == 0)
		return false;
	if (st->ref_time > UINT64_MAX / 100u)
		return false;
	return page_ok(hv1, st->hypercall) && page_ok(hv1, st->ref_tsc);
}

static bool parse_ovl(struct pv_hv1 *hv1, struct stage *st, const uint8_t *q, uint32_t n)
{
	if (n != OVL_SIZE)
		return false;
	uint32_t kind = hv1_le32(q);
	uint64_t gpa = hv1_le64(q + 8);
	if (kind > 1 || hv1_le32(q + 4) || st->ovl[kind] || (gpa & (PV_PAGE_SIZE - 1u)))
		return false;
	if (!page_ok(hv1, gpa | HV1_PAGE_ENABLE))
		return false;
	st->ovl[kind] = q + 16;
	st->ovl_gpa[kind] = gpa;
	return true;
}

static bool parse_vp(struct pv_hv1 *hv1, struct stage *st, const uint8_t *q, uint32_t n)
{
	if (n != VP_SIZE)
		return false;
	uint32_t idx = hv1_le32(q);
	if (idx >= hv1->vp_count || hv1_le32(q + 4))
		return false;
	struct vp_stage *v = &st->vps[idx];
	if (v->seen)
		return false;
	v->seen = true;
	v->scontrol = hv1_le64(q + 8);
	v->siefp = hv1_le64(q + 16);
	v->simp = hv1_le64(q + 24);
	v->vp_assist = hv1_le64(q + 32);
	for (uint32_t s = 0; s < PV_HV1_SINT_COUNT; s++) {
		v->sint[s] = hv1_le64(q + 40 + 8 * s);
		if (!(v->sint[s] & HV1_SINT_MASKED) && (v->sint[s] & HV1_SINT_VECTOR_MASK) < 16u)
			return false;
	}
	for (uint32_t t = 0; t < HV1_STIMER_COUNT; t++) {
		const uint8_t *r = q + 40 + 8 * PV_HV1_SINT_COUNT + 40 * t;
		v->config[t] = hv1_le64(r);
		v->count[t] = hv1_le64(r + 8);
		v->expiration[t] = hv1_le64(r + 16);
		v->pending_exp[t] = hv1_le64(r + 24);
		uint32_t flags = hv1_le32(r + 32);
		if ((flags & ~1u) || hv1_le32(r + 36))
			return false;
		v->msg_pending[t] = flags & 1u;
		if (v->config[t] & HV1_STIMER_RSVDZ)
			return false;
		if ((v->config[t] & HV1_STIMER_DIRECT) &&
		    !(hv1->cfg.features_edx & PV_HV1_FEAT_DIRECT_STIMERS))
			return false;
		if ((v->config[t] & HV1_STIMER_ENABLE) &&
		    !hv1_priv(hv1, PV_HV1_PRIV_SYNTHETIC_TIMERS))
			return false;
	}
	return true;
}

static bool parse_queue(struct pv_hv1 *hv1, struct stage *st, const uint8_t *q, uint32_t n)
{
	if (n < QUEUE_HDR)
		return false;
	uint32_t idx = hv1_le32(q);
	uint8_t sint = q[4];
	uint32_t count = hv1_le32(q + 8);
	if (idx >= hv1->vp_count || sint >= PV_HV1_SINT_COUNT || q[5] || q[6] || q[7] ||
	    hv1_le32(q + 12))
		return false;
	if (count == 0 || count > hv1->cfg.sint_queue_depth)
		return false;
	if ((uint64_t)n != QUEUE_HDR + (uint64_t)count * HV1_SLOT_SIZE)
		return false;
	struct vp_stage *v = &st->vps[idx];
	if (v->queue[sint])
		return false;
	for (uint32_t k = 0; k < count; k++) {
		const uint8_t *m = q + QUEUE_HDR + (size_t)k * HV1_SLOT_SIZE;
		if (hv1_le32(m) == 0 || m[4] > PV_HV1_MESSAGE_PAYLOAD_MAX || m[5] || m[6] || m[7])
			return false;
	}
	v->queue[sint] = q + QUEUE_HDR;
	v->queue_count[sint] = count;
	return true;
}

static pv_err_t parse_record(struct pv_hv1 *hv1, struct stage *st, const uint8_t *b, size_t len)
{
	if (len < SAVE_HDR || hv1_le32(b) != SAVE_MAGIC)
		return PV_EVERSION;
	uint16_t version = (uint16_t)(b[4] | (b[5] << 8));
	uint16_t hdr = (uint16_t)(b[6] | (b[7] << 8));
	if (version != PV_HV1_SAVE_VERSION || hdr != SAVE_HDR)
		return PV_EVERSION;
	if (hv1_le32(b + 8) != len || hv1_le32(b + 16) != hv1->vp_count || hv1_le64(b + 24))
		return PV_EVERSION;
	uint32_t sections = hv1_le32(b + 12);
	size_t off = SAVE_HDR;
	for (uint32_t i = 0; i < sections; i++) {
		if (len - off < SEC_HDR)
			return PV_EVERSION;
		const uint8_t *h = b + off;
		uint16_t tag = (uint16_t)(h[0] | (h[1] << 8));
		uint16_t sver = (uint16_t)(h[2] | (h[3] << 8));
		uint32_t n = hv1_le32(h + 4);
		off += SEC_HDR;
		if (sver != 1 || n > len - off)
			return PV_EVERSION;
		bool ok;
		switch (tag) {
		case TAG_PART:
			ok = parse_part(hv1, st, b + off, n);
			break;
		case TAG_OVL:
			ok = parse_ovl(hv1, st, b + off, n);
			break;
		case TAG_VP:
			ok = parse_vp(hv1, st, b + off, n);
			break;
		case TAG_QUEUE:
			ok = parse_queue(hv1, st, b + off, n);
			break;
		default:
			ok = false;
			break;
		}
		if (!ok)
			return PV_EVERSION;
		off += n;
	}
	if (off != len || !st->part_seen)
		return PV_EVERSION;
	for (uint32_t i = 0; i < hv1->vp_count; i++)
		if (!st->vps[i].seen)
			return PV_EVERSION;
	/* Overlays exist exactly for the enabled pages, at their GPAs. */
	uint64_t regs[2] = {st->hypercall, st->ref_tsc};
	for (int k = 0; k < 2; k++) {
		bool en = (regs[k] & HV1_PAGE_ENABLE) != 0;
		if (en != (st->ovl[k] != NULL))
			return PV_EVERSION;
		if (en && st->ovl_gpa[k] != (regs[k] & HV1_PFN_MASK))
			return PV_EVERSION;
	}
	return PV_OK;
}

static void free_stage(struct pv_hv1 *hv1, struct stage *st)
{
	if (!st->vps)
		return;
	for (uint32_t i = 0; i < hv1->vp_count; i++)
		for (uint32_t s = 0; s < PV_HV1_SINT_COUNT; s++)
			hv1_free(hv1, st->vps[i].queue_mem[s]);
	hv1_free(hv1, st->vps);
}

pv_err_t pv_hv1_restore(struct pv_hv1 *hv1, const void *buf, size_t len)
{
	struct stage st;
	pv_err_t err;

	if (!hv1 || !buf)
		return PV_EINVAL;
	hv1_zero(&st, sizeof(st));
	st.vps = hv1_alloc(hv1, sizeof(struct vp_stage) * hv1->vp_count);
	if (!st.vps)
		return PV_ENOMEM;
	err = parse_record(hv1, &st, buf, len);
	if (err) {
		pv_log(hv1->part, PV_LOG_WARN, "hv1", "restore record rejected");
		goto out;
	}
	/* Everything that can fail is done before the first state change. */
	uint32_t depth = hv1->cfg.sint_queue_depth;
	for (uint32_t i = 0; i < hv1->vp_count && !err; i++) {
		struct vp_stage *v = &st.vps[i];
		for (uint32_t s = 0; s < PV_HV1_SINT_COUNT && !err; s++) {
			if (!v->queue[s])
				continue;
			v->queue_mem[s] = hv1_alloc(hv1, (size_t)depth * sizeof(struct hv1_msg));
			if (!v->queue_mem[s])
				err = PV_ENOMEM;
		}
		for (uint32_t t = 0; t < HV1_STIMER_COUNT && !err; t++)
			if (v->config[t] & HV1_STIMER_ENABLE)
				err = hv1_stimer_ensure(&hv1->vps[i].stimer[t]);
	}
	if (err)
		goto out;

	hv1_lock(hv1, hv1->lock);
	__atomic_store_n(&hv1->guest_os_id, st.guest_os_id, __ATOMIC_RELEASE);
	__atomic_store_n(&hv1->hypercall, st.hypercall, __ATOMIC_RELEASE);
	hv1->ref_tsc = st.ref_tsc;
	hv1->tsc_seq = st.tsc_seq;
	__atomic_store_n(&hv1->ref_bias_ns, st.ref_time * 100u - pv_clock_ns(hv1->part),
			 __ATOMIC_RELEASE);
	struct hv1_overlay *ovs[2] = {&hv1->hc_overlay, &hv1->tsc_overlay};
	for (int k = 0; k < 2; k++) {
		ovs[k]->active = st.ovl[k] != NULL;
		if (st.ovl[k]) {
			ovs[k]->gpa = st.ovl_gpa[k];
			hv1_copy(ovs[k]->saved, st.ovl[k], PV_PAGE_SIZE);
		}
	}
	hv1_unlock(hv1, hv1->lock);

	for (uint32_t i = 0; i < hv1->vp_count; i++) {
		struct hv1_vp *vp = &hv1->vps[i];
		struct vp_stage *v = &st.vps[i];
		hv1_lock(hv1, vp->lock);
		vp->scontrol = v->scontrol;
		vp->siefp = v->siefp;
		vp->simp = v->simp;
		vp->vp_assist = v->vp_assist;
		for (uint32_t s = 0; s < PV_HV1_SINT_COUNT; s++) {
			struct hv1_queue *q = &vp->queue[s];
			vp->sint[s] = v->sint[s];
			hv1_queue_free(hv1, q);
			q->was_full = false;
			if (v->queue[s]) {
				q->slots = v->queue_mem[s];
				v->queue_mem[s] = NULL;
				hv1_copy(q->slots, v->queue[s],
					 (size_t)v->queue_count[s] * HV1_SLOT_SIZE);
				q->count = v->queue_count[s];
			}
		}
		for (uint32_t t = 0; t < HV1_STIMER_COUNT; t++) {
			struct hv1_stimer *tm = &vp->stimer[t];
			tm->config = v->config[t];
			tm->count = v->count[t];
			tm->expiration = v->expiration[t];
			tm->pending_expiration = v->pending_exp[t];
			tm->msg_pending = v->msg_pending[t];
			hv1_stimer_program(tm, false);
		}
		hv1_unlock(hv1, vp->lock);
	}
out:
	free_stage(hv1, &st);
	return err;
}
