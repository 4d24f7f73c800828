/* SPDX-License-Identifier: MIT */
/*
 * VMBus channel-management server: version negotiation, offers, open/close,
 * rescind, modify, unload, and the host-to-guest message queue. GPADL
 * messages are in gpadl.c, ring and device traffic in channel.c.
 *
 * Every guest message is copied into a local buffer, its size checked against
 * the minimum for its type, and handled under the server lock. Messages that
 * are malformed, arrive in the wrong state, are duplicates or name an unknown
 * relid/GPADL are either answered with the protocol's failure status (where
 * the guest waits for an answer) or dropped and counted.
 */
#include "vmbus/vmbus_internal.h"

#include "paravisor/hv1.h"
#include "paravisor/memory.h"

static const uint32_t vmb_versions[] = {
	PV_VMBUS_VERSION_5_3,    PV_VMBUS_VERSION_5_2,  PV_VMBUS_VERSION_5_1,
	PV_VMBUS_VERSION_5_0,    PV_VMBUS_VERSION_4_1,  PV_VMBUS_VERSION_WIN10,
	PV_VMBUS_VERSION_WIN8_1, PV_VMBUS_VERSION_WIN8,
};

/* ---- small services ---- */

void vmb_count(struct pv_vmbus *vmbus, uint64_t *counter)
{
	(void)vmbus;
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

void *vmb_alloc(struct pv_vmbus *vmbus, size_t size)
{
	return vmbus->plat->alloc(vmbus->plat->ctx, size);
}

void vmb_free(struct pv_vmbus *vmbus, void *p)
{
	if (p)
		vmbus->plat->free(vmbus->plat->ctx, p);
}

void vmb_lock(struct pv_vmbus *vmbus, void *lock)
{
	vmbus->plat->lock_acquire(vmbus->plat->ctx, lock);
}

void vmb_unlock(struct pv_vmbus *vmbus, void *lock)
{
	vmbus->plat->lock_release(vmbus->plat->ctx, lock);
}

/* ---- default host services: the hv1 SynIC and the checked accessors ---- */

static pv_err_t hv_post(void *ctx, uint32_t vp, uint8_t sint, uint32_t type, const void *payload,
			uint32_t size)
{
	struct pv_vmbus *vmbus = ctx;

	return pv_hv1_post_message(vmbus->cfg.hv1, vp, sint, type, payload, size);
}

static pv_err_t hv_signal(void *ctx, uint32_t vp, uint8_t sint, uint32_t flag)
{
	struct pv_vmbus *vmbus = ctx;

	return pv_hv1_signal_event(vmbus->cfg.hv1, vp, sint, flag);
}

static pv_err_t hv_reg_msg(void *ctx, uint32_t conn, pv_hv1_message_fn fn, void *fn_ctx)
{
	struct pv_vmbus *vmbus = ctx;

	return pv_hv1_register_message_handler(vmbus->cfg.hv1, conn, fn, fn_ctx);
}

static pv_err_t hv_unreg_msg(void *ctx, uint32_t conn)
{
	struct pv_vmbus *vmbus = ctx;

	return pv_hv1_unregister_message_handler(vmbus->cfg.hv1, conn);
}

static pv_err_t hv_reg_evt(void *ctx, uint32_t conn, pv_hv1_event_fn fn, void *fn_ctx)
{
	struct pv_vmbus *vmbus = ctx;

	return pv_hv1_register_event_handler(vmbus->cfg.hv1, conn, fn, fn_ctx);
}

static pv_err_t hv_unreg_evt(void *ctx, uint32_t conn)
{
	struct pv_vmbus *vmbus = ctx;

	return pv_hv1_unregister_event_handler(vmbus->cfg.hv1, conn);
}

static pv_err_t hv_mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct pv_vmbus *vmbus = ctx;

	return pv_mem_read(vmbus->cfg.part, vmbus->cfg.accessor, pv_gpa(gpa), buf, len);
}

static pv_err_t hv_mem_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct pv_vmbus *vmbus = ctx;

	return pv_mem_write(vmbus->cfg.part, vmbus->cfg.accessor, pv_gpa(gpa), buf, len);
}

/* ---- host-to-guest messages ---- */

static bool outq_flush(struct pv_vmbus *vmbus);

