/* SPDX-License-Identifier: MIT */
/*
 * Exit dispatch. Handler tables are immutable sorted snapshots published
 * with a release store and read with an acquire load, so the hot path is a
 * binary search with no lock and no allocation. Writers (registration) are
 * serialized by the partition's registration lock.
 */
#include "internal.h"
#include "platform_internal.h"
#include "util.h"

/* ---- range tables ---------------------------------------------------- */

static struct pv_range_table *table_alloc(struct pv_partition *part, uint32_t count)
{
	struct pv_range_table *t =
		pv_alloc(part, sizeof(struct pv_range_table) +
				       count * (sizeof(struct pv_range_entry) + sizeof(uint64_t)));
	if (t) {
		t->count = count;
		t->last_keys = (uint64_t *)(void *)&t->entries[count];
	}
	return t;
}

static void table_index(struct pv_range_table *t)
{
	for (uint32_t i = 0; i < t->count; i++)
		t->last_keys[i] = t->entries[i].last;
}

/* Publish @next as the current table of @set; the old one is retired. */
static void table_publish(struct pv_range_set *set, struct pv_range_table *next)
{
	struct pv_range_table *old = set->current;
	pv_atomic_store_release(&set->current, next);
	if (old) {
		old->retired_next = set->retired;
		set->retired = old;
	}
}

/* Insert [first, last] unless it overlaps. Caller holds reg_lock. */
static pv_err_t table_insert(struct pv_partition *part, struct pv_range_set *set, uint64_t first,
			     uint64_t last, union pv_handler_fn fn, void *ctx)
{
	const struct pv_range_table *cur = set->current;
	uint32_t n = cur ? cur->count : 0;
	uint32_t pos = 0;
	while (pos < n && cur->entries[pos].last < first)
		pos++;
	if (pos < n && cur->entries[pos].first <= last)
		return PV_EEXIST;
	struct pv_range_table *next = table_alloc(part, n + 1);
	if (!next)
		return PV_ENOMEM;
	if (pos)
		pv_memcpy(next->entries, cur->entries, pos * sizeof(next->entries[0]));
	next->entries[pos] = (struct pv_range_entry){first, last, fn, ctx};
	if (n > pos)
		pv_memcpy(&next->entries[pos + 1], &cur->entries[pos],
			  (n - pos) * sizeof(next->entries[0]));
	table_index(next);
	table_publish(set, next);
	return PV_OK;
}

static pv_err_t table_remove(struct pv_partition *part, struct pv_range_set *set, uint64_t first)
{
	const struct pv_range_table *cur = set->current;
	uint32_t n = cur ? cur->count : 0;
	uint32_t pos = 0;
	while (pos < n && cur->entries[pos].first != first)
		pos++;
	if (pos == n)
		return PV_ENOENT;
	struct pv_range_table *next = table_alloc(part, n - 1);
	if (!next)
		return PV_ENOMEM;
	pv_memcpy(next->entries, cur->entries, pos * sizeof(next->entries[0]));
	pv_memcpy(&next->entries[pos], &cur->entries[pos + 1],
		  (n - pos - 1) * sizeof(next->entries[0]));
	table_index(next);
	table_publish(set, next);
	return PV_OK;
}

static void table_free_all(struct pv_partition *part, struct pv_range_set *set)
{
	pv_free(part, set->current);
	for (struct pv_range_table *t = set->retired, *nx; t; t = nx) {
		nx = t->retired_next;
		pv_free(part, t);
	}
	set->current = set->retired = NULL;
}

void pv_dispatch_free_tables(struct pv_partition *part)
{
	table_free_all(part, &part->io);
	table_free_all(part, &part->mmio);
	table_free_all(part, &part->msr);
	pv_free(part, part->cpuid);
	for (struct pv_cpuid_table *t = part->cpuid_retired, *nx; t; t = nx) {
		nx = t->retired_next;
		pv_free(part, t);
	}
	part->cpuid = part->cpuid_retired = NULL;
}

/* ---- registration ---------------------------------------------------- */

pv_err_t pv_io_register(struct pv_partition *part, uint16_t base, uint32_t count, pv_io_fn fn,
			void *ctx)
{
	if (!part || !fn || count == 0 || count > 0x10000u - base)
		return PV_EINVAL;
	pv_lock(part, part->reg_lock);
	pv_err_t err = table_insert(part, &part->io, base, (uint64_t)base + count - 1,
				    (union pv_handler_fn){.io = fn}, ctx);
	pv_unlock(part, part->reg_lock);
	return err;
}

