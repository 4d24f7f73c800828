/* SPDX-License-Identifier: MIT */
/*
 * Mock port: lifetime, partition and RAM operations, failure injection and
 * the partition-wide recordings (msr_filter_update, irq_line/msi,
 * hypercall_code).
 */
#define _DEFAULT_SOURCE 1

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mock_internal.h"

static const char *const mock_op_names[PV_MOCK_OP_COUNT] = {
	[PV_MOCK_OP_PARTITION_CREATE] = "partition_create",
	[PV_MOCK_OP_PARTITION_DESTROY] = "partition_destroy",
	[PV_MOCK_OP_MAP_RAM] = "map_ram",
	[PV_MOCK_OP_UNMAP_RAM] = "unmap_ram",
	[PV_MOCK_OP_VCPU_CREATE] = "vcpu_create",
	[PV_MOCK_OP_VCPU_DESTROY] = "vcpu_destroy",
	[PV_MOCK_OP_VCPU_RUN] = "vcpu_run",
	[PV_MOCK_OP_VCPU_COMPLETE] = "vcpu_complete",
	[PV_MOCK_OP_GET_REGS] = "get_regs",
	[PV_MOCK_OP_SET_REGS] = "set_regs",
	[PV_MOCK_OP_GET_SREGS] = "get_sregs",
	[PV_MOCK_OP_SET_SREGS] = "set_sregs",
	[PV_MOCK_OP_GET_MSR] = "get_msr",
	[PV_MOCK_OP_SET_MSR] = "set_msr",
	[PV_MOCK_OP_INJECT] = "inject",
	[PV_MOCK_OP_STOP] = "stop",
	[PV_MOCK_OP_CLOCK_NS] = "clock_ns",
	[PV_MOCK_OP_TIMER_CREATE] = "timer_create",
	[PV_MOCK_OP_TIMER_ARM] = "timer_arm",
	[PV_MOCK_OP_TIMER_CANCEL] = "timer_cancel",
	[PV_MOCK_OP_TIMER_DESTROY] = "timer_destroy",
	[PV_MOCK_OP_CPUID_UPDATE] = "cpuid_update",
	[PV_MOCK_OP_MSR_FILTER_UPDATE] = "msr_filter_update",
	[PV_MOCK_OP_HYPERCALL_CODE] = "hypercall_code",
	[PV_MOCK_OP_IRQ_LINE] = "irq_line",
	[PV_MOCK_OP_MSI] = "msi",
	[PV_MOCK_OP_ISOLATION_OP] = "isolation_op",
	[PV_MOCK_OP_GET_XMM] = "get_xmm",
	[PV_MOCK_OP_SET_XMM] = "set_xmm",
};

/* Operations returning void cannot be made to fail. */
static bool mock_op_can_fail(enum pv_mock_op op)
{
	switch (op) {
	case PV_MOCK_OP_PARTITION_DESTROY:
	case PV_MOCK_OP_UNMAP_RAM:
	case PV_MOCK_OP_VCPU_DESTROY:
	case PV_MOCK_OP_STOP:
	case PV_MOCK_OP_CLOCK_NS:
	case PV_MOCK_OP_TIMER_CANCEL:
	case PV_MOCK_OP_TIMER_DESTROY:
		return false;
	default:
		return (unsigned)op < PV_MOCK_OP_COUNT;
	}
}

/* Largest single RAM mapping the mock accepts. */
#define MOCK_MAX_RAM_MAP (1ull << 40)

const char *pv_mock_op_name(enum pv_mock_op op)
{
	if ((unsigned)op >= PV_MOCK_OP_COUNT)
		return "unknown";
	return mock_op_names[op];
}