/* hv1 back-pressure: a SINT queue has room again. */
static void on_sint_ready(void *ctx, uint32_t vp_index, uint8_t sint)
{
	struct pv_vmbus *vmbus = ctx;

	(void)vp_index;
	(void)sint;
	vmb_lock(vmbus, vmbus->lock);
	outq_flush(vmbus);
	vmb_unlock(vmbus, vmbus->lock);
}

static bool outq_flush(struct pv_vmbus *vmbus)
{
	while (vmbus->outq_count) {
		struct vmb_outmsg *m = &vmbus->outq[vmbus->outq_head];
		pv_err_t e = vmbus->ops.post_message(vmbus->ops.ctx, m->vp, m->sint,
						     VMB_SYNIC_MESSAGE_TYPE, m->data, m->size);

		if (e == PV_EBUSY)
			return false;
		if (e != PV_OK)
			vmb_count(vmbus, &vmbus->stats.post_failures);
		vmbus->outq_head = (vmbus->outq_head + 1) % VMB_OUTQ_LEN;
		vmbus->outq_count--;
	}
	return true;
}

static void post_to(struct pv_vmbus *vmbus, uint32_t vp, uint8_t sint, const void *msg,
		    uint32_t size)
{
	struct vmb_outmsg *m;
	pv_err_t e = PV_EBUSY;

	if (outq_flush(vmbus))
		e = vmbus->ops.post_message(vmbus->ops.ctx, vp, sint, VMB_SYNIC_MESSAGE_TYPE, msg,
					    size);
	if (e == PV_OK)
		return;
	if (e != PV_EBUSY || vmbus->outq_count == VMB_OUTQ_LEN) {
		vmb_count(vmbus, &vmbus->stats.post_failures);
		pv_log(vmbus->cfg.part, PV_LOG_WARN, "vmbus", "cannot post message type %u: %d",
		       vmb_get32(msg), e);
		return;
	}
	vmb_count(vmbus, &vmbus->stats.post_deferred);
	m = &vmbus->outq[(vmbus->outq_head + vmbus->outq_count) % VMB_OUTQ_LEN];
	m->vp = vp;
	m->sint = sint;
	m->size = size;
	vmb_memcpy(m->data, msg, size);
	vmbus->outq_count++;
}

void vmb_post(struct pv_vmbus *vmbus, const void *msg, uint32_t size)
{
	post_to(vmbus, vmbus->target_vp, vmbus->msg_sint, msg, size);
}

void vmb_post_relid_status(struct pv_vmbus *vmbus, uint32_t type, uint32_t relid, uint32_t word2,
			   uint32_t word3, uint32_t size)
{
	uint8_t m[20];

	vmb_memset(m, 0, sizeof(m));
	vmb_put32(m, type);
	vmb_put32(m + 8, relid);
	vmb_put32(m + 12, word2);
	vmb_put32(m + 16, word3);
	vmb_post(vmbus, m, size);
}

/* ---- channels ---- */

static struct pv_vmbus_channel *chan_get(struct pv_vmbus *vmbus, uint32_t relid)
{
	if (relid == 0 || relid > VMB_MAX_RELID)
		return NULL;
	return vmbus->chans[relid];
}

void vmb_send_offer(struct pv_vmbus *vmbus, struct pv_vmbus_channel *chan)
{
	uint8_t m[VMB_SZ_OFFER];

	vmb_memset(m, 0, sizeof(m));
	vmb_put32(m, VMB_MSG_OFFERCHANNEL);
	vmb_memcpy(m + 8, chan->desc.class_id.b, 16);
	vmb_memcpy(m + 24, chan->desc.instance_id.b, 16);
	vmb_put16(m + 56, chan->desc.offer_flags);
	vmb_put16(m + 58, chan->desc.mmio_megabytes);
	vmb_memcpy(m + 60, chan->desc.user_defined, 120);
	vmb_put16(m + 180, 0); /* primary channel */
	vmb_put32(m + 184, chan->relid);
	m[188] = 0xff;         /* no monitor id */
	m[189] = 0;            /* monitor not allocated: the guest uses HvSignalEvent */
	vmb_put16(m + 190, 1); /* dedicated interrupt */
	vmb_put32(m + 192, chan->conn_id);
	vmb_post(vmbus, m, sizeof(m));
	chan->state = VMB_CH_OFFERED;
}

