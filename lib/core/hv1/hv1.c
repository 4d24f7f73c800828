/* SPDX-License-Identifier: MIT */
/* hv1 instance lifecycle, CPUID leaves, registration tables, reference time
 * and overlay pages. */
#include "core/hv1/hv1_internal.h"

#define HV1_CPUID_BASE 0x40000000u
#define HV1_CPUID_MAX 0x40000006u
#define HV1_SIG_MICR 0x7263694Du /* "Micr" */
#define HV1_SIG_OSOF 0x666F736Fu /* "osof" */
#define HV1_SIG_THV 0x76482074u  /* "t Hv" */
#define HV1_SIG_HV1 0x31237648u  /* "Hv#1" */

#define HV1_PRIV_DEFAULT                                                             \
	(PV_HV1_PRIV_VP_RUNTIME | PV_HV1_PRIV_TIME_REF_COUNT | PV_HV1_PRIV_SYNIC |   \
	 PV_HV1_PRIV_APIC_MSRS | PV_HV1_PRIV_HYPERCALL_MSRS | PV_HV1_PRIV_VP_INDEX | \
	 PV_HV1_PRIV_REFERENCE_TSC)

void pv_hv1_config_default(struct pv_partition *part, struct pv_hv1_config *cfg)
{
	if (!cfg)
		return;
	hv1_zero(cfg, sizeof(*cfg));
	cfg->privileges_low = HV1_PRIV_DEFAULT;
	cfg->privileges_high = PV_HV1_PRIV_POST_MESSAGES | PV_HV1_PRIV_SIGNAL_EVENTS;
	cfg->spin_retries = 0xFFFFFFFFu;
	cfg->build_number = 0;
	cfg->version_major = 10;
	cfg->version_minor = 0;
	cfg->sint_queue_depth = 16;
	cfg->vendor = PV_HV1_VENDOR_AUTO;
	if (part) {
		const struct pv_port_ops *port = pv_partition_port(part);
		if (port && (port->caps & PV_PORT_CAP_TIMERS)) {
			cfg->privileges_low |= PV_HV1_PRIV_SYNTHETIC_TIMERS;
			cfg->features_edx |= PV_HV1_FEAT_DIRECT_STIMERS;
		}
		if (port && (port->caps & PV_PORT_CAP_IRQCHIP))
			cfg->recommendations |= PV_HV1_REC_DEPRECATE_AEOI;
	}
}

static pv_err_t set_leaf(struct pv_partition *part, uint32_t leaf, uint32_t a, uint32_t b,
			 uint32_t c, uint32_t d)
{
	struct pv_cpuid_entry e = {.leaf = leaf,
				   .subleaf = 0,
				   .any_subleaf = true,
				   .eax = a,
				   .ebx = b,
				   .ecx = c,
				   .edx = d};
	return pv_cpuid_set(part, &e);
}

pv_err_t pv_hv1_cpuid_set_hv_bit(struct pv_partition *part)
{
	struct pv_cpuid_entry e;
	if (!part)
		return PV_EINVAL;
	pv_err_t err = pv_cpuid_get(part, 1, 0, &e);
	if (err)
		return err;
	e.ecx |= 1u << 31;
	return pv_cpuid_set(part, &e);
}

/* Remove other hypervisors' signature leaves (KVM's detector scans from
 * 0x40000100 and would win over Hyper-V). */
static void remove_foreign_signatures(struct pv_partition *part)
{
	for (uint32_t base = 0x40000100u; base <= 0x4000FF00u; base += 0x100u) {
		struct pv_cpuid_entry e;
		if (pv_cpuid_get(part, base, 0, &e) != PV_OK)
			continue;
		/* "KVMKVMKVM\0\0\0" */
		if (e.ebx == 0x4B4D564Bu && e.ecx == 0x564B4D56u && e.edx == 0x0000004Du) {
			pv_cpuid_remove(part, base, 0);
			pv_cpuid_remove(part, base + 1u, 0);
		}
	}
}

