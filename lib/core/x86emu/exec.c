/* SPDX-License-Identifier: MIT */
/*
 * x86 emulator: executes a decoded instruction (decode.c) against the vCPU
 * state, reaching guest memory only through the pv_x86emu_ops callbacks.
 * Arithmetic flags follow the Intel SDM / AMD APM definitions; flags the
 * manuals call undefined are left unchanged (AND/OR/XOR/TEST clear AF).
 */
#include "x86emu_internal.h"

#define FL_CF ((uint64_t)PV_RFLAGS_CF)
#define FL_PF ((uint64_t)PV_RFLAGS_PF)
#define FL_AF ((uint64_t)PV_RFLAGS_AF)
#define FL_ZF ((uint64_t)PV_RFLAGS_ZF)
#define FL_SF ((uint64_t)PV_RFLAGS_SF)
#define FL_DF ((uint64_t)PV_RFLAGS_DF)
#define FL_OF ((uint64_t)PV_RFLAGS_OF)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define LOCK_MAX_RETRIES 1024

struct emu {
	struct pv_x86emu_state *st;
	const struct pv_x86_insn *in;
	const struct pv_x86emu_ops *ops;
	void *ctx;
	struct pv_x86_fault *fault;
	unsigned mode;
	uint64_t next_rip;
};

/* A translated memory operand: one or two page-bounded chunks. */
struct maccess {
	uint64_t gpa[2];
	unsigned n[2];
	unsigned cnt;
	unsigned size;
};

/* ---------------------------------------------------------------- flags */

static uint64_t parity_flag(uint64_t v)
{
	uint8_t b = (uint8_t)v;
	b ^= (uint8_t)(b >> 4);
	b ^= (uint8_t)(b >> 2);
	b ^= (uint8_t)(b >> 1);
	return (b & 1) ? 0 : FL_PF;
}

static uint64_t szp(uint64_t r, unsigned size)
{
	uint64_t f = parity_flag(r);
	if ((r & x86_size_mask(size)) == 0)
		f |= FL_ZF;
	if ((r >> (size * 8 - 1)) & 1)
		f |= FL_SF;
	return f;
}

static uint64_t msb(uint64_t v, unsigned size)
{
	return (v >> (size * 8 - 1)) & 1;
}

/* Flags of a + b + c (c = carry in). */
static uint64_t add_flags(uint64_t a, uint64_t b, uint64_t r, unsigned size)
{
	uint64_t f = szp(r, size);
	if (msb((a & b) | ((a | b) & ~r), size))
		f |= FL_CF;
	if (msb((a ^ r) & (b ^ r), size))
		f |= FL_OF;
	if ((a ^ b ^ r) & 0x10)
		f |= FL_AF;
	return f;
}

/* Flags of a - b - c. */
static uint64_t sub_flags(uint64_t a, uint64_t b, uint64_t r, unsigned size)
{
	uint64_t f = szp(r, size);
	if (msb((~a & b) | (~(a ^ b) & r), size))
		f |= FL_CF;
	if (msb((a ^ b) & (a ^ r), size))
		f |= FL_OF;
	if ((a ^ b ^ r) & 0x10)
		f |= FL_AF;
	return f;
}

static bool cond(uint64_t fl, unsigned cc)
{
	bool r;
	switch (cc >> 1) {
	case 0:
		r = fl & FL_OF;
		break;
	case 1:
		r = fl & FL_CF;
		break;
	case 2:
		r = fl & FL_ZF;
		break;
	case 3:
		r = fl & (FL_CF | FL_ZF);
		break;
	case 4:
		r = fl & FL_SF;
		break;
	case 5:
		r = fl & FL_PF;
		break;
	case 6:
		r = !(fl & FL_SF) != !(fl & FL_OF);
		break;
	default:
		r = (fl & FL_ZF) || (!(fl & FL_SF) != !(fl & FL_OF));
		break;
	}
	return (cc & 1) ? !r : r;
}

/*
 * Compute op(old, src) at @size. Updates *fl (arithmetic flags only).
 * @bit is the bit number for BT*. Returns the new destination value.
 */