pv_err_t pv_io_unregister(struct pv_partition *part, uint16_t base)
{
	if (!part)
		return PV_EINVAL;
	pv_lock(part, part->reg_lock);
	pv_err_t err = table_remove(part, &part->io, base);
	pv_unlock(part, part->reg_lock);
	return err;
}

pv_err_t pv_mmio_register(struct pv_partition *part, pv_gpa_t base, uint64_t size, pv_mmio_fn fn,
			  void *ctx)
{
	uint64_t first = pv_gpa_val(base), last;
	if (!part || !fn || size == 0)
		return PV_EINVAL;
	if (!pv_range_last(first, size, &last))
		return PV_ERANGE;
	/* MMIO must not shadow RAM: the port would never exit for it. */
	for (uint32_t i = 0; i < part->slot_count; i++) {
		const struct pv_mem_slot *s = &part->slots[i];
		if (s->kind == PV_MEM_RAM && s->base <= last && first <= s->last)
			return PV_EEXIST;
	}
	pv_lock(part, part->reg_lock);
	pv_err_t err = table_insert(part, &part->mmio, first, last,
				    (union pv_handler_fn){.mmio = fn}, ctx);
	pv_unlock(part, part->reg_lock);
	return err;
}

pv_err_t pv_mmio_unregister(struct pv_partition *part, pv_gpa_t base)
{
	if (!part)
		return PV_EINVAL;
	pv_lock(part, part->reg_lock);
	pv_err_t err = table_remove(part, &part->mmio, pv_gpa_val(base));
	pv_unlock(part, part->reg_lock);
	return err;
}

/* Tell a filtering port the full set of MSR ranges that must exit. */
static pv_err_t msr_filter_sync(struct pv_partition *part, const struct pv_range_table *t)
{
	if (!(part->port->caps & PV_PORT_CAP_MSR_FILTER) || !part->port->msr_filter_update)
		return PV_OK;
	uint32_t n = t ? t->count : 0;
	struct pv_msr_range *ranges = NULL;
	if (n) {
		ranges = pv_alloc(part, n * sizeof(*ranges));
		if (!ranges)
			return PV_ENOMEM;
		for (uint32_t i = 0; i < n; i++) {
			ranges[i].first = (uint32_t)t->entries[i].first;
			ranges[i].count = (uint32_t)(t->entries[i].last - t->entries[i].first + 1);
		}
	}
	pv_err_t err = part->port->msr_filter_update(part->port_data, ranges, n);
	pv_free(part, ranges);
	return err;
}

/* Undo the publish that replaced @prev (the port refused the new filter).
 * table_publish pushed @prev on the retired list head; take it back and
 * retire the refused table instead, since readers may still hold it. */
static void table_restore(struct pv_range_set *set, struct pv_range_table *prev)
{
	struct pv_range_table *bad = set->current;
	if (prev) {
		set->retired = prev->retired_next;
		prev->retired_next = NULL;
	}
	pv_atomic_store_release(&set->current, prev);
	bad->retired_next = set->retired;
	set->retired = bad;
}

pv_err_t pv_msr_register(struct pv_partition *part, uint32_t first, uint32_t count, pv_msr_fn fn,
			 void *ctx)
{
	if (!part || !fn || count == 0 || (uint64_t)first + count - 1 > UINT32_MAX)
		return PV_EINVAL;
	pv_lock(part, part->reg_lock);
	struct pv_range_table *prev = part->msr.current;
	pv_err_t err = table_insert(part, &part->msr, first, (uint64_t)first + count - 1,
				    (union pv_handler_fn){.msr = fn}, ctx);
	if (!err) {
		err = msr_filter_sync(part, part->msr.current);
		if (err)
			table_restore(&part->msr, prev);
	}
	pv_unlock(part, part->reg_lock);
	return err;
}

pv_err_t pv_msr_unregister(struct pv_partition *part, uint32_t first)
{
	if (!part)
		return PV_EINVAL;
	pv_lock(part, part->reg_lock);
	pv_err_t err = table_remove(part, &part->msr, first);
	if (!err)
		(void)msr_filter_sync(part, part->msr.current); /* extra exits are harmless */
	pv_unlock(part, part->reg_lock);
	return err;
}