static pv_err_t install_cpuid(struct pv_hv1 *hv1)
{
	const struct pv_hv1_config *c = &hv1->cfg;
	struct pv_partition *p = hv1->part;
	uint32_t vps = c->max_vps ? c->max_vps : hv1->vp_count;
	uint32_t lps = c->max_lps ? c->max_lps : hv1->vp_count;
	pv_err_t err;

	remove_foreign_signatures(p);
	err = set_leaf(p, HV1_CPUID_BASE, HV1_CPUID_MAX, HV1_SIG_MICR, HV1_SIG_OSOF, HV1_SIG_THV);
	if (!err)
		err = set_leaf(p, 0x40000001u, HV1_SIG_HV1, 0, 0, 0);
	if (!err)
		err = set_leaf(p, 0x40000002u, c->build_number,
			       ((uint32_t)c->version_major << 16) | c->version_minor,
			       c->service_pack, c->service_branch);
	if (!err)
		err = set_leaf(p, 0x40000003u, c->privileges_low, c->privileges_high,
			       c->features_ecx, c->features_edx);
	if (!err)
		err = set_leaf(p, 0x40000004u, c->recommendations, c->spin_retries,
			       c->phys_addr_bits & 0x7Fu, 0);
	if (!err)
		err = set_leaf(p, 0x40000005u, vps, lps, 0, 0);
	if (!err)
		err = set_leaf(p, 0x40000006u, c->hw_features, 0, 0, 0);
	if (!err) {
		err = pv_hv1_cpuid_set_hv_bit(p);
		if (err == PV_ENOENT)
			err = PV_OK;
	}
	return err;
}

static void remove_cpuid(struct pv_hv1 *hv1)
{
	for (uint32_t leaf = HV1_CPUID_BASE; leaf <= HV1_CPUID_MAX; leaf++)
		pv_cpuid_remove(hv1->part, leaf, 0);
}

static pv_err_t check_config(const struct pv_hv1_config *c)
{
	if (c->sint_queue_depth == 0 || c->sint_queue_depth > HV1_MAX_QUEUE_DEPTH)
		return PV_EINVAL;
	if (c->tsc_frequency_hz && c->tsc_frequency_hz <= 10000000u)
		return PV_EINVAL;
	if (c->vendor > PV_HV1_VENDOR_AMD)
		return PV_EINVAL;
	/* Timers deliver through the SynIC. */
	if ((c->privileges_low & PV_HV1_PRIV_SYNTHETIC_TIMERS) &&
	    !(c->privileges_low & PV_HV1_PRIV_SYNIC))
		return PV_EINVAL;
	return PV_OK;
}

static void free_all(struct pv_hv1 *hv1)
{
	if (hv1->vps) {
		for (uint32_t i = 0; i < hv1->vp_count; i++) {
			struct hv1_vp *vp = &hv1->vps[i];
			for (uint32_t s = 0; s < PV_HV1_SINT_COUNT; s++)
				hv1_queue_free(hv1, &vp->queue[s]);
			hv1_free(hv1, vp->hc_in);
			hv1_free(hv1, vp->hc_out);
			if (vp->lock)
				hv1->plat->lock_destroy(hv1->plat->ctx, vp->lock);
		}
		hv1_free(hv1, hv1->vps);
	}
	hv1_free(hv1, hv1->hc_overlay.saved);
	hv1_free(hv1, hv1->tsc_overlay.saved);
	hv1_free(hv1, hv1->msg_conns);
	hv1_free(hv1, hv1->evt_conns);
	hv1_free(hv1, hv1->hcs);
	if (hv1->lock)
		hv1->plat->lock_destroy(hv1->plat->ctx, hv1->lock);
	hv1->plat->free(hv1->plat->ctx, hv1);
}

static void uninstall(struct pv_hv1 *hv1)
{
	if (hv1->filter_installed)
		pv_dispatch_set_filter(hv1->part, PV_FILTER_HV1, NULL, NULL);
	if (hv1->msr_registered)
		pv_msr_unregister(hv1->part, HV1_MSR_FIRST);
	hv1->filter_installed = false;
	hv1->msr_registered = false;
	remove_cpuid(hv1);
}

pv_err_t pv_hv1_create(struct pv_partition *part, const struct pv_hv1_config *cfg,
		       struct pv_hv1 **out)
{
	struct pv_hv1_config def;
	pv_err_t err;

	if (!part || !out)
		return PV_EINVAL;
	*out = NULL;
	if (!cfg) {
		pv_hv1_config_default(part, &def);
		cfg = &def;
	}
	err = check_config(cfg);
	if (err)
		return err;

	const struct pv_platform *plat = pv_partition_platform(part);
	struct pv_hv1 *hv1 = plat->alloc(plat->ctx, sizeof(*hv1));
	if (!hv1)
		return PV_ENOMEM;
	hv1->part = part;
	hv1->plat = plat;
	hv1->port = pv_partition_port(part);
	hv1->port_data = pv_partition_port_data(part);
	hv1->cfg = *cfg;
	hv1->vp_count = pv_partition_vcpu_count(part);
	hv1->ref_bias_ns = 0u - pv_clock_ns(part); /* reference time starts at 0 */
	hv1->scale = cfg->tsc_frequency_hz ? hv1_tsc_scale(cfg->tsc_frequency_hz) : 0;

