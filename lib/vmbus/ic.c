/* SPDX-License-Identifier: MIT */
/*
 * Integration components (heartbeat, shutdown, time sync) as VMBus devices.
 *
 * Every IC packet is an in-band packet holding a pipe header (8 bytes), the
 * IC message header (20 bytes: framework version, message type, message
 * version, body size, status, transaction id, flags) and the body. The host
 * sends requests with flags TRANSACTION|REQUEST; the guest rewrites the
 * buffer in place and returns it with TRANSACTION|RESPONSE.
 */
#include "paravisor/vmbus_ic.h"

#include "paravisor/device.h"

#include "vmbus/vmbus_internal.h"

#define IC_HDR 28u /* pipe header + IC message header */
#define IC_MSG_NEGOTIATE 0u
#define IC_MSG_HEARTBEAT 1u
#define IC_MSG_SHUTDOWN 3u
#define IC_MSG_TIMESYNC 4u
#define IC_FLAG_TRANSACTION 1u
#define IC_FLAG_REQUEST 2u
#define IC_FLAG_RESPONSE 4u
#define IC_MAX_PACKET 4096u
#define IC_SHUTDOWN_BODY 2060u
#define IC_MAX_VERSIONS 4u

#define V(maj, min) (((uint32_t)(maj) << 16) | (min))

struct pv_vmbus_ic {
	struct pv_vmbus *vmbus;
	struct pv_vmbus_channel *chan;
	struct pv_vmbus_ic_config cfg;
	void *lock;
	struct pv_timer *timer;
	enum pv_vmbus_ic_state state;
	uint32_t framework, message;
	uint64_t next_tid;
	uint64_t hb_sequence, hb_answers;
	bool shutdown_answered;
	uint32_t shutdown_status;
	uint8_t buf[IC_HDR + IC_SHUTDOWN_BODY + 4];
};

static const uint32_t fw_versions[] = {V(1, 0), V(3, 0)};
static const uint32_t hb_versions[] = {V(1, 0), V(3, 0)};
static const uint32_t sd_versions[] = {V(1, 0), V(3, 0), V(3, 1), V(3, 2)};
static const uint32_t ts_versions[] = {V(1, 0), V(3, 0), V(4, 0)};

static const struct pv_guid class_ids[] = {
	PV_GUID_INIT(0x57164f39, 0x9115, 0x4e78, 0xab55, 0x382f3bd5422dull),
	PV_GUID_INIT(0x0e0b6031, 0x5213, 0x4934, 0x818b, 0x38d90ced39dbull),
	PV_GUID_INIT(0x9527e630, 0xd0ae, 0x497b, 0xadce, 0xe80ab0175cafull),
};

/* Built-in instance GUIDs (arbitrary, unique per kind). */
static const struct pv_guid instance_ids[] = {
	PV_GUID_INIT(0x7c0a1e01, 0x5bd4, 0x4c52, 0x9a6e, 0x70617261760aull),
	PV_GUID_INIT(0x7c0a1e02, 0x5bd4, 0x4c52, 0x9a6e, 0x70617261760aull),
	PV_GUID_INIT(0x7c0a1e03, 0x5bd4, 0x4c52, 0x9a6e, 0x70617261760aull),
};

struct pv_guid pv_vmbus_ic_class_id(enum pv_vmbus_ic_kind kind)
{
	struct pv_guid zero = {{0}};

	if ((unsigned)kind > PV_VMBUS_IC_TIMESYNC)
		return zero;
	return class_ids[kind];
}

static void msg_versions(const struct pv_vmbus_ic *ic, const uint32_t **v, uint32_t *n)
{
	switch (ic->cfg.kind) {
	case PV_VMBUS_IC_HEARTBEAT:
		*v = hb_versions;
		*n = sizeof(hb_versions) / sizeof(hb_versions[0]);
		break;
	case PV_VMBUS_IC_SHUTDOWN:
		*v = sd_versions;
		*n = sizeof(sd_versions) / sizeof(sd_versions[0]);
		break;
	default:
		*v = ts_versions;
		*n = sizeof(ts_versions) / sizeof(ts_versions[0]);
		break;
	}
}