void vmb_free_channel(struct pv_vmbus *vmbus, struct pv_vmbus_channel *chan)
{
	if (chan->state == VMB_CH_OPEN)
		vmb_channel_close(vmbus, chan);
	vmb_gpadl_free_relid(vmbus, chan->relid);
	vmbus->ops.unregister_event_handler(vmbus->ops.ctx, chan->conn_id);
	vmbus->chans[chan->relid] = NULL;
	/* Wait out a signal handler that found the channel before we unlinked it. */
	vmb_lock(vmbus, chan->in_lock);
	vmb_unlock(vmbus, chan->in_lock);
	vmbus->plat->lock_destroy(vmbus->plat->ctx, chan->in_lock);
	vmbus->plat->lock_destroy(vmbus->plat->ctx, chan->out_lock);
	vmb_free(vmbus, chan);
}

void vmb_reset_connection(struct pv_vmbus *vmbus)
{
	uint32_t relid;

	for (relid = 1; relid <= VMB_MAX_RELID; relid++) {
		struct pv_vmbus_channel *chan = vmbus->chans[relid];

		if (!chan)
			continue;
		if (chan->state == VMB_CH_OPEN)
			vmb_channel_close(vmbus, chan);
		if (chan->detached)
			vmb_free_channel(vmbus, chan);
		else
			chan->state = VMB_CH_PENDING;
	}
	vmb_gpadl_free_all(vmbus);
	vmbus->state = PV_VMBUS_DISCONNECTED;
	vmbus->version = 0;
	vmbus->outq_count = 0;
	vmbus->outq_head = 0;
}

/* ---- message handlers (server lock held) ---- */

static bool version_supported(uint32_t v)
{
	size_t i;

	for (i = 0; i < sizeof(vmb_versions) / sizeof(vmb_versions[0]); i++)
		if (vmb_versions[i] == v)
			return true;
	return false;
}

