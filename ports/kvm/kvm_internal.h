/* SPDX-License-Identifier: MIT */
/* Private state of the kvm port (hosted: libc, pthreads and ioctls allowed). */
#ifndef PV_PORTS_KVM_INTERNAL_H
#define PV_PORTS_KVM_INTERNAL_H

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "paravisor/partition.h"
#include "paravisor/port.h"
#include "paravisor/port_kvm.h"

#define PV_KVM_MAX_CPUID 256u

struct pv_kvm {
	int sys_fd;
	bool irqchip;
	bool pit;
	bool emulate_mmio; /* default of new partitions */
	uint16_t hc_port;
	int kick_signal;
	size_t run_size;
	struct pv_port_ops ops;
	struct kvm_cpuid2 *supported; /* KVM_GET_SUPPORTED_CPUID, PV_KVM_MAX_CPUID entries */
};

struct pv_kvm_slot {
	bool used;
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

struct pv_kvm_timer;

/* One timer thread per partition, started on the first timer_create. */
struct pv_kvm_timers {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC: new deadline, quit, callback done */
	pthread_t thread;
	bool started;
	bool quit;
	struct pv_kvm_timer *list;
	struct pv_kvm_timer *running;
};

struct pv_kvm_part {
	struct pv_kvm *kvm;
	struct pv_partition *part;
	int vm_fd;
	pthread_mutex_t lock; /* slots and MSR filter */
	struct pv_kvm_slot slots[PV_MAX_MEM_RANGES];
	uint8_t (*msr_bitmaps)[KVM_MSR_FILTER_MAX_BITMAP_SIZE];
	struct pv_kvm_timers timers;

	/* Emulation mode (kvm_emulate.c). */
	atomic_bool emulate_mmio;
	atomic_ullong emu_reads, emu_writes, emu_fallbacks, emu_flush_exits, emu_refused;
	struct pv_kvm_part *live_next; /* registry of live partitions */
};

#define PV_KVM_PEND_EXC (1u << 0)
#define PV_KVM_PEND_NMI (1u << 1)
#define PV_KVM_PEND_IRQ (1u << 2)

struct pv_kvm_vcpu {
	struct pv_kvm_part *p;
	struct pv_vcpu *vcpu;
	uint32_t index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	uint16_t hc_port;
	bool has_run;
	bool runnable; /* AP made runnable by a register write (irqchip mode) */

	/* Kicks vs. the runner, lock-free (Dekker with seq_cst): the runner sets
	 * in_run around KVM_RUN and, after clearing it, waits until no kicker
	 * is between reading in_run and signalling @thread. */
	atomic_bool in_run;
	atomic_uint kickers;
	pthread_t thread; /* written by the runner only while in_run is false */

	atomic_bool stop_req;
	atomic_uint pending;       /* PV_KVM_PEND_* */
	atomic_ullong irq_bits[4]; /* vectors waiting (no irqchip) */
	pthread_mutex_t ev_lock;   /* pending_exc */
	struct pv_event pending_exc;
	bool exc_queued;

	struct kvm_cpuid2 *cpuid; /* scratch for KVM_SET_CPUID2 */
	bool emu_pending;         /* the last exit was a size-0 MMIO exit */
	/* Registers as left by the emulation-mode preparation, served to the
	 * library's get_regs/get_sregs until anything else touches the vCPU. */
	bool cache_valid;
	struct kvm_regs cache_regs;
	struct kvm_sregs cache_sregs;
};

#define LOG_ERRNO(part, what, e) \
	pv_log((part), PV_LOG_ERROR, "kvm", "%s failed: errno %d (%s)", (what), (e), strerror(e))

/* A vCPU ioctl whose failure is logged as @what and reported as PV_EPORT. */
static inline pv_err_t pv_kvm_vcpu_ioctl(struct pv_kvm_vcpu *v, unsigned long req, void *arg,
					 const char *what)
{
	if (ioctl(v->fd, req, arg) < 0) {
		LOG_ERRNO(v->p->part, what, errno);
		return PV_EPORT;
	}
	return PV_OK;
}

/* Timers (kvm_timer.c). */
int pv_kvm_timers_init(struct pv_kvm_timers *t);
void pv_kvm_timers_fini(struct pv_kvm_timers *t);
uint64_t pv_kvm_clock_ns(void *pdata);
pv_err_t pv_kvm_timer_create(void *pdata, pv_port_timer_fn fn, void *ctx, void **timer);
pv_err_t pv_kvm_timer_arm(void *pdata, void *timer, uint64_t deadline_ns);
void pv_kvm_timer_cancel(void *pdata, void *timer);
void pv_kvm_timer_destroy(void *pdata, void *timer);

/* Emulation mode and XMM access (kvm_emulate.c). */
void pv_kvm_live_add(struct pv_kvm_part *p);
void pv_kvm_live_remove(struct pv_kvm_part *p);
pv_err_t pv_kvm_emulate_exit(struct pv_kvm_vcpu *v, struct pv_exit *exit);
pv_err_t pv_kvm_get_xmm(void *vdata, uint8_t xmm[16][16]);
pv_err_t pv_kvm_set_xmm(void *vdata, const uint8_t xmm[16][16]);

#endif /* PV_PORTS_KVM_INTERNAL_H */
