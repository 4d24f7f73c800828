/* SPDX-License-Identifier: MIT */
/*
 * The kvm port: partitions are KVM VMs, vCPUs are KVM vCPUs run by the
 * caller's thread, exits are translated by kvm_exit.c. The run loop's hot
 * path is one KVM_RUN plus a few uncontended atomics; it takes no lock and
 * allocates nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_exit.h"
#include "kvm_internal.h"
#include "paravisor/vcpu.h"

#define KVM_TSS_ADDR 0xfffbd000ul

/* ------------------------------------------------------------------ */
/* Context                                                              */

void pv_kvm_options_init(struct pv_kvm_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->hypercall_port = PV_KVM_HYPERCALL_PORT;
	opts->kick_signal = SIGUSR1;
}

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static const struct {
	int cap;
	const char *name;
} needed_caps[] = {
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_X86_USER_SPACE_MSR, "KVM_CAP_X86_USER_SPACE_MSR"},
	{KVM_CAP_X86_MSR_FILTER, "KVM_CAP_X86_MSR_FILTER"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
};

/* Open and check KVM; on failure write a reason and return -1. */
static int open_kvm(const char *path, char *reason, size_t cap)
{
	if (!path)
		path = "/dev/kvm";
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (reason)
			snprintf(reason, cap, "cannot open %s: %s", path, strerror(e));
		return -1;
	}
	int v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		if (reason)
			snprintf(reason, cap, "%s: KVM API version %d, need %d", path, v,
				 KVM_API_VERSION);
		close(fd);
		return -1;
	}
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0) {
			if (reason)
				snprintf(reason, cap, "%s lacks %s", path, needed_caps[i].name);
			close(fd);
			return -1;
		}
	}
	return fd;
}

pv_err_t pv_kvm_probe(const char *device_path, char *reason, size_t cap)
{
	int fd = open_kvm(device_path, reason, cap);
	if (fd < 0)
		return PV_ENOTSUP;
	int vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm < 0) {
		int e = errno;
		if (reason)
			snprintf(reason, cap, "KVM_CREATE_VM failed: %s", strerror(e));
		close(fd);
		return PV_ENOTSUP;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int e = errno;
	if (vcpu >= 0)
		close(vcpu);
	close(vm);
	close(fd);
	if (vcpu < 0) {
		if (reason)
			snprintf(reason, cap, "KVM_CREATE_VCPU failed: %s", strerror(e));
		return PV_ENOTSUP;
	}
	if (reason && cap)
		reason[0] = '\0';
	return PV_OK;
}

static const struct pv_port_ops kvm_ops_template;

pv_err_t pv_kvm_create(const struct pv_kvm_options *opts, struct pv_kvm **out)
{
	struct pv_kvm_options o;
	if (!out)
		return PV_EINVAL;
	*out = NULL;
	pv_kvm_options_init(&o);
	if (opts)
		o = *opts;
	if (o.hypercall_port == 0)
		o.hypercall_port = PV_KVM_HYPERCALL_PORT;
	if (o.kick_signal == 0)
		o.kick_signal = SIGUSR1;
	if (o.hypercall_port > 0xff || o.kick_signal < 1 || o.kick_signal >= NSIG ||
	    o.kick_signal == SIGKILL || o.kick_signal == SIGSTOP || (o.pit && !o.irqchip))
		return PV_EINVAL;

	struct pv_kvm *k = calloc(1, sizeof(*k));
	if (!k)
		return PV_ENOMEM;
	k->sys_fd = open_kvm(o.device_path, NULL, 0);
	if (k->sys_fd < 0) {
		free(k);
		return PV_ENOTSUP;
	}
	int rs = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (rs < (int)sizeof(struct kvm_run)) {
		close(k->sys_fd);
		free(k);
		return PV_ENOTSUP;
	}
	k->run_size = (size_t)rs;
	k->supported = calloc(1, sizeof(*k->supported) +
					 PV_KVM_MAX_CPUID * sizeof(struct kvm_cpuid_entry2));
	if (!k->supported) {
		close(k->sys_fd);
		free(k);
		return PV_ENOMEM;
	}
	k->supported->nent = PV_KVM_MAX_CPUID;
	if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, k->supported) < 0) {
		free(k->supported);
		close(k->sys_fd);
		free(k);
		return PV_ENOTSUP;
	}
	k->irqchip = o.irqchip;
	k->pit = o.pit;
	k->emulate_mmio = o.emulate_mmio;
	k->hc_port = o.hypercall_port;
	k->kick_signal = o.kick_signal;
	k->ops = kvm_ops_template;
	if (k->irqchip)
		k->ops.caps |= PV_PORT_CAP_IRQCHIP;
	else {
		k->ops.irq_line = NULL;
		k->ops.msi = NULL;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return EINTR */
	if (sigaction(k->kick_signal, &sa, NULL) != 0) {
		free(k->supported);
		close(k->sys_fd);
		free(k);
		return PV_EINVAL;
	}
	*out = k;
	return PV_OK;
}