static bool in_list(const uint32_t *v, uint32_t n, uint32_t x)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Build the headers in ic->buf and send; IC lock held. */
static pv_err_t ic_send(struct pv_vmbus_ic *ic, uint16_t type, uint32_t framework, uint32_t message,
			uint32_t body)
{
	uint8_t *b = ic->buf;
	uint32_t total = IC_HDR + body;

	vmb_put32(b, 1); /* pipe: data packet */
	vmb_put32(b + 4, total - 8);
	vmb_put16(b + 8, (uint16_t)(framework >> 16));
	vmb_put16(b + 10, (uint16_t)framework);
	vmb_put16(b + 12, type);
	vmb_put16(b + 14, (uint16_t)(message >> 16));
	vmb_put16(b + 16, (uint16_t)message);
	vmb_put16(b + 18, (uint16_t)body);
	vmb_put32(b + 20, 0);
	b[24] = 0;
	b[25] = IC_FLAG_TRANSACTION | IC_FLAG_REQUEST;
	vmb_put16(b + 26, 0);
	return pv_vmbus_send(ic->chan, PV_VMBUS_PKT_DATA_INBAND, 0, ic->next_tid++, b, total);
}

static pv_err_t send_negotiate(struct pv_vmbus_ic *ic)
{
	const uint32_t *mv;
	uint32_t nm, i, nf = sizeof(fw_versions) / sizeof(fw_versions[0]);
	uint8_t *body = ic->buf + IC_HDR;

	msg_versions(ic, &mv, &nm);
	vmb_memset(body, 0, 8 + 4 * (nf + nm));
	vmb_put16(body, (uint16_t)nf);
	vmb_put16(body + 2, (uint16_t)nm);
	for (i = 0; i < nf; i++) {
		vmb_put16(body + 8 + 4 * i, (uint16_t)(fw_versions[i] >> 16));
		vmb_put16(body + 10 + 4 * i, (uint16_t)fw_versions[i]);
	}
	for (i = 0; i < nm; i++) {
		vmb_put16(body + 8 + 4 * (nf + i), (uint16_t)(mv[i] >> 16));
		vmb_put16(body + 10 + 4 * (nf + i), (uint16_t)mv[i]);
	}
	return ic_send(ic, IC_MSG_NEGOTIATE, V(1, 0), V(1, 0), 8 + 4 * (nf + nm));
}

static pv_err_t send_heartbeat(struct pv_vmbus_ic *ic)
{
	uint8_t *body = ic->buf + IC_HDR;

	vmb_memset(body, 0, 40);
	vmb_put64(body, ic->hb_sequence);
	return ic_send(ic, IC_MSG_HEARTBEAT, ic->framework, ic->message, 40);
}

static pv_err_t send_timesync(struct pv_vmbus_ic *ic, uint8_t flags)
{
	uint8_t *body = ic->buf + IC_HDR;
	uint64_t utc = ic->cfg.utc_now(ic->cfg.time_ctx);
	uint64_t ref = ic->cfg.reference_time(ic->cfg.time_ctx);

	if (ic->message >= V(4, 0)) {
		/* parent time, VM reference time, flags, leap, stratum, reserved */
		vmb_memset(body, 0, 24);
		vmb_put64(body, utc);
		vmb_put64(body + 8, ref);
		body[16] = flags;
		body[18] = 0;
		return ic_send(ic, IC_MSG_TIMESYNC, ic->framework, ic->message, 24);
	}
	/* parent time, child time, round trip, flags (padded to 32) */
	vmb_memset(body, 0, 32);
	vmb_put64(body, utc);
	body[24] = flags;
	return ic_send(ic, IC_MSG_TIMESYNC, ic->framework, ic->message, 32);
}

static void notify(struct pv_vmbus_ic *ic, enum pv_vmbus_ic_event ev)
{
	if (ic->cfg.event)
		ic->cfg.event(ic->cfg.event_ctx, ic, ev);
}

/* Periodic requests; IC lock held. */
static void arm_timer(struct pv_vmbus_ic *ic)
{
	if (ic->timer)
		pv_timer_arm(ic->timer, pv_clock_ns(ic->vmbus->cfg.part) + ic->cfg.period_ns);
}

static void ic_tick(void *ctx)
{
	struct pv_vmbus_ic *ic = ctx;

	vmb_lock(ic->vmbus, ic->lock);
	if (ic->state == PV_VMBUS_IC_READY) {
		if (ic->cfg.kind == PV_VMBUS_IC_HEARTBEAT)
			send_heartbeat(ic);
		else
			send_timesync(ic, PV_VMBUS_IC_TIMESYNC_SAMPLE);
		arm_timer(ic);
	}
	vmb_unlock(ic->vmbus, ic->lock);
}