static void on_initiate_contact(struct pv_vmbus *vmbus, const uint8_t *msg)
{
	uint32_t version = vmb_get32(msg + 8);
	uint32_t target = vmb_get32(msg + 12);
	uint8_t sint = VMB_DEFAULT_SINT, vtl = 0;
	uint8_t resp[VMB_SZ_VERSION_RESPONSE];
	bool ok;

	if (vmbus->state != PV_VMBUS_DISCONNECTED) {
		/* A guest reconnects only after UNLOAD. */
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	if (version >= PV_VMBUS_VERSION_5_0) {
		sint = msg[16];
		vtl = msg[17];
	}
	ok = version_supported(version) && target < vmbus->vcpu_count && sint < PV_HV1_SINT_COUNT &&
	     vtl == 0;
	if (sint >= PV_HV1_SINT_COUNT)
		sint = VMB_DEFAULT_SINT;
	if (target >= vmbus->vcpu_count)
		target = 0;

	vmb_memset(resp, 0, sizeof(resp));
	vmb_put32(resp, VMB_MSG_VERSION_RESPONSE);
	resp[8] = ok ? 1 : 0;
	resp[9] = 0; /* connection state: ok */
	if (ok && version >= PV_VMBUS_VERSION_5_0)
		vmb_put32(resp + 12, VMB_CONN_MESSAGE);
	if (ok) {
		vmbus->state = PV_VMBUS_CONNECTED;
		vmbus->version = version;
		vmbus->target_vp = target;
		vmbus->msg_sint = sint;
		pv_log(vmbus->cfg.part, PV_LOG_INFO, "vmbus", "guest connected, version %u.%u",
		       version >> 16, version & 0xffff);
	}
	post_to(vmbus, target, sint, resp, sizeof(resp));
}

static void on_request_offers(struct pv_vmbus *vmbus)
{
	uint8_t m[VMB_SZ_HDR];
	uint32_t relid;

	if (vmbus->state != PV_VMBUS_CONNECTED) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	for (relid = 1; relid <= VMB_MAX_RELID; relid++) {
		struct pv_vmbus_channel *chan = vmbus->chans[relid];

		if (chan && !chan->detached && chan->state == VMB_CH_PENDING)
			vmb_send_offer(vmbus, chan);
	}
	vmb_memset(m, 0, sizeof(m));
	vmb_put32(m, VMB_MSG_ALLOFFERS_DELIVERED);
	vmb_post(vmbus, m, sizeof(m));
	vmbus->state = PV_VMBUS_OFFERS_SENT;
}

static void on_open(struct pv_vmbus *vmbus, const uint8_t *msg)
{
	uint32_t relid = vmb_get32(msg + 8);
	uint32_t open_id = vmb_get32(msg + 12);
	uint32_t gpadl = vmb_get32(msg + 16);
	uint32_t target = vmb_get32(msg + 20);
	uint32_t downstream = vmb_get32(msg + 24);
	struct pv_vmbus_channel *chan = chan_get(vmbus, relid);
	pv_err_t e;

	if (chan && chan->state == VMB_CH_RESCINDED) {
		/* The guest learns of the rescind; the open is silently dropped. */
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	if (!chan || chan->state != VMB_CH_OFFERED) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		vmb_post_relid_status(vmbus, VMB_MSG_OPENCHANNEL_RESULT, relid, open_id,
				      VMB_STATUS_FAIL, 20);
		return;
	}
	e = vmb_channel_open(vmbus, chan, gpadl, downstream, target, open_id, true);
	if (e != PV_OK) {
		pv_log(vmbus->cfg.part, PV_LOG_WARN, "vmbus", "open of relid %u failed: %d", relid,
		       e);
		vmb_post_relid_status(vmbus, VMB_MSG_OPENCHANNEL_RESULT, relid, open_id,
				      VMB_STATUS_FAIL, 20);
		return;
	}
	vmb_post_relid_status(vmbus, VMB_MSG_OPENCHANNEL_RESULT, relid, open_id, 0, 20);
	if (chan->desc.ops->opened)
		chan->desc.ops->opened(chan->desc.ctx, chan);
	/* The guest may have queued packets before the result arrived. */
	vmb_lock(vmbus, chan->in_lock);
	vmb_channel_drain(chan);
	vmb_unlock(vmbus, chan->in_lock);
}

static void on_close(struct pv_vmbus *vmbus, const uint8_t *msg)
{
	struct pv_vmbus_channel *chan = chan_get(vmbus, vmb_get32(msg + 8));

	if (!chan || chan->state != VMB_CH_OPEN) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	vmb_channel_close(vmbus, chan);
}

static void on_relid_released(struct pv_vmbus *vmbus, const uint8_t *msg)
{
	struct pv_vmbus_channel *chan = chan_get(vmbus, vmb_get32(msg + 8));

	if (!chan || chan->state != VMB_CH_RESCINDED) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	vmb_free_channel(vmbus, chan);
}

static void on_modify(struct pv_vmbus *vmbus, const uint8_t *msg)
{
	uint32_t relid = vmb_get32(msg + 8);
	uint32_t target = vmb_get32(msg + 12);
	struct pv_vmbus_channel *chan = chan_get(vmbus, relid);
	uint32_t status = 0;

	if (vmbus->version < PV_VMBUS_VERSION_4_1) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	if (!chan || chan->state != VMB_CH_OPEN || target >= vmbus->vcpu_count) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		status = VMB_STATUS_FAIL;
	} else {
		vmb_lock(vmbus, chan->out_lock);
		chan->target_vp = target;
		vmb_unlock(vmbus, chan->out_lock);
	}
	if (vmbus->version >= PV_VMBUS_VERSION_5_3)
		vmb_post_relid_status(vmbus, VMB_MSG_MODIFYCHANNEL_RESPONSE, relid, status, 0, 16);
}

static void on_unload(struct pv_vmbus *vmbus)
{
	uint8_t m[VMB_SZ_HDR];
	uint32_t vp = vmbus->target_vp;
	uint8_t sint = vmbus->msg_sint;

	if (vmbus->state == PV_VMBUS_DISCONNECTED) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return;
	}
	vmb_reset_connection(vmbus);
	vmb_memset(m, 0, sizeof(m));
	vmb_put32(m, VMB_MSG_UNLOAD_RESPONSE);
	post_to(vmbus, vp, sint, m, sizeof(m));
}

/* Minimum sizes of guest-to-host messages; 0 = not accepted from the guest. */
static uint32_t min_size(uint32_t type)
{
	switch (type) {
	case VMB_MSG_REQUESTOFFERS:
	case VMB_MSG_UNLOAD:
		return VMB_SZ_HDR;
	case VMB_MSG_OPENCHANNEL:
		return VMB_SZ_OPEN;
	case VMB_MSG_CLOSECHANNEL:
	case VMB_MSG_RELID_RELEASED:
		return 12;
	case VMB_MSG_GPADL_HEADER:
		return VMB_SZ_GPADL_HEADER;
	case VMB_MSG_GPADL_BODY:
		return VMB_SZ_GPADL_BODY;
	case VMB_MSG_GPADL_TEARDOWN:
	case VMB_MSG_MODIFYCHANNEL:
		return 16;
	case VMB_MSG_INITIATE_CONTACT:
		return VMB_SZ_INITIATE;
	default:
		return 0;
	}
}

