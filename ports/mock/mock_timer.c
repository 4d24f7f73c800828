/* SPDX-License-Identifier: MIT */
/*
 * Mock port: a clock that only moves when the test advances it, and one-shot
 * timers fired synchronously by pv_mock_advance_clock().
 */
#include <stdlib.h>

#include "mock_internal.h"

uint64_t mock_clock_ns(void *pdata)
{
	struct pv_mock *m = pdata;

	mock_count(m, PV_MOCK_OP_CLOCK_NS);
	return atomic_load(&m->now);
}

uint64_t pv_mock_clock(struct pv_mock *mock)
{
	return mock ? atomic_load(&mock->now) : 0;
}

pv_err_t mock_timer_create(void *pdata, pv_port_timer_fn fn, void *ctx, void **timer)
{
	struct pv_mock *m = pdata;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_TIMER_CREATE);

	if (rc)
		return rc;
	if (!fn || !timer)
		return PV_EINVAL;
	struct mock_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return PV_ENOMEM;
	t->mock = m;
	t->fn = fn;
	t->ctx = ctx;
	pthread_mutex_lock(&m->lock);
	t->next = m->timers;
	m->timers = t;
	m->live_timers++;
	pthread_mutex_unlock(&m->lock);
	*timer = t;
	return PV_OK;
}

pv_err_t mock_timer_arm(void *pdata, void *timer, uint64_t deadline_ns)
{
	struct pv_mock *m = pdata;
	struct mock_timer *t = timer;
	pv_err_t rc = mock_enter(m, PV_MOCK_OP_TIMER_ARM);

	if (rc)
		return rc;
	if (!t)
		return PV_EINVAL;
	pthread_mutex_lock(&m->lock);
	t->armed = true;
	t->deadline = deadline_ns;
	t->arm_seq = ++m->arm_seq;
	pthread_mutex_unlock(&m->lock);
	return PV_OK;
}

/* Wait until @t is not firing on another thread; lock held. */
static void mock_timer_quiesce(struct pv_mock *m, struct mock_timer *t)
{
	while (m->firing == t && !pthread_equal(m->firing_thread, pthread_self()))
		pthread_cond_wait(&m->cond, &m->lock);
}

void mock_timer_cancel(void *pdata, void *timer)
{
	struct pv_mock *m = pdata;
	struct mock_timer *t = timer;

	mock_count(m, PV_MOCK_OP_TIMER_CANCEL);
	if (!t)
		return;
	pthread_mutex_lock(&m->lock);
	t->armed = false;
	mock_timer_quiesce(m, t);
	pthread_mutex_unlock(&m->lock);
}

void mock_timer_destroy(void *pdata, void *timer)
{
	struct pv_mock *m = pdata;
	struct mock_timer *t = timer;

	mock_count(m, PV_MOCK_OP_TIMER_DESTROY);
	if (!t)
		return;
	pthread_mutex_lock(&m->lock);
	t->armed = false;
	mock_timer_quiesce(m, t);
	for (struct mock_timer **pp = &m->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			m->live_timers--;
			break;
		}
	}
	if (m->firing == t)
		m->firing = NULL; /* destroyed by its own callback */
	pthread_mutex_unlock(&m->lock);
	free(t);
}

void mock_timers_free(struct pv_mock *m)
{
	struct mock_timer *t = m->timers;
	while (t) {
		struct mock_timer *n = t->next;
		free(t);
		t = n;
	}
	m->timers = NULL;
	m->live_timers = 0;
}

/* The armed timer due first at or before @limit; lock held. */
static struct mock_timer *mock_timer_due(struct pv_mock *m, uint64_t limit)
{
	struct mock_timer *best = NULL;
	for (struct mock_timer *t = m->timers; t; t = t->next) {
		if (!t->armed || t->deadline > limit)
			continue;
		if (!best || t->deadline < best->deadline ||
		    (t->deadline == best->deadline && t->arm_seq < best->arm_seq))
			best = t;
	}
	return best;
}

size_t pv_mock_advance_clock(struct pv_mock *mock, uint64_t ns)
{
	size_t fired = 0;

	if (!mock)
		return 0;
	pthread_mutex_lock(&mock->lock);
	uint64_t now = atomic_load(&mock->now);
	uint64_t target = now + ns < now ? UINT64_MAX : now + ns;
	struct mock_timer *t;
	while ((t = mock_timer_due(mock, target)) != NULL) {
		t->armed = false;
		if (t->deadline > atomic_load(&mock->now))
			atomic_store(&mock->now, t->deadline);
		mock->firing = t;
		mock->firing_thread = pthread_self();
		pv_port_timer_fn fn = t->fn;
		void *ctx = t->ctx;
		pthread_mutex_unlock(&mock->lock);
		fn(ctx);
		pthread_mutex_lock(&mock->lock);
		mock->firing = NULL;
		pthread_cond_broadcast(&mock->cond);
		fired++;
	}
	atomic_store(&mock->now, target);
	pthread_mutex_unlock(&mock->lock);
	return fired;
}

size_t pv_mock_live_timers(struct pv_mock *mock)
{
	if (!mock)
		return 0;
	pthread_mutex_lock(&mock->lock);
	size_t n = mock->live_timers;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

size_t pv_mock_armed_timers(struct pv_mock *mock)
{
	size_t n = 0;

	if (!mock)
		return 0;
	pthread_mutex_lock(&mock->lock);
	for (struct mock_timer *t = mock->timers; t; t = t->next)
		n += t->armed;
	pthread_mutex_unlock(&mock->lock);
	return n;
}

bool pv_mock_next_deadline(struct pv_mock *mock, uint64_t *deadline_ns)
{
	if (!mock || !deadline_ns)
		return false;
	pthread_mutex_lock(&mock->lock);
	struct mock_timer *t = mock_timer_due(mock, UINT64_MAX);
	if (t)
		*deadline_ns = t->deadline;
	pthread_mutex_unlock(&mock->lock);
	return t != NULL;
}
