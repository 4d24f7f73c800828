/* SPDX-License-Identifier: MIT */
/*
 * Mock port: vCPU operations (scripted or callback-produced exits,
 * completions, registers, events, stop) and the per-vCPU recordings.
 */
#include <stdlib.h>
#include <string.h>

#include "mock_internal.h"

struct mock_vcpu *mock_vcpu_get(struct pv_mock *m, uint32_t index, bool create)
{
	if (index >= PV_MAX_VCPUS)
		return NULL;
	struct mock_vcpu *v = m->vcpus[index];
	if (v || !create)
		return v;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->mock = m;
	v->index = index;
	v->end_kind = m->cfg.end_kind;
	atomic_init(&v->script_pos, 0);
	atomic_init(&v->stop, false);
	atomic_init(&v->pending, 0);
	atomic_init(&v->runs, 0);
	atomic_init(&v->completes, 0);
	v->regs.rflags = PV_RFLAGS_FIXED;
	m->vcpus[index] = v;
	return v;
}

static void mock_script_free(struct mock_vcpu *v)
{
	for (size_t i = 0; i < v->script_len; i++)
		free(v->script_rep[i]);
	free(v->script);
	free(v->script_rep);
	free(v->script_rep_len);
	v->script = NULL;
	v->script_rep = NULL;
	v->script_rep_len = NULL;
	v->script_len = 0;
	v->script_next = 0;
}

void mock_vcpu_clear_records(struct mock_vcpu *v)
{
	struct mock_completion *c = v->completions.data;
	for (size_t i = 0; i < v->completions.len; i++)
		free(c[i].rep);
	v->completions.len = 0;
	v->injects.len = 0;
	v->regs_writes.len = 0;
	v->sregs_writes.len = 0;
	v->msr_writes.len = 0;
	v->cpuid_updates = 0;
	v->xmm_writes = 0;
	free(v->cpuid);
	v->cpuid = NULL;
	v->cpuid_count = 0;
}

void mock_vcpu_free(struct mock_vcpu *v)
{
	if (!v)
		return;
	mock_script_free(v);
	mock_vcpu_clear_records(v);
	mock_vec_free(&v->completions);
	mock_vec_free(&v->injects);
	mock_vec_free(&v->regs_writes);
	mock_vec_free(&v->sregs_writes);
	mock_vec_free(&v->msr_writes);
	free(v->rep_buf);
	free(v);
}

/* Lock the mock and find an existing vCPU state; NULL (unlocked) if none. */
static struct mock_vcpu *mock_lock_vcpu(struct pv_mock *m, uint32_t index, bool create)
{
	if (!m || index >= PV_MAX_VCPUS)
		return NULL;
	pthread_mutex_lock(&m->lock);
	struct mock_vcpu *v = mock_vcpu_get(m, index, create);
	if (!v)
		pthread_mutex_unlock(&m->lock);
	return v;
}

/* ---- lifetime ---------------------------------------------------------------- */

pv_err_t mock_vcpu_create(void *pdata, uint32_t index, struct pv_vcpu *vcpu, void **vdata)
{
	struct pv_mock *m = pdata;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_VCPU_CREATE);

	if (rc)
		return rc;
	if (!vdata || index >= PV_MAX_VCPUS)
		return PV_EINVAL;
	pthread_mutex_lock(&m->lock);
	struct mock_vcpu *v = mock_vcpu_get(m, index, true);
	if (!v) {
		rc = PV_ENOMEM;
	} else if (v->live) {
		rc = PV_EEXIST;
	} else {
		v->live = true;
		v->handle = vcpu;
		m->live_vcpus++;
		*vdata = v;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void mock_vcpu_destroy(void *vdata)
{
	struct mock_vcpu *v = vdata;
	struct pv_mock *m = v->mock;

	mock_count(m, PV_MOCK_OP_VCPU_DESTROY);
	pthread_mutex_lock(&m->lock);
	if (v->live) {
		v->live = false;
		v->handle = NULL;
		m->live_vcpus--;
	}
	pthread_mutex_unlock(&m->lock);
}

struct pv_vcpu *pv_mock_vcpu(struct pv_mock *mock, uint32_t vcpu_index)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return NULL;
	struct pv_vcpu *h = v->handle;
	pthread_mutex_unlock(&mock->lock);
	return h;
}

