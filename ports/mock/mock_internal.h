/* SPDX-License-Identifier: MIT */
/*
 * Private state of the mock port, shared by mock.c (lifetime, partition,
 * RAM, failure injection), mock_vcpu.c (vCPU operations and recordings) and
 * mock_timer.c (clock and timers).
 */
#ifndef PV_PORT_MOCK_INTERNAL_H
#define PV_PORT_MOCK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/port_mock.h"

/* Growable array of fixed-size elements. */
struct mock_vec {
	void *data;
	size_t len;
	size_t cap;
};

/* A recorded completion and its private copy of the string-I/O buffer. */
struct mock_completion {
	struct pv_exit exit;
	uint8_t *rep;
};

struct mock_msr_write {
	uint32_t index;
	uint64_t value;
};

struct mock_msr_filter_call {
	struct pv_msr_range *ranges;
	size_t count;
};

#define MOCK_MAX_MSRS 256u
#define MOCK_MAX_CPUID_ENTRIES 65536u

struct mock_vcpu {
	struct pv_mock *mock;
	uint32_t index;
	bool live;
	struct pv_vcpu *handle;

	/* Script; only touched by the vCPU thread while the vCPU runs. */
	struct pv_exit *script;
	uint8_t **script_rep; /* per entry: copied rep_data or NULL */
	size_t *script_rep_len;
	size_t script_len;
	size_t script_next;
	bool repeat;
	_Atomic uint64_t script_pos;
	enum pv_exit_kind end_kind;
	bool block;
	pv_mock_exit_fn exit_fn;
	void *exit_ctx;
	uint64_t exit_seq;
	pv_mock_complete_fn complete_fn;
	void *complete_ctx;
	uint8_t *rep_buf; /* port-owned buffer of the current string I/O exit */
	size_t rep_cap;

	atomic_bool stop;
	_Atomic size_t pending;
	_Atomic uint64_t runs;
	_Atomic uint64_t completes;

	/* Register state (mock lock). */
	struct pv_regs regs;
	struct pv_sregs sregs;
	uint8_t xmm[16][16];
	size_t xmm_writes;
	uint32_t msr_index[MOCK_MAX_MSRS];
	uint64_t msr_value[MOCK_MAX_MSRS];
	size_t msr_count;

	/* Recordings (mock lock). */
	struct mock_vec completions;  /* struct mock_completion */
	struct mock_vec injects;      /* struct pv_event */
	struct mock_vec regs_writes;  /* struct pv_regs */
	struct mock_vec sregs_writes; /* struct pv_sregs */
	struct mock_vec msr_writes;   /* struct mock_msr_write */
	size_t cpuid_updates;
	struct pv_cpuid_entry *cpuid;
	size_t cpuid_count;
};

struct mock_ram {
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

struct mock_timer {
	struct pv_mock *mock;
	pv_port_timer_fn fn;
	void *ctx;
	bool armed;
	uint64_t deadline;
	uint64_t arm_seq;
	struct mock_timer *next;
};

struct mock_fail {
	bool armed;
	bool sticky;
	uint64_t at;
	pv_err_t err;
};

struct pv_mock {
	struct pv_port_ops ops;
	struct pv_mock_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;

	bool part_live;
	struct pv_partition *part;
	struct mock_vcpu *vcpus[PV_MAX_VCPUS];
	uint32_t live_vcpus;
	struct mock_vec ram; /* struct mock_ram */

	_Atomic uint64_t calls[PV_MOCK_OP_COUNT];
	atomic_bool fail_any;
	struct mock_fail fails[PV_MOCK_OP_COUNT];

	_Atomic uint64_t now;
	struct mock_timer *timers;
	size_t live_timers;
	uint64_t arm_seq;
	struct mock_timer *firing;
	pthread_t firing_thread;

	struct mock_vec irqs;        /* struct pv_mock_irq */
	struct mock_vec msr_filters; /* struct mock_msr_filter_call */
	struct mock_vec iso_calls;   /* struct pv_mock_isolation_call */
	pv_mock_isolation_fn iso_fn;
	void *iso_ctx;
};

/* Count a call of @op and return the armed failure for it, if any. */
pv_err_t mock_enter(struct pv_mock *m, enum pv_mock_op op);
/* Count a call of an operation that cannot fail. */
void mock_count(struct pv_mock *m, enum pv_mock_op op);

/* Append one element (copied) of @elem bytes; false when out of memory. */
bool mock_vec_push(struct mock_vec *v, size_t elem, const void *item);
/* Free the storage of a vector. */
void mock_vec_free(struct mock_vec *v);

/* Find (and with @create, allocate) the state of a vCPU index; lock held. */
struct mock_vcpu *mock_vcpu_get(struct pv_mock *m, uint32_t index, bool create);
/* Free a vCPU state and everything it owns; lock held or mock dying. */
void mock_vcpu_free(struct mock_vcpu *v);
/* Forget the recordings of one vCPU; lock held. */
void mock_vcpu_clear_records(struct mock_vcpu *v);
/* Free every timer; mock dying. */
void mock_timers_free(struct pv_mock *m);

/* Port operations implemented in mock_vcpu.c. */
pv_err_t mock_vcpu_create(void *pdata, uint32_t index, struct pv_vcpu *vcpu, void **vdata);
void mock_vcpu_destroy(void *vdata);
pv_err_t mock_vcpu_run(void *vdata, struct pv_exit *exit);
pv_err_t mock_vcpu_complete(void *vdata, const struct pv_exit *exit);
pv_err_t mock_get_regs(void *vdata, struct pv_regs *regs);
pv_err_t mock_set_regs(void *vdata, const struct pv_regs *regs);
pv_err_t mock_get_sregs(void *vdata, struct pv_sregs *sregs);
pv_err_t mock_set_sregs(void *vdata, const struct pv_sregs *sregs);
pv_err_t mock_get_msr(void *vdata, uint32_t index, uint64_t *value);
pv_err_t mock_set_msr(void *vdata, uint32_t index, uint64_t value);
pv_err_t mock_inject(void *vdata, const struct pv_event *event);
void mock_stop(void *vdata);
pv_err_t mock_cpuid_update(void *vdata, const struct pv_cpuid_entry *entries, size_t count);
pv_err_t mock_isolation_op(void *vdata, enum pv_isolation_op op, uint64_t args[6]);
pv_err_t mock_get_xmm(void *vdata, uint8_t xmm[16][16]);
pv_err_t mock_set_xmm(void *vdata, const uint8_t xmm[16][16]);

/* Port operations implemented in mock_timer.c. */
uint64_t mock_clock_ns(void *pdata);
pv_err_t mock_timer_create(void *pdata, pv_port_timer_fn fn, void *ctx, void **timer);
pv_err_t mock_timer_arm(void *pdata, void *timer, uint64_t deadline_ns);
void mock_timer_cancel(void *pdata, void *timer);
void mock_timer_destroy(void *pdata, void *timer);

#endif /* PV_PORT_MOCK_INTERNAL_H */