pv_err_t pv_dispatch_set_filter(struct pv_partition *part, enum pv_filter_stage stage,
				pv_exit_filter_fn fn, void *ctx)
{
	if (!part || (unsigned)stage >= PV_FILTER_STAGE_COUNT)
		return PV_EINVAL;
	pv_err_t err = PV_OK;
	pv_lock(part, part->reg_lock);
	struct pv_filter *f = &part->filters[stage];
	if (fn && f->fn) {
		err = PV_EEXIST;
	} else {
		/* ctx first, then fn with release: a reader that sees fn sees ctx. */
		pv_atomic_store_relaxed(&f->ctx, ctx);
		pv_atomic_store_release(&f->fn, fn);
	}
	pv_unlock(part, part->reg_lock);
	return err;
}

/* ---- CPUID table ----------------------------------------------------- */

static bool cpuid_matches(const struct pv_cpuid_entry *e, uint32_t leaf, uint32_t subleaf)
{
	return e->leaf == leaf && (e->any_subleaf || e->subleaf == subleaf);
}

static const struct pv_cpuid_entry *cpuid_find(const struct pv_cpuid_table *t, uint32_t leaf,
					       uint32_t subleaf)
{
	if (!t)
		return NULL;
	/* Lower bound on leaf, then scan that leaf's few subleaf entries. */
	uint32_t lo = 0, hi = t->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (t->entries[mid].leaf < leaf)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t i = lo; i < t->count && t->entries[i].leaf == leaf; i++)
		if (cpuid_matches(&t->entries[i], leaf, subleaf))
			return &t->entries[i];
	return NULL;
}

static void cpuid_publish(struct pv_partition *part, struct pv_cpuid_table *next)
{
	struct pv_cpuid_table *old = part->cpuid;
	pv_atomic_store_release(&part->cpuid, next);
	if (old) {
		old->retired_next = part->cpuid_retired;
		part->cpuid_retired = old;
	}
	pv_atomic_fetch_add(&part->cpuid_gen, 1);
}

/* Does @e collide with @new (same leaf, and either is any-subleaf or same subleaf)? */
static bool cpuid_collides(const struct pv_cpuid_entry *e, const struct pv_cpuid_entry *nw)
{
	return e->leaf == nw->leaf &&
	       (e->any_subleaf || nw->any_subleaf || e->subleaf == nw->subleaf);
}

static bool cpuid_less(const struct pv_cpuid_entry *a, const struct pv_cpuid_entry *b)
{
	return a->leaf < b->leaf || (a->leaf == b->leaf && a->subleaf < b->subleaf);
}

pv_err_t pv_cpuid_set(struct pv_partition *part, const struct pv_cpuid_entry *entry)
{
	if (!part || !entry)
		return PV_EINVAL;
	struct pv_cpuid_entry nw = *entry;
	if (nw.any_subleaf)
		nw.subleaf = 0;
	pv_lock(part, part->reg_lock);
	const struct pv_cpuid_table *cur = part->cpuid;
	uint32_t n = cur ? cur->count : 0;
	struct pv_cpuid_table *next =
		pv_alloc(part, sizeof(*next) + (n + 1) * sizeof(next->entries[0]));
	if (!next) {
		pv_unlock(part, part->reg_lock);
		return PV_ENOMEM;
	}
	uint32_t k = 0;
	bool placed = false;
	for (uint32_t i = 0; i < n; i++) {
		const struct pv_cpuid_entry *e = &cur->entries[i];
		if (cpuid_collides(e, &nw))
			continue; /* replaced */
		if (!placed && cpuid_less(&nw, e)) {
			next->entries[k++] = nw;
			placed = true;
		}
		next->entries[k++] = *e;
	}
	if (!placed)
		next->entries[k++] = nw;
	next->count = k;
	cpuid_publish(part, next);
	pv_unlock(part, part->reg_lock);
	return PV_OK;
}

pv_err_t pv_cpuid_remove(struct pv_partition *part, uint32_t leaf, uint32_t subleaf)
{
	if (!part)
		return PV_EINVAL;
	pv_lock(part, part->reg_lock);
	const struct pv_cpuid_table *cur = part->cpuid;
	const struct pv_cpuid_entry *victim = cpuid_find(cur, leaf, subleaf);
	if (!victim) {
		pv_unlock(part, part->reg_lock);
		return PV_ENOENT;
	}
	struct pv_cpuid_table *next =
		pv_alloc(part, sizeof(*next) + cur->count * sizeof(next->entries[0]));
	if (!next) {
		pv_unlock(part, part->reg_lock);
		return PV_ENOMEM;
	}
	uint32_t k = 0;
	for (uint32_t i = 0; i < cur->count; i++)
		if (&cur->entries[i] != victim)
			next->entries[k++] = cur->entries[i];
	next->count = k;
	cpuid_publish(part, next);
	pv_unlock(part, part->reg_lock);
	return PV_OK;
}