uint32_t pv_mock_live_vcpus(struct pv_mock *mock)
{
	if (!mock)
		return 0;
	pthread_mutex_lock(&mock->lock);
	uint32_t n = mock->live_vcpus;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

/* ---- run and complete ----------------------------------------------------------- */

static pv_err_t mock_next_from_script(struct mock_vcpu *v, struct pv_exit *exit)
{
	size_t i = v->script_next;

	*exit = v->script[i];
	memset(&exit->inject, 0, sizeof(exit->inject));
	if (v->script_rep[i]) {
		size_t len = v->script_rep_len[i];
		if (len > v->rep_cap) {
			uint8_t *nb = realloc(v->rep_buf, len);
			if (!nb)
				return PV_ENOMEM;
			v->rep_buf = nb;
			v->rep_cap = len;
		}
		memcpy(v->rep_buf, v->script_rep[i], len);
		exit->u.io.rep_data = v->rep_buf;
	}
	if (++v->script_next == v->script_len && v->repeat)
		v->script_next = 0;
	atomic_fetch_add_explicit(&v->script_pos, 1, memory_order_relaxed);
	return PV_OK;
}

static void mock_exit_end(struct mock_vcpu *v, struct pv_exit *exit, enum pv_exit_kind kind)
{
	memset(exit, 0, sizeof(*exit));
	exit->kind = kind;
	(void)v;
}

pv_err_t mock_vcpu_run(void *vdata, struct pv_exit *exit)
{
	struct mock_vcpu *v = vdata;
	struct pv_mock *m = v->mock;

	atomic_fetch_add_explicit(&v->runs, 1, memory_order_relaxed);
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_VCPU_RUN);
	if (rc)
		return rc;
	if (!exit)
		return PV_EINVAL;
	if (atomic_load_explicit(&v->stop, memory_order_relaxed) &&
	    atomic_exchange(&v->stop, false)) {
		mock_exit_end(v, exit, PV_EXIT_STOPPED);
		return PV_OK;
	}
	/* Entering the guest delivers every queued event. */
	if (atomic_load_explicit(&v->pending, memory_order_relaxed))
		atomic_store(&v->pending, 0);
	if (v->exit_fn) {
		memset(exit, 0, sizeof(*exit));
		rc = v->exit_fn(v->exit_ctx, v->index, v->exit_seq++, exit);
		memset(&exit->inject, 0, sizeof(exit->inject));
		return rc;
	}
	if (v->script_next < v->script_len)
		return mock_next_from_script(v, exit);
	if (v->block) {
		pthread_mutex_lock(&m->lock);
		while (!atomic_load(&v->stop))
			pthread_cond_wait(&m->cond, &m->lock);
		atomic_store(&v->stop, false);
		pthread_mutex_unlock(&m->lock);
		mock_exit_end(v, exit, PV_EXIT_STOPPED);
		return PV_OK;
	}
	mock_exit_end(v, exit, v->end_kind);
	return PV_OK;
}

/* Put the completion into the registers the instruction would have written. */
static void mock_apply_completion(struct mock_vcpu *v, const struct pv_exit *e)
{
	uint64_t *g = v->regs.gpr;

	if (e->inject.kind != PV_EVENT_NONE)
		return;
	switch (e->kind) {
	case PV_EXIT_IO:
		if (e->u.io.is_write || e->u.io.count != 1)
			return;
		if (e->u.io.size == 1)
			g[PV_RAX] = (g[PV_RAX] & ~0xffull) | (e->u.io.data & 0xffu);
		else if (e->u.io.size == 2)
			g[PV_RAX] = (g[PV_RAX] & ~0xffffull) | (e->u.io.data & 0xffffu);
		else if (e->u.io.size == 4)
			g[PV_RAX] = e->u.io.data;
		return;
	case PV_EXIT_MSR_READ:
		g[PV_RAX] = (uint32_t)e->u.msr.value;
		g[PV_RDX] = e->u.msr.value >> 32;
		return;
	case PV_EXIT_CPUID:
		g[PV_RAX] = e->u.cpuid.eax;
		g[PV_RBX] = e->u.cpuid.ebx;
		g[PV_RCX] = e->u.cpuid.ecx;
		g[PV_RDX] = e->u.cpuid.edx;
		return;
	case PV_EXIT_HYPERCALL:
		g[PV_RAX] = e->u.hypercall.result;
		return;
	default:
		return;
	}
}

