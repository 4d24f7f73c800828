/* SPDX-License-Identifier: MIT */
/*
 * Emulation mode (pv_kvm_options::emulate_mmio): every KVM_EXIT_MMIO is
 * handed to the library as an MMIO exit of size 0, so the core's x86
 * emulator decodes and executes the instruction and calls the handlers.
 *
 * KVM has already decoded the instruction and keeps its own emulation
 * pending; what it has done at the exit differs by direction (measured on
 * this host, see README.md):
 *  - read: nothing is retired yet (RIP on the instruction, registers as
 *    before it, or as before the current iteration of a REP string);
 *    the next KVM_RUN writes kvm_run.mmio.data into the destination,
 *    continues the instruction (the write half of a read-modify-write is a
 *    second exit) and advances RIP;
 *  - write: the instruction (or this REP iteration) is already retired,
 *    RIP is past it; the next KVM_RUN only finishes the remaining
 *    fragments (a 16-byte store is two 8-byte exits).
 * So, at each MMIO exit: (1) take the state before the instruction: the
 * exit state for reads, or the state rewound by pv_kvm_rewind_store() for
 * writes; (2) let KVM finish its pending access without executing any
 * further guest instruction: KVM_RUN with kvm_run.immediate_exit = 1
 * completes pending MMIO first and then returns EINTR (KVM API
 * documentation, "immediate_exit"); loads get dummy data, stores are
 * dropped, and the RCX of a string instruction is cut to 1 so only one
 * iteration is completed; (3) restore the state from (1) (registers, and,
 * for XMM loads and loads the port cannot decode, segments/FPU if the
 * completion changed them). A write whose completion changed the
 * registers had not been retired after all: its exit state is used;
 * (4) report size 0. Nothing of KVM's
 * emulation is left pending, no handler sees KVM's accesses, and the
 * library's emulation starts from the architectural state before the
 * instruction. A write exit no instruction explains (push to MMIO, an
 * instruction the library does not decode) is reported with KVM's decoded
 * access instead and counted as a fallback. An instruction KVM's emulator
 * refuses (KVM_INTERNAL_ERROR_EMULATION: nothing executed, nothing
 * pending, RIP on it; MOVD/MOVQ with XMM on this host) is also handed to
 * the library as a size-0 MMIO exit: it emulates it or injects #UD.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm_exit.h"
#include "kvm_internal.h"

/* Exits a completion may take: fragments of one access plus one write. */
#define FLUSH_MAX 16u

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pv_kvm_part *live_head;

void pv_kvm_live_add(struct pv_kvm_part *p)
{
	pthread_mutex_lock(&live_lock);
	p->live_next = live_head;
	live_head = p;
	pthread_mutex_unlock(&live_lock);
}

void pv_kvm_live_remove(struct pv_kvm_part *p)
{
	pthread_mutex_lock(&live_lock);
	for (struct pv_kvm_part **pp = &live_head; *pp; pp = &(*pp)->live_next) {
		if (*pp == p) {
			*pp = p->live_next;
			break;
		}
	}
	pthread_mutex_unlock(&live_lock);
}

/* The kvm partition data of @part, or NULL when @part is not on this port. */
static struct pv_kvm_part *kvm_part_of(struct pv_partition *part)
{
	if (!part)
		return NULL;
	void *pdata = pv_partition_port_data(part);
	struct pv_kvm_part *found = NULL;
	pthread_mutex_lock(&live_lock);
	for (struct pv_kvm_part *p = live_head; p; p = p->live_next)
		if (p == pdata && p->part == part)
			found = p;
	pthread_mutex_unlock(&live_lock);
	return found;
}

pv_err_t pv_kvm_set_emulate_mmio(struct pv_partition *part, bool on)
{
	struct pv_kvm_part *p = kvm_part_of(part);
	if (!p)
		return PV_EINVAL;
	atomic_store(&p->emulate_mmio, on);
	pv_log(part, PV_LOG_INFO, "kvm", "MMIO emulation mode %s", on ? "on" : "off");
	return PV_OK;
}

pv_err_t pv_kvm_get_emu_stats(struct pv_partition *part, struct pv_kvm_emu_stats *out)
{
	struct pv_kvm_part *p = kvm_part_of(part);
	if (!p || !out)
		return PV_EINVAL;
	out->reads = atomic_load(&p->emu_reads);
	out->writes = atomic_load(&p->emu_writes);
	out->fallbacks = atomic_load(&p->emu_fallbacks);
	out->flush_exits = atomic_load(&p->emu_flush_exits);
	out->refused = atomic_load(&p->emu_refused);
	return PV_OK;
}

pv_err_t pv_kvm_get_xmm(void *vdata, uint8_t xmm[16][16])
{
	struct pv_kvm_vcpu *v = vdata;
	struct kvm_fpu fpu;
	if (!xmm)
		return PV_EINVAL;
	pv_err_t err = pv_kvm_vcpu_ioctl(v, KVM_GET_FPU, &fpu, "KVM_GET_FPU");
	if (err)
		return err;
	pv_kvm_xmm_from_fpu(&fpu, xmm);
	return PV_OK;
}