pv_err_t pv_cpuid_get(struct pv_partition *part, uint32_t leaf, uint32_t subleaf,
		      struct pv_cpuid_entry *out)
{
	if (!part || !out)
		return PV_EINVAL;
	const struct pv_cpuid_entry *e =
		cpuid_find(pv_atomic_load_acquire(&part->cpuid), leaf, subleaf);
	if (!e)
		return PV_ENOENT;
	*out = *e;
	return PV_OK;
}

/* Per-vCPU values the table cannot hold: the APIC ID. */
static void cpuid_patch(const struct pv_vcpu *vcpu, struct pv_cpuid_entry *e)
{
	if (e->leaf == 1)
		e->ebx = (e->ebx & 0x00FFFFFFu) | (vcpu->index << 24);
	else if (e->leaf == 0xB || e->leaf == 0x1F)
		e->edx = vcpu->index;
}

pv_err_t pv_cpuid_push(struct pv_vcpu *vcpu)
{
	struct pv_partition *part = vcpu->part;
	if (!part->cpuid_pushed_by_library)
		return PV_OK;
	uint64_t gen = pv_atomic_load_acquire(&part->cpuid_gen);
	if (gen == vcpu->cpuid_gen_seen)
		return PV_OK;
	pv_lock(part, part->reg_lock);
	const struct pv_cpuid_table *t = part->cpuid;
	uint32_t n = t ? t->count : 0;
	struct pv_cpuid_entry *copy = pv_alloc(part, (n ? n : 1) * sizeof(*copy));
	if (!copy) {
		pv_unlock(part, part->reg_lock);
		return PV_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		copy[i] = t->entries[i];
		cpuid_patch(vcpu, &copy[i]);
	}
	pv_unlock(part, part->reg_lock);
	pv_err_t err = part->port->cpuid_update(vcpu->port_data, copy, n);
	pv_free(part, copy);
	if (!err)
		vcpu->cpuid_gen_seen = gen;
	return err;
}

/* ---- dispatch -------------------------------------------------------- */

/* Valid I/O widths map to their data mask; invalid ones to 0. */
static const uint32_t io_width_mask[8] = {0, 0xFFu, 0xFFFFu, 0, 0xFFFFFFFFu, 0, 0, 0};

static void dispatch_io(struct pv_vcpu *vcpu, struct pv_exit_io *io)
{
	struct pv_stats *st = &vcpu->stats;
	uint32_t mask = io->size < 8 ? io_width_mask[io->size] : 0;
	if (!mask || io->count == 0 || (io->count > 1 && !io->rep_data)) {
		pv_counter_inc(&st->bad_exits);
		return;
	}
	const struct pv_range_entry *e =
		pv_range_find(pv_atomic_load_acquire(&vcpu->part->io.current), io->port);
	if (!e) {
		pv_counter_inc(io->is_write ? &st->io_unhandled_writes : &st->io_unhandled_reads);
		if (!io->is_write) {
			if (io->count == 1)
				io->data = mask;
			else
				pv_memset(io->rep_data, 0xFF, (size_t)io->count * io->size);
		}
		return;
	}
	uint16_t offset = (uint16_t)(io->port - e->first);
	if (io->count == 1) {
		uint32_t v = io->is_write ? io->data & mask : mask;
		if (e->fn.io(e->ctx, vcpu, offset, io->size, io->is_write, &v)) {
			pv_counter_inc(&st->handler_errors);
			v = mask;
		}
		if (!io->is_write)
			io->data = v & mask;
		return;
	}
	/* String I/O: one handler call per element, in order. */
	for (uint32_t i = 0; i < io->count; i++) {
		uint8_t *elem = io->rep_data + (size_t)i * io->size;
		uint32_t v = 0;
		if (io->is_write)
			pv_memcpy(&v, elem, io->size); /* little-endian host */
		else
			v = mask;
		if (e->fn.io(e->ctx, vcpu, offset, io->size, io->is_write, &v)) {
			pv_counter_inc(&st->handler_errors);
			v = mask;
		}
		if (!io->is_write)
			pv_memcpy(elem, &v, io->size);
	}
}

