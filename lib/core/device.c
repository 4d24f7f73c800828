/* SPDX-License-Identifier: MIT */
/*
 * Interrupt lines, MSIs, clock and timers for device models: thin wrappers
 * that pick the embedder's router or the port's interrupt controller.
 */
#include "internal.h"
#include "platform_internal.h"
#include "util.h"

struct pv_timer {
	struct pv_timer *next; /* in the partition's list of live timers */
	struct pv_partition *part;
	void *port_timer;
	pv_timer_fn fn;
	void *ctx;
};

void pv_irq_set_router(struct pv_partition *part, pv_irq_router_fn fn, void *ctx)
{
	if (!part)
		return;
	/* Lock-free like the dispatch filters: ctx first, fn published last. */
	pv_atomic_store_relaxed(&part->irq_router_ctx, ctx);
	pv_atomic_store_release(&part->irq_router, fn);
}

static bool get_router(struct pv_partition *part, pv_irq_router_fn *fn, void **ctx)
{
	*fn = pv_atomic_load_acquire(&part->irq_router);
	*ctx = pv_atomic_load_relaxed(&part->irq_router_ctx);
	return *fn != NULL;
}

pv_err_t pv_irq_set(struct pv_partition *part, uint32_t gsi, bool level)
{
	if (!part)
		return PV_EINVAL;
	pv_irq_router_fn fn;
	void *ctx;
	if (get_router(part, &fn, &ctx))
		return fn(ctx, false, gsi, level, 0, 0);
	if ((part->port->caps & PV_PORT_CAP_IRQCHIP) && part->port->irq_line)
		return part->port->irq_line(part->port_data, gsi, level);
	return PV_ENOTSUP;
}

pv_err_t pv_msi_send(struct pv_partition *part, uint64_t address, uint32_t data)
{
	if (!part)
		return PV_EINVAL;
	pv_irq_router_fn fn;
	void *ctx;
	if (get_router(part, &fn, &ctx))
		return fn(ctx, true, 0, false, address, data);
	if ((part->port->caps & PV_PORT_CAP_IRQCHIP) && part->port->msi)
		return part->port->msi(part->port_data, address, data);
	return PV_ENOTSUP;
}

uint64_t pv_clock_ns(struct pv_partition *part)
{
	if (!part)
		return 0;
	return part->port->clock_ns(part->port_data);
}

static void timer_trampoline(void *ctx)
{
	struct pv_timer *t = ctx;
	t->fn(t->ctx);
}

pv_err_t pv_timer_create(struct pv_partition *part, pv_timer_fn fn, void *ctx,
			 struct pv_timer **out)
{
	if (!part || !fn || !out)
		return PV_EINVAL;
	*out = NULL;
	const struct pv_port_ops *p = part->port;
	if (!(p->caps & PV_PORT_CAP_TIMERS) || !p->timer_create || !p->timer_arm ||
	    !p->timer_cancel || !p->timer_destroy)
		return PV_ENOTSUP;
	struct pv_timer *t = pv_alloc(part, sizeof(*t));
	if (!t)
		return PV_ENOMEM;
	t->part = part;
	t->fn = fn;
	t->ctx = ctx;
	pv_err_t err = p->timer_create(part->port_data, timer_trampoline, t, &t->port_timer);
	if (err) {
		pv_free(part, t);
		return err;
	}
	pv_lock(part, part->reg_lock);
	t->next = part->timers;
	part->timers = t;
	pv_unlock(part, part->reg_lock);
	*out = t;
	return PV_OK;
}

pv_err_t pv_timer_arm(struct pv_timer *timer, uint64_t deadline_ns)
{
	if (!timer)
		return PV_EINVAL;
	return timer->part->port->timer_arm(timer->part->port_data, timer->port_timer, deadline_ns);
}

void pv_timer_cancel(struct pv_timer *timer)
{
	if (timer)
		timer->part->port->timer_cancel(timer->part->port_data, timer->port_timer);
}

void pv_timer_destroy(struct pv_timer *timer)
{
	if (!timer)
		return;
	struct pv_partition *part = timer->part;
	pv_lock(part, part->reg_lock);
	for (struct pv_timer **pp = &part->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = timer->next;
			break;
		}
	}
	pv_unlock(part, part->reg_lock);
	part->port->timer_destroy(part->port_data, timer->port_timer);
	pv_free(part, timer);
}

/* Timers the embedder did not destroy die with the partition, before the
 * port's state they live in. */
void pv_timers_destroy_all(struct pv_partition *part)
{
	while (part->timers) {
		struct pv_timer *t = part->timers;
		part->timers = t->next;
		part->port->timer_destroy(part->port_data, t->port_timer);
		pv_free(part, t);
	}
}