pv_err_t pv_kvm_set_xmm(void *vdata, const uint8_t xmm[16][16])
{
	struct pv_kvm_vcpu *v = vdata;
	struct kvm_fpu fpu;
	if (!xmm)
		return PV_EINVAL;
	pv_err_t err = pv_kvm_vcpu_ioctl(v, KVM_GET_FPU, &fpu, "KVM_GET_FPU");
	if (err)
		return err;
	pv_kvm_xmm_to_fpu(xmm, &fpu);
	return pv_kvm_vcpu_ioctl(v, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

static pv_err_t ram_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	struct pv_kvm_part *p = ctx;
	struct pv_mem_range r;
	if (pv_mem_lookup(p->part, pv_gpa(gpa), &r) != PV_OK || r.kind != PV_MEM_RAM)
		return PV_EFAULT;
	return pv_mem_read(p->part, PV_ACCESS_VTL0, pv_gpa(gpa), buf, len);
}

static bool uses_xmm(const struct pv_x86_insn *in)
{
	return in->op >= PV_X86_OP_SSE_LOAD && in->op <= PV_X86_OP_MOVD_FROMX;
}

/* Let KVM finish the access it has pending without running the guest. */
static pv_err_t flush_pending(struct pv_kvm_vcpu *v, unsigned *dropped)
{
	struct kvm_run *run = v->run;
	pv_err_t err = PV_OK;
	for (unsigned n = 0;; n++) {
		if (n == FLUSH_MAX) {
			pv_log(v->p->part, PV_LOG_ERROR, "kvm",
			       "vCPU %u: KVM's pending MMIO did not complete in %u exits", v->index,
			       FLUSH_MAX);
			err = PV_EPORT;
			break;
		}
		if (run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write)
			memset(run->mmio.data, 0, sizeof(run->mmio.data)); /* dummy load */
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		int r = ioctl(v->fd, KVM_RUN, 0);
		int e = errno;
		if (r < 0 && (e == EINTR || e == EAGAIN))
			break; /* completed; no guest instruction ran */
		if (r < 0) {
			LOG_ERRNO(v->p->part, "KVM_RUN (completing MMIO)", e);
			err = PV_EPORT;
			break;
		}
		if (run->exit_reason != KVM_EXIT_MMIO) {
			pv_log(v->p->part, PV_LOG_ERROR, "kvm",
			       "vCPU %u: exit %u while completing MMIO", v->index,
			       run->exit_reason);
			err = PV_EPORT;
			break;
		}
		atomic_fetch_add_explicit(&v->p->emu_flush_exits, 1, memory_order_relaxed);
		(*dropped)++;
	}
	/* A concurrent kick also set stop_req/pending, which the run loop checks. */
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	return err;
}

pv_err_t pv_kvm_emulate_exit(struct pv_kvm_vcpu *v, struct pv_exit *exit)
{
	struct kvm_run *run = v->run;
	struct pv_kvm_part *p = v->p;
	struct kvm_regs kr, pre;
	struct kvm_sregs ks, ks2;
	struct kvm_fpu fpu, fpu2;
	bool is_write = run->mmio.is_write != 0;
	uint64_t gpa = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	uint8_t data[8];
	pv_err_t err;

	if (exit->kind == PV_EXIT_INTERNAL_ERROR) {
		/* KVM's emulator refused the instruction (e.g. MOVQ/MOVD with
		 * XMM): nothing was executed or is pending, RIP is on it. */
		memset(&exit->u, 0, sizeof(exit->u));
		exit->kind = PV_EXIT_MMIO;
		v->emu_pending = true;
		atomic_fetch_add_explicit(&p->emu_refused, 1, memory_order_relaxed);
		return PV_OK;
	}
	if (len == 0 || len > sizeof(data))
		return PV_OK; /* xlate already reported a malformed run */
	memcpy(data, run->mmio.data, sizeof(data));
	if ((err = pv_kvm_vcpu_ioctl(v, KVM_GET_REGS, &kr, "KVM_GET_REGS")) ||
	    (err = pv_kvm_vcpu_ioctl(v, KVM_GET_SREGS, &ks, "KVM_GET_SREGS")))
		return err;
	struct pv_x86emu_state st;
	memset(&st, 0, sizeof(st));
	pv_kvm_regs_from_kvm(&kr, &st.regs);
	pv_kvm_sregs_from_kvm(&ks, &st.sregs);
	pre = kr;
	bool rewound = false;
	/* KVM's completion of a load may change XMM (SSE/MOVD/MOVQ) or, for an
	 * instruction the library does not decode, anything: then the FPU and
	 * segments are compared and restored after it. */
	bool full_restore = true;
	if (is_write) {
		/* Where KVM retired the store, the state before it is rewound. */
		struct pv_x86emu_state before;
		struct pv_x86_insn in;
		full_restore = false; /* completing a store changes no register */
		/* XMM (an ioctl) is only needed when the store is an SSE one: try
		 * without it first, and again with it unless the store found is
		 * not an XMM instruction. */
		bool ok = pv_kvm_rewind_store(&st, gpa, len, data, ram_read, p, &before) == PV_OK;
		if (ok) {
			struct pv_x86emu_state at = st;
			at.regs = before.regs;
			ok = pv_kvm_decode_at(&at, ram_read, p, &in) == PV_OK && !uses_xmm(&in);
		}
		if (!ok) {
			if ((err = pv_kvm_vcpu_ioctl(v, KVM_GET_FPU, &fpu, "KVM_GET_FPU")))
				return err;
			pv_kvm_xmm_from_fpu(&fpu, st.xmm);
			ok = pv_kvm_rewind_store(&st, gpa, len, data, ram_read, p, &before) ==
			     PV_OK;
		}
		if (ok) {
			pv_kvm_regs_to_kvm(&before.regs, &pre);
			rewound = true;
		}
	} else {
		struct pv_x86_insn in;
		bool known = pv_kvm_decode_at(&st, ram_read, p, &in) == PV_OK;
		bool xmm = known && uses_xmm(&in);
		bool string = known && in.op >= PV_X86_OP_MOVS && in.op <= PV_X86_OP_SCAS;
		full_restore = !known || xmm;
		if (full_restore && (err = pv_kvm_vcpu_ioctl(v, KVM_GET_FPU, &fpu, "KVM_GET_FPU")))
			return err;
		/* Complete at most one iteration of a REP string instruction. */
		if (!known || string) {
			struct kvm_regs one = kr;
			one.rcx = 1;
			if ((err = pv_kvm_vcpu_ioctl(v, KVM_SET_REGS, &one, "KVM_SET_REGS")))
				return err;
		}
	}
	unsigned dropped = 0;
	if ((err = flush_pending(v, &dropped)))
		return err;
	if (is_write) {
		/* Did completing it change the registers? Then KVM had not yet
		 * retired the instruction (seen for SSE stores) and the exit
		 * state is the state before it. Otherwise use the rewound one. */
		struct kvm_regs after;
		if ((err = pv_kvm_vcpu_ioctl(v, KVM_GET_REGS, &after, "KVM_GET_REGS")))
			return err;
		if (memcmp(&after, &kr, sizeof(kr)) != 0) {
			pre = kr;
		} else if (!rewound) {
			/* Retired, and no instruction explains it: hand the library
			 * KVM's decoded write (nothing to complete any more). */
			atomic_fetch_add_explicit(&p->emu_fallbacks, 1, memory_order_relaxed);
			pv_log(p->part, dropped ? PV_LOG_WARN : PV_LOG_DEBUG, "kvm",
			       "vCPU %u: no instruction before rip %llx explains the MMIO write "
			       "at %llx; using KVM's decoded access (%u later fragments lost)",
			       v->index, (unsigned long long)kr.rip, (unsigned long long)gpa,
			       dropped);
			memset(&exit->u, 0, sizeof(exit->u));
			exit->kind = PV_EXIT_MMIO;
			exit->u.mmio.gpa = pv_gpa(gpa);
			exit->u.mmio.size = (uint8_t)len;
			exit->u.mmio.is_write = true;
			memcpy(&exit->u.mmio.data, data, len);
			v->emu_pending = true;
			return PV_OK;
		}
	}
	if ((err = pv_kvm_vcpu_ioctl(v, KVM_SET_REGS, &pre, "KVM_SET_REGS")))
		return err;
	if (full_restore) {
		if ((err = pv_kvm_vcpu_ioctl(v, KVM_GET_SREGS, &ks2, "KVM_GET_SREGS")) ||
		    (err = pv_kvm_vcpu_ioctl(v, KVM_GET_FPU, &fpu2, "KVM_GET_FPU")))
			return err;
		if (memcmp(&ks, &ks2, sizeof(ks)) &&
		    (err = pv_kvm_vcpu_ioctl(v, KVM_SET_SREGS, &ks, "KVM_SET_SREGS")))
			return err;
		if (memcmp(&fpu, &fpu2, sizeof(fpu)) &&
		    (err = pv_kvm_vcpu_ioctl(v, KVM_SET_FPU, &fpu, "KVM_SET_FPU")))
			return err;
	}
	/* The library reads these next: spare it two ioctls. */
	v->cache_regs = pre;
	v->cache_sregs = ks;
	v->cache_valid = true;

	memset(&exit->u, 0, sizeof(exit->u));
	exit->kind = PV_EXIT_MMIO;
	exit->u.mmio.gpa = pv_gpa(gpa);
	exit->u.mmio.size = 0;
	exit->u.mmio.is_write = is_write;
	v->emu_pending = true;
	atomic_fetch_add_explicit(is_write ? &p->emu_writes : &p->emu_reads, 1,
				  memory_order_relaxed);
	return PV_OK;
}
