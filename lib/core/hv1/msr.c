/* SPDX-License-Identifier: MIT */
/* Synthetic MSRs 0x40000000-0x400000FF. An MSR exists only when its
 * privilege bit is advertised; a missing MSR, a write to a read-only MSR or a
 * reserved-bit violation returns an error, which the dispatcher turns into #GP. */
#include "core/hv1/hv1_internal.h"

#define HV1_TSC_PAGE_SEQ 0u
#define HV1_TSC_PAGE_SCALE 8u
#define HV1_TSC_PAGE_OFFSET 16u

uint64_t hv1_mul_hi(uint64_t a, uint64_t b)
{
	uint64_t a_lo = (uint32_t)a, a_hi = a >> 32;
	uint64_t b_lo = (uint32_t)b, b_hi = b >> 32;
	uint64_t lo_lo = a_lo * b_lo;
	uint64_t hi_lo = a_hi * b_lo;
	uint64_t lo_hi = a_lo * b_hi;
	uint64_t hi_hi = a_hi * b_hi;
	uint64_t cross = (lo_lo >> 32) + (uint32_t)hi_lo + lo_hi;
	return hi_hi + (hi_lo >> 32) + (cross >> 32);
}

/* floor(10^7 * 2^64 / tsc_hz), for 10^7 < tsc_hz < 2^63: long division of the
 * 128-bit numerator one bit at a time. */
uint64_t hv1_tsc_scale(uint64_t tsc_hz)
{
	uint64_t r = 10000000u, q = 0;
	if (tsc_hz <= r || tsc_hz >= (1ull << 63))
		return 0;
	for (int i = 63; i >= 0; i--) {
		r <<= 1;
		if (r >= tsc_hz) {
			r -= tsc_hz;
			q |= 1ull << i;
		}
	}
	return q;
}

static bool vendor_is_amd(struct pv_hv1 *hv1)
{
	struct pv_cpuid_entry e;
	if (hv1->cfg.vendor == PV_HV1_VENDOR_AMD)
		return true;
	if (hv1->cfg.vendor == PV_HV1_VENDOR_INTEL)
		return false;
	if (pv_cpuid_get(hv1->part, 0, 0, &e) != PV_OK)
		return false;
	return e.ebx == 0x68747541u /* "Auth" */ || e.ebx == 0x6F677948u /* "Hygo" */;
}

/* Build the hypercall page into @page (PV_PAGE_SIZE bytes). */
static void build_hypercall_page(struct pv_hv1 *hv1, uint8_t *page)
{
	size_t len = 0;
	for (size_t i = 0; i < PV_PAGE_SIZE; i++)
		page[i] = 0xCC; /* int3 */
	if (hv1->port->hypercall_code &&
	    hv1->port->hypercall_code(hv1->port_data, page, PV_PAGE_SIZE, &len) == PV_OK &&
	    len > 0 && len <= PV_PAGE_SIZE)
		return;
	for (size_t i = 0; i < PV_PAGE_SIZE; i++)
		page[i] = 0xCC;
	page[0] = 0x0F;
	page[1] = 0x01;
	page[2] = vendor_is_amd(hv1) ? 0xD9 : 0xC1;
	page[3] = 0xC3; /* ret */
}

/* Partition lock held. Write the reference TSC page for the current
 * calibration; sequence 0 (guest falls back to TIME_REF_COUNT) when the
 * guest TSC cannot be sampled. */
pv_err_t hv1_tsc_page_update(struct pv_hv1 *hv1, struct pv_vcpu *vcpu)
{
	struct hv1_vp *vp = hv1_vp_get(hv1, pv_vcpu_index(vcpu));
	uint8_t *page;
	uint32_t seq = 0;
	uint64_t offset = 0;
	uint64_t tsc;

	if (!vp)
		return PV_EINVAL;
	page = vp->hc_out; /* vCPU-thread scratch; no hypercall runs during an MSR exit */
	hv1_zero(page, PV_PAGE_SIZE);
	if (hv1->scale && hv1->port->get_msr &&
	    hv1->port->get_msr(pv_vcpu_port_data(vcpu), HV1_IA32_TSC, &tsc) == PV_OK) {
		uint64_t ref = hv1_ref_time(hv1);
		offset = ref - hv1_mul_hi(tsc, hv1->scale);
		hv1->tsc_seq++;
		if (hv1->tsc_seq == 0 || hv1->tsc_seq == 0xFFFFFFFFu)
			hv1->tsc_seq = 1;
		seq = hv1->tsc_seq;
	}
	hv1_put32(page + HV1_TSC_PAGE_SEQ, seq);
	hv1_put64(page + HV1_TSC_PAGE_SCALE, seq ? hv1->scale : 0);
	hv1_put64(page + HV1_TSC_PAGE_OFFSET, offset);
	return hv1_overlay_install(hv1, &hv1->tsc_overlay, hv1->ref_tsc & HV1_PFN_MASK, page);
}

