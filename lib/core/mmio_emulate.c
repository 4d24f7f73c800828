/* SPDX-License-Identifier: MIT */
/*
 * MMIO exits without a decoded access (size 0): fetch the instruction at
 * CS:RIP (unless the exit carries its bytes), decode and execute it with the
 * x86 emulator, and route its memory accesses to RAM through the checked
 * accessors or to the registered MMIO handlers. The emulator computes the
 * register results; we write them back, or inject the fault it reports.
 */
#include "internal.h"
#include "paravisor/x86emu.h"
#include "util.h"

struct emu_ctx {
	struct pv_vcpu *vcpu;
	/* The last MMIO read of this instruction: a read-modify-write's
	 * compare-exchange reuses it, so the device sees one read, as from
	 * the CPU, not two (a read-to-clear register would lose state). */
	bool have_read;
	unsigned read_len;
	uint64_t read_gpa;
	uint8_t read_val[16];
};

/* Split an access into naturally sized handler calls (1, 2, 4 or 8 bytes). */
static unsigned piece_size(uint64_t gpa, unsigned left)
{
	unsigned n = 8;
	while (n > left || (gpa & (n - 1)))
		n >>= 1;
	return n;
}

static void mmio_access(struct pv_vcpu *vcpu, uint64_t gpa, uint8_t *buf, unsigned len,
			bool is_write)
{
	struct pv_stats *st = &vcpu->stats;
	const struct pv_range_table *t = pv_atomic_load_acquire(&vcpu->part->mmio.current);
	while (len) {
		unsigned n = piece_size(gpa, len);
		uint64_t mask = n == 8 ? ~0ull : (1ull << (n * 8u)) - 1u;
		uint64_t v = mask;
		const struct pv_range_entry *e = pv_range_find(t, gpa);
		if (is_write)
			pv_memcpy(&v, buf, n);
		if (!e) {
			pv_counter_inc(is_write ? &st->mmio_unhandled_writes :
						  &st->mmio_unhandled_reads);
			v = mask;
		} else if (e->fn.mmio(e->ctx, vcpu, gpa - e->first, (uint8_t)n, is_write, &v)) {
			pv_counter_inc(&st->handler_errors);
			v = mask;
		}
		if (!is_write)
			pv_memcpy(buf, &v, n);
		buf += n;
		gpa += n;
		len -= n;
	}
}

static bool is_ram(struct pv_vcpu *vcpu, uint64_t gpa)
{
	const struct pv_mem_slot *s = pv_mem_find_slot(vcpu->part, gpa);
	return s && s->kind == PV_MEM_RAM;
}

static pv_err_t emu_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	struct emu_ctx *ec = ctx;
	struct pv_vcpu *vcpu = ec->vcpu;
	if (is_ram(vcpu, gpa))
		return pv_mem_read(vcpu->part, PV_ACCESS_VTL0, pv_gpa(gpa), buf, len);
	if (len > sizeof(ec->read_val))
		return PV_EINVAL;
	mmio_access(vcpu, gpa, buf, len, false);
	ec->have_read = true;
	ec->read_gpa = gpa;
	ec->read_len = len;
	pv_memcpy(ec->read_val, buf, len);
	return PV_OK;
}

static pv_err_t emu_write(void *ctx, uint64_t gpa, const void *buf, unsigned len)
{
	struct pv_vcpu *vcpu = ((struct emu_ctx *)ctx)->vcpu;
	if (is_ram(vcpu, gpa))
		return pv_mem_write(vcpu->part, PV_ACCESS_VTL0, pv_gpa(gpa), buf, len);
	uint8_t tmp[16];
	if (len > sizeof(tmp))
		return PV_EINVAL;
	pv_memcpy(tmp, buf, len);
	mmio_access(vcpu, gpa, tmp, len, true);
	return PV_OK;
}

static pv_err_t emu_cmpxchg(void *ctx, uint64_t gpa, unsigned len, void *expected,
			    const void *desired, bool *swapped)
{
	struct emu_ctx *ec = ctx;
	struct pv_vcpu *vcpu = ec->vcpu;
	if (len > 16)
		return PV_EINVAL;
	if (is_ram(vcpu, gpa))
		return pv_mem_cmpxchg(vcpu->part, PV_ACCESS_VTL0, pv_gpa(gpa), len, expected,
				      desired, swapped);
	/* A device register has no atomicity of its own. Model the CPU's locked
	 * bus cycle: one read (reused if the instruction just read it), then
	 * one write, of the new value or, when the comparison fails, of the
	 * old one, as CMPXCHG does. */
	uint8_t cur[16];
	if (ec->have_read && ec->read_gpa == gpa && ec->read_len == len)
		pv_memcpy(cur, ec->read_val, len);
	else
		mmio_access(vcpu, gpa, cur, len, false);
	ec->have_read = false;
	*swapped = pv_memcmp(cur, expected, len) == 0;
	if (*swapped)
		pv_memcpy(cur, desired, len);
	else
		pv_memcpy(expected, cur, len);
	mmio_access(vcpu, gpa, cur, len, true);
	return PV_OK;
}

static const struct pv_x86emu_ops emu_ops = {
	.read_mem = emu_read,
	.write_mem = emu_write,
	.cmpxchg_mem = emu_cmpxchg,
};

