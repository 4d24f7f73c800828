/* SPDX-License-Identifier: MIT */
/*
 * Find the store instruction behind a KVM MMIO write exit (see kvm_exit.h,
 * pv_kvm_rewind_store). KVM retires a store before it reports the write,
 * so the state at the exit is the state after the instruction; this file
 * works out the state before it. No system calls: unit-tested with a fake
 * memory in tests/kvmport/.
 */
#include "kvm_exit.h"

#include <string.h>

struct trial {
	pv_kvm_ram_read_fn read_ram;
	void *ctx;
	unsigned nwrites;
	uint64_t gpa; /* first write */
	unsigned len;
	uint8_t data[16];
};

static pv_err_t t_read(void *c, uint64_t gpa, void *buf, unsigned len)
{
	struct trial *t = c;
	return t->read_ram(t->ctx, gpa, buf, len); /* MMIO reads fail: not a pure store */
}

static pv_err_t t_write(void *c, uint64_t gpa, const void *buf, unsigned len)
{
	struct trial *t = c;
	if (len > sizeof(t->data))
		return PV_EINVAL;
	if (t->nwrites++ == 0) {
		t->gpa = gpa;
		t->len = len;
		memcpy(t->data, buf, len);
	}
	return PV_OK; /* nothing is written: this is a trial */
}

/* Page-table accessed/dirty updates: KVM made them already; compare only. */
static pv_err_t t_cmpxchg(void *c, uint64_t gpa, unsigned len, void *expected, const void *desired,
			  bool *swapped)
{
	struct trial *t = c;
	uint8_t cur[16];
	(void)desired;
	if (len > sizeof(cur))
		return PV_EINVAL;
	pv_err_t err = t->read_ram(t->ctx, gpa, cur, len);
	if (err)
		return err;
	*swapped = memcmp(cur, expected, len) == 0;
	if (!*swapped)
		memcpy(expected, cur, len);
	return PV_OK;
}

static const struct pv_x86emu_ops trial_ops = {
	.read_mem = t_read,
	.write_mem = t_write,
	.cmpxchg_mem = t_cmpxchg,
};

static uint64_t linear_ip(const struct pv_x86emu_state *st, uint64_t ip)
{
	uint64_t la = st->sregs.cs.base + ip;
	return pv_x86emu_mode(st) == PV_X86_MODE_64 ? la : la & 0xffffffffull;
}

/* Fetch n bytes at linear address la into buf, page by page; valid[i] says
 * whether byte i could be read. */
static void fetch_window(const struct pv_x86emu_state *st, struct trial *t, uint64_t la,
			 uint8_t *buf, bool *valid, unsigned n)
{
	unsigned i = 0;
	while (i < n) {
		uint64_t a = la + i;
		unsigned chunk = (unsigned)(PV_PAGE_SIZE - (a & (PV_PAGE_SIZE - 1)));
		if (chunk > n - i)
			chunk = n - i;
		uint64_t gpa;
		struct pv_x86_fault f;
		bool ok = pv_x86emu_translate(st, &trial_ops, t, a, PV_X86_ACC_FETCH, &gpa, &f) ==
				  PV_OK &&
			  t->read_ram(t->ctx, gpa, buf + i, chunk) == PV_OK;
		for (unsigned j = 0; j < chunk; j++)
			valid[i + j] = ok;
		i += chunk;
	}
}

static bool is_prefix(uint8_t b, enum pv_x86_mode mode)
{
	switch (b) {
	case 0x26:
	case 0x2e:
	case 0x36:
	case 0x3e:
	case 0x64:
	case 0x65:
	case 0x66:
	case 0x67:
	case 0xf0:
	case 0xf2:
	case 0xf3:
		return true;
	default:
		return mode == PV_X86_MODE_64 && (b & 0xf0) == 0x40; /* REX */
	}
}

static bool is_string_store(const struct pv_x86_insn *in)
{
	return in->op == PV_X86_OP_MOVS || in->op == PV_X86_OP_STOS;
}