static pv_err_t write_guest_os_id(struct pv_hv1 *hv1, uint64_t v)
{
	hv1_lock(hv1, hv1->lock);
	__atomic_store_n(&hv1->guest_os_id, v, __ATOMIC_RELEASE);
	if (v == 0 && (hv1->hypercall & HV1_PAGE_ENABLE)) {
		hv1_overlay_remove(hv1, &hv1->hc_overlay);
		__atomic_store_n(&hv1->hypercall, hv1->hypercall & ~HV1_PAGE_ENABLE,
				 __ATOMIC_RELEASE);
	}
	hv1_unlock(hv1, hv1->lock);
	return PV_OK;
}

static pv_err_t write_hypercall(struct pv_hv1 *hv1, struct hv1_vp *vp, uint64_t v)
{
	pv_err_t err = PV_OK;
	hv1_lock(hv1, hv1->lock);
	if (hv1->hypercall & HV1_HYPERCALL_LOCKED)
		goto out; /* locked until reset: writes are ignored */
	if (hv1->guest_os_id == 0)
		v &= ~HV1_PAGE_ENABLE; /* the page stays off until the guest identifies itself */
	if (v & HV1_PAGE_ENABLE) {
		build_hypercall_page(hv1, vp->hc_out);
		err = hv1_overlay_install(hv1, &hv1->hc_overlay, v & HV1_PFN_MASK, vp->hc_out);
		if (err) {
			pv_log(hv1->part, PV_LOG_WARN, "hv1", "hypercall page GPA 0x%llx unusable",
			       (unsigned long long)(v & HV1_PFN_MASK));
			goto out;
		}
	} else {
		hv1_overlay_remove(hv1, &hv1->hc_overlay);
	}
	__atomic_store_n(&hv1->hypercall, v, __ATOMIC_RELEASE);
out:
	hv1_unlock(hv1, hv1->lock);
	return err;
}

static pv_err_t write_reference_tsc(struct pv_hv1 *hv1, struct pv_vcpu *vcpu, uint64_t v)
{
	pv_err_t err = PV_OK;
	hv1_lock(hv1, hv1->lock);
	uint64_t old = hv1->ref_tsc;
	hv1->ref_tsc = v;
	if (v & HV1_PAGE_ENABLE) {
		err = hv1_tsc_page_update(hv1, vcpu);
		if (err)
			hv1->ref_tsc = old;
	} else {
		hv1_overlay_remove(hv1, &hv1->tsc_overlay);
	}
	hv1_unlock(hv1, hv1->lock);
	return err;
}

/* x2APIC forwarding of EOI/ICR/TPR (needs the port's APIC). */
static pv_err_t apic_msr(struct pv_hv1 *hv1, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
			 uint64_t *value)
{
	uint32_t target = index == HV1_MSR_EOI ? HV1_X2APIC_EOI :
			  index == HV1_MSR_ICR ? HV1_X2APIC_ICR :
						 HV1_X2APIC_TPR;
	if (!(hv1->port->caps & PV_PORT_CAP_IRQCHIP))
		return PV_ENOTSUP;
	if (index == HV1_MSR_EOI && !is_write)
		return PV_EACCES; /* write-only */
	if (is_write) {
		if (index == HV1_MSR_TPR && (*value >> 8))
			return PV_EINVAL;
		if (!hv1->port->set_msr)
			return PV_ENOTSUP;
		return hv1->port->set_msr(pv_vcpu_port_data(vcpu), target, *value);
	}
	if (!hv1->port->get_msr)
		return PV_ENOTSUP;
	return hv1->port->get_msr(pv_vcpu_port_data(vcpu), target, value);
}