pv_err_t mock_vcpu_complete(void *vdata, const struct pv_exit *exit)
{
	struct mock_vcpu *v = vdata;
	struct pv_mock *m = v->mock;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_VCPU_COMPLETE);

	if (rc)
		return rc;
	if (!exit)
		return PV_EINVAL;
	bool touches_regs = exit->kind == PV_EXIT_IO || exit->kind == PV_EXIT_MSR_READ ||
			    exit->kind == PV_EXIT_CPUID || exit->kind == PV_EXIT_HYPERCALL;
	bool is_input = !(exit->kind == PV_EXIT_IO && exit->u.io.is_write);
	if (!m->cfg.no_recording || (touches_regs && is_input)) {
		struct mock_completion c = {*exit, NULL};
		const struct pv_exit_io *io = &exit->u.io;
		bool ok = true;
		if (!m->cfg.no_recording && exit->kind == PV_EXIT_IO) {
			c.exit.u.io.rep_data = NULL;
			if (io->count > 1 && io->rep_data && io->size && io->size <= 4 &&
			    io->count <= PV_MOCK_MAX_REP_BYTES / io->size) {
				size_t len = (size_t)io->size * io->count;
				c.rep = malloc(len);
				if (!c.rep)
					return PV_ENOMEM;
				memcpy(c.rep, io->rep_data, len);
				c.exit.u.io.rep_data = c.rep;
			}
		}
		pthread_mutex_lock(&m->lock);
		if (!m->cfg.no_recording)
			ok = mock_vec_push(&v->completions, sizeof(c), &c);
		if (ok)
			mock_apply_completion(v, exit);
		pthread_mutex_unlock(&m->lock);
		if (!ok) {
			free(c.rep);
			return PV_ENOMEM;
		}
	}
	atomic_fetch_add_explicit(&v->completes, 1, memory_order_relaxed);
	if (v->complete_fn)
		v->complete_fn(v->complete_ctx, v->index, exit);
	return PV_OK;
}

/* ---- registers ------------------------------------------------------------------- */

pv_err_t mock_get_regs(void *vdata, struct pv_regs *regs)
{
	struct mock_vcpu *v = vdata;
	pv_err_t rc = mock_enter(v->mock, PV_MOCK_OP_GET_REGS);

	if (rc)
		return rc;
	if (!regs)
		return PV_EINVAL;
	pthread_mutex_lock(&v->mock->lock);
	*regs = v->regs;
	pthread_mutex_unlock(&v->mock->lock);
	return PV_OK;
}

pv_err_t mock_set_regs(void *vdata, const struct pv_regs *regs)
{
	struct mock_vcpu *v = vdata;
	pv_err_t rc = mock_enter(v->mock, PV_MOCK_OP_SET_REGS);

	if (rc)
		return rc;
	if (!regs)
		return PV_EINVAL;
	pthread_mutex_lock(&v->mock->lock);
	bool ok = v->mock->cfg.no_recording || mock_vec_push(&v->regs_writes, sizeof(*regs), regs);
	if (ok)
		v->regs = *regs;
	pthread_mutex_unlock(&v->mock->lock);
	return ok ? PV_OK : PV_ENOMEM;
}

pv_err_t mock_get_sregs(void *vdata, struct pv_sregs *sregs)
{
	struct mock_vcpu *v = vdata;
	pv_err_t rc = mock_enter(v->mock, PV_MOCK_OP_GET_SREGS);

	if (rc)
		return rc;
	if (!sregs)
		return PV_EINVAL;
	pthread_mutex_lock(&v->mock->lock);
	*sregs = v->sregs;
	pthread_mutex_unlock(&v->mock->lock);
	return PV_OK;
}

