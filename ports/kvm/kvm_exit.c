/* SPDX-License-Identifier: MIT */
/*
 * Pure kvm_run <-> pv_exit translation (see kvm_exit.h). Hosted code, but
 * it makes no system call so it can be unit-tested with a fake kvm_run.
 */
#include "kvm_exit.h"

#include <stdlib.h>
#include <string.h>

/* Hyper-V MSR range that always exits to the library. */
#define HV_MSR_FIRST 0x40000000u
#define HV_MSR_COUNT 0x100u
#define FILTER_BITS (KVM_MSR_FILTER_MAX_BITMAP_SIZE * 8u)

static void set_error(struct pv_exit *exit, int32_t code, uint64_t d0)
{
	memset(&exit->u, 0, sizeof(exit->u));
	exit->kind = PV_EXIT_INTERNAL_ERROR;
	exit->u.error.code = code;
	exit->u.error.data[0] = d0;
}

static enum pv_kvm_xlate xlate_io(struct kvm_run *run, size_t run_size, uint16_t hc_port,
				  struct pv_exit *exit)
{
	uint8_t size = run->io.size;
	uint32_t count = run->io.count;
	uint64_t off = run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;

	if ((size != 1 && size != 2 && size != 4) || count == 0 ||
	    (run->io.direction != KVM_EXIT_IO_OUT && run->io.direction != KVM_EXIT_IO_IN)) {
		set_error(exit, PV_KVM_ERR_BAD_RUN, KVM_EXIT_IO);
		return PV_KVM_XLATE_BAD;
	}
	/* size * count bytes at data_offset must lie inside the mapping. */
	uint64_t bytes = (uint64_t)size * count;
	if (off < sizeof(*run) || off > run_size || bytes > run_size - off) {
		set_error(exit, PV_KVM_ERR_BAD_RUN, KVM_EXIT_IO);
		return PV_KVM_XLATE_BAD;
	}
	uint8_t *data = (uint8_t *)run + off;

	if (out && run->io.port == hc_port && size == 1 && count == 1) {
		memset(&exit->u, 0, sizeof(exit->u));
		exit->kind = PV_EXIT_HYPERCALL;
		return PV_KVM_XLATE_HYPERCALL;
	}
	memset(&exit->u, 0, sizeof(exit->u));
	exit->kind = PV_EXIT_IO;
	exit->u.io.port = run->io.port;
	exit->u.io.size = size;
	exit->u.io.is_write = out;
	exit->u.io.count = count;
	if (count == 1) {
		uint32_t v = 0;
		if (out)
			memcpy(&v, data, size);
		exit->u.io.data = v;
		exit->u.io.rep_data = NULL;
	} else {
		exit->u.io.rep_data = data;
	}
	return PV_KVM_XLATE_EXIT;
}

static enum pv_kvm_xlate xlate_msr(struct kvm_run *run, bool write, struct pv_exit *exit)
{
	memset(&exit->u, 0, sizeof(exit->u));
	exit->kind = write ? PV_EXIT_MSR_WRITE : PV_EXIT_MSR_READ;
	exit->u.msr.index = run->msr.index;
	exit->u.msr.value = write ? run->msr.data : 0;
	return PV_KVM_XLATE_EXIT;
}