/* SynIC page MSRs: bit 0 enable, 11:1 RsvdP (kept as written), 63:12 GPFN.
 * TLFS: a base outside the GPA space is accepted; the page is then simply not
 * accessible (deliveries wait in the queue). */
static pv_err_t write_synic_page(struct hv1_vp *vp, uint64_t *reg, uint64_t v)
{
	struct pv_hv1 *hv1 = vp->hv1;
	if (v & HV1_PAGE_ENABLE) {
		bool same = (*reg & HV1_PAGE_ENABLE) && ((*reg ^ v) & HV1_PFN_MASK) == 0;
		/* A newly enabled page starts empty. */
		if (!same && pv_mem_zero(hv1->part, PV_ACCESS_PARAVISOR, pv_gpa(v & HV1_PFN_MASK),
					 PV_PAGE_SIZE) != PV_OK)
			pv_log(hv1->part, PV_LOG_WARN, "hv1", "vp %u: SynIC page 0x%llx is not RAM",
			       vp->index, (unsigned long long)(v & HV1_PFN_MASK));
	}
	*reg = v;
	return PV_OK;
}

static pv_err_t synic_msr(struct hv1_vp *vp, uint32_t index, bool is_write, uint64_t *value)
{
	struct pv_hv1 *hv1 = vp->hv1;
	pv_err_t err = PV_OK;
	uint32_t ready = 0;

	if (!is_write) {
		hv1_lock(hv1, vp->lock);
		switch (index) {
		case HV1_MSR_SCONTROL:
			*value = vp->scontrol;
			break;
		case HV1_MSR_SVERSION:
			*value = HV1_SYNIC_VERSION;
			break;
		case HV1_MSR_SIEFP:
			*value = vp->siefp;
			break;
		case HV1_MSR_SIMP:
			*value = vp->simp;
			break;
		case HV1_MSR_EOM:
			*value = 0;
			break;
		default:
			*value = vp->sint[index - HV1_MSR_SINT0];
			break;
		}
		hv1_unlock(hv1, vp->lock);
		return PV_OK;
	}

	uint64_t v = *value;
	if (index == HV1_MSR_SVERSION)
		return PV_EACCES;
	if (index >= HV1_MSR_SINT0) {
		uint64_t vec = v & HV1_SINT_VECTOR_MASK;
		/* Vectors 0-15 are reserved; an unmasked SINT must use 16-255. */
		if (!(v & HV1_SINT_MASKED) && vec < 16u)
			return PV_EINVAL;
	}
	hv1_lock(hv1, vp->lock);
	switch (index) {
	case HV1_MSR_SCONTROL:
		vp->scontrol = v;
		break;
	case HV1_MSR_SIEFP:
		err = write_synic_page(vp, &vp->siefp, v);
		break;
	case HV1_MSR_SIMP:
		err = write_synic_page(vp, &vp->simp, v);
		break;
	case HV1_MSR_EOM:
		break;
	default:
		vp->sint[index - HV1_MSR_SINT0] = v;
		break;
	}
	/* Any of these may make a queued message deliverable. */
	if (!err)
		hv1_synic_scan(vp, &ready);
	hv1_unlock(hv1, vp->lock);
	hv1_notify_ready(hv1, vp->index, ready);
	return err;
}