pv_err_t vmb_handle_message(struct pv_vmbus *vmbus, const uint8_t *msg, uint32_t size)
{
	uint32_t type, need;

	vmb_count(vmbus, &vmbus->stats.messages);
	if (size < VMB_SZ_HDR || size > PV_HV1_MESSAGE_PAYLOAD_MAX) {
		vmb_count(vmbus, &vmbus->stats.malformed);
		return PV_EBADMSG;
	}
	type = vmb_get32(msg);
	need = min_size(type);
	if (need == 0 || size < need) {
		vmb_count(vmbus, &vmbus->stats.malformed);
		return PV_EBADMSG;
	}
	outq_flush(vmbus);
	if (vmbus->state == PV_VMBUS_DISCONNECTED && type != VMB_MSG_INITIATE_CONTACT &&
	    type != VMB_MSG_UNLOAD) {
		vmb_count(vmbus, &vmbus->stats.unexpected);
		return PV_ESTATE;
	}
	switch (type) {
	case VMB_MSG_INITIATE_CONTACT:
		on_initiate_contact(vmbus, msg);
		break;
	case VMB_MSG_REQUESTOFFERS:
		on_request_offers(vmbus);
		break;
	case VMB_MSG_GPADL_HEADER:
		vmb_gpadl_handle_header(vmbus, msg, size);
		break;
	case VMB_MSG_GPADL_BODY:
		vmb_gpadl_handle_body(vmbus, msg, size);
		break;
	case VMB_MSG_GPADL_TEARDOWN:
		vmb_gpadl_handle_teardown(vmbus, msg, size);
		break;
	case VMB_MSG_OPENCHANNEL:
		on_open(vmbus, msg);
		break;
	case VMB_MSG_CLOSECHANNEL:
		on_close(vmbus, msg);
		break;
	case VMB_MSG_RELID_RELEASED:
		on_relid_released(vmbus, msg);
		break;
	case VMB_MSG_MODIFYCHANNEL:
		on_modify(vmbus, msg);
		break;
	case VMB_MSG_UNLOAD:
		on_unload(vmbus);
		break;
	default:
		break;
	}
	return PV_OK;
}

static pv_err_t on_message(void *ctx, struct pv_vcpu *vcpu, uint32_t connection_id,
			   uint32_t message_type, const void *payload, uint32_t size)
{
	struct pv_vmbus *vmbus = ctx;
	uint8_t msg[PV_HV1_MESSAGE_PAYLOAD_MAX];

	(void)vcpu;
	(void)connection_id;
	if (message_type != VMB_SYNIC_MESSAGE_TYPE || !payload ||
	    size > PV_HV1_MESSAGE_PAYLOAD_MAX) {
		vmb_count(vmbus, &vmbus->stats.malformed);
		return PV_EINVAL;
	}
	/* Copy once; everything below reads the private copy. */
	vmb_memcpy(msg, payload, size);
	vmb_lock(vmbus, vmbus->lock);
	vmb_handle_message(vmbus, msg, size);
	vmb_unlock(vmbus, vmbus->lock);
	return PV_OK;
}

/* ---- public API ---- */