/* Fetch up to 15 instruction bytes at CS:RIP, page by page. */
static pv_err_t fetch(struct pv_x86emu_state *st, struct emu_ctx *ctx, uint8_t *bytes, size_t *len,
		      struct pv_x86_fault *fault)
{
	uint64_t la = st->sregs.cs.base + st->regs.rip;
	if (pv_x86emu_mode(st) != PV_X86_MODE_64)
		la &= 0xFFFFFFFFu;
	size_t got = 0;
	while (got < PV_X86_MAX_INSN_LEN) {
		uint64_t gpa;
		pv_err_t err = pv_x86emu_translate(st, &emu_ops, ctx, la + got, PV_X86_ACC_FETCH,
						   &gpa, fault);
		if (err)
			return got ? PV_OK : err; /* decode says if the first page was enough */
		size_t n = PV_MIN(PV_X86_MAX_INSN_LEN - got,
				  PV_PAGE_SIZE - (gpa & (PV_PAGE_SIZE - 1)));
		err = emu_read(ctx, gpa, bytes + got, (unsigned)n);
		if (err)
			return got ? PV_OK : err;
		got += n;
	}
	*len = got;
	return PV_OK;
}

static bool uses_xmm(const struct pv_x86_insn *insn)
{
	return insn->op >= PV_X86_OP_SSE_LOAD && insn->op <= PV_X86_OP_MOVD_FROMX;
}

static void inject_fault(struct pv_exit *exit, const struct pv_x86_fault *f)
{
	exit->inject = (struct pv_event){
		.kind = PV_EVENT_EXCEPTION,
		.vector = f->vector,
		.has_error_code = f->has_error_code,
		.error_code = f->error_code,
		.cr2 = f->address,
	};
}

void pv_mmio_emulate(struct pv_vcpu *vcpu, struct pv_exit *exit)
{
	const struct pv_port_ops *port = vcpu->part->port;
	struct pv_exit_mmio *m = &exit->u.mmio;
	struct emu_ctx ctx = {.vcpu = vcpu};
	struct pv_x86emu_state st;
	struct pv_x86_fault fault = {.vector = PV_VEC_UD};
	struct pv_x86_insn insn;
	uint8_t bytes[PV_X86_MAX_INSN_LEN];
	size_t len = PV_MIN((size_t)m->insn_len, sizeof(bytes));
	pv_err_t err;

	pv_memset(&st, 0, sizeof(st));
	if (port->get_regs(vcpu->port_data, &st.regs) ||
	    port->get_sregs(vcpu->port_data, &st.sregs))
		goto port_failed;
	pv_memcpy(bytes, m->insn, len);
	enum pv_x86_mode mode = pv_x86emu_mode(&st);
	err = len ? pv_x86emu_decode(bytes, len, mode, &insn) : PV_ERANGE;
	if (err == PV_ERANGE) { /* no or too few bytes from the port */
		err = fetch(&st, &ctx, bytes, &len, &fault);
		if (!err)
			err = pv_x86emu_decode(bytes, len, mode, &insn);
		if (err == PV_ERANGE) /* the bytes run into an unfetchable page */
			err = PV_EFAULTINJ;
	}
	if (err == PV_EBADMSG) {
		fault = (struct pv_x86_fault){.vector = PV_VEC_GP, .has_error_code = true};
		err = PV_EFAULTINJ;
	}
	if (!err && uses_xmm(&insn)) {
		if (!port->get_xmm || !port->set_xmm)
			err = PV_ENOTSUP; /* cannot see the guest's XMM registers */
		else if (port->get_xmm(vcpu->port_data, st.xmm))
			goto port_failed;
	}
	if (!err)
		err = pv_x86emu_execute(&st, &insn, &emu_ops, &ctx, &fault);
	if (!err) {
		/* XMM first: if it fails, RIP has not moved and the fault is precise. */
		if (uses_xmm(&insn) && port->set_xmm(vcpu->port_data, (const uint8_t(*)[16])st.xmm))
			goto port_failed;
		if (port->set_regs(vcpu->port_data, &st.regs))
			goto port_failed;
		pv_counter_inc(&vcpu->stats.mmio_emulated);
		return;
	}
	if (err == PV_ENOTSUP)
		fault = (struct pv_x86_fault){.vector = PV_VEC_UD};
	else if (err != PV_EFAULTINJ) /* a RAM access the guest may not make, or a lost race */
		fault = (struct pv_x86_fault){.vector = PV_VEC_GP, .has_error_code = true};
	pv_log(vcpu->part, PV_LOG_DEBUG, "core", "vCPU %u: MMIO emulation at rip %llx: %s",
	       vcpu->index, (unsigned long long)st.regs.rip, pv_strerror(err));
	pv_counter_inc(&vcpu->stats.mmio_emulation_faults);
	inject_fault(exit, &fault);
	return;
port_failed:
	pv_log(vcpu->part, PV_LOG_ERROR, "core",
	       "vCPU %u: register access failed in MMIO emulation", vcpu->index);
	pv_counter_inc(&vcpu->stats.mmio_emulation_faults);
	inject_fault(exit, &(struct pv_x86_fault){.vector = PV_VEC_GP, .has_error_code = true});
}