pv_err_t mock_enter(struct pv_mock *m, enum pv_mock_op op)
{
	uint64_t n = atomic_fetch_add_explicit(&m->calls[op], 1, memory_order_relaxed) + 1;
	pv_err_t rc = PV_OK;

	if (!atomic_load_explicit(&m->fail_any, memory_order_acquire))
		return PV_OK;
	pthread_mutex_lock(&m->lock);
	struct mock_fail *f = &m->fails[op];
	if (f->armed && n >= f->at) {
		rc = f->err;
		if (!f->sticky)
			f->armed = false;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void mock_count(struct pv_mock *m, enum pv_mock_op op)
{
	atomic_fetch_add_explicit(&m->calls[op], 1, memory_order_relaxed);
}

bool mock_vec_push(struct mock_vec *v, size_t elem, const void *item)
{
	if (v->len == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 16;
		if (ncap < v->cap || ncap > SIZE_MAX / elem)
			return false;
		void *nd = realloc(v->data, ncap * elem);
		if (!nd)
			return false;
		v->data = nd;
		v->cap = ncap;
	}
	memcpy((uint8_t *)v->data + v->len * elem, item, elem);
	v->len++;
	return true;
}

void mock_vec_free(struct mock_vec *v)
{
	free(v->data);
	v->data = NULL;
	v->len = 0;
	v->cap = 0;
}

/* ---- RAM ------------------------------------------------------------------ */

static void *mock_ram_alloc(uint64_t size)
{
#if defined(MAP_ANONYMOUS)
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#if defined(MAP_NORESERVE)
	flags |= MAP_NORESERVE;
#endif
	void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
#else
	return calloc(1, (size_t)size);
#endif
}

static void mock_ram_release(void *hva, uint64_t size)
{
#if defined(MAP_ANONYMOUS)
	munmap(hva, (size_t)size);
#else
	(void)size;
	free(hva);
#endif
}

static pv_err_t mock_map_ram(void *pdata, pv_gpa_t gpa, uint64_t size, void **hva)
{
	struct pv_mock *m = pdata;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_MAP_RAM);

	if (rc)
		return rc;
	if (!hva || size == 0 || pv_gpa_val(gpa) + (size - 1) < pv_gpa_val(gpa))
		return PV_EINVAL;
	if (size > MOCK_MAX_RAM_MAP || size > SIZE_MAX)
		return PV_ENOMEM;
	void *p = mock_ram_alloc(size);
	if (!p)
		return PV_ENOMEM;
	struct mock_ram r = {pv_gpa_val(gpa), size, p};
	pthread_mutex_lock(&m->lock);
	bool ok = mock_vec_push(&m->ram, sizeof(r), &r);
	pthread_mutex_unlock(&m->lock);
	if (!ok) {
		mock_ram_release(p, size);
		return PV_ENOMEM;
	}
	*hva = p;
	return PV_OK;
}

static void mock_unmap_ram(void *pdata, pv_gpa_t gpa, uint64_t size, void *hva)
{
	struct pv_mock *m = pdata;

	mock_count(m, PV_MOCK_OP_UNMAP_RAM);
	pthread_mutex_lock(&m->lock);
	struct mock_ram *r = m->ram.data;
	for (size_t i = 0; i < m->ram.len; i++) {
		if (r[i].gpa == pv_gpa_val(gpa) && r[i].hva == hva && r[i].size == size) {
			mock_ram_release(r[i].hva, r[i].size);
			r[i] = r[m->ram.len - 1];
			m->ram.len--;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

static void mock_ram_free_all(struct pv_mock *m)
{
	struct mock_ram *r = m->ram.data;
	for (size_t i = 0; i < m->ram.len; i++)
		mock_ram_release(r[i].hva, r[i].size);
	m->ram.len = 0;
}

void *pv_mock_ram_ptr(struct pv_mock *mock, pv_gpa_t gpa, size_t len)
{
	void *p = NULL;
	uint64_t a = pv_gpa_val(gpa);

	if (!mock)
		return NULL;
	pthread_mutex_lock(&mock->lock);
	struct mock_ram *r = mock->ram.data;
	for (size_t i = 0; i < mock->ram.len; i++) {
		if (a >= r[i].gpa && a - r[i].gpa < r[i].size &&
		    len <= r[i].size - (a - r[i].gpa)) {
			p = (uint8_t *)r[i].hva + (a - r[i].gpa);
			break;
		}
	}
	pthread_mutex_unlock(&mock->lock);
	return p;
}

size_t pv_mock_live_ram_maps(struct pv_mock *mock)
{
	if (!mock)
		return 0;
	pthread_mutex_lock(&mock->lock);
	size_t n = mock->ram.len;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

/* ---- partition ------------------------------------------------------------ */

static pv_err_t mock_partition_create(void *port_ctx, struct pv_partition *part,
				      const struct pv_partition_config *config, void **pdata)
{
	struct pv_mock *m = port_ctx;

	if (!m || !pdata)
		return PV_EINVAL;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_PARTITION_CREATE);
	if (rc)
		return rc;
	(void)config;
	pthread_mutex_lock(&m->lock);
	if (m->part_live) {
		pthread_mutex_unlock(&m->lock);
		return PV_EBUSY;
	}
	m->part_live = true;
	m->part = part;
	pthread_mutex_unlock(&m->lock);
	*pdata = m;
	return PV_OK;
}

static void mock_partition_destroy(void *pdata)
{
	struct pv_mock *m = pdata;

	mock_count(m, PV_MOCK_OP_PARTITION_DESTROY);
	pthread_mutex_lock(&m->lock);
	mock_ram_free_all(m);
	m->part_live = false;
	m->part = NULL;
	pthread_mutex_unlock(&m->lock);
}

struct pv_partition *pv_mock_partition(struct pv_mock *mock)
{
	if (!mock)
		return NULL;
	pthread_mutex_lock(&mock->lock);
	struct pv_partition *p = mock->part;
	pthread_mutex_unlock(&mock->lock);
	return p;
}

bool pv_mock_partition_live(struct pv_mock *mock)
{
	if (!mock)
		return false;
	pthread_mutex_lock(&mock->lock);
	bool live = mock->part_live;
	pthread_mutex_unlock(&mock->lock);
	return live;
}

/* ---- partition-wide optional operations ----------------------------------- */

static pv_err_t mock_msr_filter_update(void *pdata, const struct pv_msr_range *ranges, size_t count)
{
	struct pv_mock *m = pdata;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_MSR_FILTER_UPDATE);

	if (rc)
		return rc;
	if ((count && !ranges) || count > 65536)
		return PV_EINVAL;
	for (size_t i = 0; i < count; i++) {
		/* A real port refuses empty or wrapping ranges too. */
		if (ranges[i].count == 0 ||
		    ranges[i].first + (uint64_t)ranges[i].count > 1ull << 32)
			return PV_EINVAL;
	}
	struct mock_msr_filter_call call = {NULL, count};
	if (count) {
		call.ranges = malloc(count * sizeof(*ranges));
		if (!call.ranges)
			return PV_ENOMEM;
		memcpy(call.ranges, ranges, count * sizeof(*ranges));
	}
	pthread_mutex_lock(&m->lock);
	bool ok = mock_vec_push(&m->msr_filters, sizeof(call), &call);
	pthread_mutex_unlock(&m->lock);
	if (!ok) {
		free(call.ranges);
		return PV_ENOMEM;
	}
	return PV_OK;
}

static pv_err_t mock_hypercall_code(void *pdata, uint8_t *buf, size_t cap, size_t *len)
{
	static const uint8_t code[PV_MOCK_HYPERCALL_CODE_LEN] = PV_MOCK_HYPERCALL_CODE_BYTES;
	struct pv_mock *m = pdata;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_HYPERCALL_CODE);

	if (rc)
		return rc;
	if (!buf || !len)
		return PV_EINVAL;
	if (cap < sizeof(code))
		return PV_ERANGE;
	memcpy(buf, code, sizeof(code));
	*len = sizeof(code);
	return PV_OK;
}

static pv_err_t mock_record_irq(struct pv_mock *m, const struct pv_mock_irq *irq)
{
	pthread_mutex_lock(&m->lock);
	bool ok = m->cfg.no_recording || mock_vec_push(&m->irqs, sizeof(*irq), irq);
	pthread_mutex_unlock(&m->lock);
	return ok ? PV_OK : PV_ENOMEM;
}

static pv_err_t mock_irq_line(void *pdata, uint32_t gsi, bool level)
{
	struct pv_mock *m = pdata;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_IRQ_LINE);

	if (rc)
		return rc;
	struct pv_mock_irq irq = {.is_msi = false, .gsi = gsi, .level = level};
	return mock_record_irq(m, &irq);
}

static pv_err_t mock_msi(void *pdata, uint64_t address, uint32_t data)
{
	struct pv_mock *m = pdata;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_MSI);

	if (rc)
		return rc;
	struct pv_mock_irq irq = {.is_msi = true, .address = address, .data = data};
	return mock_record_irq(m, &irq);
}