/* The guest's answer to NEGOTIATE; IC lock held. */
static enum pv_vmbus_ic_event on_negotiate(struct pv_vmbus_ic *ic, const uint8_t *body,
					   uint32_t len)
{
	const uint32_t *mv;
	uint32_t nm, nf_resp, nm_resp, fw, msg;

	msg_versions(ic, &mv, &nm);
	if (len < 16)
		goto fail;
	nf_resp = vmb_get16(body);
	nm_resp = vmb_get16(body + 2);
	/* The guest picks exactly one of each (none: no common version). */
	if (nf_resp != 1 || nm_resp != 1)
		goto fail;
	fw = V(vmb_get16(body + 8), vmb_get16(body + 10));
	msg = V(vmb_get16(body + 12), vmb_get16(body + 14));
	if (!in_list(fw_versions, sizeof(fw_versions) / sizeof(fw_versions[0]), fw) ||
	    !in_list(mv, nm, msg))
		goto fail;
	ic->framework = fw;
	ic->message = msg;
	ic->state = PV_VMBUS_IC_READY;
	arm_timer(ic);
	if (ic->cfg.kind == PV_VMBUS_IC_HEARTBEAT)
		send_heartbeat(ic);
	else if (ic->cfg.kind == PV_VMBUS_IC_TIMESYNC)
		send_timesync(ic, PV_VMBUS_IC_TIMESYNC_SYNC);
	return PV_VMBUS_IC_EV_READY;
fail:
	ic->state = PV_VMBUS_IC_FAILED;
	return PV_VMBUS_IC_EV_FAILED;
}

static void ic_packet(void *ctx, struct pv_vmbus_channel *chan, const struct pv_vmbus_packet *pkt)
{
	struct pv_vmbus_ic *ic = ctx;
	struct pv_vmbus *vmbus = ic->vmbus;
	const uint8_t *b = pkt->data;
	int ev = -1;
	uint32_t body_len;
	uint16_t type;

	(void)chan;
	/* Answers only: in-band, complete headers, TRANSACTION|RESPONSE. */
	if (pkt->type != PV_VMBUS_PKT_DATA_INBAND || pkt->len < IC_HDR ||
	    (b[25] & (IC_FLAG_TRANSACTION | IC_FLAG_RESPONSE)) !=
		    (IC_FLAG_TRANSACTION | IC_FLAG_RESPONSE)) {
		vmb_count(vmbus, &vmbus->stats.bad_packets);
		return;
	}
	type = vmb_get16(b + 12);
	body_len = pkt->len - IC_HDR;
	vmb_lock(vmbus, ic->lock);
	if (type == IC_MSG_NEGOTIATE) {
		if (ic->state == PV_VMBUS_IC_NEGOTIATING)
			ev = on_negotiate(ic, b + IC_HDR, body_len);
	} else if (ic->state != PV_VMBUS_IC_READY) {
		ev = -1;
	} else if (type == IC_MSG_HEARTBEAT && ic->cfg.kind == PV_VMBUS_IC_HEARTBEAT) {
		if (body_len >= 8 && vmb_get32(b + 20) == PV_VMBUS_IC_S_OK) {
			ic->hb_sequence = vmb_get64(b + IC_HDR);
			ic->hb_answers++;
			ev = PV_VMBUS_IC_EV_HEARTBEAT;
		}
	} else if (type == IC_MSG_SHUTDOWN && ic->cfg.kind == PV_VMBUS_IC_SHUTDOWN) {
		ic->shutdown_status = vmb_get32(b + 20);
		ic->shutdown_answered = true;
		ev = PV_VMBUS_IC_EV_SHUTDOWN_DONE;
	} else if (type == IC_MSG_TIMESYNC && ic->cfg.kind == PV_VMBUS_IC_TIMESYNC) {
		ev = PV_VMBUS_IC_EV_TIMESYNC_DONE;
	}
	vmb_unlock(vmbus, ic->lock);
	if (ev < 0)
		vmb_count(vmbus, &vmbus->stats.unexpected);
	else
		notify(ic, (enum pv_vmbus_ic_event)ev);
}