static uint64_t compute(unsigned op, unsigned size, uint64_t old, uint64_t src, unsigned bit,
			uint64_t *fl)
{
	const uint64_t m = x86_size_mask(size);
	uint64_t a = old & m, b = src & m, r, c = (*fl & FL_CF) ? 1 : 0;
	uint64_t keep = *fl & ~FL_ARITH;
	switch (op) {
	case PV_X86_OP_ADD:
	case PV_X86_OP_XADD:
		r = (a + b) & m;
		*fl = keep | add_flags(a, b, r, size);
		return r;
	case PV_X86_OP_ADC:
		r = (a + b + c) & m;
		*fl = keep | add_flags(a, b, r, size);
		return r;
	case PV_X86_OP_SUB:
	case PV_X86_OP_CMP:
		r = (a - b) & m;
		*fl = keep | sub_flags(a, b, r, size);
		return r;
	case PV_X86_OP_SBB:
		r = (a - b - c) & m;
		*fl = keep | sub_flags(a, b, r, size);
		return r;
	case PV_X86_OP_AND:
	case PV_X86_OP_TEST:
		r = a & b;
		*fl = keep | szp(r, size);
		return r;
	case PV_X86_OP_OR:
		r = a | b;
		*fl = keep | szp(r, size);
		return r;
	case PV_X86_OP_XOR:
		r = a ^ b;
		*fl = keep | szp(r, size);
		return r;
	case PV_X86_OP_INC:
		r = (a + 1) & m;
		*fl = keep | (*fl & FL_CF) | (add_flags(a, 1, r, size) & ~FL_CF);
		return r;
	case PV_X86_OP_DEC:
		r = (a - 1) & m;
		*fl = keep | (*fl & FL_CF) | (sub_flags(a, 1, r, size) & ~FL_CF);
		return r;
	case PV_X86_OP_NEG:
		r = (0 - a) & m;
		*fl = keep | sub_flags(0, a, r, size);
		return r;
	case PV_X86_OP_NOT:
		return ~a & m;
	case PV_X86_OP_BT:
	case PV_X86_OP_BTS:
	case PV_X86_OP_BTR:
	case PV_X86_OP_BTC: {
		uint64_t mask = 1ull << bit;
		/* Only CF is defined; OF/SF/AF/PF are undefined (left unchanged), ZF unaffected. */
		*fl = (*fl & ~FL_CF) | ((a & mask) ? FL_CF : 0);
		if (op == PV_X86_OP_BTS)
			return a | mask;
		if (op == PV_X86_OP_BTR)
			return a & ~mask;
		if (op == PV_X86_OP_BTC)
			return a ^ mask;
		return a;
	}
	case PV_X86_OP_XCHG:
	default:
		return b;
	}
}

static bool op_writes(unsigned op)
{
	return op != PV_X86_OP_CMP && op != PV_X86_OP_TEST && op != PV_X86_OP_BT;
}

/* ------------------------------------------------------------ registers */

static uint64_t gpr_get(const struct emu *em, unsigned reg, unsigned size)
{
	if (size == 1 && !em->in->rex && reg >= 4 && reg < 8)
		return (em->st->regs.gpr[reg - 4] >> 8) & 0xff;
	return em->st->regs.gpr[reg & 15] & x86_size_mask(size);
}

static void gpr_set(struct emu *em, unsigned reg, unsigned size, uint64_t v)
{
	uint64_t *g;
	if (size == 1 && !em->in->rex && reg >= 4 && reg < 8) {
		g = &em->st->regs.gpr[reg - 4];
		*g = (*g & ~0xff00ull) | ((v & 0xff) << 8);
		return;
	}
	g = &em->st->regs.gpr[reg & 15];
	switch (size) {
	case 1:
		*g = (*g & ~0xffull) | (v & 0xff);
		break;
	case 2:
		*g = (*g & ~0xffffull) | (v & 0xffff);
		break;
	case 4:
		*g = v & 0xffffffffull;
		break;
	default:
		*g = v;
		break;
	}
}

/* Write an address-sized register (string pointers and counts). */
static void areg_set(struct emu *em, unsigned reg, uint64_t v)
{
	uint64_t *g = &em->st->regs.gpr[reg];
	if (em->in->addrsize == 2)
		*g = (*g & ~0xffffull) | (v & 0xffff);
	else if (em->in->addrsize == 4)
		*g = v & 0xffffffffull;
	else
		*g = v;
}

/* ----------------------------------------------------- memory + segments */

static pv_err_t inject(struct emu *em, uint8_t vec, uint32_t ec)
{
	x86_set_fault(em->fault, vec, vec == PV_X86_VEC_GP || vec == PV_X86_VEC_SS, ec, 0);
	return PV_EFAULTINJ;
}

static const struct pv_segment *seg_ptr(const struct pv_x86emu_state *st, unsigned seg)
{
	switch (seg) {
	case PV_X86_SEG_ES:
		return &st->sregs.es;
	case PV_X86_SEG_CS:
		return &st->sregs.cs;
	case PV_X86_SEG_SS:
		return &st->sregs.ss;
	case PV_X86_SEG_FS:
		return &st->sregs.fs;
	case PV_X86_SEG_GS:
		return &st->sregs.gs;
	default:
		return &st->sregs.ds;
	}
}

