/* SPDX-License-Identifier: MIT */
/*
 * The kvm port's clock (CLOCK_MONOTONIC) and one-shot timers: one thread
 * per partition sleeps until the earliest armed deadline and runs callbacks
 * without holding the lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "kvm_internal.h"

struct pv_kvm_timer {
	pv_port_timer_fn fn;
	void *ctx;
	uint64_t deadline;
	bool armed;
	struct pv_kvm_timer *next;
};

uint64_t pv_kvm_clock_ns(void *pdata)
{
	(void)pdata;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int pv_kvm_timers_init(struct pv_kvm_timers *t)
{
	pthread_condattr_t ca;
	if (pthread_mutex_init(&t->lock, NULL))
		return -1;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int r = pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r) {
		pthread_mutex_destroy(&t->lock);
		return -1;
	}
	t->started = false;
	t->quit = false;
	t->list = NULL;
	t->running = NULL;
	return 0;
}

static void *timer_thread(void *arg)
{
	struct pv_kvm_timers *t = arg;
	pthread_mutex_lock(&t->lock);
	while (!t->quit) {
		struct pv_kvm_timer *first = NULL;
		for (struct pv_kvm_timer *x = t->list; x; x = x->next)
			if (x->armed && (!first || x->deadline < first->deadline))
				first = x;
		if (!first) {
			pthread_cond_wait(&t->cond, &t->lock);
			continue;
		}
		uint64_t now = pv_kvm_clock_ns(NULL);
		if (first->deadline > now) {
			struct timespec ts = {.tv_sec = (time_t)(first->deadline / 1000000000ull),
					      .tv_nsec = (long)(first->deadline % 1000000000ull)};
			pthread_cond_timedwait(&t->cond, &t->lock, &ts);
			continue;
		}
		first->armed = false;
		t->running = first;
		pthread_mutex_unlock(&t->lock);
		first->fn(first->ctx);
		pthread_mutex_lock(&t->lock);
		t->running = NULL;
		pthread_cond_broadcast(&t->cond);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

void pv_kvm_timers_fini(struct pv_kvm_timers *t)
{
	pthread_mutex_lock(&t->lock);
	t->quit = true;
	pthread_cond_broadcast(&t->cond);
	bool started = t->started;
	pthread_mutex_unlock(&t->lock);
	if (started)
		pthread_join(t->thread, NULL);
	while (t->list) {
		struct pv_kvm_timer *x = t->list;
		t->list = x->next;
		free(x);
	}
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}

pv_err_t pv_kvm_timer_create(void *pdata, pv_port_timer_fn fn, void *ctx, void **timer)
{
	struct pv_kvm_part *p = pdata;
	struct pv_kvm_timers *t = &p->timers;
	if (!fn || !timer)
		return PV_EINVAL;
	struct pv_kvm_timer *x = calloc(1, sizeof(*x));
	if (!x)
		return PV_ENOMEM;
	x->fn = fn;
	x->ctx = ctx;
	pthread_mutex_lock(&t->lock);
	if (!t->started) {
		int r = pthread_create(&t->thread, NULL, timer_thread, t);
		if (r) {
			pthread_mutex_unlock(&t->lock);
			free(x);
			pv_log(p->part, PV_LOG_ERROR, "kvm",
			       "timer thread: pthread_create: errno %d", r);
			return PV_ENOMEM;
		}
		t->started = true;
	}
	x->next = t->list;
	t->list = x;
	pthread_mutex_unlock(&t->lock);
	*timer = x;
	return PV_OK;
}

pv_err_t pv_kvm_timer_arm(void *pdata, void *timer, uint64_t deadline_ns)
{
	struct pv_kvm_part *p = pdata;
	struct pv_kvm_timer *x = timer;
	if (!x)
		return PV_EINVAL;
	pthread_mutex_lock(&p->timers.lock);
	x->deadline = deadline_ns;
	x->armed = true;
	pthread_cond_broadcast(&p->timers.cond);
	pthread_mutex_unlock(&p->timers.lock);
	return PV_OK;
}

void pv_kvm_timer_cancel(void *pdata, void *timer)
{
	struct pv_kvm_part *p = pdata;
	struct pv_kvm_timers *t = &p->timers;
	struct pv_kvm_timer *x = timer;
	if (!x)
		return;
	pthread_mutex_lock(&t->lock);
	x->armed = false;
	/* Wait for a running callback, unless we are that callback. */
	while (t->running == x && !pthread_equal(pthread_self(), t->thread))
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

void pv_kvm_timer_destroy(void *pdata, void *timer)
{
	struct pv_kvm_part *p = pdata;
	struct pv_kvm_timers *t = &p->timers;
	struct pv_kvm_timer *x = timer;
	if (!x)
		return;
	pv_kvm_timer_cancel(pdata, timer);
	pthread_mutex_lock(&t->lock);
	for (struct pv_kvm_timer **pp = &t->list; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	free(x);
}
