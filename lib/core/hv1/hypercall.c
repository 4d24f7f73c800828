/* SPDX-License-Identifier: MIT */
/* Hypercall dispatcher (the PV_FILTER_HV1 exit filter) and the built-in
 * hypercalls. Input is copied once into per-vCPU scratch, then validated;
 * output is built in scratch and written back through the caller's VTL
 * accessor. */
#include "core/hv1/hv1_internal.h"

static void inject_ud(struct pv_exit *exit)
{
	exit->inject.kind = PV_EVENT_EXCEPTION;
	exit->inject.vector = PV_VEC_UD;
	exit->inject.has_error_code = false;
	exit->inject.error_code = 0;
	exit->inject.cr2 = 0;
}

static uint16_t mem_status(pv_err_t err)
{
	return err == PV_EACCES ? PV_HV1_STATUS_ACCESS_DENIED :
				  PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
}

static uint64_t result(uint16_t status, uint16_t reps)
{
	return (uint64_t)status | ((uint64_t)reps << 32);
}

static uint64_t do_hypercall(struct pv_hv1 *hv1, struct hv1_vp *vp, struct pv_exit_hypercall *h)
{
	struct hv1_hc_control c;
	struct pv_hv1_hypercall_desc d;
	struct hv1_hc_layout lay;
	struct pv_partition *part = hv1->part;
	uint16_t status;
	pv_err_t err;

	status = hv1_hc_parse_control(h->control, &c);
	if (status)
		return result(status, 0);
	if (!hv1_lookup_hc(hv1, c.code, &d))
		return result(PV_HV1_STATUS_INVALID_HYPERCALL_CODE, 0);
	status = hv1_hc_check(&c, &d, h->input, h->output, &lay);
	if (status)
		return result(status, 0);
	if (h->vtl >= pv_partition_vtl_count(part))
		return result(PV_HV1_STATUS_ACCESS_DENIED, 0);
	enum pv_accessor who = (enum pv_accessor)h->vtl;

	if (c.fast) {
		hv1_put64(vp->hc_in, h->input);
		hv1_put64(vp->hc_in + 8, h->output);
	} else if (lay.input_size) {
		err = pv_mem_read(part, who, pv_gpa(h->input), vp->hc_in, lay.input_size);
		if (err)
			return result(mem_status(err), 0);
	}
	if (lay.output_size) {
		err = pv_mem_check(part, who, pv_gpa(h->output), lay.output_size, PV_PERM_WRITE);
		if (err)
			return result(mem_status(err), 0);
		hv1_zero(vp->hc_out, lay.output_size);
	}

	struct pv_hv1_hypercall call = {
		.hv1 = hv1,
		.vcpu = vp->vcpu,
		.vtl = h->vtl,
		.code = c.code,
		.fast = c.fast,
		.varhdr_size = (uint16_t)lay.varhdr_size,
		.rep_count = c.rep_count,
		.rep_start = c.rep_start,
		.input = vp->hc_in,
		.input_size = lay.input_size,
		.output = lay.output_size ? vp->hc_out : NULL,
		.output_size = lay.output_size,
		.reps_completed = c.rep_count,
	};
	status = d.fn(d.ctx, &call);

	uint16_t reps = 0;
	if (d.flags & PV_HV1_HC_REP) {
		reps = call.reps_completed;
		if (reps > c.rep_count)
			reps = c.rep_count;
		if (reps < c.rep_start)
			reps = c.rep_start;
		if (status == PV_HV1_STATUS_SUCCESS && reps < c.rep_count)
			status = PV_HV1_STATUS_INVALID_PARAMETER; /* handler inconsistency */
	}
	if (lay.output_size) {
		/* Simple calls: the whole output on success. Rep calls: the fixed
		 * part and the elements completed by this call. */
		uint64_t first = 0, last = 0;
		if (d.flags & PV_HV1_HC_REP) {
			first = d.output_size + (uint64_t)c.rep_start * d.rep_output_size;
			last = d.output_size + (uint64_t)reps * d.rep_output_size;
			if (d.output_size)
				pv_mem_write(part, who, pv_gpa(h->output), vp->hc_out,
					     d.output_size);
		} else if (status == PV_HV1_STATUS_SUCCESS) {
			last = lay.output_size;
		}
		if (last > first &&
		    pv_mem_write(part, who, pv_gpa(h->output + first), vp->hc_out + first,
				 (size_t)(last - first)) != PV_OK)
			status = PV_HV1_STATUS_ACCESS_DENIED;
	}
	return result(status, reps);
}

bool pv_hv1_handle_exit(struct pv_hv1 *hv1, struct pv_vcpu *vcpu, struct pv_exit *exit)
{
	struct hv1_vp *vp;
	bool enabled;

	if (!hv1 || !vcpu || !exit || exit->kind != PV_EXIT_HYPERCALL)
		return false;
	vp = hv1_vp_get(hv1, pv_vcpu_index(vcpu));
	if (!vp)
		return false;
	/* The interface exists once the guest has identified itself (as in
	 * KVM; some guests trap without mapping the page). Written under the
	 * partition lock; read lock-free on the hot path. */
	enabled = __atomic_load_n(&hv1->guest_os_id, __ATOMIC_ACQUIRE) != 0;
	/* Without it the instruction is undefined. */
	if (!enabled || !hv1_priv(hv1, PV_HV1_PRIV_HYPERCALL_MSRS)) {
		inject_ud(exit);
		return true;
	}
	exit->u.hypercall.result = do_hypercall(hv1, vp, &exit->u.hypercall);
	return true;
}