/* ---- lifetime --------------------------------------------------------------- */

#define MOCK_KNOWN_CAPS                                                           \
	(PV_PORT_CAP_IRQCHIP | PV_PORT_CAP_CPUID_EXITS | PV_PORT_CAP_MSR_FILTER | \
	 PV_PORT_CAP_TIMERS | PV_PORT_CAP_SMP)

pv_err_t pv_mock_create(const struct pv_mock_config *config, struct pv_mock **out)
{
	static const struct pv_mock_config defaults;

	if (!out)
		return PV_EINVAL;
	*out = NULL;
	if (!config)
		config = &defaults;
	if (config->caps & ~(uint32_t)MOCK_KNOWN_CAPS)
		return PV_EINVAL;
	if ((unsigned)config->end_kind >= PV_EXIT_KIND_COUNT)
		return PV_EINVAL;
	struct pv_mock *m = calloc(1, sizeof(*m));
	if (!m)
		return PV_ENOMEM;
	if (pthread_mutex_init(&m->lock, NULL)) {
		free(m);
		return PV_ENOMEM;
	}
	if (pthread_cond_init(&m->cond, NULL)) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		return PV_ENOMEM;
	}
	m->cfg = *config;
	if (m->cfg.end_kind == PV_EXIT_NONE)
		m->cfg.end_kind = PV_EXIT_SHUTDOWN;
	atomic_init(&m->now, config->clock_start_ns);
	atomic_init(&m->fail_any, false);
	for (unsigned i = 0; i < PV_MOCK_OP_COUNT; i++)
		atomic_init(&m->calls[i], 0);

	struct pv_port_ops *o = &m->ops;
	o->name = "mock";
	o->caps = config->caps;
	o->partition_create = mock_partition_create;
	o->partition_destroy = mock_partition_destroy;
	o->map_ram = mock_map_ram;
	o->unmap_ram = mock_unmap_ram;
	o->vcpu_create = mock_vcpu_create;
	o->vcpu_destroy = mock_vcpu_destroy;
	o->vcpu_run = mock_vcpu_run;
	o->vcpu_complete = mock_vcpu_complete;
	o->get_regs = mock_get_regs;
	o->set_regs = mock_set_regs;
	o->get_sregs = mock_get_sregs;
	o->set_sregs = mock_set_sregs;
	o->get_msr = mock_get_msr;
	o->set_msr = mock_set_msr;
	o->inject = mock_inject;
	o->stop = mock_stop;
	o->clock_ns = mock_clock_ns;
	if (config->caps & PV_PORT_CAP_TIMERS) {
		o->timer_create = mock_timer_create;
		o->timer_arm = mock_timer_arm;
		o->timer_cancel = mock_timer_cancel;
		o->timer_destroy = mock_timer_destroy;
	}
	o->cpuid_update = mock_cpuid_update;
	if (config->caps & PV_PORT_CAP_MSR_FILTER)
		o->msr_filter_update = mock_msr_filter_update;
	o->hypercall_code = mock_hypercall_code;
	if (config->caps & PV_PORT_CAP_IRQCHIP) {
		o->irq_line = mock_irq_line;
		o->msi = mock_msi;
	}
	o->isolation_op = mock_isolation_op;
	if (config->xmm_ops) {
		o->get_xmm = mock_get_xmm;
		o->set_xmm = mock_set_xmm;
	}
	*out = m;
	return PV_OK;
}

