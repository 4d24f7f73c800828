/* SPDX-License-Identifier: MIT */
/*
 * Partition lifecycle: validate the configuration, let the port create its
 * state, map RAM, create vCPUs; and undo all of it in reverse order.
 */
#include "internal.h"
#include "platform_internal.h"
#include "util.h"

static const struct pv_platform *default_platform(void)
{
#ifdef PV_HOSTED
	return pv_platform_hosted();
#else
	return NULL;
#endif
}

static bool platform_complete(const struct pv_platform *pf)
{
	return pf && pf->alloc && pf->free && pf->lock_create && pf->lock_destroy &&
	       pf->lock_acquire && pf->lock_release && pf->event_create && pf->event_destroy &&
	       pf->event_wait && pf->event_signal;
}

static bool port_complete(const struct pv_port_ops *p)
{
	return p && p->name && p->partition_create && p->partition_destroy && p->map_ram &&
	       p->vcpu_create && p->vcpu_destroy && p->vcpu_run && p->vcpu_complete &&
	       p->get_regs && p->set_regs && p->get_sregs && p->set_sregs && p->inject && p->stop &&
	       p->clock_ns;
}

/* Copy, check and sort the memory map into part->slots. */
static pv_err_t load_memory_map(struct pv_partition *part, const struct pv_partition_config *cfg)
{
	if (!cfg->ranges || cfg->range_count == 0 || cfg->range_count > PV_MAX_MEM_RANGES)
		return PV_EINVAL;
	for (size_t i = 0; i < cfg->range_count; i++) {
		const struct pv_mem_range *r = &cfg->ranges[i];
		uint64_t base = pv_gpa_val(r->base), last;
		if (r->kind != PV_MEM_RAM && r->kind != PV_MEM_MMIO && r->kind != PV_MEM_RESERVED)
			return PV_EINVAL;
		if (!pv_is_aligned_u64(base, PV_PAGE_SIZE) ||
		    !pv_is_aligned_u64(r->size, PV_PAGE_SIZE))
			return PV_EINVAL;
		if (!pv_range_last(base, r->size, &last))
			return PV_EINVAL;
		/* Insertion sort: at most PV_MAX_MEM_RANGES entries. */
		uint32_t j = part->slot_count;
		while (j > 0 && part->slots[j - 1].base > base) {
			part->slots[j] = part->slots[j - 1];
			j--;
		}
		part->slots[j] = (struct pv_mem_slot){.base = base, .last = last, .kind = r->kind};
		part->slot_count++;
	}
	for (uint32_t i = 1; i < part->slot_count; i++)
		if (part->slots[i].base <= part->slots[i - 1].last)
			return PV_EINVAL;
	return PV_OK;
}

static pv_err_t map_ram(struct pv_partition *part)
{
	for (uint32_t i = 0; i < part->slot_count; i++) {
		struct pv_mem_slot *s = &part->slots[i];
		if (s->kind != PV_MEM_RAM)
			continue;
		uint64_t size = s->last - s->base + 1;
		uint64_t npages = size >> PV_PAGE_SHIFT;
		if (npages > SIZE_MAX / sizeof(uint16_t))
			return PV_ENOMEM;
		s->pages = pv_alloc(part, (size_t)npages * sizeof(uint16_t));
		if (!s->pages)
			return PV_ENOMEM;
		for (uint64_t p = 0; p < npages; p++)
			s->pages[p] = PV_PAGE_DEFAULT_STATE;
		void *hva = NULL;
		pv_err_t err = part->port->map_ram(part->port_data, pv_gpa(s->base), size, &hva);
		if (err)
			return err;
		if (!hva)
			return PV_EPORT;
		s->hva = hva;
	}
	return PV_OK;
}

static pv_err_t create_vcpus(struct pv_partition *part)
{
	const struct pv_platform *pf = part->platform;
	part->vcpus = pv_alloc(part, sizeof(*part->vcpus) * part->vcpu_count);
	if (!part->vcpus)
		return PV_ENOMEM;
	for (uint32_t i = 0; i < part->vcpu_count; i++) {
		struct pv_vcpu *v = &part->vcpus[i];
		v->part = part;
		v->index = i;
		v->wake_event = pf->event_create(pf->ctx);
		if (!v->wake_event)
			return PV_ENOMEM;
		pv_err_t err = part->port->vcpu_create(part->port_data, i, v, &v->port_data);
		if (err)
			return err;
		v->port_created = true;
	}
	return PV_OK;
}