pv_err_t hv1_msr_access(void *ctx, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
			uint64_t *value)
{
	struct pv_hv1 *hv1 = ctx;
	struct hv1_vp *vp;

	if (!hv1 || !vcpu || !value)
		return PV_EINVAL;
	vp = hv1_vp_get(hv1, pv_vcpu_index(vcpu));
	if (!vp)
		return PV_EINVAL;

	switch (index) {
	case HV1_MSR_GUEST_OS_ID:
		if (!hv1_priv(hv1, PV_HV1_PRIV_HYPERCALL_MSRS))
			return PV_ENOENT;
		if (is_write)
			return write_guest_os_id(hv1, *value);
		hv1_lock(hv1, hv1->lock);
		*value = hv1->guest_os_id;
		hv1_unlock(hv1, hv1->lock);
		return PV_OK;
	case HV1_MSR_HYPERCALL:
		if (!hv1_priv(hv1, PV_HV1_PRIV_HYPERCALL_MSRS))
			return PV_ENOENT;
		if (is_write)
			return write_hypercall(hv1, vp, *value);
		hv1_lock(hv1, hv1->lock);
		*value = hv1->hypercall;
		hv1_unlock(hv1, hv1->lock);
		return PV_OK;
	case HV1_MSR_VP_INDEX:
		if (!hv1_priv(hv1, PV_HV1_PRIV_VP_INDEX))
			return PV_ENOENT;
		if (is_write)
			return PV_EACCES;
		*value = vp->index;
		return PV_OK;
	case HV1_MSR_VP_RUNTIME:
		if (!hv1_priv(hv1, PV_HV1_PRIV_VP_RUNTIME))
			return PV_ENOENT;
		if (is_write)
			return PV_EACCES;
		/* The ports report no per-vCPU run time: approximated by the
		 * partition reference time (an upper bound). */
		*value = hv1_ref_time(hv1);
		return PV_OK;
	case HV1_MSR_TIME_REF_COUNT:
		if (!hv1_priv(hv1, PV_HV1_PRIV_TIME_REF_COUNT))
			return PV_ENOENT;
		if (is_write)
			return PV_EACCES;
		*value = hv1_ref_time(hv1);
		return PV_OK;
	case HV1_MSR_REFERENCE_TSC:
		if (!hv1_priv(hv1, PV_HV1_PRIV_REFERENCE_TSC))
			return PV_ENOENT;
		if (is_write)
			return write_reference_tsc(hv1, vcpu, *value);
		hv1_lock(hv1, hv1->lock);
		*value = hv1->ref_tsc;
		hv1_unlock(hv1, hv1->lock);
		return PV_OK;
	case HV1_MSR_TSC_FREQUENCY:
	case HV1_MSR_APIC_FREQUENCY:
		if (!hv1_priv(hv1, PV_HV1_PRIV_FREQUENCY_MSRS))
			return PV_ENOENT;
		if (is_write)
			return PV_EACCES;
		*value = index == HV1_MSR_TSC_FREQUENCY ? hv1->cfg.tsc_frequency_hz :
							  hv1->cfg.apic_frequency_hz;
		return PV_OK;
	case HV1_MSR_EOI:
	case HV1_MSR_ICR:
	case HV1_MSR_TPR:
		if (!hv1_priv(hv1, PV_HV1_PRIV_APIC_MSRS))
			return PV_ENOENT;
		return apic_msr(hv1, vcpu, index, is_write, value);
	case HV1_MSR_VP_ASSIST_PAGE:
		if (!hv1_priv(hv1, PV_HV1_PRIV_APIC_MSRS))
			return PV_ENOENT;
		hv1_lock(hv1, vp->lock);
		if (is_write)
			vp->vp_assist = *value; /* stored only: no lazy EOI, no nested state */
		else
			*value = vp->vp_assist;
		hv1_unlock(hv1, vp->lock);
		return PV_OK;
	default:
		break;
	}

	if ((index >= HV1_MSR_SCONTROL && index <= HV1_MSR_EOM) ||
	    (index >= HV1_MSR_SINT0 && index < HV1_MSR_SINT0 + PV_HV1_SINT_COUNT)) {
		if (!hv1_priv(hv1, PV_HV1_PRIV_SYNIC))
			return PV_ENOENT;
		return synic_msr(vp, index, is_write, value);
	}
	if (index >= HV1_MSR_STIMER0_CONFIG &&
	    index < HV1_MSR_STIMER0_CONFIG + 2u * HV1_STIMER_COUNT) {
		uint32_t n = (index - HV1_MSR_STIMER0_CONFIG) / 2u;
		bool is_count = ((index - HV1_MSR_STIMER0_CONFIG) & 1u) != 0;
		if (!hv1_priv(hv1, PV_HV1_PRIV_SYNTHETIC_TIMERS))
			return PV_ENOENT;
		if (is_write)
			return hv1_stimer_write(vp, n, is_count, *value);
		hv1_lock(hv1, vp->lock);
		*value = is_count ? vp->stimer[n].count : vp->stimer[n].config;
		hv1_unlock(hv1, vp->lock);
		return PV_OK;
	}
	return PV_ENOENT;
}