void pv_mock_destroy(struct pv_mock *mock)
{
	if (!mock)
		return;
	mock_timers_free(mock);
	mock_ram_free_all(mock);
	mock_vec_free(&mock->ram);
	for (unsigned i = 0; i < PV_MAX_VCPUS; i++)
		mock_vcpu_free(mock->vcpus[i]);
	struct mock_msr_filter_call *f = mock->msr_filters.data;
	for (size_t i = 0; i < mock->msr_filters.len; i++)
		free(f[i].ranges);
	mock_vec_free(&mock->msr_filters);
	mock_vec_free(&mock->irqs);
	mock_vec_free(&mock->iso_calls);
	pthread_cond_destroy(&mock->cond);
	pthread_mutex_destroy(&mock->lock);
	free(mock);
}

const struct pv_port_ops *pv_mock_port_ops(struct pv_mock *mock)
{
	return mock ? &mock->ops : NULL;
}

/* ---- failure injection -------------------------------------------------------- */

static pv_err_t mock_arm_failure(struct pv_mock *m, enum pv_mock_op op, uint64_t nth, pv_err_t err,
				 bool sticky)
{
	if (!m || !mock_op_can_fail(op) || nth == 0 || err >= 0)
		return PV_EINVAL;
	pthread_mutex_lock(&m->lock);
	uint64_t now = atomic_load(&m->calls[op]);
	struct mock_fail *f = &m->fails[op];
	f->armed = true;
	f->sticky = sticky;
	f->at = now + nth < now ? UINT64_MAX : now + nth;
	f->err = err;
	atomic_store(&m->fail_any, true);
	pthread_mutex_unlock(&m->lock);
	return PV_OK;
}

pv_err_t pv_mock_fail_op(struct pv_mock *mock, enum pv_mock_op op, uint64_t nth, pv_err_t err)
{
	return mock_arm_failure(mock, op, nth, err, false);
}

pv_err_t pv_mock_fail_op_from(struct pv_mock *mock, enum pv_mock_op op, uint64_t nth, pv_err_t err)
{
	return mock_arm_failure(mock, op, nth, err, true);
}

