/* SPDX-License-Identifier: MIT */
/*
 * The hosted platform table: libc allocation, pthread locks and condition
 * variables, stderr logging. Linked only into hosted builds.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "paravisor/platform.h"

static void *hosted_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return calloc(1, size ? size : 1);
}

static void hosted_free(void *ctx, void *ptr)
{
	(void)ctx;
	free(ptr);
}

static void *hosted_lock_create(void *ctx)
{
	(void)ctx;
	pthread_mutex_t *m = malloc(sizeof(*m));
	if (m && pthread_mutex_init(m, NULL) != 0) {
		free(m);
		m = NULL;
	}
	return m;
}

static void hosted_lock_destroy(void *ctx, void *lock)
{
	(void)ctx;
	pthread_mutex_destroy(lock);
	free(lock);
}

static void hosted_lock_acquire(void *ctx, void *lock)
{
	(void)ctx;
	pthread_mutex_lock(lock);
}

static void hosted_lock_release(void *ctx, void *lock)
{
	(void)ctx;
	pthread_mutex_unlock(lock);
}

struct hosted_event {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	bool signalled;
};

static void *hosted_event_create(void *ctx)
{
	(void)ctx;
	struct hosted_event *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&e->mutex, NULL) != 0 || pthread_cond_init(&e->cond, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		free(e);
		return NULL;
	}
	pthread_condattr_destroy(&attr);
	return e;
}

static void hosted_event_destroy(void *ctx, void *event)
{
	(void)ctx;
	struct hosted_event *e = event;
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->mutex);
	free(e);
}

static bool hosted_event_wait(void *ctx, void *event, uint64_t timeout_ns)
{
	(void)ctx;
	struct hosted_event *e = event;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout_ns != UINT64_MAX) {
		uint64_t ns = (uint64_t)deadline.tv_nsec + timeout_ns % 1000000000u;
		deadline.tv_sec += (time_t)(timeout_ns / 1000000000u + ns / 1000000000u);
		deadline.tv_nsec = (long)(ns % 1000000000u);
	}
	pthread_mutex_lock(&e->mutex);
	int rc = 0;
	while (!e->signalled && rc != ETIMEDOUT) {
		if (timeout_ns == UINT64_MAX)
			pthread_cond_wait(&e->cond, &e->mutex);
		else
			rc = pthread_cond_timedwait(&e->cond, &e->mutex, &deadline);
	}
	bool got = e->signalled;
	e->signalled = false;
	pthread_mutex_unlock(&e->mutex);
	return got;
}

static void hosted_event_signal(void *ctx, void *event)
{
	(void)ctx;
	struct hosted_event *e = event;
	pthread_mutex_lock(&e->mutex);
	e->signalled = true;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->mutex);
}

static void hosted_log(void *ctx, enum pv_log_level level, const char *subsystem, const char *msg)
{
	(void)ctx;
	static const char *const names[] = {"error", "warn", "info", "debug"};
	fprintf(stderr, "paravisor %s [%s]: %s\n", (unsigned)level < 4 ? names[level] : "?",
		subsystem, msg);
}

static const struct pv_platform hosted_platform = {
	.ctx = NULL,
	.alloc = hosted_alloc,
	.free = hosted_free,
	.lock_create = hosted_lock_create,
	.lock_destroy = hosted_lock_destroy,
	.lock_acquire = hosted_lock_acquire,
	.lock_release = hosted_lock_release,
	.event_create = hosted_event_create,
	.event_destroy = hosted_event_destroy,
	.event_wait = hosted_event_wait,
	.event_signal = hosted_event_signal,
	.log = hosted_log,
	.log_ctx = NULL,
	.log_level = PV_LOG_WARN,
};

const struct pv_platform *pv_platform_hosted(void)
{
	return &hosted_platform;
}