	hv1->lock = plat->lock_create(plat->ctx);
	hv1->vps = plat->alloc(plat->ctx, sizeof(struct hv1_vp) * hv1->vp_count);
	hv1->hc_overlay.saved = plat->alloc(plat->ctx, PV_PAGE_SIZE);
	hv1->tsc_overlay.saved = plat->alloc(plat->ctx, PV_PAGE_SIZE);
	if (!hv1->lock || !hv1->vps || !hv1->hc_overlay.saved || !hv1->tsc_overlay.saved) {
		free_all(hv1);
		return PV_ENOMEM;
	}
	for (uint32_t i = 0; i < hv1->vp_count; i++) {
		struct hv1_vp *vp = &hv1->vps[i];
		vp->hv1 = hv1;
		vp->index = i;
		vp->vcpu = pv_partition_vcpu(part, i);
		vp->lock = plat->lock_create(plat->ctx);
		vp->hc_in = plat->alloc(plat->ctx, HV1_SCRATCH_SIZE);
		vp->hc_out = plat->alloc(plat->ctx, HV1_SCRATCH_SIZE);
		if (!vp->lock || !vp->hc_in || !vp->hc_out || !vp->vcpu) {
			free_all(hv1);
			return PV_ENOMEM;
		}
		for (uint32_t t = 0; t < HV1_STIMER_COUNT; t++) {
			vp->stimer[t].vp = vp;
			vp->stimer[t].index = (uint8_t)t;
		}
		hv1_synic_reset_vp(vp);
	}

	err = hv1_register_builtin_hypercalls(hv1);
	if (!err)
		err = install_cpuid(hv1);
	if (!err) {
		err = pv_msr_register(part, HV1_MSR_FIRST, HV1_MSR_COUNT, hv1_msr_access, hv1);
		hv1->msr_registered = (err == PV_OK);
	}
	if (!err) {
		err = pv_dispatch_set_filter(part, PV_FILTER_HV1, hv1_exit_filter, hv1);
		hv1->filter_installed = (err == PV_OK);
	}
	if (err) {
		uninstall(hv1);
		free_all(hv1);
		return err;
	}
	pv_log(part, PV_LOG_INFO, "hv1", "Hyper-V interface installed (%u vCPUs, priv 0x%x)",
	       hv1->vp_count, cfg->privileges_low);
	*out = hv1;
	return PV_OK;
}

void pv_hv1_destroy(struct pv_hv1 *hv1)
{
	if (!hv1)
		return;
	hv1->dying = true;
	uninstall(hv1);
	hv1_stimer_destroy_all(hv1);
	free_all(hv1);
}

/* ---- reference time ---- */

uint64_t hv1_ref_time(struct pv_hv1 *hv1)
{
	uint64_t bias = __atomic_load_n(&hv1->ref_bias_ns, __ATOMIC_ACQUIRE);
	return (pv_clock_ns(hv1->part) + bias) / 100u;
}

uint64_t pv_hv1_reference_time(struct pv_hv1 *hv1)
{
	return hv1 ? hv1_ref_time(hv1) : 0;
}

/* Clock time (pv_clock_ns) at which the reference time reaches @ref. */
uint64_t hv1_ref_to_ns(struct pv_hv1 *hv1, uint64_t ref)
{
	uint64_t bias = __atomic_load_n(&hv1->ref_bias_ns, __ATOMIC_ACQUIRE);
	uint64_t ref_ns;
	if (ref > UINT64_MAX / 100u)
		return UINT64_MAX;
	ref_ns = ref * 100u;
	/* A reference time already reached maps to "now" (fires at once). */
	uint64_t now = pv_clock_ns(hv1->part);
	uint64_t now_ref_ns = now + bias;
	if (ref_ns <= now_ref_ns)
		return now;
	/* ref_ns > now_ref_ns: ns = now + (ref_ns - now_ref_ns), saturating. */
	uint64_t delta = ref_ns - now_ref_ns;
	if (now > UINT64_MAX - delta)
		return UINT64_MAX;
	return now + delta;
}

struct hv1_vp *hv1_vp_get(struct pv_hv1 *hv1, uint32_t index)
{
	if (!hv1 || index >= hv1->vp_count)
		return NULL;
	return &hv1->vps[index];
}