static uint64_t addr_mask(unsigned addrsize)
{
	return addrsize == 8 ? ~0ull : addrsize == 4 ? 0xffffffffull : 0xffffull;
}

/* Write @val into the low @addrsize bytes of *reg as the CPU does for an
 * address-size register update (32-bit writes zero-extend). */
static void set_areg(uint64_t *reg, unsigned addrsize, uint64_t val)
{
	if (addrsize == 8)
		*reg = val;
	else if (addrsize == 4)
		*reg = val & 0xffffffffull;
	else
		*reg = (*reg & ~0xffffull) | (val & 0xffffull);
}

static bool first_write_matches(const struct trial *t, uint64_t gpa, unsigned len,
				const uint8_t *data)
{
	if (t->nwrites == 0 || t->gpa != gpa)
		return false;
	/* KVM reports at most 8 bytes per exit: a 16-byte store is two exits. */
	if (!(t->len == len || (len == 8 && t->len > 8)))
		return false;
	return memcmp(t->data, data, len) == 0;
}

static bool same_regs(const struct pv_regs *a, const struct pv_regs *b)
{
	if (a->rip != b->rip || a->rflags != b->rflags)
		return false;
	for (unsigned i = 0; i < PV_GPR_COUNT; i++)
		if (a->gpr[i] != b->gpr[i])
			return false;
	return true;
}

/* Try the instruction decoded at post->rip - back; fill *pre on a match. */
static bool try_candidate(const struct pv_x86emu_state *post, const uint8_t *bytes, size_t avail,
			  unsigned back, uint64_t gpa, unsigned len, const uint8_t *data,
			  struct trial *t, struct pv_x86emu_state *pre)
{
	enum pv_x86_mode mode = pv_x86emu_mode(post);
	struct pv_x86_insn in;
	if (pv_x86emu_decode(bytes, avail, mode, &in) != PV_OK)
		return false;
	/* (F3/F2 are also mandatory prefixes of SSE moves: REP only for strings.) */
	bool rep = is_string_store(&in) && (in.prefixes & (PV_X86_PFX_REP | PV_X86_PFX_REPNE));
	/* KVM retires a store before reporting it; a REP string store in
	 * progress keeps RIP on itself with the iteration retired. */
	if (back ? in.len != back : !rep)
		return false;

	struct pv_x86emu_state st = *post;
	st.regs.rip = post->regs.rip - back;
	if (mode != PV_X86_MODE_64)
		st.regs.rip &= 0xffffffffull;
	if (is_string_store(&in)) {
		/* Undo one iteration: RDI (and RSI) step back, RCX gains one. */
		uint64_t m = addr_mask(in.addrsize);
		uint64_t step = in.opsize;
		bool down = (post->regs.rflags & PV_RFLAGS_DF) != 0;
		uint64_t di = post->regs.gpr[PV_RDI] & m, si = post->regs.gpr[PV_RSI] & m;
		set_areg(&st.regs.gpr[PV_RDI], in.addrsize, down ? di + step : di - step);
		if (in.op == PV_X86_OP_MOVS)
			set_areg(&st.regs.gpr[PV_RSI], in.addrsize, down ? si + step : si - step);
		if (rep) {
			uint64_t cx = post->regs.gpr[PV_RCX] & m;
			if (back && cx != 0)
				return false; /* KVM leaves RIP on a REP until the count ends */
			set_areg(&st.regs.gpr[PV_RCX], in.addrsize, cx + 1);
		}
	}
	/* Run it once on the candidate state, capturing (not making) its writes. */
	struct pv_x86emu_state run = st;
	if (rep)
		set_areg(&run.regs.gpr[PV_RCX], in.addrsize, 1);
	struct pv_x86_fault f;
	t->nwrites = 0;
	if (pv_x86emu_execute(&run, &in, &trial_ops, t, &f) != PV_OK)
		return false;
	if (!first_write_matches(t, gpa, len, data))
		return false;
	if (is_string_store(&in)) {
		if (run.regs.gpr[PV_RDI] != post->regs.gpr[PV_RDI] ||
		    run.regs.gpr[PV_RSI] != post->regs.gpr[PV_RSI])
			return false;
		if (back && run.regs.rip != post->regs.rip)
			return false;
	} else if (!same_regs(&run.regs, &post->regs)) {
		/* (A 16-byte or page-crossing store may be several write calls.) */
		return false;
	}
	*pre = st;
	return true;
}