enum pv_kvm_xlate pv_kvm_xlate_exit(struct kvm_run *run, size_t run_size, uint16_t hc_port,
				    struct pv_exit *exit)
{
	exit->inject.kind = PV_EVENT_NONE;
	if (run_size < sizeof(*run)) {
		set_error(exit, PV_KVM_ERR_BAD_RUN, run_size);
		return PV_KVM_XLATE_BAD;
	}
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return xlate_io(run, run_size, hc_port, exit);
	case KVM_EXIT_MMIO: {
		uint32_t len = run->mmio.len;
		if (len == 0 || len > sizeof(run->mmio.data)) {
			set_error(exit, PV_KVM_ERR_BAD_RUN, KVM_EXIT_MMIO);
			return PV_KVM_XLATE_BAD;
		}
		memset(&exit->u, 0, sizeof(exit->u));
		exit->kind = PV_EXIT_MMIO;
		exit->u.mmio.gpa = pv_gpa(run->mmio.phys_addr);
		exit->u.mmio.size = (uint8_t)len;
		exit->u.mmio.is_write = run->mmio.is_write != 0;
		if (exit->u.mmio.is_write)
			memcpy(&exit->u.mmio.data, run->mmio.data, len);
		return PV_KVM_XLATE_EXIT;
	}
	case KVM_EXIT_X86_RDMSR:
		return xlate_msr(run, false, exit);
	case KVM_EXIT_X86_WRMSR:
		return xlate_msr(run, true, exit);
	case KVM_EXIT_HLT:
		memset(&exit->u, 0, sizeof(exit->u));
		exit->kind = PV_EXIT_HLT;
		return PV_KVM_XLATE_EXIT;
	case KVM_EXIT_SHUTDOWN:
		memset(&exit->u, 0, sizeof(exit->u));
		exit->kind = PV_EXIT_SHUTDOWN;
		return PV_KVM_XLATE_EXIT;
	case KVM_EXIT_SYSTEM_EVENT:
		/* Shutdown, reset and crash requests all end the guest's run. */
		memset(&exit->u, 0, sizeof(exit->u));
		exit->kind = PV_EXIT_SHUTDOWN;
		return PV_KVM_XLATE_EXIT;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_INTR:
		return PV_KVM_XLATE_REENTER;
	case KVM_EXIT_INTERNAL_ERROR: {
		memset(&exit->u, 0, sizeof(exit->u));
		exit->kind = PV_EXIT_INTERNAL_ERROR;
		exit->u.error.code = (int32_t)run->internal.suberror;
		uint32_t n = run->internal.ndata;
		if (n > 4)
			n = 4;
		if (n > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
			n = 0;
		for (uint32_t i = 0; i < n; i++)
			exit->u.error.data[i] = run->internal.data[i];
		return PV_KVM_XLATE_EXIT;
	}
	case KVM_EXIT_FAIL_ENTRY:
		set_error(exit, PV_KVM_ERR_FAIL_ENTRY,
			  run->fail_entry.hardware_entry_failure_reason);
		exit->u.error.data[1] = run->fail_entry.cpu;
		return PV_KVM_XLATE_EXIT;
	case KVM_EXIT_UNKNOWN:
		set_error(exit, PV_KVM_ERR_HW_UNKNOWN, run->hw.hardware_exit_reason);
		return PV_KVM_XLATE_EXIT;
	case KVM_EXIT_DEBUG:
		memset(&exit->u, 0, sizeof(exit->u));
		exit->kind = PV_EXIT_PORT_SPECIFIC;
		exit->u.port.code = PV_KVM_PORT_DEBUG;
		exit->u.port.data[0] = run->debug.arch.exception;
		exit->u.port.data[1] = run->debug.arch.pc;
		return PV_KVM_XLATE_EXIT;
	default:
		set_error(exit, PV_KVM_ERR_UNKNOWN_EXIT, run->exit_reason);
		return PV_KVM_XLATE_EXIT;
	}
}

static bool is_gp(const struct pv_event *ev)
{
	return ev->kind == PV_EVENT_EXCEPTION && ev->vector == PV_VEC_GP;
}

