/* SPDX-License-Identifier: MIT */
/* SynIC: message slots with the message-pending / end-of-message protocol,
 * bounded per-SINT queues, event flags and interrupt delivery.
 *
 * The message and event pages are guest memory: read (one field, copied
 * once) and written only through pv_mem_* with the paravisor accessor. A
 * slot is free when its message type is 0; the guest frees it. */
#include "core/hv1/hv1_internal.h"

void hv1_synic_reset_vp(struct hv1_vp *vp)
{
	vp->scontrol = 0;
	vp->siefp = 0;
	vp->simp = 0;
	vp->vp_assist = 0;
	for (uint32_t s = 0; s < PV_HV1_SINT_COUNT; s++) {
		vp->sint[s] = HV1_SINT_RESET;
		vp->queue[s].head = 0;
		vp->queue[s].count = 0;
		vp->queue[s].was_full = false;
	}
	for (uint32_t t = 0; t < HV1_STIMER_COUNT; t++) {
		vp->stimer[t].config = 0;
		vp->stimer[t].count = 0;
		vp->stimer[t].expiration = 0;
		vp->stimer[t].msg_pending = false;
		vp->stimer[t].pending_expiration = 0;
	}
}

void hv1_msg_build(struct hv1_msg *m, uint32_t type, const void *payload, uint32_t size)
{
	hv1_zero(m, sizeof(*m));
	hv1_put32(m->bytes, type);
	m->bytes[4] = (uint8_t)size;
	if (size)
		hv1_copy(m->bytes + HV1_MSG_HEADER_SIZE, payload, size);
}

void hv1_queue_free(struct pv_hv1 *hv1, struct hv1_queue *q)
{
	hv1_free(hv1, q->slots);
	q->slots = NULL;
	q->head = 0;
	q->count = 0;
}

pv_err_t hv1_queue_push(struct pv_hv1 *hv1, struct hv1_queue *q, const struct hv1_msg *m)
{
	uint32_t depth = hv1->cfg.sint_queue_depth;
	if (q->count >= depth)
		return PV_EBUSY;
	if (!q->slots) {
		q->slots = hv1_alloc(hv1, (size_t)depth * sizeof(struct hv1_msg));
		if (!q->slots)
			return PV_ENOMEM;
		q->head = 0;
	}
	q->slots[(q->head + q->count) % depth] = *m;
	q->count++;
	return PV_OK;
}

static void queue_pop(struct pv_hv1 *hv1, struct hv1_queue *q)
{
	q->head = (q->head + 1u) % hv1->cfg.sint_queue_depth;
	q->count--;
}

void hv1_raise(struct hv1_vp *vp, uint8_t vector)
{
	struct pv_hv1 *hv1 = vp->hv1;
	pv_err_t err;
	if (hv1->port->caps & PV_PORT_CAP_IRQCHIP) {
		/* Fixed, edge MSI to the vCPU's APIC ID (= its index). */
		uint64_t addr = 0xFEE00000ull | ((uint64_t)(vp->index & 0xFFu) << 12);
		err = pv_msi_send(hv1->part, addr, vector);
	} else {
		struct pv_event ev = {.kind = PV_EVENT_INTERRUPT, .vector = vector};
		err = pv_vcpu_inject(vp->vcpu, &ev);
	}
	if (err)
		pv_log(hv1->part, PV_LOG_WARN, "hv1", "vp %u: vector %u not delivered (%d)",
		       vp->index, vector, err);
}

static bool simp_on(const struct hv1_vp *vp)
{
	return (vp->simp & HV1_PAGE_ENABLE) && (vp->scontrol & HV1_PAGE_ENABLE);
}

bool hv1_sint_deliverable(const struct hv1_vp *vp, uint8_t sint)
{
	return (vp->scontrol & HV1_PAGE_ENABLE) && !(vp->sint[sint] & HV1_SINT_MASKED);
}

static void sint_signal(struct hv1_vp *vp, uint8_t sint)
{
	uint64_t s = vp->sint[sint];
	if (s & (HV1_SINT_POLLING | HV1_SINT_MASKED))
		return; /* masked, or the guest polls: no interrupt */
	hv1_raise(vp, (uint8_t)(s & HV1_SINT_VECTOR_MASK));
}

static pv_gpa_t slot_gpa(const struct hv1_vp *vp, uint8_t sint, uint32_t off)
{
	return pv_gpa((vp->simp & HV1_PFN_MASK) + (uint64_t)sint * HV1_SLOT_SIZE + off);
}