pv_err_t pv_kvm_rewind_store(const struct pv_x86emu_state *post, uint64_t gpa, unsigned len,
			     const uint8_t *data, pv_kvm_ram_read_fn read_ram, void *ctx,
			     struct pv_x86emu_state *pre)
{
	if (!post || !data || !read_ram || !pre || len == 0 || len > 8)
		return PV_EINVAL;
	struct trial t = {.read_ram = read_ram, .ctx = ctx};
	/* Bytes [rip - 15, rip + 15): candidates end at rip, or start there
	 * (a REP string store KVM has not finished keeps RIP on itself). */
	enum {
		BACK = PV_X86_MAX_INSN_LEN,
		N = 2 * PV_X86_MAX_INSN_LEN
	};
	uint8_t buf[N];
	bool valid[N];
	uint64_t rip = post->regs.rip;
	unsigned back_max = rip < BACK ? (unsigned)rip : BACK;
	fetch_window(post, &t, linear_ip(post, rip - back_max), buf + (BACK - back_max),
		     valid + (BACK - back_max), back_max + PV_X86_MAX_INSN_LEN);
	for (unsigned i = 0; i < BACK - back_max; i++)
		valid[i] = false;

	/* A REP string store in progress: the instruction is at RIP itself. */
	size_t avail = 0;
	while (avail < PV_X86_MAX_INSN_LEN && valid[BACK + avail])
		avail++;
	if (avail && try_candidate(post, buf + BACK, avail, 0, gpa, len, data, &t, pre))
		return PV_OK;
	/* Otherwise the shortest instruction that ends at RIP and explains the
	 * write, extended over the prefix bytes before it that still explain it
	 * (a REP whose last iteration this was, a segment override...). */
	for (unsigned back = 1; back <= back_max; back++) {
		bool ok = true;
		for (unsigned i = BACK - back; i < BACK; i++)
			ok = ok && valid[i];
		if (!ok ||
		    !try_candidate(post, buf + BACK - back, back, back, gpa, len, data, &t, pre))
			continue;
		struct pv_x86emu_state longer;
		for (unsigned b = back + 1; b <= back_max && valid[BACK - b] &&
					    is_prefix(buf[BACK - b], pv_x86emu_mode(post));
		     b++) {
			if (try_candidate(post, buf + BACK - b, b, b, gpa, len, data, &t, &longer))
				*pre = longer;
		}
		return PV_OK;
	}
	return PV_ENOENT;
}

pv_err_t pv_kvm_decode_at(const struct pv_x86emu_state *st, pv_kvm_ram_read_fn read_ram, void *ctx,
			  struct pv_x86_insn *out)
{
	if (!st || !read_ram || !out)
		return PV_EINVAL;
	struct trial t = {.read_ram = read_ram, .ctx = ctx};
	uint8_t buf[PV_X86_MAX_INSN_LEN];
	bool valid[PV_X86_MAX_INSN_LEN];
	fetch_window(st, &t, linear_ip(st, st->regs.rip), buf, valid, PV_X86_MAX_INSN_LEN);
	size_t avail = 0;
	while (avail < PV_X86_MAX_INSN_LEN && valid[avail])
		avail++;
	if (!avail)
		return PV_EFAULT;
	return pv_x86emu_decode(buf, avail, pv_x86emu_mode(st), out);
}