pv_err_t pv_kvm_xlate_complete(struct kvm_run *run, size_t run_size, uint16_t hc_port,
			       const struct pv_exit *exit, unsigned *todo)
{
	unsigned t = exit->inject.kind != PV_EVENT_NONE ? PV_KVM_TODO_INJECT : 0;
	*todo = 0;
	if (run_size < sizeof(*run))
		return PV_EINVAL;
	switch (exit->kind) {
	case PV_EXIT_IO: {
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != exit->u.io.port ||
		    run->io.size != exit->u.io.size || run->io.count != exit->u.io.count ||
		    (run->io.direction == KVM_EXIT_IO_OUT) != exit->u.io.is_write)
			return PV_EINVAL;
		uint64_t off = run->io.data_offset;
		uint64_t bytes = (uint64_t)run->io.size * run->io.count;
		if (off < sizeof(*run) || off > run_size || bytes > run_size - off)
			return PV_EINVAL;
		/* Rep INS data was written straight into the run page. */
		if (!exit->u.io.is_write && run->io.count == 1) {
			uint32_t v = exit->u.io.data;
			memcpy((uint8_t *)run + off, &v, run->io.size);
		}
		break;
	}
	case PV_EXIT_MMIO:
		if (run->exit_reason != KVM_EXIT_MMIO ||
		    run->mmio.phys_addr != exit->u.mmio.gpa.v ||
		    run->mmio.len != exit->u.mmio.size || run->mmio.len > sizeof(run->mmio.data) ||
		    (run->mmio.is_write != 0) != exit->u.mmio.is_write)
			return PV_EINVAL;
		if (!exit->u.mmio.is_write) {
			uint64_t v = exit->u.mmio.data;
			memcpy(run->mmio.data, &v, run->mmio.len);
		}
		break;
	case PV_EXIT_MSR_READ:
	case PV_EXIT_MSR_WRITE: {
		uint32_t want =
			exit->kind == PV_EXIT_MSR_READ ? KVM_EXIT_X86_RDMSR : KVM_EXIT_X86_WRMSR;
		if (run->exit_reason != want || run->msr.index != exit->u.msr.index)
			return PV_EINVAL;
		/* #GP on the MSR instruction is KVM's job: it then faults at the right RIP. */
		if (is_gp(&exit->inject)) {
			run->msr.error = 1;
			t &= ~PV_KVM_TODO_INJECT;
		} else {
			run->msr.error = 0;
			if (exit->kind == PV_EXIT_MSR_READ)
				run->msr.data = exit->u.msr.value;
		}
		break;
	}
	case PV_EXIT_HYPERCALL:
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != hc_port ||
		    run->io.direction != KVM_EXIT_IO_OUT)
			return PV_EINVAL;
		if (!(t & PV_KVM_TODO_INJECT))
			t |= PV_KVM_TODO_HCALL;
		break;
	default:
		break;
	}
	*todo = t;
	return PV_OK;
}

void pv_kvm_hypercall_from_regs(const struct kvm_regs *regs, const struct kvm_sregs *sregs,
				struct pv_exit *exit)
{
	struct pv_exit_hypercall *h = &exit->u.hypercall;
	memset(&exit->u, 0, sizeof(exit->u));
	exit->kind = PV_EXIT_HYPERCALL;
	h->is_64bit = (sregs->efer & (1ull << 10)) && sregs->cs.l;
	if (h->is_64bit) {
		h->control = regs->rcx;
		h->input = regs->rdx;
		h->output = regs->r8;
	} else {
		h->control = ((regs->rdx & 0xffffffffull) << 32) | (regs->rax & 0xffffffffull);
		h->input = ((regs->rbx & 0xffffffffull) << 32) | (regs->rcx & 0xffffffffull);
		h->output = ((regs->rdi & 0xffffffffull) << 32) | (regs->rsi & 0xffffffffull);
	}
	h->vtl = 0;
}

void pv_kvm_hypercall_set_result(struct kvm_regs *regs, bool is_64bit, uint64_t result)
{
	if (is_64bit) {
		regs->rax = result;
	} else {
		regs->rax = result & 0xffffffffull;
		regs->rdx = result >> 32;
	}
}

void pv_kvm_regs_from_kvm(const struct kvm_regs *in, struct pv_regs *out)
{
	out->gpr[PV_RAX] = in->rax;
	out->gpr[PV_RCX] = in->rcx;
	out->gpr[PV_RDX] = in->rdx;
	out->gpr[PV_RBX] = in->rbx;
	out->gpr[PV_RSP] = in->rsp;
	out->gpr[PV_RBP] = in->rbp;
	out->gpr[PV_RSI] = in->rsi;
	out->gpr[PV_RDI] = in->rdi;
	out->gpr[PV_R8] = in->r8;
	out->gpr[PV_R9] = in->r9;
	out->gpr[PV_R10] = in->r10;
	out->gpr[PV_R11] = in->r11;
	out->gpr[PV_R12] = in->r12;
	out->gpr[PV_R13] = in->r13;
	out->gpr[PV_R14] = in->r14;
	out->gpr[PV_R15] = in->r15;
	out->rip = in->rip;
	out->rflags = in->rflags;
}

void pv_kvm_regs_to_kvm(const struct pv_regs *in, struct kvm_regs *out)
{
	out->rax = in->gpr[PV_RAX];
	out->rcx = in->gpr[PV_RCX];
	out->rdx = in->gpr[PV_RDX];
	out->rbx = in->gpr[PV_RBX];
	out->rsp = in->gpr[PV_RSP];
	out->rbp = in->gpr[PV_RBP];
	out->rsi = in->gpr[PV_RSI];
	out->rdi = in->gpr[PV_RDI];
	out->r8 = in->gpr[PV_R8];
	out->r9 = in->gpr[PV_R9];
	out->r10 = in->gpr[PV_R10];
	out->r11 = in->gpr[PV_R11];
	out->r12 = in->gpr[PV_R12];
	out->r13 = in->gpr[PV_R13];
	out->r14 = in->gpr[PV_R14];
	out->r15 = in->gpr[PV_R15];
	out->rip = in->rip;
	out->rflags = in->rflags;
}