bool hv1_exit_filter(void *ctx, struct pv_vcpu *vcpu, struct pv_exit *exit)
{
	return pv_hv1_handle_exit(ctx, vcpu, exit);
}

/* ---- built-in calls ---- */

static uint16_t hc_post_message(void *ctx, struct pv_hv1_hypercall *call)
{
	struct pv_hv1 *hv1 = ctx;
	struct hv1_post_message pm;
	struct hv1_conn conn;
	uint16_t status;

	if (!(hv1->cfg.privileges_high & PV_HV1_PRIV_POST_MESSAGES))
		return PV_HV1_STATUS_ACCESS_DENIED;
	status = hv1_parse_post_message(call->input, call->input_size, &pm);
	if (status)
		return status;
	if (!hv1_lookup_conn(hv1, false, pm.connection_id, &conn))
		return PV_HV1_STATUS_INVALID_CONNECTION_ID;
	pv_err_t err = conn.msg_fn(conn.ctx, call->vcpu, pm.connection_id, pm.message_type,
				   pm.payload, pm.payload_size);
	if (err == PV_OK)
		return PV_HV1_STATUS_SUCCESS;
	return err == PV_EBUSY ? PV_HV1_STATUS_INSUFFICIENT_BUFFERS :
				 PV_HV1_STATUS_INVALID_PARAMETER;
}

static uint16_t hc_signal_event(void *ctx, struct pv_hv1_hypercall *call)
{
	struct pv_hv1 *hv1 = ctx;
	struct hv1_signal_event se;
	struct hv1_conn conn;
	uint16_t status;

	if (!(hv1->cfg.privileges_high & PV_HV1_PRIV_SIGNAL_EVENTS))
		return PV_HV1_STATUS_ACCESS_DENIED;
	status = hv1_parse_signal_event(call->input, call->input_size, &se);
	if (status)
		return status;
	if (!hv1_lookup_conn(hv1, true, se.connection_id, &conn))
		return PV_HV1_STATUS_INVALID_CONNECTION_ID;
	if (conn.evt_fn(conn.ctx, call->vcpu, se.connection_id, se.flag_number) != PV_OK)
		return PV_HV1_STATUS_INVALID_PARAMETER;
	return PV_HV1_STATUS_SUCCESS;
}

/* TLB flushes: the ports run guests on hardware-managed TLBs with no
 * remote-flush primitive, so these complete without flushing; the default
 * configuration does not recommend them (the guest then uses IPIs). */
static uint16_t hc_flush(void *ctx, struct pv_hv1_hypercall *call)
{
	(void)ctx;
	return hv1_parse_flush(call->code, call->input, call->input_size,
			       (uint16_t)(call->varhdr_size / 8u));
}

/* Synthetic cluster IPI: a fixed interrupt to each VP in the set (through
 * the same delivery path as SINTs). VPs beyond the partition are ignored. */
static uint16_t hc_send_ipi(void *ctx, struct pv_hv1_hypercall *call)
{
	struct pv_hv1 *hv1 = ctx;
	struct hv1_send_ipi ipi;
	uint16_t status = hv1_parse_send_ipi(call->code, call->input, call->input_size,
					     (uint16_t)(call->varhdr_size / 8u), &ipi);
	if (status)
		return status;
	for (uint32_t vp = 0; vp < hv1->vp_count; vp++)
		if (hv1_ipi_targets(&ipi, vp))
			hv1_raise(&hv1->vps[vp], (uint8_t)ipi.vector);
	return PV_HV1_STATUS_SUCCESS;
}

static uint16_t hc_long_spin(void *ctx, struct pv_hv1_hypercall *call)
{
	(void)ctx;
	(void)call;
	return PV_HV1_STATUS_SUCCESS;
}

pv_err_t hv1_register_builtin_hypercalls(struct pv_hv1 *hv1)
{
	const struct pv_hv1_hypercall_desc descs[] = {
		{PV_HV1_CALL_POST_MESSAGE, 0, 16u + PV_HV1_MESSAGE_PAYLOAD_MAX, 0, 0, 0,
		 hc_post_message, hv1},
		{PV_HV1_CALL_SIGNAL_EVENT, PV_HV1_HC_FAST, 8, 0, 0, 0, hc_signal_event, hv1},
		{PV_HV1_CALL_FLUSH_VA_SPACE, 0, 24, 0, 0, 0, hc_flush, hv1},
		{PV_HV1_CALL_FLUSH_VA_LIST, PV_HV1_HC_REP, 24, 0, 8, 0, hc_flush, hv1},
		{PV_HV1_CALL_FLUSH_VA_SPACE_EX, PV_HV1_HC_VARHDR, 32, 0, 0, 0, hc_flush, hv1},
		{PV_HV1_CALL_FLUSH_VA_LIST_EX, PV_HV1_HC_REP | PV_HV1_HC_VARHDR, 32, 0, 8, 0,
		 hc_flush, hv1},
		{PV_HV1_CALL_NOTIFY_LONG_SPIN, PV_HV1_HC_FAST, 8, 0, 0, 0, hc_long_spin, hv1},
		{PV_HV1_CALL_SEND_IPI, PV_HV1_HC_FAST, 16, 0, 0, 0, hc_send_ipi, hv1},
		{PV_HV1_CALL_SEND_IPI_EX, PV_HV1_HC_VARHDR, 24, 0, 0, 0, hc_send_ipi, hv1},
	};
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		pv_err_t err = pv_hv1_register_hypercall(hv1, &descs[i]);
		if (err)
			return err;
	}
	return PV_OK;
}