void pv_mock_clear_failures(struct pv_mock *mock)
{
	if (!mock)
		return;
	pthread_mutex_lock(&mock->lock);
	memset(mock->fails, 0, sizeof(mock->fails));
	atomic_store(&mock->fail_any, false);
	pthread_mutex_unlock(&mock->lock);
}

uint64_t pv_mock_op_calls(struct pv_mock *mock, enum pv_mock_op op)
{
	if (!mock || (unsigned)op >= PV_MOCK_OP_COUNT)
		return 0;
	return atomic_load(&mock->calls[op]);
}

/* ---- partition-wide recordings ---------------------------------------------- */

size_t pv_mock_msr_filter_update_count(struct pv_mock *mock)
{
	if (!mock)
		return 0;
	pthread_mutex_lock(&mock->lock);
	size_t n = mock->msr_filters.len;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

pv_err_t pv_mock_msr_filter_get(struct pv_mock *mock, size_t call, struct pv_msr_range *out,
				size_t cap, size_t *count)
{
	if (!mock || !count || (cap && !out))
		return PV_EINVAL;
	pthread_mutex_lock(&mock->lock);
	if (call >= mock->msr_filters.len) {
		pthread_mutex_unlock(&mock->lock);
		return PV_ENOENT;
	}
	const struct mock_msr_filter_call *c =
		&((const struct mock_msr_filter_call *)mock->msr_filters.data)[call];
	*count = c->count;
	size_t n = c->count < cap ? c->count : cap;
	if (n)
		memcpy(out, c->ranges, n * sizeof(*out));
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

bool pv_mock_msr_filtered(struct pv_mock *mock, uint32_t index)
{
	bool hit = false;

	if (!mock)
		return false;
	pthread_mutex_lock(&mock->lock);
	if (mock->msr_filters.len) {
		const struct mock_msr_filter_call *c =
			&((const struct mock_msr_filter_call *)
				  mock->msr_filters.data)[mock->msr_filters.len - 1];
		for (size_t i = 0; i < c->count && !hit; i++)
			hit = index >= c->ranges[i].first &&
			      index - c->ranges[i].first < c->ranges[i].count;
	}
	pthread_mutex_unlock(&mock->lock);
	return hit;
}

size_t pv_mock_irq_count(struct pv_mock *mock)
{
	if (!mock)
		return 0;
	pthread_mutex_lock(&mock->lock);
	size_t n = mock->irqs.len;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

pv_err_t pv_mock_irq_get(struct pv_mock *mock, size_t i, struct pv_mock_irq *out)
{
	if (!mock || !out)
		return PV_EINVAL;
	pthread_mutex_lock(&mock->lock);
	pv_err_t rc = PV_ENOENT;
	if (i < mock->irqs.len) {
		*out = ((const struct pv_mock_irq *)mock->irqs.data)[i];
		rc = PV_OK;
	}
	pthread_mutex_unlock(&mock->lock);
	return rc;
}

size_t pv_mock_isolation_op_count(struct pv_mock *mock)
{
	if (!mock)
		return 0;
	pthread_mutex_lock(&mock->lock);
	size_t n = mock->iso_calls.len;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

pv_err_t pv_mock_isolation_op_get(struct pv_mock *mock, size_t i,
				  struct pv_mock_isolation_call *out)
{
	if (!mock || !out)
		return PV_EINVAL;
	pthread_mutex_lock(&mock->lock);
	pv_err_t rc = PV_ENOENT;
	if (i < mock->iso_calls.len) {
		*out = ((const struct pv_mock_isolation_call *)mock->iso_calls.data)[i];
		rc = PV_OK;
	}
	pthread_mutex_unlock(&mock->lock);
	return rc;
}

void pv_mock_set_isolation_callback(struct pv_mock *mock, pv_mock_isolation_fn fn, void *ctx)
{
	if (!mock)
		return;
	pthread_mutex_lock(&mock->lock);
	mock->iso_fn = fn;
	mock->iso_ctx = ctx;
	pthread_mutex_unlock(&mock->lock);
}

void pv_mock_clear_records(struct pv_mock *mock)
{
	if (!mock)
		return;
	pthread_mutex_lock(&mock->lock);
	for (unsigned i = 0; i < PV_MAX_VCPUS; i++) {
		if (mock->vcpus[i])
			mock_vcpu_clear_records(mock->vcpus[i]);
	}
	struct mock_msr_filter_call *f = mock->msr_filters.data;
	for (size_t i = 0; i < mock->msr_filters.len; i++)
		free(f[i].ranges);
	mock->msr_filters.len = 0;
	mock->irqs.len = 0;
	mock->iso_calls.len = 0;
	pthread_mutex_unlock(&mock->lock);
}