static void seg_from_kvm(const struct kvm_segment *in, struct pv_segment *out)
{
	out->base = in->base;
	out->limit = in->limit;
	out->selector = in->selector;
	out->type = in->type;
	out->present = in->present;
	out->dpl = in->dpl;
	out->db = in->db;
	out->s = in->s;
	out->l = in->l;
	out->g = in->g;
	out->avl = in->avl;
	out->unusable = in->unusable;
}

static void seg_to_kvm(const struct pv_segment *in, struct kvm_segment *out)
{
	memset(out, 0, sizeof(*out));
	out->base = in->base;
	out->limit = in->limit;
	out->selector = in->selector;
	out->type = in->type & 0xf;
	out->present = in->present ? 1 : 0;
	out->dpl = in->dpl & 3;
	out->db = in->db ? 1 : 0;
	out->s = in->s ? 1 : 0;
	out->l = in->l ? 1 : 0;
	out->g = in->g ? 1 : 0;
	out->avl = in->avl ? 1 : 0;
	out->unusable = in->unusable ? 1 : 0;
}

void pv_kvm_sregs_from_kvm(const struct kvm_sregs *in, struct pv_sregs *out)
{
	seg_from_kvm(&in->cs, &out->cs);
	seg_from_kvm(&in->ds, &out->ds);
	seg_from_kvm(&in->es, &out->es);
	seg_from_kvm(&in->fs, &out->fs);
	seg_from_kvm(&in->gs, &out->gs);
	seg_from_kvm(&in->ss, &out->ss);
	seg_from_kvm(&in->tr, &out->tr);
	seg_from_kvm(&in->ldt, &out->ldt);
	out->gdt.base = in->gdt.base;
	out->gdt.limit = in->gdt.limit;
	out->idt.base = in->idt.base;
	out->idt.limit = in->idt.limit;
	out->cr0 = in->cr0;
	out->cr2 = in->cr2;
	out->cr3 = in->cr3;
	out->cr4 = in->cr4;
	out->cr8 = in->cr8;
	out->efer = in->efer;
	out->apic_base = in->apic_base;
}

void pv_kvm_sregs_to_kvm(const struct pv_sregs *in, struct kvm_sregs *out)
{
	seg_to_kvm(&in->cs, &out->cs);
	seg_to_kvm(&in->ds, &out->ds);
	seg_to_kvm(&in->es, &out->es);
	seg_to_kvm(&in->fs, &out->fs);
	seg_to_kvm(&in->gs, &out->gs);
	seg_to_kvm(&in->ss, &out->ss);
	seg_to_kvm(&in->tr, &out->tr);
	seg_to_kvm(&in->ldt, &out->ldt);
	out->gdt.base = in->gdt.base;
	out->gdt.limit = in->gdt.limit;
	out->idt.base = in->idt.base;
	out->idt.limit = in->idt.limit;
	out->cr0 = in->cr0;
	out->cr2 = in->cr2;
	out->cr3 = in->cr3;
	out->cr4 = in->cr4;
	out->cr8 = in->cr8;
	out->efer = in->efer;
	out->apic_base = in->apic_base;
}

size_t pv_kvm_hypercall_code(uint16_t hc_port, uint8_t *buf, size_t cap)
{
	if (!buf || cap < 3 || hc_port > 0xff)
		return 0;
	buf[0] = 0xe6; /* out imm8, al */
	buf[1] = (uint8_t)hc_port;
	buf[2] = 0xc3; /* ret */
	return 3;
}

/* ---- MSR filter ---- */

static int cmp_range(const void *a, const void *b)
{
	const struct pv_msr_range *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first ? 1 : 0;
}