void pv_kvm_destroy(struct pv_kvm *kvm)
{
	if (!kvm)
		return;
	free(kvm->supported);
	close(kvm->sys_fd);
	free(kvm);
}

const struct pv_port_ops *pv_kvm_port_ops(const struct pv_kvm *kvm)
{
	return kvm ? &kvm->ops : NULL;
}

/* ------------------------------------------------------------------ */
/* Partition and memory                                                 */

static pv_err_t apply_msr_filter(struct pv_kvm_part *p, const struct pv_msr_range *ranges,
				 size_t count)
{
	struct kvm_msr_filter f;
	pthread_mutex_lock(&p->lock);
	pv_err_t err = pv_kvm_build_msr_filter(ranges, count, &f, p->msr_bitmaps);
	if (err) {
		pthread_mutex_unlock(&p->lock);
		pv_log(p->part, PV_LOG_ERROR, "kvm",
		       "MSR filter (%zu ranges) not representable: %s", count, pv_strerror(err));
		return err;
	}
	int r = ioctl(p->vm_fd, KVM_X86_SET_MSR_FILTER, &f);
	int e = errno;
	pthread_mutex_unlock(&p->lock);
	if (r < 0) {
		LOG_ERRNO(p->part, "KVM_X86_SET_MSR_FILTER", e);
		return PV_EPORT;
	}
	return PV_OK;
}