pv_err_t mock_set_sregs(void *vdata, const struct pv_sregs *sregs)
{
	struct mock_vcpu *v = vdata;
	pv_err_t rc = mock_enter(v->mock, PV_MOCK_OP_SET_SREGS);

	if (rc)
		return rc;
	if (!sregs)
		return PV_EINVAL;
	pthread_mutex_lock(&v->mock->lock);
	bool ok =
		v->mock->cfg.no_recording || mock_vec_push(&v->sregs_writes, sizeof(*sregs), sregs);
	if (ok)
		v->sregs = *sregs;
	pthread_mutex_unlock(&v->mock->lock);
	return ok ? PV_OK : PV_ENOMEM;
}

/* Index of an MSR in the vCPU's table, or msr_count if absent; lock held. */
static size_t mock_msr_slot(const struct mock_vcpu *v, uint32_t index)
{
	size_t i;
	for (i = 0; i < v->msr_count; i++) {
		if (v->msr_index[i] == index)
			break;
	}
	return i;
}

static bool mock_msr_store(struct mock_vcpu *v, uint32_t index, uint64_t value)
{
	size_t i = mock_msr_slot(v, index);
	if (i == v->msr_count) {
		if (v->msr_count == MOCK_MAX_MSRS)
			return false;
		v->msr_index[v->msr_count++] = index;
	}
	v->msr_value[i] = value;
	return true;
}

static uint64_t mock_msr_load(const struct mock_vcpu *v, uint32_t index)
{
	size_t i = mock_msr_slot(v, index);
	return i < v->msr_count ? v->msr_value[i] : 0;
}

pv_err_t mock_get_msr(void *vdata, uint32_t index, uint64_t *value)
{
	struct mock_vcpu *v = vdata;
	pv_err_t rc = mock_enter(v->mock, PV_MOCK_OP_GET_MSR);

	if (rc)
		return rc;
	if (!value)
		return PV_EINVAL;
	pthread_mutex_lock(&v->mock->lock);
	*value = mock_msr_load(v, index);
	pthread_mutex_unlock(&v->mock->lock);
	return PV_OK;
}

pv_err_t mock_set_msr(void *vdata, uint32_t index, uint64_t value)
{
	struct mock_vcpu *v = vdata;
	pv_err_t rc = mock_enter(v->mock, PV_MOCK_OP_SET_MSR);

	if (rc)
		return rc;
	struct mock_msr_write w = {index, value};
	pthread_mutex_lock(&v->mock->lock);
	rc = PV_ENOMEM;
	if (mock_msr_store(v, index, value) &&
	    (v->mock->cfg.no_recording || mock_vec_push(&v->msr_writes, sizeof(w), &w)))
		rc = PV_OK;
	pthread_mutex_unlock(&v->mock->lock);
	return rc;
}

/* ---- events, stop, CPUID, isolation ------------------------------------------------ */

pv_err_t mock_inject(void *vdata, const struct pv_event *event)
{
	struct mock_vcpu *v = vdata;
	struct pv_mock *m = v->mock;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_INJECT);

	if (rc)
		return rc;
	if (!event)
		return PV_EINVAL;
	pthread_mutex_lock(&m->lock);
	bool ok = m->cfg.no_recording || mock_vec_push(&v->injects, sizeof(*event), event);
	if (ok)
		atomic_fetch_add(&v->pending, 1);
	pthread_mutex_unlock(&m->lock);
	return ok ? PV_OK : PV_ENOMEM;
}

void mock_stop(void *vdata)
{
	struct mock_vcpu *v = vdata;
	struct pv_mock *m = v->mock;

	mock_count(m, PV_MOCK_OP_STOP);
	pthread_mutex_lock(&m->lock);
	atomic_store(&v->stop, true);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

pv_err_t mock_cpuid_update(void *vdata, const struct pv_cpuid_entry *entries, size_t count)
{
	struct mock_vcpu *v = vdata;
	struct pv_mock *m = v->mock;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_CPUID_UPDATE);

	if (rc)
		return rc;
	if ((count && !entries) || count > MOCK_MAX_CPUID_ENTRIES)
		return PV_EINVAL;
	struct pv_cpuid_entry *copy = malloc(count ? count * sizeof(*entries) : 1);
	if (!copy)
		return PV_ENOMEM;
	if (count)
		memcpy(copy, entries, count * sizeof(*entries));
	pthread_mutex_lock(&m->lock);
	free(v->cpuid);
	v->cpuid = copy;
	v->cpuid_count = count;
	v->cpuid_updates++;
	pthread_mutex_unlock(&m->lock);
	return PV_OK;
}