/* Segmentation: offset -> linear address, with limit/type checks outside 64-bit mode. */
static pv_err_t seg_la(struct emu *em, unsigned seg, uint64_t off, unsigned size, unsigned acc,
		       uint64_t *la)
{
	const struct pv_x86emu_state *st = em->st;
	const uint8_t vec = seg == PV_X86_SEG_SS ? PV_X86_VEC_SS : PV_X86_VEC_GP;
	const struct pv_segment *s = seg_ptr(st, seg);
	if (em->mode == PV_X86_MODE_64) {
		uint64_t base = (seg == PV_X86_SEG_FS || seg == PV_X86_SEG_GS) ? s->base : 0;
		uint64_t a = base + off;
		unsigned bits = (st->sregs.cr4 & X86_CR4_LA57) ? 57 : 48;
		uint64_t first = a >> (bits - 1), last = (a + size - 1) >> (bits - 1);
		uint64_t all = ~0ull >> (bits - 1);
		if ((first != 0 && first != all) || (last != 0 && last != all))
			return inject(em, vec, 0);
		*la = a;
		return PV_OK;
	}
	off &= 0xffffffffull;
	uint64_t end = off + size - 1;
	const bool write = (acc & PV_X86_ACC_WRITE) != 0;
	const bool fetch = (acc & PV_X86_ACC_FETCH) != 0;
	if ((st->sregs.cr0 & X86_CR0_PE) && !(st->regs.rflags & X86_RFLAGS_VM)) {
		if (s->unusable || !s->present || !s->s)
			return inject(em, vec, 0);
		if (s->type & 8) {
			if (write || (!fetch && !(s->type & 2)))
				return inject(em, vec, 0);
		} else if (write && !(s->type & 2)) {
			return inject(em, vec, 0);
		}
		if (!(s->type & 8) && (s->type & 4)) {
			uint64_t upper = s->db ? 0xffffffffull : 0xffffull;
			if (off <= s->limit || end > upper)
				return inject(em, vec, 0);
		} else if (end > s->limit) {
			return inject(em, vec, 0);
		}
	} else if (end > s->limit) {
		return inject(em, vec, 0);
	}
	*la = (s->base + off) & 0xffffffffull;
	return PV_OK;
}

static pv_err_t prep(struct emu *em, unsigned seg, uint64_t off, unsigned size, unsigned acc,
		     bool align16, struct maccess *m)
{
	uint64_t la;
	pv_err_t e = seg_la(em, seg, off, size, acc, &la);
	if (e != PV_OK)
		return e;
	if (align16 && (la & 15))
		return inject(em, PV_X86_VEC_GP, 0);
	unsigned first = X86_PAGE_SIZE - (unsigned)(la & (X86_PAGE_SIZE - 1));
	m->size = size;
	m->cnt = size > first ? 2 : 1;
	m->n[0] = size > first ? first : size;
	m->n[1] = size - m->n[0];
	e = pv_x86emu_translate(em->st, em->ops, em->ctx, la, acc, &m->gpa[0], em->fault);
	if (e != PV_OK)
		return e;
	if (m->cnt == 2) {
		uint64_t la2 = la + m->n[0];
		if (em->mode != PV_X86_MODE_64)
			la2 &= 0xffffffffull;
		e = pv_x86emu_translate(em->st, em->ops, em->ctx, la2, acc, &m->gpa[1], em->fault);
	}
	return e;
}

static pv_err_t m_read(struct emu *em, const struct maccess *m, uint8_t *buf)
{
	pv_err_t e = em->ops->read_mem(em->ctx, m->gpa[0], buf, m->n[0]);
	if (e == PV_OK && m->cnt == 2)
		e = em->ops->read_mem(em->ctx, m->gpa[1], buf + m->n[0], m->n[1]);
	return e;
}

static pv_err_t m_write(struct emu *em, const struct maccess *m, const uint8_t *buf)
{
	pv_err_t e = em->ops->write_mem(em->ctx, m->gpa[0], buf, m->n[0]);
	if (e == PV_OK && m->cnt == 2)
		e = em->ops->write_mem(em->ctx, m->gpa[1], buf + m->n[0], m->n[1]);
	return e;
}