static void ic_opened(void *ctx, struct pv_vmbus_channel *chan)
{
	struct pv_vmbus_ic *ic = ctx;

	(void)chan;
	vmb_lock(ic->vmbus, ic->lock);
	ic->state = PV_VMBUS_IC_NEGOTIATING;
	ic->framework = 0;
	ic->message = 0;
	if (send_negotiate(ic) != PV_OK)
		ic->state = PV_VMBUS_IC_FAILED;
	vmb_unlock(ic->vmbus, ic->lock);
}

static void ic_close(void *ctx, struct pv_vmbus_channel *chan)
{
	struct pv_vmbus_ic *ic = ctx;

	(void)chan;
	vmb_lock(ic->vmbus, ic->lock);
	ic->state = PV_VMBUS_IC_CLOSED;
	vmb_unlock(ic->vmbus, ic->lock);
	if (ic->timer)
		pv_timer_cancel(ic->timer);
	notify(ic, PV_VMBUS_IC_EV_CLOSED);
}

static const struct pv_vmbus_device_ops ic_ops = {
	.opened = ic_opened,
	.close = ic_close,
	.packet = ic_packet,
};

pv_err_t pv_vmbus_ic_create(struct pv_vmbus *vmbus, const struct pv_vmbus_ic_config *cfg,
			    struct pv_vmbus_ic **out)
{
	static const struct pv_guid zero;
	struct pv_vmbus_device_desc desc;
	struct pv_vmbus_ic *ic;
	pv_err_t e;

	if (!vmbus || !cfg || !out || (unsigned)cfg->kind > PV_VMBUS_IC_TIMESYNC)
		return PV_EINVAL;
	if (cfg->kind == PV_VMBUS_IC_TIMESYNC && (!cfg->utc_now || !cfg->reference_time))
		return PV_EINVAL;
	if (cfg->period_ns && (cfg->kind == PV_VMBUS_IC_SHUTDOWN || !vmbus->cfg.part))
		return PV_EINVAL;
	*out = NULL;
	ic = vmb_alloc(vmbus, sizeof(*ic));
	if (!ic)
		return PV_ENOMEM;
	ic->vmbus = vmbus;
	ic->cfg = *cfg;
	ic->next_tid = 1;
	ic->lock = vmbus->plat->lock_create(vmbus->plat->ctx);
	if (!ic->lock) {
		vmb_free(vmbus, ic);
		return PV_ENOMEM;
	}
	if (cfg->period_ns) {
		e = pv_timer_create(vmbus->cfg.part, ic_tick, ic, &ic->timer);
		if (e != PV_OK) {
			vmbus->plat->lock_destroy(vmbus->plat->ctx, ic->lock);
			vmb_free(vmbus, ic);
			return e;
		}
	}
	vmb_memset(&desc, 0, sizeof(desc));
	desc.class_id = class_ids[cfg->kind];
	desc.instance_id = vmb_memeq(cfg->instance_id.b, zero.b, 16) ? instance_ids[cfg->kind] :
								       cfg->instance_id;
	/* Offered as a message-mode pipe, as ICs are. */
	desc.offer_flags = PV_VMBUS_OFFER_NAMED_PIPE_MODE;
	vmb_put32(desc.user_defined, 4);
	desc.max_packet = IC_MAX_PACKET;
	desc.ops = &ic_ops;
	desc.ctx = ic;
	e = pv_vmbus_device_add(vmbus, &desc, &ic->chan);
	if (e != PV_OK) {
		pv_timer_destroy(ic->timer);
		vmbus->plat->lock_destroy(vmbus->plat->ctx, ic->lock);
		vmb_free(vmbus, ic);
		return e;
	}
	*out = ic;
	return PV_OK;
}

void pv_vmbus_ic_destroy(struct pv_vmbus_ic *ic)
{
	struct pv_vmbus *vmbus;

	if (!ic)
		return;
	vmbus = ic->vmbus;
	pv_vmbus_device_rescind(ic->chan);
	pv_timer_destroy(ic->timer);
	vmbus->plat->lock_destroy(vmbus->plat->ctx, ic->lock);
	vmb_free(vmbus, ic);
}

struct pv_vmbus_channel *pv_vmbus_ic_channel(struct pv_vmbus_ic *ic)
{
	return ic ? ic->chan : NULL;
}