pv_err_t mock_isolation_op(void *vdata, enum pv_isolation_op op, uint64_t args[6])
{
	struct mock_vcpu *v = vdata;
	struct pv_mock *m = v->mock;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_ISOLATION_OP);

	if (rc)
		return rc;
	if (!args)
		return PV_EINVAL;
	struct pv_mock_isolation_call call = {.vcpu_index = v->index, .op = op};
	memcpy(call.args, args, sizeof(call.args));
	pthread_mutex_lock(&m->lock);
	bool ok = m->cfg.no_recording || mock_vec_push(&m->iso_calls, sizeof(call), &call);
	pv_mock_isolation_fn fn = m->iso_fn;
	void *ctx = m->iso_ctx;
	pthread_mutex_unlock(&m->lock);
	if (!ok)
		return PV_ENOMEM;
	return fn ? fn(ctx, v->index, op, args) : PV_OK;
}

pv_err_t mock_get_xmm(void *vdata, uint8_t xmm[16][16])
{
	struct mock_vcpu *v = vdata;
	pv_err_t rc = mock_enter(v->mock, PV_MOCK_OP_GET_XMM);

	if (rc)
		return rc;
	if (!xmm)
		return PV_EINVAL;
	pthread_mutex_lock(&v->mock->lock);
	memcpy(xmm, v->xmm, sizeof(v->xmm));
	pthread_mutex_unlock(&v->mock->lock);
	return PV_OK;
}