/* ---- overlays (partition lock held) ---- */

pv_err_t hv1_overlay_install(struct pv_hv1 *hv1, struct hv1_overlay *ov, uint64_t gpa,
			     const uint8_t *page)
{
	pv_err_t err;
	if (ov->active && ov->gpa == gpa)
		return pv_mem_write(hv1->part, PV_ACCESS_PARAVISOR, pv_gpa(gpa), page,
				    PV_PAGE_SIZE);
	err = pv_mem_check(hv1->part, PV_ACCESS_PARAVISOR, pv_gpa(gpa), PV_PAGE_SIZE,
			   PV_PERM_READ | PV_PERM_WRITE);
	if (err)
		return err;
	hv1_overlay_remove(hv1, ov);
	err = pv_mem_read(hv1->part, PV_ACCESS_PARAVISOR, pv_gpa(gpa), ov->saved, PV_PAGE_SIZE);
	if (err)
		return err;
	err = pv_mem_write(hv1->part, PV_ACCESS_PARAVISOR, pv_gpa(gpa), page, PV_PAGE_SIZE);
	if (err)
		return err;
	ov->active = true;
	ov->gpa = gpa;
	return PV_OK;
}

void hv1_overlay_remove(struct pv_hv1 *hv1, struct hv1_overlay *ov)
{
	if (!ov->active)
		return;
	/* Put the guest's own page contents back. */
	if (pv_mem_write(hv1->part, PV_ACCESS_PARAVISOR, pv_gpa(ov->gpa), ov->saved,
			 PV_PAGE_SIZE) != PV_OK)
		pv_log(hv1->part, PV_LOG_WARN, "hv1", "overlay at 0x%llx not restored",
		       (unsigned long long)ov->gpa);
	ov->active = false;
}

/* ---- registration tables (partition lock) ---- */

static pv_err_t conn_add(struct pv_hv1 *hv1, struct hv1_conn **arr, size_t *count, size_t *cap,
			 const struct hv1_conn *conn)
{
	for (size_t i = 0; i < *count; i++)
		if ((*arr)[i].id == conn->id)
			return PV_EEXIST;
	if (*count == *cap) {
		size_t ncap = *cap ? *cap * 2u : 8u;
		struct hv1_conn *n = hv1_alloc(hv1, ncap * sizeof(*n));
		if (!n)
			return PV_ENOMEM;
		if (*count)
			hv1_copy(n, *arr, *count * sizeof(*n));
		hv1_free(hv1, *arr);
		*arr = n;
		*cap = ncap;
	}
	(*arr)[*count] = *conn;
	(*count)++;
	return PV_OK;
}

static pv_err_t conn_del(struct hv1_conn *arr, size_t *count, uint32_t id)
{
	for (size_t i = 0; i < *count; i++) {
		if (arr[i].id == id) {
			arr[i] = arr[*count - 1u];
			(*count)--;
			return PV_OK;
		}
	}
	return PV_ENOENT;
}

bool hv1_lookup_conn(struct pv_hv1 *hv1, bool event, uint32_t id, struct hv1_conn *out)
{
	bool found = false;
	hv1_lock(hv1, hv1->lock);
	struct hv1_conn *arr = event ? hv1->evt_conns : hv1->msg_conns;
	size_t n = event ? hv1->evt_count : hv1->msg_count;
	for (size_t i = 0; i < n; i++) {
		if (arr[i].id == id) {
			*out = arr[i];
			found = true;
			break;
		}
	}
	hv1_unlock(hv1, hv1->lock);
	return found;
}

pv_err_t pv_hv1_register_message_handler(struct pv_hv1 *hv1, uint32_t connection_id,
					 pv_hv1_message_fn fn, void *ctx)
{
	if (!hv1 || !fn || (connection_id >> 24))
		return PV_EINVAL;
	struct hv1_conn c = {.id = connection_id, .msg_fn = fn, .evt_fn = NULL, .ctx = ctx};
	hv1_lock(hv1, hv1->lock);
	pv_err_t err = conn_add(hv1, &hv1->msg_conns, &hv1->msg_count, &hv1->msg_cap, &c);
	hv1_unlock(hv1, hv1->lock);
	return err;
}

pv_err_t pv_hv1_unregister_message_handler(struct pv_hv1 *hv1, uint32_t connection_id)
{
	if (!hv1)
		return PV_EINVAL;
	hv1_lock(hv1, hv1->lock);
	pv_err_t err = conn_del(hv1->msg_conns, &hv1->msg_count, connection_id);
	hv1_unlock(hv1, hv1->lock);
	return err;
}