pv_err_t pv_partition_create(const struct pv_partition_config *cfg, struct pv_partition **out)
{
	if (!out)
		return PV_EINVAL;
	*out = NULL;
	if (!cfg || cfg->vcpu_count == 0 || cfg->vcpu_count > PV_MAX_VCPUS || cfg->vtl_count == 0 ||
	    cfg->vtl_count > PV_MAX_VTLS || (unsigned)cfg->isolation > PV_ISOLATION_TDX ||
	    !port_complete(cfg->port))
		return PV_EINVAL;
	const struct pv_platform *pf = cfg->platform ? cfg->platform : default_platform();
	if (!platform_complete(pf))
		return PV_EINVAL;

	struct pv_partition *part = pf->alloc(pf->ctx, sizeof(*part));
	if (!part)
		return PV_ENOMEM;
	part->platform = pf;
	part->port = cfg->port;
	part->vcpu_count = cfg->vcpu_count;
	part->vtl_count = cfg->vtl_count;
	part->isolation = cfg->isolation;
	/* Generation 1 != every vCPU's 0: the first run pushes even an empty table. */
	part->cpuid_gen = 1;
	part->cpuid_pushed_by_library =
		!(cfg->port->caps & PV_PORT_CAP_CPUID_EXITS) && cfg->port->cpuid_update;

	pv_err_t err = load_memory_map(part, cfg);
	if (err)
		goto fail;
	part->reg_lock = pv_lock_create(part);
	part->cmpxchg_lock = pv_lock_create(part);
	if (!part->reg_lock || !part->cmpxchg_lock) {
		err = PV_ENOMEM;
		goto fail;
	}
	err = cfg->port->partition_create(cfg->port_ctx, part, cfg, &part->port_data);
	if (err)
		goto fail;
	part->port_created = true;
	err = map_ram(part);
	if (!err)
		err = create_vcpus(part);
	if (err)
		goto fail;
	pv_log(part, PV_LOG_INFO, "core", "partition created: port %s, %u vCPUs, %u ranges",
	       cfg->port->name, part->vcpu_count, part->slot_count);
	*out = part;
	return PV_OK;
fail:
	pv_log(part, PV_LOG_ERROR, "core", "partition creation failed: %s", pv_strerror(err));
	pv_partition_destroy(part);
	return err;
}

void pv_partition_destroy(struct pv_partition *part)
{
	if (!part)
		return;
	const struct pv_platform *pf = part->platform;
	pv_timers_destroy_all(part);
	if (part->vcpus) {
		for (uint32_t i = 0; i < part->vcpu_count; i++) {
			struct pv_vcpu *v = &part->vcpus[i];
			if (v->port_created)
				part->port->vcpu_destroy(v->port_data);
			if (v->wake_event)
				pf->event_destroy(pf->ctx, v->wake_event);
		}
		pv_free(part, part->vcpus);
	}
	for (uint32_t i = 0; i < part->slot_count; i++) {
		struct pv_mem_slot *s = &part->slots[i];
		if (s->hva && part->port->unmap_ram)
			part->port->unmap_ram(part->port_data, pv_gpa(s->base),
					      s->last - s->base + 1, s->hva);
		pv_free(part, s->pages);
	}
	if (part->port_created)
		part->port->partition_destroy(part->port_data);
	pv_dispatch_free_tables(part);
	pv_lock_destroy(part, part->reg_lock);
	pv_lock_destroy(part, part->cmpxchg_lock);
	pf->free(pf->ctx, part);
}

struct pv_vcpu *pv_partition_vcpu(struct pv_partition *part, uint32_t index)
{
	if (!part || index >= part->vcpu_count)
		return NULL;
	return &part->vcpus[index];
}

uint32_t pv_partition_vcpu_count(const struct pv_partition *part)
{
	return part ? part->vcpu_count : 0;
}

uint32_t pv_partition_vtl_count(const struct pv_partition *part)
{
	return part ? part->vtl_count : 0;
}

enum pv_isolation_type pv_partition_isolation(const struct pv_partition *part)
{
	return part ? part->isolation : PV_ISOLATION_NONE;
}

void *pv_partition_port_data(struct pv_partition *part)
{
	return part ? part->port_data : NULL;
}

const struct pv_port_ops *pv_partition_port(const struct pv_partition *part)
{
	return part ? part->port : NULL;
}

const struct pv_platform *pv_partition_platform(const struct pv_partition *part)
{
	return part->platform;
}

void pv_partition_get_stats(struct pv_partition *part, struct pv_stats *out)
{
	if (!out)
		return;
	pv_memset(out, 0, sizeof(*out));
	if (!part)
		return;
	/* Sum field by field; each counter has a single writer (its vCPU). */
	for (uint32_t i = 0; i < part->vcpu_count; i++) {
		const uint64_t *src = (const uint64_t *)&part->vcpus[i].stats;
		uint64_t *dst = (uint64_t *)out;
		for (size_t f = 0; f < sizeof(*out) / sizeof(uint64_t); f++)
			dst[f] += pv_atomic_load_relaxed(&src[f]);
	}
}