static void dispatch_mmio(struct pv_vcpu *vcpu, struct pv_exit *exit)
{
	struct pv_stats *st = &vcpu->stats;
	struct pv_exit_mmio *m = &exit->u.mmio;
	if (m->size == 0) {
		pv_mmio_emulate(vcpu, exit);
		return;
	}
	if (m->size != 1 && m->size != 2 && m->size != 4 && m->size != 8) {
		pv_counter_inc(&st->bad_exits);
		return;
	}
	uint64_t mask = m->size == 8 ? ~0ull : (1ull << (m->size * 8u)) - 1u;
	const struct pv_range_entry *e = pv_range_find(
		pv_atomic_load_acquire(&vcpu->part->mmio.current), pv_gpa_val(m->gpa));
	if (!e) {
		pv_counter_inc(m->is_write ? &st->mmio_unhandled_writes :
					     &st->mmio_unhandled_reads);
		if (!m->is_write)
			m->data = mask;
		return;
	}
	uint64_t v = m->is_write ? m->data & mask : mask;
	if (e->fn.mmio(e->ctx, vcpu, pv_gpa_val(m->gpa) - e->first, m->size, m->is_write, &v)) {
		pv_counter_inc(&st->handler_errors);
		v = mask;
	}
	if (!m->is_write)
		m->data = v & mask;
}

static void inject_gp(struct pv_exit *exit)
{
	exit->inject = (struct pv_event){
		.kind = PV_EVENT_EXCEPTION, .vector = PV_VEC_GP, .has_error_code = true};
}

static void dispatch_msr(struct pv_vcpu *vcpu, struct pv_exit *exit, bool is_write)
{
	const struct pv_range_entry *e =
		pv_range_find(pv_atomic_load_acquire(&vcpu->part->msr.current), exit->u.msr.index);
	if (!e) {
		pv_counter_inc(&vcpu->stats.msr_unhandled);
		inject_gp(exit);
		return;
	}
	uint64_t v = is_write ? exit->u.msr.value : 0;
	if (e->fn.msr(e->ctx, vcpu, exit->u.msr.index, is_write, &v)) {
		pv_counter_inc(&vcpu->stats.handler_errors);
		inject_gp(exit);
		return;
	}
	if (!is_write)
		exit->u.msr.value = v;
}

static void dispatch_cpuid(struct pv_vcpu *vcpu, struct pv_exit_cpuid *c)
{
	const struct pv_cpuid_entry *e =
		cpuid_find(pv_atomic_load_acquire(&vcpu->part->cpuid), c->leaf, c->subleaf);
	if (!e) {
		pv_counter_inc(&vcpu->stats.cpuid_unhandled);
		c->eax = c->ebx = c->ecx = c->edx = 0;
		return;
	}
	struct pv_cpuid_entry r = *e;
	cpuid_patch(vcpu, &r);
	c->eax = r.eax;
	c->ebx = r.ebx;
	c->ecx = r.ecx;
	c->edx = r.edx;
}

pv_err_t pv_vcpu_dispatch(struct pv_vcpu *vcpu, struct pv_exit *exit)
{
	if (!vcpu || !exit)
		return PV_EINVAL;
	if ((unsigned)exit->kind >= PV_EXIT_KIND_COUNT) {
		pv_counter_inc(&vcpu->stats.bad_exits);
		exit->kind = PV_EXIT_NONE;
		return PV_OK;
	}
	pv_counter_inc(&vcpu->stats.exits[exit->kind]);
	for (unsigned s = 0; s < PV_FILTER_STAGE_COUNT; s++) {
		const struct pv_filter *f = &vcpu->part->filters[s];
		pv_exit_filter_fn fn = pv_atomic_load_acquire(&f->fn);
		if (fn && fn(pv_atomic_load_relaxed(&f->ctx), vcpu, exit))
			return PV_OK;
	}
	switch (exit->kind) {
	case PV_EXIT_IO:
		dispatch_io(vcpu, &exit->u.io);
		break;
	case PV_EXIT_MMIO:
		dispatch_mmio(vcpu, exit);
		break;
	case PV_EXIT_MSR_READ:
		dispatch_msr(vcpu, exit, false);
		break;
	case PV_EXIT_MSR_WRITE:
		dispatch_msr(vcpu, exit, true);
		break;
	case PV_EXIT_CPUID:
		dispatch_cpuid(vcpu, &exit->u.cpuid);
		break;
	case PV_EXIT_HYPERCALL:
		/* No hypervisor interface claimed it: behave like bare hardware. */
		pv_counter_inc(&vcpu->stats.hypercall_unhandled);
		exit->inject = (struct pv_event){.kind = PV_EVENT_EXCEPTION, .vector = PV_VEC_UD};
		break;
	default: /* HLT, shutdown, windows, stops, errors: the run loop decides */
		break;
	}
	return PV_OK;
}