pv_err_t pv_kvm_build_msr_filter(const struct pv_msr_range *ranges, size_t count,
				 struct kvm_msr_filter *filter,
				 uint8_t (*bitmaps)[KVM_MSR_FILTER_MAX_BITMAP_SIZE])
{
	if ((count && !ranges) || !filter || !bitmaps || count > (1u << 20))
		return PV_EINVAL;
	struct pv_msr_range *r = calloc(count + 1, sizeof(*r));
	if (!r)
		return PV_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		if (ranges[i].count == 0 ||
		    (uint64_t)ranges[i].first + ranges[i].count > 0x100000000ull) {
			free(r);
			return PV_EINVAL;
		}
		r[i] = ranges[i];
	}
	r[count].first = HV_MSR_FIRST;
	r[count].count = HV_MSR_COUNT;
	size_t n = count + 1;
	qsort(r, n, sizeof(*r), cmp_range);

	memset(filter, 0, sizeof(*filter));
	filter->flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	size_t w = 0;     /* windows used */
	uint64_t pos = 0; /* next MSR not yet covered */
	for (size_t i = 0; i < n; i++) {
		uint64_t first = r[i].first, end = first + r[i].count;
		if (first < pos)
			first = pos; /* overlap with an earlier range */
		while (first < end) {
			struct kvm_msr_filter_range *cur = w ? &filter->ranges[w - 1] : NULL;
			/* Extend the current window if @first fits in its bitmap. */
			if (!cur || first >= (uint64_t)cur->base + FILTER_BITS) {
				if (w == KVM_MSR_FILTER_MAX_RANGES) {
					free(r);
					return PV_ERANGE;
				}
				cur = &filter->ranges[w];
				memset(bitmaps[w], 0xff, KVM_MSR_FILTER_MAX_BITMAP_SIZE);
				cur->flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
				cur->base = (uint32_t)first;
				cur->nmsrs = 0;
				cur->bitmap = bitmaps[w];
				w++;
			}
			uint64_t win_end = (uint64_t)cur->base + FILTER_BITS;
			uint64_t stop = end < win_end ? end : win_end;
			for (uint64_t m = first; m < stop; m++) {
				uint64_t bit = m - cur->base;
				cur->bitmap[bit / 8] &= (uint8_t) ~(1u << (bit % 8));
			}
			if (stop - cur->base > cur->nmsrs)
				cur->nmsrs = (uint32_t)(stop - cur->base);
			first = stop;
		}
		if (end > pos)
			pos = end;
	}
	free(r);
	return PV_OK;
}

/* ---- CPUID merge ---- */

static bool lib_has_leaf(const struct pv_cpuid_entry *lib, size_t nlib, uint32_t leaf)
{
	for (size_t i = 0; i < nlib; i++)
		if (lib[i].leaf == leaf)
			return true;
	return false;
}

long pv_kvm_merge_cpuid(const struct kvm_cpuid_entry2 *sup, size_t nsup,
			const struct pv_cpuid_entry *lib, size_t nlib, uint32_t apic_id,
			struct kvm_cpuid_entry2 *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < nsup; i++) {
		struct kvm_cpuid_entry2 e = sup[i];
		if (e.function >= 0x40000000u && e.function <= 0x4fffffffu)
			continue; /* KVM's own hypervisor leaves ("KVMKVMKVM") */
		if (lib_has_leaf(lib, nlib, e.function))
			continue;
		if (e.function == 1)
			e.ebx = (e.ebx & 0x00ffffffu) | (apic_id << 24);
		else if (e.function == 0xb || e.function == 0x1f)
			e.edx = apic_id;
		else if (e.function == 0x8000001eu)
			e.eax = apic_id;
		if (n == cap)
			return -1;
		out[n++] = e;
	}
	for (size_t i = 0; i < nlib; i++) {
		if (n == cap)
			return -1;
		struct kvm_cpuid_entry2 e;
		memset(&e, 0, sizeof(e));
		e.function = lib[i].leaf;
		e.index = lib[i].any_subleaf ? 0 : lib[i].subleaf;
		e.flags = lib[i].any_subleaf ? 0 : KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e.eax = lib[i].eax;
		e.ebx = lib[i].ebx;
		e.ecx = lib[i].ecx;
		e.edx = lib[i].edx;
		out[n++] = e;
	}
	return (long)n;
}

void pv_kvm_xmm_from_fpu(const struct kvm_fpu *fpu, uint8_t xmm[16][16])
{
	for (unsigned i = 0; i < 16; i++)
		memcpy(xmm[i], fpu->xmm[i], 16);
}

void pv_kvm_xmm_to_fpu(const uint8_t xmm[16][16], struct kvm_fpu *fpu)
{
	for (unsigned i = 0; i < 16; i++)
		memcpy(fpu->xmm[i], xmm[i], 16);
}