pv_err_t pv_hv1_register_event_handler(struct pv_hv1 *hv1, uint32_t connection_id,
				       pv_hv1_event_fn fn, void *ctx)
{
	if (!hv1 || !fn || (connection_id >> 24))
		return PV_EINVAL;
	struct hv1_conn c = {.id = connection_id, .msg_fn = NULL, .evt_fn = fn, .ctx = ctx};
	hv1_lock(hv1, hv1->lock);
	pv_err_t err = conn_add(hv1, &hv1->evt_conns, &hv1->evt_count, &hv1->evt_cap, &c);
	hv1_unlock(hv1, hv1->lock);
	return err;
}

pv_err_t pv_hv1_unregister_event_handler(struct pv_hv1 *hv1, uint32_t connection_id)
{
	if (!hv1)
		return PV_EINVAL;
	hv1_lock(hv1, hv1->lock);
	pv_err_t err = conn_del(hv1->evt_conns, &hv1->evt_count, connection_id);
	hv1_unlock(hv1, hv1->lock);
	return err;
}

pv_err_t pv_hv1_register_hypercall(struct pv_hv1 *hv1, const struct pv_hv1_hypercall_desc *desc)
{
	if (!hv1 || !hv1_hc_desc_valid(desc))
		return PV_EINVAL;
	pv_err_t err = PV_OK;
	hv1_lock(hv1, hv1->lock);
	for (size_t i = 0; i < hv1->hc_count; i++) {
		if (hv1->hcs[i].desc.code == desc->code) {
			err = PV_EEXIST;
			goto out;
		}
	}
	if (hv1->hc_count == hv1->hc_cap) {
		size_t ncap = hv1->hc_cap ? hv1->hc_cap * 2u : 16u;
		struct hv1_hc_entry *n = hv1_alloc(hv1, ncap * sizeof(*n));
		if (!n) {
			err = PV_ENOMEM;
			goto out;
		}
		if (hv1->hc_count)
			hv1_copy(n, hv1->hcs, hv1->hc_count * sizeof(*n));
		hv1_free(hv1, hv1->hcs);
		hv1->hcs = n;
		hv1->hc_cap = ncap;
	}
	hv1->hcs[hv1->hc_count++].desc = *desc;
out:
	hv1_unlock(hv1, hv1->lock);
	return err;
}

pv_err_t pv_hv1_unregister_hypercall(struct pv_hv1 *hv1, uint16_t code)
{
	pv_err_t err = PV_ENOENT;
	if (!hv1)
		return PV_EINVAL;
	hv1_lock(hv1, hv1->lock);
	for (size_t i = 0; i < hv1->hc_count; i++) {
		if (hv1->hcs[i].desc.code == code) {
			hv1->hcs[i] = hv1->hcs[hv1->hc_count - 1u];
			hv1->hc_count--;
			err = PV_OK;
			break;
		}
	}
	hv1_unlock(hv1, hv1->lock);
	return err;
}

bool hv1_lookup_hc(struct pv_hv1 *hv1, uint16_t code, struct pv_hv1_hypercall_desc *out)
{
	bool found = false;
	hv1_lock(hv1, hv1->lock);
	for (size_t i = 0; i < hv1->hc_count; i++) {
		if (hv1->hcs[i].desc.code == code) {
			*out = hv1->hcs[i].desc;
			found = true;
			break;
		}
	}
	hv1_unlock(hv1, hv1->lock);
	return found;
}

void pv_hv1_set_sint_ready_fn(struct pv_hv1 *hv1, pv_hv1_sint_ready_fn fn, void *ctx)
{
	if (!hv1)
		return;
	hv1_lock(hv1, hv1->lock);
	hv1->ready_fn = fn;
	hv1->ready_ctx = ctx;
	hv1_unlock(hv1, hv1->lock);
}

void hv1_notify_ready(struct pv_hv1 *hv1, uint32_t vp_index, uint32_t ready_mask)
{
	if (!ready_mask)
		return;
	hv1_lock(hv1, hv1->lock);
	pv_hv1_sint_ready_fn fn = hv1->ready_fn;
	void *ctx = hv1->ready_ctx;
	hv1_unlock(hv1, hv1->lock);
	if (!fn)
		return;
	for (uint8_t s = 0; s < PV_HV1_SINT_COUNT; s++)
		if (ready_mask & (1u << s))
			fn(ctx, vp_index, s);
}