pv_err_t mock_set_xmm(void *vdata, const uint8_t xmm[16][16])
{
	struct mock_vcpu *v = vdata;
	pv_err_t rc = mock_enter(v->mock, PV_MOCK_OP_SET_XMM);

	if (rc)
		return rc;
	if (!xmm)
		return PV_EINVAL;
	pthread_mutex_lock(&v->mock->lock);
	memcpy(v->xmm, xmm, sizeof(v->xmm));
	v->xmm_writes++;
	pthread_mutex_unlock(&v->mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_get_xmm(struct pv_mock *mock, uint32_t vcpu_index, uint8_t xmm[16][16])
{
	if (!xmm || !mock || vcpu_index >= PV_MAX_VCPUS)
		return PV_EINVAL;
	memset(xmm, 0, 16 * 16);
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return PV_OK;
	memcpy(xmm, v->xmm, sizeof(v->xmm));
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_set_xmm(struct pv_mock *mock, uint32_t vcpu_index, const uint8_t xmm[16][16])
{
	if (!xmm)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, true);
	if (!v)
		return mock && vcpu_index < PV_MAX_VCPUS ? PV_ENOMEM : PV_EINVAL;
	memcpy(v->xmm, xmm, sizeof(v->xmm));
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

size_t pv_mock_xmm_write_count(struct pv_mock *mock, uint32_t vcpu_index)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return 0;
	size_t n = v->xmm_writes;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

/* ---- test-side script control ---------------------------------------------------------- */

static pv_err_t mock_install_script(struct pv_mock *m, uint32_t index, const struct pv_exit *exits,
				    size_t n, bool repeat)
{
	if (!m || index >= PV_MAX_VCPUS || (n && !exits) || n > SIZE_MAX / sizeof(*exits))
		return PV_EINVAL;
	if (repeat && n == 0)
		return PV_EINVAL;
	struct mock_vcpu tmp = {0};
	if (n) {
		tmp.script = malloc(n * sizeof(*exits));
		tmp.script_rep = calloc(n, sizeof(*tmp.script_rep));
		tmp.script_rep_len = calloc(n, sizeof(*tmp.script_rep_len));
		tmp.script_len = n;
		if (!tmp.script || !tmp.script_rep || !tmp.script_rep_len) {
			tmp.script_len = 0;
			mock_script_free(&tmp);
			return PV_ENOMEM;
		}
		memcpy(tmp.script, exits, n * sizeof(*exits));
	}
	for (size_t i = 0; i < n; i++) {
		const struct pv_exit_io *io = &exits[i].u.io;
		if (exits[i].kind != PV_EXIT_IO || !io->rep_data)
			continue;
		uint64_t len = (uint64_t)io->size * io->count;
		if (len == 0 || len > PV_MOCK_MAX_REP_BYTES) {
			mock_script_free(&tmp);
			return PV_EINVAL;
		}
		tmp.script_rep[i] = malloc((size_t)len);
		if (!tmp.script_rep[i]) {
			mock_script_free(&tmp);
			return PV_ENOMEM;
		}
		memcpy(tmp.script_rep[i], io->rep_data, (size_t)len);
		tmp.script_rep_len[i] = (size_t)len;
	}
	struct mock_vcpu *v = mock_lock_vcpu(m, index, true);
	if (!v) {
		mock_script_free(&tmp);
		return PV_ENOMEM;
	}
	mock_script_free(v);
	v->script = tmp.script;
	v->script_rep = tmp.script_rep;
	v->script_rep_len = tmp.script_rep_len;
	v->script_len = n;
	v->script_next = 0;
	atomic_store(&v->script_pos, 0);
	v->repeat = repeat;
	pthread_mutex_unlock(&m->lock);
	return PV_OK;
}

pv_err_t pv_mock_set_script(struct pv_mock *mock, uint32_t vcpu_index, const struct pv_exit *exits,
			    size_t n)
{
	return mock_install_script(mock, vcpu_index, exits, n, false);
}

pv_err_t pv_mock_set_script_repeat(struct pv_mock *mock, uint32_t vcpu_index,
				   const struct pv_exit *exits, size_t n)
{
	return mock_install_script(mock, vcpu_index, exits, n, true);
}

uint64_t pv_mock_script_position(struct pv_mock *mock, uint32_t vcpu_index)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return 0;
	uint64_t pos = atomic_load(&v->script_pos);
	pthread_mutex_unlock(&mock->lock);
	return pos;
}

pv_err_t pv_mock_set_end_kind(struct pv_mock *mock, uint32_t vcpu_index, enum pv_exit_kind kind)
{
	if ((unsigned)kind >= PV_EXIT_KIND_COUNT)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, true);
	if (!v)
		return mock && vcpu_index < PV_MAX_VCPUS ? PV_ENOMEM : PV_EINVAL;
	v->end_kind = kind;
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_set_block_when_done(struct pv_mock *mock, uint32_t vcpu_index, bool block)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, true);
	if (!v)
		return mock && vcpu_index < PV_MAX_VCPUS ? PV_ENOMEM : PV_EINVAL;
	v->block = block;
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_set_exit_callback(struct pv_mock *mock, uint32_t vcpu_index, pv_mock_exit_fn fn,
				   void *ctx)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, true);
	if (!v)
		return mock && vcpu_index < PV_MAX_VCPUS ? PV_ENOMEM : PV_EINVAL;
	v->exit_fn = fn;
	v->exit_ctx = ctx;
	v->exit_seq = 0;
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_set_complete_callback(struct pv_mock *mock, uint32_t vcpu_index,
				       pv_mock_complete_fn fn, void *ctx)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, true);
	if (!v)
		return mock && vcpu_index < PV_MAX_VCPUS ? PV_ENOMEM : PV_EINVAL;
	v->complete_fn = fn;
	v->complete_ctx = ctx;
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

uint64_t pv_mock_run_count(struct pv_mock *mock, uint32_t vcpu_index)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return 0;
	uint64_t n = atomic_load(&v->runs);
	pthread_mutex_unlock(&mock->lock);
	return n;
}

uint64_t pv_mock_completions_total(struct pv_mock *mock, uint32_t vcpu_index)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return 0;
	uint64_t n = atomic_load(&v->completes);
	pthread_mutex_unlock(&mock->lock);
	return n;
}

/* ---- test-side register access ------------------------------------------------------------ */