static bool bytes_eq(const uint8_t *a, const uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Compare-and-swap on a memory operand. Atomic through cmpxchg_mem when the
 * operand lies in one page; a page-splitting operand is updated read/compare/
 * write (no atomicity across two GPAs). On failure @expected gets the
 * current contents. */
static pv_err_t m_cmpxchg(struct emu *em, const struct maccess *m, uint8_t *expected,
			  const uint8_t *desired, bool *swapped)
{
	if (m->cnt == 1)
		return em->ops->cmpxchg_mem(em->ctx, m->gpa[0], m->size, expected, desired,
					    swapped);
	uint8_t cur[16];
	pv_err_t e = m_read(em, m, cur);
	if (e != PV_OK)
		return e;
	if (!bytes_eq(cur, expected, m->size)) {
		x86_bytecopy(expected, cur, m->size);
		*swapped = false;
		return PV_OK;
	}
	*swapped = true;
	return m_write(em, m, desired);
}

static uint64_t eff_addr(const struct emu *em)
{
	const struct pv_x86_insn *in = em->in;
	uint64_t a = (uint64_t)in->disp;
	if (in->base == PV_X86_REG_RIP)
		a += em->next_rip;
	else if (in->base != PV_X86_REG_NONE)
		a += em->st->regs.gpr[in->base & 15];
	if (in->index != PV_X86_REG_NONE)
		a += em->st->regs.gpr[in->index & 15] * in->scale;
	return a & x86_size_mask(in->addrsize);
}

static pv_err_t mem_read_val(struct emu *em, unsigned seg, uint64_t off, unsigned size, uint64_t *v)
{
	struct maccess m;
	uint8_t b[8];
	pv_err_t e = prep(em, seg, off, size, PV_X86_ACC_READ, false, &m);
	if (e == PV_OK)
		e = m_read(em, &m, b);
	if (e == PV_OK)
		*v = x86_load_le(b, size);
	return e;
}

static pv_err_t mem_write_val(struct emu *em, unsigned seg, uint64_t off, unsigned size, uint64_t v)
{
	struct maccess m;
	uint8_t b[8];
	x86_store_le(b, v, size);
	pv_err_t e = prep(em, seg, off, size, PV_X86_ACC_WRITE, false, &m);
	if (e == PV_OK)
		e = m_write(em, &m, b);
	return e;
}

/* Read the r/m operand (register or memory) at @size. */
static pv_err_t rm_read(struct emu *em, unsigned size, uint64_t *v)
{
	if (!em->in->mem) {
		*v = gpr_get(em, em->in->rm, size);
		return PV_OK;
	}
	return mem_read_val(em, em->in->seg, eff_addr(em), size, v);
}

static pv_err_t rm_write(struct emu *em, unsigned size, uint64_t v)
{
	if (!em->in->mem) {
		gpr_set(em, em->in->rm, size, v);
		return PV_OK;
	}
	return mem_write_val(em, em->in->seg, eff_addr(em), size, v);
}

/* ------------------------------------------------------------- executors */

/*
 * Read-modify-write of a destination (register @reg, or memory at seg:off)
 * with op(old, src). LOCK (or XCHG) makes the memory update atomic through
 * cmpxchg_mem. *@old_out receives the old value (for XCHG/XADD).
 */
static pv_err_t rmw(struct emu *em, bool dst_mem, unsigned reg, unsigned seg, uint64_t off,
		    unsigned op, unsigned size, uint64_t src, unsigned bit, uint64_t *old_out)
{
	uint64_t fl = em->st->regs.rflags;
	const bool writes = op_writes(op);
	if (!dst_mem) {
		uint64_t old = gpr_get(em, reg, size);
		uint64_t r = compute(op, size, old, src, bit, &fl);
		if (writes)
			gpr_set(em, reg, size, r);
		em->st->regs.rflags = fl;
		*old_out = old;
		return PV_OK;
	}
	struct maccess m;
	uint8_t cur[8], nw[8];
	pv_err_t e =
		prep(em, seg, off, size, writes ? PV_X86_ACC_WRITE : PV_X86_ACC_READ, false, &m);
	if (e != PV_OK)
		return e;
	e = m_read(em, &m, cur);
	if (e != PV_OK)
		return e;
	const bool atomic =
		writes && ((em->in->prefixes & PV_X86_PFX_LOCK) || op == PV_X86_OP_XCHG);
	for (unsigned tries = 0;; tries++) {
		uint64_t old = x86_load_le(cur, size);
		fl = em->st->regs.rflags;
		uint64_t r = compute(op, size, old, src, bit, &fl);
		*old_out = old;
		if (!writes)
			break;
		x86_store_le(nw, r, size);
		if (!atomic) {
			e = m_write(em, &m, nw);
			if (e != PV_OK)
				return e;
			break;
		}
		if (tries >= LOCK_MAX_RETRIES)
			return PV_EBUSY;
		bool swapped = false;
		e = m_cmpxchg(em, &m, cur, nw, &swapped);
		if (e != PV_OK)
			return e;
		if (swapped)
			break;
	}
	em->st->regs.rflags = fl;
	return PV_OK;
}

static pv_err_t exec_alu(struct emu *em)
{
	const struct pv_x86_insn *in = em->in;
	const unsigned size = in->opsize;
	uint64_t src = 0, old;
	unsigned bit = 0;
	bool dst_mem = false;
	unsigned dreg = 0;
	uint64_t off = 0;
	pv_err_t e;

	switch (in->form) {
	case PV_X86_FORM_RM_REG:
		src = gpr_get(em, in->reg, size);
		break;
	case PV_X86_FORM_REG_RM:
		e = rm_read(em, size, &src);
		if (e != PV_OK)
			return e;
		break;
	case PV_X86_FORM_RM_IMM:
	case PV_X86_FORM_ACC_IMM:
		src = in->imm & x86_size_mask(size);
		break;
	default:
		break;
	}
	if (in->form == PV_X86_FORM_REG_RM) {
		dreg = in->reg;
	} else if (in->form == PV_X86_FORM_ACC_IMM) {
		dreg = PV_RAX;
	} else if (in->mem) {
		dst_mem = true;
		off = eff_addr(em);
	} else {
		dreg = in->rm;
	}

	if (in->op >= PV_X86_OP_BT && in->op <= PV_X86_OP_BTC) {
		const unsigned bits = size * 8;
		if (in->form == PV_X86_FORM_RM_REG) {
			int64_t boff = x86_sext(src, size);
			if (dst_mem) {
				/* Bit string: the register offset is signed and may leave the operand. */
				int64_t units = boff >= 0 ? boff / (int64_t)bits :
							    -(((-(boff + 1)) / (int64_t)bits) + 1);
				off = (off + (uint64_t)units * size) & x86_size_mask(in->addrsize);
			}
			bit = (unsigned)((uint64_t)boff & (bits - 1));
		} else {
			bit = (unsigned)(in->imm & (bits - 1));
		}
	}
	return rmw(em, dst_mem, dreg, in->seg, off, in->op, size, src, bit, &old);
}

static pv_err_t exec_xchg_xadd(struct emu *em)
{
	const struct pv_x86_insn *in = em->in;
	const unsigned size = in->opsize;
	uint64_t src = gpr_get(em, in->reg, size), old;
	if (!in->mem) {
		uint64_t dst = gpr_get(em, in->rm, size);
		if (in->op == PV_X86_OP_XADD) {
			uint64_t fl = em->st->regs.rflags;
			uint64_t sum = compute(PV_X86_OP_ADD, size, dst, src, 0, &fl);
			gpr_set(em, in->reg, size, dst);
			gpr_set(em, in->rm, size, sum);
			em->st->regs.rflags = fl;
		} else {
			gpr_set(em, in->reg, size, dst);
			gpr_set(em, in->rm, size, src);
		}
		return PV_OK;
	}
	pv_err_t e = rmw(em, true, 0, in->seg, eff_addr(em), in->op, size, src, 0, &old);
	if (e != PV_OK)
		return e;
	gpr_set(em, in->reg, size, old);
	return PV_OK;
}

static pv_err_t exec_cmpxchg(struct emu *em)
{
	const struct pv_x86_insn *in = em->in;
	const unsigned size = in->opsize;
	const uint64_t acc = gpr_get(em, PV_RAX, size);
	const uint64_t src = gpr_get(em, in->reg, size);
	uint64_t fl = em->st->regs.rflags, cur;
	if (!in->mem) {
		cur = gpr_get(em, in->rm, size);
		compute(PV_X86_OP_CMP, size, acc, cur, 0, &fl);
		if (cur == acc)
			gpr_set(em, in->rm, size, src);
		else
			gpr_set(em, PV_RAX, size, cur);
		em->st->regs.rflags = fl;
		return PV_OK;
	}
	struct maccess m;
	uint8_t exp[8], des[8];
	pv_err_t e = prep(em, in->seg, eff_addr(em), size, PV_X86_ACC_WRITE, false, &m);
	if (e != PV_OK)
		return e;
	x86_store_le(exp, acc, size);
	x86_store_le(des, src, size);
	bool swapped = false;
	e = m_cmpxchg(em, &m, exp, des, &swapped);
	if (e != PV_OK)
		return e;
	cur = swapped ? acc : x86_load_le(exp, size);
	compute(PV_X86_OP_CMP, size, acc, cur, 0, &fl);
	if (!swapped)
		gpr_set(em, PV_RAX, size, cur);
	em->st->regs.rflags = fl;
	return PV_OK;
}

static pv_err_t exec_mov(struct emu *em)
{
	const struct pv_x86_insn *in = em->in;
	uint64_t v;
	pv_err_t e;
	switch (in->form) {
	case PV_X86_FORM_RM_REG:
		return rm_write(em, in->opsize, gpr_get(em, in->reg, in->opsize));
	case PV_X86_FORM_RM_IMM:
		return rm_write(em, in->opsize, in->imm);
	case PV_X86_FORM_ACC_MOFFS:
		e = mem_read_val(em, in->seg, eff_addr(em), in->opsize, &v);
		if (e == PV_OK)
			gpr_set(em, PV_RAX, in->opsize, v);
		return e;
	case PV_X86_FORM_MOFFS_ACC:
		return mem_write_val(em, in->seg, eff_addr(em), in->opsize,
				     gpr_get(em, PV_RAX, in->opsize));
	default: /* REG_RM: MOV, MOVZX, MOVSX, MOVSXD */
		e = rm_read(em, in->srcsize, &v);
		if (e != PV_OK)
			return e;
		if (in->op == PV_X86_OP_MOVSX)
			v = (uint64_t)x86_sext(v, in->srcsize);
		gpr_set(em, in->reg, in->opsize, v & x86_size_mask(in->opsize));
		return PV_OK;
	}
}

static pv_err_t exec_string(struct emu *em, bool *done)
{
	const struct pv_x86_insn *in = em->in;
	struct pv_regs *r = &em->st->regs;
	const unsigned size = in->opsize;
	const uint64_t amask = x86_size_mask(in->addrsize);
	const uint64_t delta = (r->rflags & FL_DF) ? (uint64_t)0 - size : size;
	const bool rep = (in->prefixes & (PV_X86_PFX_REP | PV_X86_PFX_REPNE)) != 0;
	const bool is_cmp = in->op == PV_X86_OP_CMPS || in->op == PV_X86_OP_SCAS;
	pv_err_t e;

	*done = false;
	if (rep && (r->gpr[PV_RCX] & amask) == 0) {
		*done = true;
		return PV_OK;
	}
	for (unsigned iter = 0; iter < PV_X86EMU_REP_BATCH; iter++) {
		const uint64_t si = r->gpr[PV_RSI] & amask, di = r->gpr[PV_RDI] & amask;
		struct maccess ms, md;
		uint8_t b[8];
		uint64_t a, v;
		switch (in->op) {
		case PV_X86_OP_MOVS:
			e = prep(em, in->seg, si, size, PV_X86_ACC_READ, false, &ms);
			if (e == PV_OK)
				e = prep(em, PV_X86_SEG_ES, di, size, PV_X86_ACC_WRITE, false, &md);
			if (e == PV_OK)
				e = m_read(em, &ms, b);
			if (e == PV_OK)
				e = m_write(em, &md, b);
			if (e != PV_OK)
				return e;
			areg_set(em, PV_RSI, si + delta);
			areg_set(em, PV_RDI, di + delta);
			break;
		case PV_X86_OP_STOS:
			e = mem_write_val(em, PV_X86_SEG_ES, di, size, r->gpr[PV_RAX]);
			if (e != PV_OK)
				return e;
			areg_set(em, PV_RDI, di + delta);
			break;
		case PV_X86_OP_LODS:
			e = mem_read_val(em, in->seg, si, size, &v);
			if (e != PV_OK)
				return e;
			gpr_set(em, PV_RAX, size, v);
			areg_set(em, PV_RSI, si + delta);
			break;
		case PV_X86_OP_CMPS:
			e = mem_read_val(em, in->seg, si, size, &a);
			if (e == PV_OK)
				e = mem_read_val(em, PV_X86_SEG_ES, di, size, &v);
			if (e != PV_OK)
				return e;
			compute(PV_X86_OP_CMP, size, a, v, 0, &r->rflags);
			areg_set(em, PV_RSI, si + delta);
			areg_set(em, PV_RDI, di + delta);
			break;
		default: /* SCAS */
			e = mem_read_val(em, PV_X86_SEG_ES, di, size, &v);
			if (e != PV_OK)
				return e;
			compute(PV_X86_OP_CMP, size, r->gpr[PV_RAX], v, 0, &r->rflags);
			areg_set(em, PV_RDI, di + delta);
			break;
		}
		if (!rep) {
			*done = true;
			return PV_OK;
		}
		uint64_t cnt = ((r->gpr[PV_RCX] & amask) - 1) & amask;
		areg_set(em, PV_RCX, cnt);
		if (cnt == 0)
			break;
		if (is_cmp) {
			bool zf = (r->rflags & FL_ZF) != 0;
			if ((in->prefixes & PV_X86_PFX_REP) ? !zf : zf)
				break;
		}
		if (iter + 1 == PV_X86EMU_REP_BATCH)
			return PV_OK; /* more to do: RIP stays, the guest re-executes */
	}
	*done = true;
	return PV_OK;
}

static pv_err_t exec_sse(struct emu *em)
{
	const struct pv_x86_insn *in = em->in;
	struct pv_x86emu_state *st = em->st;
	const uint64_t cr0 = st->sregs.cr0;
	if ((cr0 & X86_CR0_EM) || !(st->sregs.cr4 & X86_CR4_OSFXSR))
		return inject(em, PV_X86_VEC_UD, 0);
	if (cr0 & X86_CR0_TS)
		return inject(em, PV_X86_VEC_NM, 0);
	const unsigned xr = in->reg & 15;
	uint8_t buf[16];
	struct maccess m;
	pv_err_t e;
	bool aligned = false;
	if (in->opcode == 0x28 || in->opcode == 0x29 || in->opcode == 0x2b || in->opcode == 0xe7 ||
	    ((in->opcode == 0x6f || in->opcode == 0x7f) && (in->prefixes & PV_X86_PFX_OPSIZE) &&
	     !(in->prefixes & (PV_X86_PFX_REP | PV_X86_PFX_REPNE))))
		aligned = true;

	switch (in->op) {
	case PV_X86_OP_SSE_LOAD:
		if (!in->mem) {
			x86_bytecopy(st->xmm[xr], st->xmm[in->rm & 15], 16);
			return PV_OK;
		}
		e = prep(em, in->seg, eff_addr(em), 16, PV_X86_ACC_READ, aligned, &m);
		if (e == PV_OK)
			e = m_read(em, &m, buf);
		if (e == PV_OK)
			x86_bytecopy(st->xmm[xr], buf, 16);
		return e;
	case PV_X86_OP_SSE_STORE:
		if (!in->mem) {
			x86_bytecopy(st->xmm[in->rm & 15], st->xmm[xr], 16);
			return PV_OK;
		}
		e = prep(em, in->seg, eff_addr(em), 16, PV_X86_ACC_WRITE, aligned, &m);
		if (e == PV_OK)
			e = m_write(em, &m, st->xmm[xr]);
		return e;
	case PV_X86_OP_MOVQ_LOAD:
		if (!in->mem) {
			x86_bytecopy(buf, st->xmm[in->rm & 15], 8);
		} else {
			e = prep(em, in->seg, eff_addr(em), 8, PV_X86_ACC_READ, false, &m);
			if (e == PV_OK)
				e = m_read(em, &m, buf);
			if (e != PV_OK)
				return e;
		}
		x86_bytecopy(st->xmm[xr], buf, 8);
		x86_bytezero(st->xmm[xr] + 8, 8);
		return PV_OK;
	case PV_X86_OP_MOVQ_STORE:
		if (!in->mem) {
			x86_bytecopy(st->xmm[in->rm & 15], st->xmm[xr], 8);
			x86_bytezero(st->xmm[in->rm & 15] + 8, 8);
			return PV_OK;
		}
		e = prep(em, in->seg, eff_addr(em), 8, PV_X86_ACC_WRITE, false, &m);
		if (e == PV_OK)
			e = m_write(em, &m, st->xmm[xr]);
		return e;
	case PV_X86_OP_MOVD_TOX: {
		uint64_t v;
		e = rm_read(em, in->opsize, &v);
		if (e != PV_OK)
			return e;
		x86_bytezero(st->xmm[xr], 16);
		x86_store_le(st->xmm[xr], v, in->opsize);
		return PV_OK;
	}
	default: /* MOVD_FROMX */
		return rm_write(em, in->opsize, x86_load_le(st->xmm[xr], in->opsize));
	}
}

static uint64_t ip_mask(unsigned mode)
{
	return mode == PV_X86_MODE_64 ? ~0ull :
					(mode == PV_X86_MODE_32 ? 0xffffffffull : 0xffffull);
}

/* The execute entry point may be handed a pv_x86_insn that did not come from
 * the decoder: check every field the executor indexes or sizes buffers by. */
static bool insn_valid(const struct pv_x86_insn *in)
{
	const bool sse = in->op >= PV_X86_OP_SSE_LOAD && in->op <= PV_X86_OP_MOVD_FROMX;
	const unsigned os = in->opsize;
	if (in->op == PV_X86_OP_INVALID || in->op >= PV_X86_OP_COUNT ||
	    in->form > PV_X86_FORM_STRING)
		return false;
	if (sse ? !(os == 4 || os == 8 || os == 16) : !(os == 1 || os == 2 || os == 4 || os == 8))
		return false;
	if (!(in->srcsize == os ||
	      ((in->srcsize == 1 || in->srcsize == 2 || in->srcsize == 4) && in->srcsize < os)))
		return false;
	if (!(in->addrsize == 2 || in->addrsize == 4 || in->addrsize == 8))
		return false;
	if (!(in->scale == 1 || in->scale == 2 || in->scale == 4 || in->scale == 8))
		return false;
	if (in->reg > 15 || in->rm > 15 || in->seg > PV_X86_SEG_NONE)
		return false;
	if (in->base > 15 && in->base != PV_X86_REG_NONE && in->base != PV_X86_REG_RIP)
		return false;
	if (in->index > 15 && in->index != PV_X86_REG_NONE)
		return false;
	return true;
}

pv_err_t pv_x86emu_execute(struct pv_x86emu_state *st, const struct pv_x86_insn *insn,
			   const struct pv_x86emu_ops *ops, void *ctx, struct pv_x86_fault *fault)
{
	if (!st || !insn || !ops || !fault || !ops->read_mem || !ops->write_mem ||
	    !ops->cmpxchg_mem)
		return PV_EINVAL;
	struct emu em = {st, insn, ops, ctx, fault, (unsigned)pv_x86emu_mode(st), 0};
	if (insn->mode != em.mode || insn->len == 0 || insn->len > PV_X86_MAX_INSN_LEN ||
	    !insn_valid(insn))
		return PV_EINVAL;
	em.next_rip = (st->regs.rip + insn->len) & ip_mask(em.mode);
	*fault = (struct pv_x86_fault){0};

	pv_err_t e;
	bool done = true;
	switch (insn->op) {
	case PV_X86_OP_MOV:
	case PV_X86_OP_MOVZX:
	case PV_X86_OP_MOVSX:
		e = exec_mov(&em);
		break;
	case PV_X86_OP_ADD:
	case PV_X86_OP_OR:
	case PV_X86_OP_ADC:
	case PV_X86_OP_SBB:
	case PV_X86_OP_AND:
	case PV_X86_OP_SUB:
	case PV_X86_OP_XOR:
	case PV_X86_OP_CMP:
	case PV_X86_OP_TEST:
	case PV_X86_OP_INC:
	case PV_X86_OP_DEC:
	case PV_X86_OP_NOT:
	case PV_X86_OP_NEG:
	case PV_X86_OP_BT:
	case PV_X86_OP_BTS:
	case PV_X86_OP_BTR:
	case PV_X86_OP_BTC:
		e = exec_alu(&em);
		break;
	case PV_X86_OP_XCHG:
	case PV_X86_OP_XADD:
		e = exec_xchg_xadd(&em);
		break;
	case PV_X86_OP_CMPXCHG:
		e = exec_cmpxchg(&em);
		break;
	case PV_X86_OP_SETCC:
		e = rm_write(&em, 1, cond(st->regs.rflags, insn->cc) ? 1 : 0);
		break;
	case PV_X86_OP_MOVS:
	case PV_X86_OP_CMPS:
	case PV_X86_OP_STOS:
	case PV_X86_OP_LODS:
	case PV_X86_OP_SCAS:
		e = exec_string(&em, &done);
		break;
	case PV_X86_OP_SSE_LOAD:
	case PV_X86_OP_SSE_STORE:
	case PV_X86_OP_MOVQ_LOAD:
	case PV_X86_OP_MOVQ_STORE:
	case PV_X86_OP_MOVD_TOX:
	case PV_X86_OP_MOVD_FROMX:
		e = exec_sse(&em);
		break;
	default:
		x86_set_fault(fault, PV_X86_VEC_UD, false, 0, 0);
		return PV_ENOTSUP;
	}
	if (e == PV_OK && done)
		st->regs.rip = em.next_rip;
	return e;
}

pv_err_t pv_x86emu_step(struct pv_x86emu_state *st, const struct pv_x86emu_ops *ops, void *ctx,
			struct pv_x86_fault *fault)
{
	if (!st || !ops || !fault || !ops->read_mem || !ops->write_mem || !ops->cmpxchg_mem)
		return PV_EINVAL;
	const unsigned mode = (unsigned)pv_x86emu_mode(st);
	const uint64_t ipm = ip_mask(mode);
	struct pv_x86_insn in = {0};
	struct emu em = {st, &in, ops, ctx, fault, mode, 0};
	uint8_t buf[PV_X86_MAX_INSN_LEN];
	unsigned got = 0;
	*fault = (struct pv_x86_fault){0};

	for (;;) {
		uint64_t off = (st->regs.rip + got) & ipm, la, gpa;
		pv_err_t e = seg_la(&em, PV_X86_SEG_CS, off, 1, PV_X86_ACC_FETCH, &la);
		if (e != PV_OK)
			return e;
		unsigned chunk = PV_X86_MAX_INSN_LEN - got;
		unsigned page_left = X86_PAGE_SIZE - (unsigned)(la & (X86_PAGE_SIZE - 1));
		if (chunk > page_left)
			chunk = page_left;
		if (mode != PV_X86_MODE_64) {
			/* Stay within the CS limit and the IP wrap point. */
			uint64_t lim = st->sregs.cs.limit;
			if (ipm < lim)
				lim = ipm;
			if (lim - off + 1 < chunk)
				chunk = (unsigned)(lim - off + 1);
		}
		e = pv_x86emu_translate(st, ops, ctx, la, PV_X86_ACC_FETCH, &gpa, fault);
		if (e != PV_OK)
			return e;
		e = ops->read_mem(ctx, gpa, buf + got, chunk);
		if (e != PV_OK)
			return e;
		got += chunk;
		e = pv_x86emu_decode(buf, got, (enum pv_x86_mode)mode, &in);
		if (e == PV_OK)
			break;
		if (e == PV_ERANGE && got < PV_X86_MAX_INSN_LEN)
			continue;
		if (e == PV_ENOTSUP) {
			x86_set_fault(fault, PV_X86_VEC_UD, false, 0, 0);
			return PV_ENOTSUP;
		}
		x86_set_fault(fault, PV_X86_VEC_GP, true, 0, 0);
		return PV_EFAULTINJ;
	}
	return pv_x86emu_execute(st, &in, ops, ctx, fault);
}

pv_err_t pv_x86emu_step_bytes(struct pv_x86emu_state *st, const uint8_t *bytes, size_t len,
			      const struct pv_x86emu_ops *ops, void *ctx,
			      struct pv_x86_fault *fault)
{
	if (!st || !ops || !fault || (!bytes && len))
		return PV_EINVAL;
	if (len == 0)
		return pv_x86emu_step(st, ops, ctx, fault);
	struct pv_x86_insn in;
	pv_err_t e = pv_x86emu_decode(bytes, len, pv_x86emu_mode(st), &in);
	if (e == PV_ERANGE && len < PV_X86_MAX_INSN_LEN)
		return pv_x86emu_step(st, ops, ctx, fault);
	if (e == PV_ENOTSUP) {
		*fault = (struct pv_x86_fault){0};
		x86_set_fault(fault, PV_X86_VEC_UD, false, 0, 0);
		return PV_ENOTSUP;
	}
	if (e != PV_OK) {
		*fault = (struct pv_x86_fault){0};
		x86_set_fault(fault, PV_X86_VEC_GP, true, 0, 0);
		return PV_EFAULTINJ;
	}
	return pv_x86emu_execute(st, &in, ops, ctx, fault);
}