pv_err_t pv_vmbus_create(const struct pv_vmbus_config *config, struct pv_vmbus **out)
{
	const struct pv_platform *plat;
	struct pv_vmbus *vmbus;
	pv_err_t e;

	if (!config || !out)
		return PV_EINVAL;
	*out = NULL;
	if (!config->host_ops && (!config->part || !config->hv1))
		return PV_EINVAL;
	if (config->host_ops) {
		const struct pv_vmbus_host_ops *h = config->host_ops;

		if (!h->post_message || !h->signal_event || !h->register_message_handler ||
		    !h->unregister_message_handler || !h->register_event_handler ||
		    !h->unregister_event_handler || !h->mem_read || !h->mem_write)
			return PV_EINVAL;
	}
	plat = config->platform;
	if (!plat) {
		if (!config->part)
			return PV_EINVAL;
		plat = pv_partition_platform(config->part);
	}
	if (!plat || !plat->alloc || !plat->free || !plat->lock_create)
		return PV_EINVAL;
	vmbus = plat->alloc(plat->ctx, sizeof(*vmbus));
	if (!vmbus)
		return PV_ENOMEM;
	vmbus->cfg = *config;
	vmbus->plat = plat;
	if (config->host_ops) {
		vmbus->ops = *config->host_ops;
	} else {
		vmbus->ops.ctx = vmbus;
		vmbus->ops.post_message = hv_post;
		vmbus->ops.signal_event = hv_signal;
		vmbus->ops.register_message_handler = hv_reg_msg;
		vmbus->ops.unregister_message_handler = hv_unreg_msg;
		vmbus->ops.register_event_handler = hv_reg_evt;
		vmbus->ops.unregister_event_handler = hv_unreg_evt;
		vmbus->ops.mem_read = hv_mem_read;
		vmbus->ops.mem_write = hv_mem_write;
	}
	vmbus->vcpu_count = config->vcpu_count;
	if (!vmbus->vcpu_count && config->part)
		vmbus->vcpu_count = pv_partition_vcpu_count(config->part);
	if (!vmbus->vcpu_count)
		vmbus->vcpu_count = 1;
	if (!vmbus->cfg.max_gpadl_pages)
		vmbus->cfg.max_gpadl_pages = VMB_DEFAULT_MAX_GPADL_PAGES;
	vmbus->msg_sint = VMB_DEFAULT_SINT;
	vmbus->lock = plat->lock_create(plat->ctx);
	vmbus->gpadl_lock = plat->lock_create(plat->ctx);
	if (!vmbus->lock || !vmbus->gpadl_lock) {
		e = PV_ENOMEM;
		goto fail;
	}
	e = vmbus->ops.register_message_handler(vmbus->ops.ctx, VMB_CONN_MESSAGE, on_message,
						vmbus);
	if (e != PV_OK)
		goto fail;
	e = vmbus->ops.register_message_handler(vmbus->ops.ctx, VMB_CONN_MESSAGE_V5, on_message,
						vmbus);
	if (e != PV_OK) {
		vmbus->ops.unregister_message_handler(vmbus->ops.ctx, VMB_CONN_MESSAGE);
		goto fail;
	}
	if (!config->host_ops)
		pv_hv1_set_sint_ready_fn(config->hv1, on_sint_ready, vmbus);
	*out = vmbus;
	return PV_OK;

fail:
	if (vmbus->lock)
		plat->lock_destroy(plat->ctx, vmbus->lock);
	if (vmbus->gpadl_lock)
		plat->lock_destroy(plat->ctx, vmbus->gpadl_lock);
	plat->free(plat->ctx, vmbus);
	return e;
}

void pv_vmbus_destroy(struct pv_vmbus *vmbus)
{
	const struct pv_platform *plat;
	uint32_t relid;

	if (!vmbus)
		return;
	plat = vmbus->plat;
	if (!vmbus->cfg.host_ops)
		pv_hv1_set_sint_ready_fn(vmbus->cfg.hv1, NULL, NULL);
	vmbus->ops.unregister_message_handler(vmbus->ops.ctx, VMB_CONN_MESSAGE);
	vmbus->ops.unregister_message_handler(vmbus->ops.ctx, VMB_CONN_MESSAGE_V5);
	vmb_lock(vmbus, vmbus->lock);
	vmb_reset_connection(vmbus);
	for (relid = 1; relid <= VMB_MAX_RELID; relid++)
		if (vmbus->chans[relid])
			vmb_free_channel(vmbus, vmbus->chans[relid]);
	vmb_unlock(vmbus, vmbus->lock);
	plat->lock_destroy(plat->ctx, vmbus->lock);
	plat->lock_destroy(plat->ctx, vmbus->gpadl_lock);
	plat->free(plat->ctx, vmbus);
}

pv_err_t pv_vmbus_device_add(struct pv_vmbus *vmbus, const struct pv_vmbus_device_desc *desc,
			     struct pv_vmbus_channel **out)
{
	struct pv_vmbus_channel *chan;
	uint32_t relid, free_relid = 0;
	pv_err_t e;