pv_err_t pv_mock_get_regs(struct pv_mock *mock, uint32_t vcpu_index, struct pv_regs *regs)
{
	if (!regs)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v) {
		if (!mock || vcpu_index >= PV_MAX_VCPUS)
			return PV_EINVAL;
		memset(regs, 0, sizeof(*regs));
		regs->rflags = PV_RFLAGS_FIXED;
		return PV_OK;
	}
	*regs = v->regs;
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_set_regs(struct pv_mock *mock, uint32_t vcpu_index, const struct pv_regs *regs)
{
	if (!regs)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, true);
	if (!v)
		return mock && vcpu_index < PV_MAX_VCPUS ? PV_ENOMEM : PV_EINVAL;
	v->regs = *regs;
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_get_sregs(struct pv_mock *mock, uint32_t vcpu_index, struct pv_sregs *sregs)
{
	if (!sregs)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v) {
		if (!mock || vcpu_index >= PV_MAX_VCPUS)
			return PV_EINVAL;
		memset(sregs, 0, sizeof(*sregs));
		return PV_OK;
	}
	*sregs = v->sregs;
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_set_sregs(struct pv_mock *mock, uint32_t vcpu_index, const struct pv_sregs *sregs)
{
	if (!sregs)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, true);
	if (!v)
		return mock && vcpu_index < PV_MAX_VCPUS ? PV_ENOMEM : PV_EINVAL;
	v->sregs = *sregs;
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_get_msr(struct pv_mock *mock, uint32_t vcpu_index, uint32_t index, uint64_t *value)
{
	if (!value || !mock || vcpu_index >= PV_MAX_VCPUS)
		return PV_EINVAL;
	*value = 0;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return PV_OK;
	*value = mock_msr_load(v, index);
	pthread_mutex_unlock(&mock->lock);
	return PV_OK;
}

pv_err_t pv_mock_set_msr(struct pv_mock *mock, uint32_t vcpu_index, uint32_t index, uint64_t value)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, true);
	if (!v)
		return mock && vcpu_index < PV_MAX_VCPUS ? PV_ENOMEM : PV_EINVAL;
	bool ok = mock_msr_store(v, index, value);
	pthread_mutex_unlock(&mock->lock);
	return ok ? PV_OK : PV_ENOMEM;
}

/* ---- per-vCPU recordings ------------------------------------------------------------------- */

enum mock_rec {
	REC_COMPLETIONS,
	REC_INJECTS,
	REC_REGS,
	REC_SREGS,
	REC_MSRS
};

static const struct mock_vec *mock_rec_vec(const struct mock_vcpu *v, enum mock_rec which)
{
	switch (which) {
	case REC_COMPLETIONS:
		return &v->completions;
	case REC_INJECTS:
		return &v->injects;
	case REC_REGS:
		return &v->regs_writes;
	case REC_SREGS:
		return &v->sregs_writes;
	default:
		return &v->msr_writes;
	}
}

/* Length of one of a vCPU's recording vectors. */
static size_t mock_vec_len(struct pv_mock *mock, uint32_t vcpu_index, enum mock_rec off)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return 0;
	size_t n = mock_rec_vec(v, off)->len;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

/* Copy element @i of a per-vCPU vector. */
static pv_err_t mock_vec_get(struct pv_mock *mock, uint32_t vcpu_index, enum mock_rec off,
			     size_t elem, size_t i, void *out)
{
	if (!mock || !out || vcpu_index >= PV_MAX_VCPUS)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return PV_ENOENT;
	const struct mock_vec *vec = mock_rec_vec(v, off);
	pv_err_t rc = PV_ENOENT;
	if (i < vec->len) {
		memcpy(out, (const uint8_t *)vec->data + i * elem, elem);
		rc = PV_OK;
	}
	pthread_mutex_unlock(&mock->lock);
	return rc;
}

size_t pv_mock_completion_count(struct pv_mock *mock, uint32_t vcpu_index)
{
	return mock_vec_len(mock, vcpu_index, REC_COMPLETIONS);
}

pv_err_t pv_mock_completion_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i,
				struct pv_exit *out)
{
	struct mock_completion c;
	if (!out)
		return PV_EINVAL;
	pv_err_t rc = mock_vec_get(mock, vcpu_index, REC_COMPLETIONS, sizeof(c), i, &c);
	if (rc == PV_OK)
		*out = c.exit;
	return rc;
}

