/* SPDX-License-Identifier: MIT */
/*
 * The vCPU run loop: port run -> dispatch -> port completion, until an exit
 * that needs the embedder. On ports without an interrupt controller, HLT
 * sleeps on the vCPU's wake event until an event is injected or a stop is
 * requested.
 */
#include "internal.h"
#include "util.h"

pv_err_t pv_vcpu_run_once(struct pv_vcpu *vcpu, struct pv_exit *exit)
{
	if (!vcpu || !exit)
		return PV_EINVAL;
	struct pv_partition *part = vcpu->part;
	const struct pv_port_ops *port = part->port;
	pv_err_t err;
	/* Cheap inline test first: most exits find the table unchanged. */
	if (part->cpuid_pushed_by_library &&
	    pv_atomic_load_relaxed(&part->cpuid_gen) != vcpu->cpuid_gen_seen) {
		err = pv_cpuid_push(vcpu);
		if (err)
			return err;
	}
	exit->kind = PV_EXIT_NONE;
	exit->inject.kind = PV_EVENT_NONE;
	err = port->vcpu_run(vcpu->port_data, exit);
	if (err) {
		pv_log(vcpu->part, PV_LOG_ERROR, "core", "vCPU %u: port run failed: %s",
		       vcpu->index, pv_strerror(err));
		return err;
	}
	pv_vcpu_dispatch(vcpu, exit);
	err = port->vcpu_complete(vcpu->port_data, exit);
	if (err)
		pv_log(vcpu->part, PV_LOG_ERROR, "core",
		       "vCPU %u: completion of %s exit failed: %s", vcpu->index,
		       pv_exit_kind_name(exit->kind), pv_strerror(err));
	return err;
}

/* HLT without an in-port interrupt controller: sleep until an injected
 * event or a stop wakes us. A wake-up may be spurious (a stale signal from
 * an event the guest already took); HLT allows that, guests loop around it. */
static void halt_wait(struct pv_vcpu *vcpu)
{
	const struct pv_platform *pf = vcpu->part->platform;
	if (!pv_atomic_load_acquire(&vcpu->stop_requested))
		pf->event_wait(pf->ctx, vcpu->wake_event, UINT64_MAX);
}

pv_err_t pv_vcpu_run(struct pv_vcpu *vcpu, struct pv_exit *last)
{
	if (!vcpu)
		return PV_EINVAL;
	struct pv_exit exit;
	bool has_irqchip = (vcpu->part->port->caps & PV_PORT_CAP_IRQCHIP) != 0;
	for (;;) {
		pv_err_t err = pv_vcpu_run_once(vcpu, &exit);
		if (err)
			return err;
		switch (exit.kind) {
		case PV_EXIT_HLT:
			/* A stop that ends the wait is also pending in the port, so
			 * the next port run reports it as PV_EXIT_STOPPED. */
			if (!has_irqchip)
				halt_wait(vcpu);
			continue;
		case PV_EXIT_STOPPED:
			pv_atomic_store_release(&vcpu->stop_requested, false);
			/* fall through */
		case PV_EXIT_SHUTDOWN:
		case PV_EXIT_INTERNAL_ERROR:
		case PV_EXIT_PORT_SPECIFIC:
			if (last)
				*last = exit;
			return PV_OK;
		default:
			continue;
		}
	}
}

void pv_vcpu_stop(struct pv_vcpu *vcpu)
{
	if (!vcpu)
		return;
	const struct pv_platform *pf = vcpu->part->platform;
	pv_atomic_store_release(&vcpu->stop_requested, true);
	vcpu->part->port->stop(vcpu->port_data);
	pf->event_signal(pf->ctx, vcpu->wake_event);
}

pv_err_t pv_vcpu_inject(struct pv_vcpu *vcpu, const struct pv_event *event)
{
	if (!vcpu || !event)
		return PV_EINVAL;
	switch (event->kind) {
	case PV_EVENT_EXCEPTION:
		if (event->vector >= 32)
			return PV_EINVAL;
		break;
	case PV_EVENT_INTERRUPT:
		if (event->vector < 16 || event->has_error_code)
			return PV_EINVAL;
		break;
	case PV_EVENT_NMI:
		if (event->has_error_code)
			return PV_EINVAL;
		break;
	default:
		return PV_EINVAL;
	}
	pv_err_t err = vcpu->part->port->inject(vcpu->port_data, event);
	if (!err) {
		const struct pv_platform *pf = vcpu->part->platform;
		pf->event_signal(pf->ctx, vcpu->wake_event);
	}
	return err;
}

pv_err_t pv_vcpu_get_regs(struct pv_vcpu *vcpu, struct pv_regs *regs)
{
	if (!vcpu || !regs)
		return PV_EINVAL;
	return vcpu->part->port->get_regs(vcpu->port_data, regs);
}

pv_err_t pv_vcpu_set_regs(struct pv_vcpu *vcpu, const struct pv_regs *regs)
{
	if (!vcpu || !regs)
		return PV_EINVAL;
	return vcpu->part->port->set_regs(vcpu->port_data, regs);
}

pv_err_t pv_vcpu_get_sregs(struct pv_vcpu *vcpu, struct pv_sregs *sregs)
{
	if (!vcpu || !sregs)
		return PV_EINVAL;
	return vcpu->part->port->get_sregs(vcpu->port_data, sregs);
}

pv_err_t pv_vcpu_set_sregs(struct pv_vcpu *vcpu, const struct pv_sregs *sregs)
{
	if (!vcpu || !sregs)
		return PV_EINVAL;
	return vcpu->part->port->set_sregs(vcpu->port_data, sregs);
}

uint32_t pv_vcpu_index(const struct pv_vcpu *vcpu)
{
	return vcpu ? vcpu->index : 0;
}

struct pv_partition *pv_vcpu_partition(struct pv_vcpu *vcpu)
{
	return vcpu ? vcpu->part : NULL;
}

void *pv_vcpu_port_data(struct pv_vcpu *vcpu)
{
	return vcpu ? vcpu->port_data : NULL;
}

uint64_t pv_vcpu_exit_count(const struct pv_vcpu *vcpu, enum pv_exit_kind kind)
{
	if (!vcpu || (unsigned)kind >= PV_EXIT_KIND_COUNT)
		return 0;
	return pv_atomic_load_relaxed(&vcpu->stats.exits[kind]);
}