	if (!vmbus || !desc || !out || !desc->ops || !desc->ops->packet ||
	    desc->max_packet > PV_VMBUS_MAX_PACKET)
		return PV_EINVAL;
	*out = NULL;
	vmb_lock(vmbus, vmbus->lock);
	for (relid = 1; relid <= VMB_MAX_RELID; relid++) {
		chan = vmbus->chans[relid];
		if (!chan) {
			if (!free_relid)
				free_relid = relid;
			continue;
		}
		if (!chan->detached &&
		    vmb_memeq(chan->desc.instance_id.b, desc->instance_id.b, 16)) {
			vmb_unlock(vmbus, vmbus->lock);
			return PV_EEXIST;
		}
	}
	if (!free_relid) {
		vmb_unlock(vmbus, vmbus->lock);
		return PV_EBUSY;
	}
	chan = vmb_alloc(vmbus, sizeof(*chan));
	if (!chan) {
		vmb_unlock(vmbus, vmbus->lock);
		return PV_ENOMEM;
	}
	chan->vmbus = vmbus;
	chan->relid = free_relid;
	chan->conn_id = VMB_CHANNEL_CONN_BASE | free_relid;
	chan->desc = *desc;
	if (!chan->desc.max_packet)
		chan->desc.max_packet = VMB_DEFAULT_MAX_PACKET;
	chan->in_lock = vmbus->plat->lock_create(vmbus->plat->ctx);
	chan->out_lock = vmbus->plat->lock_create(vmbus->plat->ctx);
	e = PV_ENOMEM;
	if (chan->in_lock && chan->out_lock)
		e = vmbus->ops.register_event_handler(vmbus->ops.ctx, chan->conn_id, vmb_on_event,
						      vmbus);
	if (e != PV_OK) {
		if (chan->in_lock)
			vmbus->plat->lock_destroy(vmbus->plat->ctx, chan->in_lock);
		if (chan->out_lock)
			vmbus->plat->lock_destroy(vmbus->plat->ctx, chan->out_lock);
		vmb_free(vmbus, chan);
		vmb_unlock(vmbus, vmbus->lock);
		return e;
	}
	vmbus->chans[free_relid] = chan;
	if (vmbus->state == PV_VMBUS_OFFERS_SENT)
		vmb_send_offer(vmbus, chan);
	vmb_unlock(vmbus, vmbus->lock);
	*out = chan;
	return PV_OK;
}

pv_err_t pv_vmbus_device_rescind(struct pv_vmbus_channel *chan)
{
	struct pv_vmbus *vmbus;
	uint8_t m[12];

	if (!chan)
		return PV_EINVAL;
	vmbus = chan->vmbus;
	vmb_lock(vmbus, vmbus->lock);
	if (chan->detached) {
		vmb_unlock(vmbus, vmbus->lock);
		return PV_ESTATE;
	}
	if (chan->state == VMB_CH_OPEN)
		vmb_channel_close(vmbus, chan);
	chan->detached = true;
	if (chan->state == VMB_CH_PENDING) {
		vmb_free_channel(vmbus, chan);
	} else {
		vmb_memset(m, 0, sizeof(m));
		vmb_put32(m, VMB_MSG_RESCIND_CHANNELOFFER);
		vmb_put32(m + 8, chan->relid);
		vmb_post(vmbus, m, sizeof(m));
		chan->state = VMB_CH_RESCINDED;
	}
	vmb_unlock(vmbus, vmbus->lock);
	return PV_OK;
}

uint32_t pv_vmbus_version(struct pv_vmbus *vmbus)
{
	uint32_t v;

	vmb_lock(vmbus, vmbus->lock);
	v = vmbus->version;
	vmb_unlock(vmbus, vmbus->lock);
	return v;
}

enum pv_vmbus_state pv_vmbus_get_state(struct pv_vmbus *vmbus)
{
	enum pv_vmbus_state s;

	vmb_lock(vmbus, vmbus->lock);
	s = vmbus->state;
	vmb_unlock(vmbus, vmbus->lock);
	return s;
}

void pv_vmbus_get_stats(struct pv_vmbus *vmbus, struct pv_vmbus_stats *out)
{
	const uint64_t *src = (const uint64_t *)&vmbus->stats;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	vmb_lock(vmbus, vmbus->gpadl_lock);
	out->gpadls = vmbus->ngpadls;
	out->gpadl_pages = vmbus->gpadl_pages;
	vmb_unlock(vmbus, vmbus->gpadl_lock);
}

pv_err_t pv_vmbus_flush(struct pv_vmbus *vmbus)
{
	bool done;

	if (!vmbus)
		return PV_EINVAL;
	vmb_lock(vmbus, vmbus->lock);
	done = outq_flush(vmbus);
	vmb_unlock(vmbus, vmbus->lock);
	return done ? PV_OK : PV_EBUSY;
}