size_t pv_mock_inject_count(struct pv_mock *mock, uint32_t vcpu_index)
{
	return mock_vec_len(mock, vcpu_index, REC_INJECTS);
}

pv_err_t pv_mock_inject_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i,
			    struct pv_event *out)
{
	return mock_vec_get(mock, vcpu_index, REC_INJECTS, sizeof(*out), i, out);
}

size_t pv_mock_pending_events(struct pv_mock *mock, uint32_t vcpu_index)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return 0;
	size_t n = atomic_load(&v->pending);
	pthread_mutex_unlock(&mock->lock);
	return n;
}

size_t pv_mock_regs_write_count(struct pv_mock *mock, uint32_t vcpu_index)
{
	return mock_vec_len(mock, vcpu_index, REC_REGS);
}

pv_err_t pv_mock_regs_write_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i,
				struct pv_regs *out)
{
	return mock_vec_get(mock, vcpu_index, REC_REGS, sizeof(*out), i, out);
}

size_t pv_mock_sregs_write_count(struct pv_mock *mock, uint32_t vcpu_index)
{
	return mock_vec_len(mock, vcpu_index, REC_SREGS);
}

pv_err_t pv_mock_sregs_write_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i,
				 struct pv_sregs *out)
{
	return mock_vec_get(mock, vcpu_index, REC_SREGS, sizeof(*out), i, out);
}

size_t pv_mock_msr_write_count(struct pv_mock *mock, uint32_t vcpu_index)
{
	return mock_vec_len(mock, vcpu_index, REC_MSRS);
}

pv_err_t pv_mock_msr_write_get(struct pv_mock *mock, uint32_t vcpu_index, size_t i, uint32_t *index,
			       uint64_t *value)
{
	struct mock_msr_write w;
	pv_err_t rc = mock_vec_get(mock, vcpu_index, REC_MSRS, sizeof(w), i, &w);
	if (rc == PV_OK) {
		if (index)
			*index = w.index;
		if (value)
			*value = w.value;
	}
	return rc;
}

size_t pv_mock_cpuid_update_count(struct pv_mock *mock, uint32_t vcpu_index)
{
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return 0;
	size_t n = v->cpuid_updates;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

pv_err_t pv_mock_cpuid_entries(struct pv_mock *mock, uint32_t vcpu_index,
			       struct pv_cpuid_entry *out, size_t cap, size_t *count)
{
	if (!mock || !count || (cap && !out) || vcpu_index >= PV_MAX_VCPUS)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return PV_ENOENT;
	pv_err_t rc = PV_ENOENT;
	if (v->cpuid) {
		*count = v->cpuid_count;
		size_t n = v->cpuid_count < cap ? v->cpuid_count : cap;
		if (n)
			memcpy(out, v->cpuid, n * sizeof(*out));
		rc = PV_OK;
	}
	pthread_mutex_unlock(&mock->lock);
	return rc;
}

pv_err_t pv_mock_cpuid_lookup(struct pv_mock *mock, uint32_t vcpu_index, uint32_t leaf,
			      uint32_t subleaf, struct pv_cpuid_entry *out)
{
	if (!mock || !out || vcpu_index >= PV_MAX_VCPUS)
		return PV_EINVAL;
	struct mock_vcpu *v = mock_lock_vcpu(mock, vcpu_index, false);
	if (!v)
		return PV_ENOENT;
	const struct pv_cpuid_entry *any = NULL, *exact = NULL;
	for (size_t i = 0; i < v->cpuid_count && !exact; i++) {
		const struct pv_cpuid_entry *e = &v->cpuid[i];
		if (e->leaf != leaf)
			continue;
		if (e->any_subleaf) {
			if (!any)
				any = e;
		} else if (e->subleaf == subleaf) {
			exact = e;
		}
	}
	pv_err_t rc = PV_ENOENT;
	if (exact || any) {
		*out = exact ? *exact : *any;
		rc = PV_OK;
	}
	pthread_mutex_unlock(&mock->lock);
	return rc;
}