static pv_err_t kvm_partition_create(void *port_ctx, struct pv_partition *part,
				     const struct pv_partition_config *config, void **pdata)
{
	struct pv_kvm *k = port_ctx;
	(void)config;
	if (!k || !pdata)
		return PV_EINVAL;
	struct pv_kvm_part *p = calloc(1, sizeof(*p));
	if (!p)
		return PV_ENOMEM;
	p->kvm = k;
	p->part = part;
	p->msr_bitmaps = calloc(KVM_MSR_FILTER_MAX_RANGES, KVM_MSR_FILTER_MAX_BITMAP_SIZE);
	if (!p->msr_bitmaps || pthread_mutex_init(&p->lock, NULL)) {
		free(p->msr_bitmaps);
		free(p);
		return PV_ENOMEM;
	}
	if (pv_kvm_timers_init(&p->timers)) {
		pthread_mutex_destroy(&p->lock);
		free(p->msr_bitmaps);
		free(p);
		return PV_ENOMEM;
	}
	pv_err_t err = PV_EPORT;
	p->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (p->vm_fd < 0) {
		LOG_ERRNO(part, "KVM_CREATE_VM", errno);
		goto fail;
	}
	/* Needed on Intel hosts for real mode; harmless elsewhere. */
	if (ioctl(p->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		pv_log(part, PV_LOG_DEBUG, "kvm", "KVM_SET_TSS_ADDR: errno %d", errno);
	if (k->irqchip && ioctl(p->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		LOG_ERRNO(part, "KVM_CREATE_IRQCHIP", errno);
		goto fail;
	}
	if (k->pit) {
		struct kvm_pit_config pit;
		memset(&pit, 0, sizeof(pit));
		if (ioctl(p->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
			LOG_ERRNO(part, "KVM_CREATE_PIT2", errno);
			goto fail;
		}
	}
	struct kvm_enable_cap cap;
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER;
	if (ioctl(p->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		LOG_ERRNO(part, "KVM_ENABLE_CAP(X86_USER_SPACE_MSR)", errno);
		goto fail;
	}
	err = apply_msr_filter(p, NULL, 0);
	if (err)
		goto fail;
	atomic_init(&p->emulate_mmio, k->emulate_mmio);
	atomic_init(&p->emu_reads, 0);
	atomic_init(&p->emu_writes, 0);
	atomic_init(&p->emu_fallbacks, 0);
	atomic_init(&p->emu_flush_exits, 0);
	atomic_init(&p->emu_refused, 0);
	pv_kvm_live_add(p);
	pv_log(part, PV_LOG_INFO, "kvm",
	       "VM created (irqchip %s, hypercall port 0x%x, MMIO emulation %s)",
	       k->irqchip ? "on" : "off", k->hc_port, k->emulate_mmio ? "on" : "off");
	*pdata = p;
	return PV_OK;
fail:
	if (p->vm_fd >= 0)
		close(p->vm_fd);
	pv_kvm_timers_fini(&p->timers);
	pthread_mutex_destroy(&p->lock);
	free(p->msr_bitmaps);
	free(p);
	return err;
}

static void kvm_partition_destroy(void *pdata)
{
	struct pv_kvm_part *p = pdata;
	if (!p)
		return;
	pv_kvm_live_remove(p);
	pv_kvm_timers_fini(&p->timers);
	close(p->vm_fd);
	for (size_t i = 0; i < PV_MAX_MEM_RANGES; i++)
		if (p->slots[i].used)
			munmap(p->slots[i].hva, p->slots[i].size);
	pthread_mutex_destroy(&p->lock);
	free(p->msr_bitmaps);
	free(p);
}

static pv_err_t kvm_map_ram(void *pdata, pv_gpa_t gpa, uint64_t size, void **hva)
{
	struct pv_kvm_part *p = pdata;
	if (!hva || size == 0 || (size & (PV_PAGE_SIZE - 1)) || (gpa.v & (PV_PAGE_SIZE - 1)) ||
	    gpa.v + size < gpa.v)
		return PV_EINVAL;
	pthread_mutex_lock(&p->lock);
	uint32_t slot = 0;
	while (slot < PV_MAX_MEM_RANGES && p->slots[slot].used)
		slot++;
	if (slot == PV_MAX_MEM_RANGES) {
		pthread_mutex_unlock(&p->lock);
		return PV_ENOMEM;
	}
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		int e = errno;
		pthread_mutex_unlock(&p->lock);
		LOG_ERRNO(p->part, "mmap of guest RAM", e);
		return PV_ENOMEM;
	}
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = 0,
		.guest_phys_addr = gpa.v,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		int e = errno;
		munmap(mem, size);
		pthread_mutex_unlock(&p->lock);
		LOG_ERRNO(p->part, "KVM_SET_USER_MEMORY_REGION", e);
		return PV_EPORT;
	}
	p->slots[slot] = (struct pv_kvm_slot){.used = true, .gpa = gpa.v, .size = size, .hva = mem};
	pthread_mutex_unlock(&p->lock);
	*hva = mem;
	return PV_OK;
}

static void kvm_unmap_ram(void *pdata, pv_gpa_t gpa, uint64_t size, void *hva)
{
	struct pv_kvm_part *p = pdata;
	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < PV_MAX_MEM_RANGES; i++) {
		struct pv_kvm_slot *s = &p->slots[i];
		if (!s->used || s->gpa != gpa.v || s->size != size || s->hva != hva)
			continue;
		struct kvm_userspace_memory_region r = {.slot = i, .guest_phys_addr = gpa.v};
		if (ioctl(p->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			LOG_ERRNO(p->part, "KVM_SET_USER_MEMORY_REGION (delete)", errno);
		munmap(s->hva, s->size);
		s->used = false;
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------------ */
/* vCPUs                                                                */

static pv_err_t set_cpuid(struct pv_kvm_vcpu *v, const struct pv_cpuid_entry *lib, size_t n)
{
	struct pv_kvm *k = v->p->kvm;
	long cnt = pv_kvm_merge_cpuid(k->supported->entries, k->supported->nent, lib, n, v->index,
				      v->cpuid->entries, PV_KVM_MAX_CPUID);
	if (cnt < 0) {
		pv_log(v->p->part, PV_LOG_ERROR, "kvm", "vCPU %u: CPUID table too large (%zu)",
		       v->index, n);
		return PV_ERANGE;
	}
	v->cpuid->nent = (uint32_t)cnt;
	if (ioctl(v->fd, KVM_SET_CPUID2, v->cpuid) < 0) {
		int e = errno;
		if (v->has_run) {
			/* KVM refuses CPUID changes after the first KVM_RUN. */
			pv_log(v->p->part, PV_LOG_WARN, "kvm",
			       "vCPU %u: KVM cannot change CPUID after the vCPU ran (errno %d); "
			       "the guest keeps its previous table",
			       v->index, e);
			return PV_OK;
		}
		LOG_ERRNO(v->p->part, "KVM_SET_CPUID2", e);
		return PV_EPORT;
	}
	return PV_OK;
}

static pv_err_t kvm_vcpu_create(void *pdata, uint32_t index, struct pv_vcpu *vcpu, void **vdata)
{
	struct pv_kvm_part *p = pdata;
	struct pv_kvm *k = p->kvm;
	struct pv_kvm_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return PV_ENOMEM;
	v->p = p;
	v->vcpu = vcpu;
	v->index = index;
	v->hc_port = k->hc_port;
	v->run_size = k->run_size;
	v->run = MAP_FAILED;
	atomic_init(&v->stop_req, false);
	atomic_init(&v->pending, 0);
	for (int i = 0; i < 4; i++)
		atomic_init(&v->irq_bits[i], 0);
	v->cpuid =
		calloc(1, sizeof(*v->cpuid) + PV_KVM_MAX_CPUID * sizeof(struct kvm_cpuid_entry2));
	atomic_init(&v->in_run, false);
	atomic_init(&v->kickers, 0);
	if (!v->cpuid || pthread_mutex_init(&v->ev_lock, NULL)) {
		free(v->cpuid);
		free(v);
		return PV_ENOMEM;
	}
	pv_err_t err = PV_EPORT;
	v->fd = ioctl(p->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		LOG_ERRNO(p->part, "KVM_CREATE_VCPU", errno);
		goto fail;
	}
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		LOG_ERRNO(p->part, "mmap of kvm_run", errno);
		goto fail;
	}
	err = set_cpuid(v, NULL, 0);
	if (err)
		goto fail;
	*vdata = v;
	return PV_OK;
fail:
	if (v->run != MAP_FAILED)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->ev_lock);
	free(v->cpuid);
	free(v);
	return err;
}

static void kvm_vcpu_destroy(void *vdata)
{
	struct pv_kvm_vcpu *v = vdata;
	if (!v)
		return;
	munmap(v->run, v->run_size);
	close(v->fd);
	pthread_mutex_destroy(&v->ev_lock);
	free(v->cpuid);
	free(v);
}

/* Make a KVM_RUN in progress (or the next one) return promptly. */
static void kick(struct pv_kvm_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	atomic_fetch_add(&v->kickers, 1);
	if (atomic_load(&v->in_run))
		pthread_kill(v->thread, v->p->kvm->kick_signal);
	atomic_fetch_sub(&v->kickers, 1);
}

static pv_err_t inject_exception_now(struct pv_kvm_vcpu *v, const struct pv_event *ev)
{
	struct kvm_vcpu_events events;
	if (ev->vector == PV_VEC_PF) {
		struct kvm_sregs s;
		if (pv_kvm_vcpu_ioctl(v, KVM_GET_SREGS, &s, "KVM_GET_SREGS"))
			return PV_EPORT;
		s.cr2 = ev->cr2;
		if (pv_kvm_vcpu_ioctl(v, KVM_SET_SREGS, &s, "KVM_SET_SREGS"))
			return PV_EPORT;
	}
	if (pv_kvm_vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS"))
		return PV_EPORT;
	events.flags = 0;
	events.exception.injected = 1;
	events.exception.nr = ev->vector;
	events.exception.has_error_code = ev->has_error_code ? 1 : 0;
	events.exception.error_code = ev->error_code;
	return pv_kvm_vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS");
}

static pv_err_t inject_nmi_now(struct pv_kvm_vcpu *v)
{
	return pv_kvm_vcpu_ioctl(v, KVM_NMI, NULL, "KVM_NMI");
}

static pv_err_t send_msi(struct pv_kvm_part *p, uint64_t address, uint32_t data)
{
	struct kvm_msi msi;
	memset(&msi, 0, sizeof(msi));
	msi.address_lo = (uint32_t)address;
	msi.address_hi = (uint32_t)(address >> 32);
	msi.data = data;
	int r = ioctl(p->vm_fd, KVM_SIGNAL_MSI, &msi);
	if (r < 0) {
		LOG_ERRNO(p->part, "KVM_SIGNAL_MSI", errno);
		return PV_EPORT;
	}
	if (r == 0) /* the guest blocked it (e.g. LAPIC disabled), as on hardware */
		pv_log(p->part, PV_LOG_DEBUG, "kvm", "MSI 0x%llx/0x%x not delivered",
		       (unsigned long long)address, data);
	return PV_OK;
}

static int highest_irq(struct pv_kvm_vcpu *v)
{
	for (int w = 3; w >= 0; w--) {
		unsigned long long b = atomic_load(&v->irq_bits[w]);
		if (b)
			return w * 64 + 63 - __builtin_clzll(b);
	}
	return -1;
}

/* Apply queued events before entering the guest (vCPU thread). */
static pv_err_t deliver_pending(struct pv_kvm_vcpu *v)
{
	unsigned pend = atomic_exchange(&v->pending, 0);
	pv_err_t err = PV_OK;
	if (pend & PV_KVM_PEND_NMI)
		err = inject_nmi_now(v);
	if (!err && (pend & PV_KVM_PEND_EXC)) {
		struct pv_event ev;
		bool have;
		pthread_mutex_lock(&v->ev_lock);
		have = v->exc_queued;
		ev = v->pending_exc;
		v->exc_queued = false;
		pthread_mutex_unlock(&v->ev_lock);
		if (have)
			err = inject_exception_now(v, &ev);
	}
	if (!err && (pend & PV_KVM_PEND_IRQ)) {
		int vec = highest_irq(v);
		if (vec >= 0 && v->run->ready_for_interrupt_injection && v->run->if_flag) {
			atomic_fetch_and(&v->irq_bits[vec / 64], ~(1ull << (vec % 64)));
			struct kvm_interrupt irq = {.irq = (uint32_t)vec};
			if (pv_kvm_vcpu_ioctl(v, KVM_INTERRUPT, &irq, "KVM_INTERRUPT"))
				err = PV_EPORT;
			vec = highest_irq(v);
		}
		if (vec >= 0)
			atomic_fetch_or(&v->pending, PV_KVM_PEND_IRQ);
		/* Exit as soon as the guest can take the next one. */
		v->run->request_interrupt_window = vec >= 0;
	}
	if (err) {
		/* Keep what was not delivered queued for the next attempt. */
		pthread_mutex_lock(&v->ev_lock);
		if (v->exc_queued)
			atomic_fetch_or(&v->pending, PV_KVM_PEND_EXC);
		pthread_mutex_unlock(&v->ev_lock);
		if (highest_irq(v) >= 0)
			atomic_fetch_or(&v->pending, PV_KVM_PEND_IRQ);
	}
	return err;
}

static pv_err_t fill_hypercall(struct pv_kvm_vcpu *v, struct pv_exit *exit)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (pv_kvm_vcpu_ioctl(v, KVM_GET_REGS, &regs, "KVM_GET_REGS"))
		return PV_EPORT;
	if (pv_kvm_vcpu_ioctl(v, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS"))
		return PV_EPORT;
	pv_kvm_hypercall_from_regs(&regs, &sregs, exit);
	return PV_OK;
}

/*
 * HLT (no irqchip) with an event already queued that the guest can take
 * now: the halt ends immediately, as on hardware. Reporting it would let the
 * library sleep on a wake-up that was already consumed.
 */
static bool halt_wakes_now(struct pv_kvm_vcpu *v)
{
	unsigned pend = atomic_load(&v->pending);
	if (pend & (PV_KVM_PEND_NMI | PV_KVM_PEND_EXC))
		return true;
	return (pend & PV_KVM_PEND_IRQ) && v->run->ready_for_interrupt_injection &&
	       v->run->if_flag && highest_irq(v) >= 0;
}

static pv_err_t kvm_vcpu_run(void *vdata, struct pv_exit *exit)
{
	struct pv_kvm_vcpu *v = vdata;
	struct kvm_run *run = v->run;
	v->emu_pending = false;
	v->cache_valid = false;
	for (;;) {
		if (atomic_load_explicit(&v->stop_req, memory_order_relaxed) &&
		    atomic_exchange(&v->stop_req, false)) {
			__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			memset(&exit->u, 0, sizeof(exit->u));
			exit->kind = PV_EXIT_STOPPED;
			exit->inject.kind = PV_EVENT_NONE;
			return PV_OK;
		}
		if (atomic_load_explicit(&v->pending, memory_order_acquire)) {
			pv_err_t err = deliver_pending(v);
			if (err)
				return err;
		}
		v->thread = pthread_self();
		atomic_store(&v->in_run, true);
		int r = ioctl(v->fd, KVM_RUN, 0);
		int e = errno;
		atomic_store(&v->in_run, false);
		while (atomic_load(&v->kickers)) /* a kicker may still signal us */
			sched_yield();
		v->has_run = true;
		if (r < 0) {
			if (e == EINTR || e == EAGAIN) {
				__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			LOG_ERRNO(v->p->part, "KVM_RUN", e);
			return PV_EPORT;
		}
		switch (pv_kvm_xlate_exit(run, v->run_size, v->hc_port, exit)) {
		case PV_KVM_XLATE_EXIT:
			if (exit->kind == PV_EXIT_HLT && halt_wakes_now(v))
				continue; /* an event is queued: HLT ends at once */
			if ((exit->kind == PV_EXIT_MMIO ||
			     (exit->kind == PV_EXIT_INTERNAL_ERROR &&
			      exit->u.error.code == KVM_INTERNAL_ERROR_EMULATION)) &&
			    atomic_load_explicit(&v->p->emulate_mmio, memory_order_relaxed))
				return pv_kvm_emulate_exit(v, exit); /* size 0, see kvm_emulate.c */
			return PV_OK;
		case PV_KVM_XLATE_REENTER:
			continue;
		case PV_KVM_XLATE_HYPERCALL:
			return fill_hypercall(v, exit);
		case PV_KVM_XLATE_BAD:
		default:
			pv_log(v->p->part, PV_LOG_ERROR, "kvm",
			       "vCPU %u: malformed kvm_run (exit reason %u)", v->index,
			       run->exit_reason);
			return PV_OK;
		}
	}
}

static pv_err_t kvm_vcpu_complete(void *vdata, const struct pv_exit *exit)
{
	struct pv_kvm_vcpu *v = vdata;
	unsigned todo;
	bool emulated = v->emu_pending;
	v->emu_pending = false;
	v->cache_valid = false;
	pv_err_t err;
	if (exit->kind == PV_EXIT_MMIO && (exit->u.mmio.size == 0 || emulated)) {
		/* Emulated by the library, which wrote the registers, or a
		 * write KVM already completed: KVM has nothing pending
		 * (kvm_emulate.c). Only an event remains. */
		if (!emulated) {
			pv_log(v->p->part, PV_LOG_ERROR, "kvm",
			       "vCPU %u: size-0 MMIO completion without an emulated exit",
			       v->index);
			return PV_EINVAL;
		}
		todo = exit->inject.kind != PV_EVENT_NONE ? PV_KVM_TODO_INJECT : 0;
		err = PV_OK;
	} else {
		err = pv_kvm_xlate_complete(v->run, v->run_size, v->hc_port, exit, &todo);
	}
	if (err) {
		pv_log(v->p->part, PV_LOG_ERROR, "kvm",
		       "vCPU %u: completion of a %s exit does not match KVM exit %u", v->index,
		       pv_exit_kind_name(exit->kind), v->run->exit_reason);
		return err;
	}
	if (todo & PV_KVM_TODO_HCALL) {
		struct kvm_regs regs;
		if (pv_kvm_vcpu_ioctl(v, KVM_GET_REGS, &regs, "KVM_GET_REGS"))
			return PV_EPORT;
		pv_kvm_hypercall_set_result(&regs, exit->u.hypercall.is_64bit,
					    exit->u.hypercall.result);
		if (pv_kvm_vcpu_ioctl(v, KVM_SET_REGS, &regs, "KVM_SET_REGS"))
			return PV_EPORT;
	}
	if (todo & PV_KVM_TODO_INJECT) {
		const struct pv_event *ev = &exit->inject;
		switch (ev->kind) {
		case PV_EVENT_EXCEPTION:
			if (ev->vector >= 32)
				return PV_EINVAL;
			/* KVM retires an I/O instruction (the hypercall OUT
			 * too) when next entered, so the event is delivered
			 * after it; see README.md. */
			return inject_exception_now(v, ev);
		case PV_EVENT_NMI:
			return inject_nmi_now(v);
		case PV_EVENT_INTERRUPT:
			return v->p->kvm->ops.inject(v, ev);
		default:
			return PV_EINVAL;
		}
	}
	return PV_OK;
}

/*
 * With the in-kernel irqchip, KVM keeps application processors waiting for
 * INIT/SIPI (what a Linux guest expects). When the library sets an AP's
 * registers before its first run, it starts the AP itself: make it runnable.
 */
static pv_err_t make_runnable(struct pv_kvm_vcpu *v)
{
	if (!v->p->kvm->irqchip || v->index == 0 || v->has_run || v->runnable)
		return PV_OK;
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	if (pv_kvm_vcpu_ioctl(v, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE"))
		return PV_EPORT;
	v->runnable = true;
	return PV_OK;
}

static pv_err_t kvm_get_regs(void *vdata, struct pv_regs *regs)
{
	struct pv_kvm_vcpu *v = vdata;
	struct kvm_regs r;
	if (v->cache_valid) {
		pv_kvm_regs_from_kvm(&v->cache_regs, regs);
		return PV_OK;
	}
	if (pv_kvm_vcpu_ioctl(v, KVM_GET_REGS, &r, "KVM_GET_REGS"))
		return PV_EPORT;
	pv_kvm_regs_from_kvm(&r, regs);
	return PV_OK;
}

static pv_err_t kvm_set_regs(void *vdata, const struct pv_regs *regs)
{
	struct pv_kvm_vcpu *v = vdata;
	struct kvm_regs r;
	v->cache_valid = false;
	memset(&r, 0, sizeof(r));
	pv_kvm_regs_to_kvm(regs, &r);
	if (pv_kvm_vcpu_ioctl(v, KVM_SET_REGS, &r, "KVM_SET_REGS"))
		return PV_EPORT;
	return make_runnable(v);
}

static pv_err_t kvm_get_sregs(void *vdata, struct pv_sregs *sregs)
{
	struct pv_kvm_vcpu *v = vdata;
	struct kvm_sregs s;
	if (v->cache_valid) {
		pv_kvm_sregs_from_kvm(&v->cache_sregs, sregs);
		return PV_OK;
	}
	if (pv_kvm_vcpu_ioctl(v, KVM_GET_SREGS, &s, "KVM_GET_SREGS"))
		return PV_EPORT;
	pv_kvm_sregs_from_kvm(&s, sregs);
	return PV_OK;
}

static pv_err_t kvm_set_sregs(void *vdata, const struct pv_sregs *sregs)
{
	struct pv_kvm_vcpu *v = vdata;
	struct kvm_sregs s;
	v->cache_valid = false;
	if (pv_kvm_vcpu_ioctl(v, KVM_GET_SREGS, &s, "KVM_GET_SREGS"))
		return PV_EPORT;
	pv_kvm_sregs_to_kvm(sregs, &s);
	if (pv_kvm_vcpu_ioctl(v, KVM_SET_SREGS, &s, "KVM_SET_SREGS"))
		return PV_EPORT;
	return make_runnable(v);
}

static pv_err_t kvm_get_msr(void *vdata, uint32_t index, uint64_t *value)
{
	struct pv_kvm_vcpu *v = vdata;
	uint64_t buf[(sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry) + 7) / 8];
	struct kvm_msrs *m = (struct kvm_msrs *)buf;
	memset(buf, 0, sizeof(buf));
	m->nmsrs = 1;
	m->entries[0].index = index;
	int r = ioctl(v->fd, KVM_GET_MSRS, m);
	if (r < 0) {
		LOG_ERRNO(v->p->part, "KVM_GET_MSRS", errno);
		return PV_EPORT;
	}
	if (r != 1)
		return PV_ENOENT;
	*value = m->entries[0].data;
	return PV_OK;
}

static pv_err_t kvm_set_msr(void *vdata, uint32_t index, uint64_t value)
{
	struct pv_kvm_vcpu *v = vdata;
	uint64_t buf[(sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry) + 7) / 8];
	struct kvm_msrs *m = (struct kvm_msrs *)buf;
	memset(buf, 0, sizeof(buf));
	m->nmsrs = 1;
	m->entries[0].index = index;
	m->entries[0].data = value;
	int r = ioctl(v->fd, KVM_SET_MSRS, m);
	if (r < 0) {
		LOG_ERRNO(v->p->part, "KVM_SET_MSRS", errno);
		return PV_EPORT;
	}
	return r == 1 ? PV_OK : PV_ENOENT;
}

static pv_err_t kvm_inject(void *vdata, const struct pv_event *event)
{
	struct pv_kvm_vcpu *v = vdata;
	if (!v || !event)
		return PV_EINVAL;
	switch (event->kind) {
	case PV_EVENT_INTERRUPT:
		if (v->p->kvm->irqchip) {
			/* Fixed, physical destination = this vCPU's APIC ID, edge. */
			uint64_t addr = 0xfee00000ull | ((uint64_t)(v->index & 0xff) << 12);
			return send_msi(v->p, addr, event->vector);
		}
		atomic_fetch_or(&v->irq_bits[event->vector / 64], 1ull << (event->vector % 64));
		atomic_fetch_or(&v->pending, PV_KVM_PEND_IRQ);
		kick(v);
		return PV_OK;
	case PV_EVENT_EXCEPTION:
		if (event->vector >= 32)
			return PV_EINVAL;
		pthread_mutex_lock(&v->ev_lock);
		if (v->exc_queued) {
			pthread_mutex_unlock(&v->ev_lock);
			return PV_EBUSY;
		}
		v->pending_exc = *event;
		v->exc_queued = true;
		pthread_mutex_unlock(&v->ev_lock);
		atomic_fetch_or(&v->pending, PV_KVM_PEND_EXC);
		kick(v);
		return PV_OK;
	case PV_EVENT_NMI:
		atomic_fetch_or(&v->pending, PV_KVM_PEND_NMI);
		kick(v);
		return PV_OK;
	default:
		return PV_EINVAL;
	}
}

static void kvm_stop(void *vdata)
{
	struct pv_kvm_vcpu *v = vdata;
	if (!v)
		return;
	atomic_store(&v->stop_req, true);
	kick(v);
}

static pv_err_t kvm_cpuid_update(void *vdata, const struct pv_cpuid_entry *entries, size_t count)
{
	struct pv_kvm_vcpu *v = vdata;
	if (count && !entries)
		return PV_EINVAL;
	return set_cpuid(v, entries, count);
}

static pv_err_t kvm_msr_filter_update(void *pdata, const struct pv_msr_range *ranges, size_t count)
{
	return apply_msr_filter(pdata, ranges, count);
}

static pv_err_t kvm_hypercall_code(void *pdata, uint8_t *buf, size_t cap, size_t *len)
{
	struct pv_kvm_part *p = pdata;
	if (!len)
		return PV_EINVAL;
	size_t n = pv_kvm_hypercall_code(p->kvm->hc_port, buf, cap);
	if (!n)
		return PV_ERANGE;
	*len = n;
	return PV_OK;
}

static pv_err_t kvm_irq_line(void *pdata, uint32_t gsi, bool level)
{
	struct pv_kvm_part *p = pdata;
	struct kvm_irq_level l;
	memset(&l, 0, sizeof(l));
	l.irq = gsi;
	l.level = level ? 1 : 0;
	if (ioctl(p->vm_fd, KVM_IRQ_LINE, &l) < 0) {
		LOG_ERRNO(p->part, "KVM_IRQ_LINE", errno);
		return PV_EPORT;
	}
	return PV_OK;
}

static pv_err_t kvm_msi(void *pdata, uint64_t address, uint32_t data)
{
	return send_msi(pdata, address, data);
}

static const struct pv_port_ops kvm_ops_template = {
	.name = "kvm",
	.caps = PV_PORT_CAP_MSR_FILTER | PV_PORT_CAP_TIMERS | PV_PORT_CAP_SMP,
	.partition_create = kvm_partition_create,
	.partition_destroy = kvm_partition_destroy,
	.map_ram = kvm_map_ram,
	.unmap_ram = kvm_unmap_ram,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_complete = kvm_vcpu_complete,
	.get_regs = kvm_get_regs,
	.set_regs = kvm_set_regs,
	.get_sregs = kvm_get_sregs,
	.set_sregs = kvm_set_sregs,
	.get_msr = kvm_get_msr,
	.set_msr = kvm_set_msr,
	.inject = kvm_inject,
	.stop = kvm_stop,
	.clock_ns = pv_kvm_clock_ns,
	.timer_create = pv_kvm_timer_create,
	.timer_arm = pv_kvm_timer_arm,
	.timer_cancel = pv_kvm_timer_cancel,
	.timer_destroy = pv_kvm_timer_destroy,
	.cpuid_update = kvm_cpuid_update,
	.msr_filter_update = kvm_msr_filter_update,
	.hypercall_code = kvm_hypercall_code,
	.irq_line = kvm_irq_line,
	.msi = kvm_msi,
	.isolation_op = NULL,
	.get_xmm = pv_kvm_get_xmm,
	.set_xmm = pv_kvm_set_xmm,
};