static pv_err_t slot_type(struct hv1_vp *vp, uint8_t sint, uint32_t *type)
{
	uint8_t b[4];
	pv_err_t err = pv_mem_read(vp->hv1->part, PV_ACCESS_PARAVISOR, slot_gpa(vp, sint, 0), b, 4);
	if (!err)
		*type = hv1_le32(b);
	return err;
}

/* Body first, message type last: the slot only becomes visible as a whole. */
static pv_err_t slot_write(struct hv1_vp *vp, uint8_t sint, const struct hv1_msg *m, bool pending)
{
	struct pv_partition *part = vp->hv1->part;
	uint8_t flags = pending ? HV1_MSG_FLAG_PENDING : 0;
	pv_err_t err;

	err = pv_mem_write(part, PV_ACCESS_PARAVISOR, slot_gpa(vp, sint, 4), m->bytes + 4, 1);
	if (!err)
		err = pv_mem_write(part, PV_ACCESS_PARAVISOR, slot_gpa(vp, sint, 5), &flags, 1);
	if (!err)
		err = pv_mem_write(part, PV_ACCESS_PARAVISOR, slot_gpa(vp, sint, 6), m->bytes + 6,
				   HV1_SLOT_SIZE - 6u);
	hv1_fence();
	/* Publish the type with one atomic compare-exchange of the 4 type
	 * bytes: the slot is free (type 0) and the guest only ever clears it,
	 * so a guest clear can neither be undone nor race a partial store. */
	if (!err) {
		uint8_t expected[4] = {0, 0, 0, 0};
		bool swapped = false;
		err = pv_mem_cmpxchg(part, PV_ACCESS_PARAVISOR, slot_gpa(vp, sint, 0), 4, expected,
				     m->bytes, &swapped);
		if (!err && !swapped)
			err = PV_EBUSY; /* the guest wrote a type itself: leave its slot alone */
	}
	hv1_fence();
	return err;
}

static void slot_set_pending(struct hv1_vp *vp, uint8_t sint)
{
	struct pv_partition *part = vp->hv1->part;
	uint8_t flags;
	if (pv_mem_read(part, PV_ACCESS_PARAVISOR, slot_gpa(vp, sint, 5), &flags, 1) != PV_OK)
		return;
	if (flags & HV1_MSG_FLAG_PENDING)
		return;
	flags |= HV1_MSG_FLAG_PENDING;
	pv_mem_write(part, PV_ACCESS_PARAVISOR, slot_gpa(vp, sint, 5), &flags, 1);
}

static struct hv1_stimer *pending_timer(struct hv1_vp *vp, uint8_t sint)
{
	for (uint32_t t = 0; t < HV1_STIMER_COUNT; t++) {
		struct hv1_stimer *st = &vp->stimer[t];
		if (st->msg_pending && ((st->config >> HV1_STIMER_SINT_SHIFT) & 0xFu) == sint)
			return st;
	}
	return NULL;
}

static uint32_t pending_count(struct hv1_vp *vp, uint8_t sint)
{
	uint32_t n = vp->queue[sint].count;
	for (uint32_t t = 0; t < HV1_STIMER_COUNT; t++) {
		struct hv1_stimer *st = &vp->stimer[t];
		if (st->msg_pending && ((st->config >> HV1_STIMER_SINT_SHIFT) & 0xFu) == sint)
			n++;
	}
	return n;
}

/* Move the next pending message (timer messages first, then the queue) into
 * the SINT's slot if it is free; otherwise flag the occupied slot so the guest
 * signals end-of-message. Returns true if a message was delivered. */
static bool deliver_next(struct hv1_vp *vp, uint8_t sint, uint32_t *ready)
{
	struct pv_hv1 *hv1 = vp->hv1;
	struct hv1_queue *q = &vp->queue[sint];
	uint32_t waiting = pending_count(vp, sint);
	uint32_t type;
	struct hv1_msg tm;
	const struct hv1_msg *m;
	struct hv1_stimer *st;

	/* A masked SINT still gets its queue drained into the slot (TLFS: EOM
	 * drains a masked SINT); only the interrupt is withheld. */
	if (!waiting || !simp_on(vp))
		return false;
	if (slot_type(vp, sint, &type) != PV_OK)
		return false;
	if (type != 0) {
		slot_set_pending(vp, sint);
		/* The guest may have freed the slot before it saw the flag. */
		hv1_fence();
		if (slot_type(vp, sint, &type) != PV_OK || type != 0)
			return false;
	}
	st = pending_timer(vp, sint);
	if (st) {
		uint8_t pl[24];
		hv1_put32(pl, st->index);
		hv1_put32(pl + 4, 0);
		hv1_put64(pl + 8, st->pending_expiration);
		hv1_put64(pl + 16, hv1_ref_time(hv1));
		hv1_msg_build(&tm, PV_HV1_MSG_TIMER_EXPIRED, pl, sizeof(pl));
		m = &tm;
	} else {
		m = &q->slots[q->head];
	}
	if (slot_write(vp, sint, m, waiting > 1u) != PV_OK)
		return false;
	if (st) {
		st->msg_pending = false;
	} else {
		queue_pop(hv1, q);
		if (q->was_full && q->count < hv1->cfg.sint_queue_depth) {
			q->was_full = false;
			*ready |= 1u << sint;
		}
	}
	sint_signal(vp, sint);
	return true;
}

