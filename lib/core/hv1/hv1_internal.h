/* SPDX-License-Identifier: MIT */
/* Private state and helpers of the hv1 (Hyper-V interface) emulator. Freestanding. */
#ifndef PV_HV1_INTERNAL_H
#define PV_HV1_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/device.h"
#include "paravisor/dispatch.h"
#include "paravisor/hv1.h"
#include "paravisor/memory.h"
#include "paravisor/partition.h"
#include "paravisor/platform.h"
#include "paravisor/port.h"
#include "paravisor/vcpu.h"

#include "core/hv1/hc_parse.h"

/* Synthetic MSR numbers (TLFS). */
#define HV1_MSR_GUEST_OS_ID 0x40000000u
#define HV1_MSR_HYPERCALL 0x40000001u
#define HV1_MSR_VP_INDEX 0x40000002u
#define HV1_MSR_VP_RUNTIME 0x40000010u
#define HV1_MSR_TIME_REF_COUNT 0x40000020u
#define HV1_MSR_REFERENCE_TSC 0x40000021u
#define HV1_MSR_TSC_FREQUENCY 0x40000022u
#define HV1_MSR_APIC_FREQUENCY 0x40000023u
#define HV1_MSR_EOI 0x40000070u
#define HV1_MSR_ICR 0x40000071u
#define HV1_MSR_TPR 0x40000072u
#define HV1_MSR_VP_ASSIST_PAGE 0x40000073u
#define HV1_MSR_SCONTROL 0x40000080u
#define HV1_MSR_SVERSION 0x40000081u
#define HV1_MSR_SIEFP 0x40000082u
#define HV1_MSR_SIMP 0x40000083u
#define HV1_MSR_EOM 0x40000084u
#define HV1_MSR_SINT0 0x40000090u
#define HV1_MSR_STIMER0_CONFIG 0x400000B0u
#define HV1_MSR_FIRST 0x40000000u
#define HV1_MSR_COUNT 0x100u

/* x2APIC MSRs the APIC-access MSRs forward to. */
#define HV1_X2APIC_EOI 0x80Bu
#define HV1_X2APIC_ICR 0x830u
#define HV1_X2APIC_TPR 0x808u
#define HV1_IA32_TSC 0x10u

#define HV1_PAGE_ENABLE 1ull
#define HV1_HYPERCALL_LOCKED 2ull
#define HV1_PFN_MASK 0xFFFFFFFFFFFFF000ull

#define HV1_SINT_VECTOR_MASK 0xFFull
#define HV1_SINT_MASKED (1ull << 16)
#define HV1_SINT_AUTO_EOI (1ull << 17)
#define HV1_SINT_POLLING (1ull << 18)
#define HV1_SINT_RESET HV1_SINT_MASKED

#define HV1_STIMER_COUNT 4u
#define HV1_STIMER_ENABLE (1ull << 0)
#define HV1_STIMER_PERIODIC (1ull << 1)
#define HV1_STIMER_LAZY (1ull << 2)
#define HV1_STIMER_AUTO_ENABLE (1ull << 3)
#define HV1_STIMER_VECTOR_SHIFT 4u
#define HV1_STIMER_DIRECT (1ull << 12)
#define HV1_STIMER_SINT_SHIFT 16u
/* Bits 15:13 and 63:20 are RsvdZ. */
#define HV1_STIMER_RSVDZ (0xE000ull | 0xFFFFFFFFFFF00000ull)

#define HV1_SLOT_SIZE 256u
#define HV1_MSG_HEADER_SIZE 16u
#define HV1_MSG_FLAG_PENDING 1u
#define HV1_SYNIC_VERSION 1u
#define HV1_EVENT_FLAGS_PER_SINT 2048u

#define HV1_MAX_QUEUE_DEPTH 256u
#define HV1_SCRATCH_SIZE PV_PAGE_SIZE

/* One 256-byte SynIC message exactly as it goes into a slot. */
struct hv1_msg {
	uint8_t bytes[HV1_SLOT_SIZE];
};

/* Bounded FIFO of messages behind a full slot; storage allocated on first use. */
struct hv1_queue {
	struct hv1_msg *slots;
	uint32_t head;
	uint32_t count;
	bool was_full; /* a post got PV_EBUSY: notify sint_ready when room appears */
};

struct hv1_vp;

struct hv1_stimer {
	struct hv1_vp *vp;
	uint8_t index;
	uint64_t config;
	uint64_t count;
	uint64_t expiration; /* absolute reference time of the next expiry (valid if enabled) */
	bool msg_pending;    /* expired; timer message not yet placed in the slot */
	uint64_t pending_expiration;
	struct pv_timer *timer; /* created on first use */
};

struct hv1_vp {
	struct pv_hv1 *hv1;
	struct pv_vcpu *vcpu;
	uint32_t index;
	void *lock;
	uint64_t scontrol;
	uint64_t siefp;
	uint64_t simp;
	uint64_t vp_assist;
	uint64_t sint[PV_HV1_SINT_COUNT];
	struct hv1_queue queue[PV_HV1_SINT_COUNT];
	struct hv1_stimer stimer[HV1_STIMER_COUNT];
	uint8_t *hc_in; /* per-vCPU hypercall scratch (vCPU thread only) */
	uint8_t *hc_out;
};

/* Overlay page: the library's page contents replace the guest's, which are kept. */
struct hv1_overlay {
	bool active;
	uint64_t gpa;
	uint8_t *saved; /* PV_PAGE_SIZE bytes of original contents */
};

