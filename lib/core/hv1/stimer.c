/* SPDX-License-Identifier: MIT */
/* Synthetic timers 0-3 per vCPU on the port's one-shot timers.
 *
 * Locking: the timer callback takes the vCPU lock; arming happens under it
 * (arming never waits for a callback). Cancelling would wait for a running
 * callback, so it is never done under the lock: a disabled timer is simply
 * left armed and its callback finds nothing to do. */
#include "core/hv1/hv1_internal.h"

static uint8_t timer_sint(uint64_t config)
{
	return (uint8_t)((config >> HV1_STIMER_SINT_SHIFT) & 0xFu);
}

static void stimer_fire(void *ctx);

pv_err_t hv1_stimer_ensure(struct hv1_stimer *t)
{
	if (t->timer)
		return PV_OK;
	return pv_timer_create(t->vp->hv1->part, stimer_fire, t, &t->timer);
}

/* vCPU lock held. Arm the port timer for the current expiration; with
 * @restart, compute it from the configuration first (new programming). */
void hv1_stimer_program(struct hv1_stimer *t, bool restart)
{
	struct pv_hv1 *hv1 = t->vp->hv1;
	if (!(t->config & HV1_STIMER_ENABLE) || t->count == 0 || !t->timer)
		return;
	if (restart) {
		if (t->config & HV1_STIMER_PERIODIC) {
			uint64_t now = hv1_ref_time(hv1);
			t->expiration = now > UINT64_MAX - t->count ? UINT64_MAX : now + t->count;
		} else {
			t->expiration = t->count; /* absolute reference time */
		}
	}
	if (pv_timer_arm(t->timer, hv1_ref_to_ns(hv1, t->expiration)) != PV_OK)
		pv_log(hv1->part, PV_LOG_WARN, "hv1", "vp %u stimer %u: arm failed", t->vp->index,
		       t->index);
}

pv_err_t hv1_stimer_write(struct hv1_vp *vp, uint32_t n, bool is_count, uint64_t value)
{
	struct pv_hv1 *hv1 = vp->hv1;
	struct hv1_stimer *t = &vp->stimer[n];
	pv_err_t err;

	if (!is_count) {
		if (value & HV1_STIMER_RSVDZ)
			return PV_EINVAL;
		if ((value & HV1_STIMER_DIRECT) &&
		    !(hv1->cfg.features_edx & PV_HV1_FEAT_DIRECT_STIMERS))
			return PV_EINVAL; /* direct mode not advertised: reserved */
	}
	/* Only this vCPU's thread writes its timer MSRs, so creating the port
	 * timer outside the lock cannot race with another creation. */
	err = hv1_stimer_ensure(t);
	if (err)
		return err;

	hv1_lock(hv1, vp->lock);
	if (is_count) {
		t->count = value;
		if (value == 0)
			t->config &= ~HV1_STIMER_ENABLE; /* zero count stops the timer */
		else if (t->config & HV1_STIMER_AUTO_ENABLE)
			t->config |= HV1_STIMER_ENABLE;
	} else {
		t->config = value;
	}
	/* TLFS: an enabled message-mode timer may not use SINT 0; it is
	 * marked disabled at once. */
	if (!(t->config & HV1_STIMER_DIRECT) && timer_sint(t->config) == 0)
		t->config &= ~HV1_STIMER_ENABLE;
	t->msg_pending = false;
	hv1_stimer_program(t, true);
	hv1_unlock(hv1, vp->lock);
	return PV_OK;
}

static void stimer_fire(void *ctx)
{
	struct hv1_stimer *t = ctx;
	struct hv1_vp *vp = t->vp;
	struct pv_hv1 *hv1 = vp->hv1;
	uint32_t ready = 0;
	uint64_t now;

	hv1_lock(hv1, vp->lock);
	if (hv1->dying || !(t->config & HV1_STIMER_ENABLE) || t->count == 0)
		goto out;
	now = hv1_ref_time(hv1);
	if (now < t->expiration) {
		hv1_stimer_program(t, false); /* early or stale wake-up */
		goto out;
	}
	if (t->config & HV1_STIMER_DIRECT) {
		uint8_t vector = (uint8_t)((t->config >> HV1_STIMER_VECTOR_SHIFT) & 0xFFu);
		if (vector >= 16u)
			hv1_raise(vp, vector);
	} else {
		/* An undelivered earlier expiry is coalesced into this one. */
		t->msg_pending = true;
		t->pending_expiration = t->expiration;
		hv1_synic_deliver(vp, timer_sint(t->config), &ready);
	}
	if (t->config & HV1_STIMER_PERIODIC) {
		uint64_t next = t->expiration + t->count;
		if (next <= now || next < t->expiration)
			next = now + t->count; /* missed periods are skipped */
		t->expiration = next;
		hv1_stimer_program(t, false);
	} else {
		t->config &= ~HV1_STIMER_ENABLE; /* one-shot: disabled on expiry */
	}
out:
	hv1_unlock(hv1, vp->lock);
	hv1_notify_ready(hv1, vp->index, ready);
}

void hv1_stimer_destroy_all(struct pv_hv1 *hv1)
{
	for (uint32_t i = 0; i < hv1->vp_count && hv1->vps; i++) {
		for (uint32_t n = 0; n < HV1_STIMER_COUNT; n++) {
			struct hv1_stimer *t = &hv1->vps[i].stimer[n];
			pv_timer_destroy(t->timer);
			t->timer = NULL;
		}
	}
}