enum pv_vmbus_ic_state pv_vmbus_ic_get_state(struct pv_vmbus_ic *ic)
{
	enum pv_vmbus_ic_state s;

	vmb_lock(ic->vmbus, ic->lock);
	s = ic->state;
	vmb_unlock(ic->vmbus, ic->lock);
	return s;
}

pv_err_t pv_vmbus_ic_versions(struct pv_vmbus_ic *ic, uint32_t *framework, uint32_t *message)
{
	pv_err_t e = PV_ESTATE;

	if (!ic || !framework || !message)
		return PV_EINVAL;
	vmb_lock(ic->vmbus, ic->lock);
	if (ic->state == PV_VMBUS_IC_READY) {
		*framework = ic->framework;
		*message = ic->message;
		e = PV_OK;
	}
	vmb_unlock(ic->vmbus, ic->lock);
	return e;
}

/* Run @fn under the IC lock if the IC is of @kind and ready. */
static pv_err_t when_ready(struct pv_vmbus_ic *ic, enum pv_vmbus_ic_kind kind)
{
	if (!ic || ic->cfg.kind != kind)
		return PV_EINVAL;
	vmb_lock(ic->vmbus, ic->lock);
	if (ic->state != PV_VMBUS_IC_READY) {
		vmb_unlock(ic->vmbus, ic->lock);
		return PV_ESTATE;
	}
	return PV_OK;
}

pv_err_t pv_vmbus_ic_heartbeat_request(struct pv_vmbus_ic *ic)
{
	pv_err_t e = when_ready(ic, PV_VMBUS_IC_HEARTBEAT);

	if (e != PV_OK)
		return e;
	e = send_heartbeat(ic);
	vmb_unlock(ic->vmbus, ic->lock);
	return e;
}

pv_err_t pv_vmbus_ic_heartbeat_get(struct pv_vmbus_ic *ic, uint64_t *sequence, uint64_t *answers)
{
	if (!ic || ic->cfg.kind != PV_VMBUS_IC_HEARTBEAT || !sequence)
		return PV_EINVAL;
	vmb_lock(ic->vmbus, ic->lock);
	*sequence = ic->hb_sequence;
	if (answers)
		*answers = ic->hb_answers;
	vmb_unlock(ic->vmbus, ic->lock);
	return PV_OK;
}

pv_err_t pv_vmbus_ic_shutdown_request(struct pv_vmbus_ic *ic, uint32_t flags, uint32_t reason,
				      const char *message)
{
	uint8_t *body;
	uint32_t i;
	pv_err_t e;

	if (flags & ~7u)
		return PV_EINVAL;
	e = when_ready(ic, PV_VMBUS_IC_SHUTDOWN);
	if (e != PV_OK)
		return e;
	body = ic->buf + IC_HDR;
	vmb_memset(body, 0, IC_SHUTDOWN_BODY);
	vmb_put32(body, reason);
	vmb_put32(body + 4, 0);
	vmb_put32(body + 8, flags);
	for (i = 0; message && message[i] && i < 2047; i++)
		body[12 + i] = (uint8_t)message[i];
	ic->shutdown_answered = false;
	e = ic_send(ic, IC_MSG_SHUTDOWN, ic->framework, ic->message, IC_SHUTDOWN_BODY);
	vmb_unlock(ic->vmbus, ic->lock);
	return e;
}

pv_err_t pv_vmbus_ic_shutdown_result(struct pv_vmbus_ic *ic, uint32_t *status)
{
	pv_err_t e = PV_ENOENT;

	if (!ic || ic->cfg.kind != PV_VMBUS_IC_SHUTDOWN || !status)
		return PV_EINVAL;
	vmb_lock(ic->vmbus, ic->lock);
	if (ic->shutdown_answered) {
		*status = ic->shutdown_status;
		e = PV_OK;
	}
	vmb_unlock(ic->vmbus, ic->lock);
	return e;
}

pv_err_t pv_vmbus_ic_timesync_send(struct pv_vmbus_ic *ic, uint8_t flags)
{
	pv_err_t e;

	if (flags > PV_VMBUS_IC_TIMESYNC_SAMPLE)
		return PV_EINVAL;
	e = when_ready(ic, PV_VMBUS_IC_TIMESYNC);
	if (e != PV_OK)
		return e;
	e = send_timesync(ic, flags);
	vmb_unlock(ic->vmbus, ic->lock);
	return e;
}