struct hv1_conn {
	uint32_t id;
	pv_hv1_message_fn msg_fn;
	pv_hv1_event_fn evt_fn;
	void *ctx;
};

struct hv1_hc_entry {
	struct pv_hv1_hypercall_desc desc;
};

struct pv_hv1 {
	struct pv_partition *part;
	const struct pv_platform *plat;
	const struct pv_port_ops *port;
	void *port_data;
	struct pv_hv1_config cfg;
	void *lock; /* partition registers, overlays, registration tables */

	uint64_t guest_os_id;
	uint64_t hypercall;
	uint64_t ref_tsc;
	uint32_t tsc_seq;
	uint64_t ref_bias_ns; /* added (mod 2^64) to pv_clock_ns() */
	uint64_t scale;       /* TSC page scale (0: TSC page unusable) */
	struct hv1_overlay hc_overlay;
	struct hv1_overlay tsc_overlay;

	struct hv1_conn *msg_conns;
	size_t msg_count, msg_cap;
	struct hv1_conn *evt_conns;
	size_t evt_count, evt_cap;
	struct hv1_hc_entry *hcs;
	size_t hc_count, hc_cap;

	pv_hv1_sint_ready_fn ready_fn;
	void *ready_ctx;

	uint32_t vp_count;
	struct hv1_vp *vps;

	bool filter_installed;
	bool msr_registered;
	bool dying;
};

/* ---- small freestanding helpers ---- */
static inline void hv1_copy(void *dst, const void *src, size_t n)
{
	uint8_t *d = (uint8_t *)dst;
	const uint8_t *s = (const uint8_t *)src;
	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
}

static inline void hv1_zero(void *dst, size_t n)
{
	uint8_t *d = (uint8_t *)dst;
	for (size_t i = 0; i < n; i++)
		d[i] = 0;
}

static inline void hv1_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static inline void *hv1_alloc(struct pv_hv1 *hv1, size_t size)
{
	return hv1->plat->alloc(hv1->plat->ctx, size);
}

static inline void hv1_free(struct pv_hv1 *hv1, void *p)
{
	if (p)
		hv1->plat->free(hv1->plat->ctx, p);
}

static inline void hv1_lock(struct pv_hv1 *hv1, void *lock)
{
	hv1->plat->lock_acquire(hv1->plat->ctx, lock);
}

static inline void hv1_unlock(struct pv_hv1 *hv1, void *lock)
{
	hv1->plat->lock_release(hv1->plat->ctx, lock);
}

static inline bool hv1_priv(const struct pv_hv1 *hv1, uint32_t bit)
{
	return (hv1->cfg.privileges_low & bit) != 0;
}

/* ---- hv1.c ---- */
uint64_t hv1_ref_time(struct pv_hv1 *hv1);
uint64_t hv1_ref_to_ns(struct pv_hv1 *hv1, uint64_t ref);
struct hv1_vp *hv1_vp_get(struct pv_hv1 *hv1, uint32_t index);
void hv1_overlay_remove(struct pv_hv1 *hv1, struct hv1_overlay *ov);
pv_err_t hv1_overlay_install(struct pv_hv1 *hv1, struct hv1_overlay *ov, uint64_t gpa,
			     const uint8_t *page);
bool hv1_lookup_conn(struct pv_hv1 *hv1, bool event, uint32_t id, struct hv1_conn *out);
bool hv1_lookup_hc(struct pv_hv1 *hv1, uint16_t code, struct pv_hv1_hypercall_desc *out);

/* ---- msr.c ---- */
pv_err_t hv1_msr_access(void *ctx, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
			uint64_t *value);
pv_err_t hv1_tsc_page_update(struct pv_hv1 *hv1, struct pv_vcpu *vcpu);
uint64_t hv1_mul_hi(uint64_t a, uint64_t b);
uint64_t hv1_tsc_scale(uint64_t tsc_hz);

/* ---- hypercall.c ---- */
bool hv1_exit_filter(void *ctx, struct pv_vcpu *vcpu, struct pv_exit *exit);
pv_err_t hv1_register_builtin_hypercalls(struct pv_hv1 *hv1);

/* ---- synic.c (vp lock held unless stated) ---- */
void hv1_synic_reset_vp(struct hv1_vp *vp);
void hv1_synic_scan(struct hv1_vp *vp, uint32_t *ready_mask);
bool hv1_synic_deliver(struct hv1_vp *vp, uint8_t sint, uint32_t *ready);
void hv1_raise(struct hv1_vp *vp, uint8_t vector);
bool hv1_sint_deliverable(const struct hv1_vp *vp, uint8_t sint);
void hv1_notify_ready(struct pv_hv1 *hv1, uint32_t vp_index, uint32_t ready_mask);
void hv1_queue_free(struct pv_hv1 *hv1, struct hv1_queue *q);
pv_err_t hv1_queue_push(struct pv_hv1 *hv1, struct hv1_queue *q, const struct hv1_msg *m);
void hv1_msg_build(struct hv1_msg *m, uint32_t type, const void *payload, uint32_t size);

/* ---- stimer.c ---- */
pv_err_t hv1_stimer_write(struct hv1_vp *vp, uint32_t n, bool is_count, uint64_t value);
void hv1_stimer_program(struct hv1_stimer *t, bool restart);
pv_err_t hv1_stimer_ensure(struct hv1_stimer *t);
void hv1_stimer_destroy_all(struct pv_hv1 *hv1);

#endif /* PV_HV1_INTERNAL_H */