bool hv1_synic_deliver(struct hv1_vp *vp, uint8_t sint, uint32_t *ready)
{
	return deliver_next(vp, sint, ready);
}

void hv1_synic_scan(struct hv1_vp *vp, uint32_t *ready_mask)
{
	for (uint8_t s = 0; s < PV_HV1_SINT_COUNT; s++)
		deliver_next(vp, s, ready_mask);
}

pv_err_t pv_hv1_post_message(struct pv_hv1 *hv1, uint32_t vp_index, uint8_t sint,
			     uint32_t message_type, const void *payload, uint32_t size)
{
	struct hv1_vp *vp = hv1_vp_get(hv1, vp_index);
	struct hv1_msg m;
	uint32_t ready = 0;
	pv_err_t err = PV_OK;

	if (!vp || sint >= PV_HV1_SINT_COUNT || message_type == 0 ||
	    size > PV_HV1_MESSAGE_PAYLOAD_MAX || (size && !payload))
		return PV_EINVAL;
	hv1_msg_build(&m, message_type, payload, size);

	hv1_lock(hv1, vp->lock);
	if (!simp_on(vp) || (vp->sint[sint] & HV1_SINT_MASKED)) {
		err = PV_ESTATE;
		goto out;
	}
	struct hv1_queue *q = &vp->queue[sint];
	if (q->count >= hv1->cfg.sint_queue_depth) {
		deliver_next(vp, sint, &ready);
		if (q->count >= hv1->cfg.sint_queue_depth) {
			q->was_full = true;
			err = PV_EBUSY;
			goto out;
		}
	}
	err = hv1_queue_push(hv1, q, &m);
	if (!err)
		deliver_next(vp, sint, &ready);
out:
	hv1_unlock(hv1, vp->lock);
	return err;
}

pv_err_t pv_hv1_signal_event(struct pv_hv1 *hv1, uint32_t vp_index, uint8_t sint,
			     uint32_t flag_number)
{
	struct hv1_vp *vp = hv1_vp_get(hv1, vp_index);
	pv_err_t err = PV_OK;
	uint8_t byte;

	if (!vp || sint >= PV_HV1_SINT_COUNT || flag_number >= HV1_EVENT_FLAGS_PER_SINT)
		return PV_EINVAL;
	hv1_lock(hv1, vp->lock);
	if (!(vp->siefp & HV1_PAGE_ENABLE) || !hv1_sint_deliverable(vp, sint)) {
		err = PV_ESTATE;
		goto out;
	}
	pv_gpa_t gpa = pv_gpa((vp->siefp & HV1_PFN_MASK) + (uint64_t)sint * HV1_SLOT_SIZE +
			      flag_number / 8u);
	uint8_t bit = (uint8_t)(1u << (flag_number % 8u));
	err = pv_mem_read(hv1->part, PV_ACCESS_PARAVISOR, gpa, &byte, 1);
	/* Set the bit with compare-exchange: the guest clears other bits of
	 * the same byte concurrently, and a plain read-modify-write would
	 * bring back a flag it had just consumed. */
	for (;;) {
		if (err || (byte & bit))
			goto out; /* already set: the guest has not consumed it; no new interrupt */
		uint8_t desired = (uint8_t)(byte | bit);
		bool swapped = false;
		err = pv_mem_cmpxchg(hv1->part, PV_ACCESS_PARAVISOR, gpa, 1, &byte, &desired,
				     &swapped);
		if (!err && swapped)
			break;
	}
	hv1_fence();
	if (!err)
		sint_signal(vp, sint);
out:
	hv1_unlock(hv1, vp->lock);
	return err;
}
