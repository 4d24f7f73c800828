/* SPDX-License-Identifier: MIT */
/*
 * Guest page-table walker: linear address -> GPA under the guest's paging
 * mode (off, 32-bit, PAE, 4-level, 5-level), with the permission checks and
 * accessed/dirty updates the CPU performs (Intel SDM vol. 3 ch. 4).
 */
#include "x86emu_internal.h"

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)

#define WALK_MAX_LEVELS 5
#define WALK_MAX_RETRIES 16

struct walk_entry {
	uint64_t gpa;  /* where the entry lives */
	uint64_t val;  /* value read */
	unsigned size; /* 4 or 8 bytes */
	bool has_ad;   /* the entry has an accessed bit (PAE PDPTEs do not) */
	bool leaf;
};

enum pv_x86_mode pv_x86emu_mode(const struct pv_x86emu_state *st)
{
	if (!st || !(st->sregs.cr0 & X86_CR0_PE) || (st->regs.rflags & X86_RFLAGS_VM))
		return PV_X86_MODE_16;
	if ((st->sregs.efer & X86_EFER_LMA) && st->sregs.cs.l)
		return PV_X86_MODE_64;
	return st->sregs.cs.db ? PV_X86_MODE_32 : PV_X86_MODE_16;
}

static pv_err_t read_entry(const struct pv_x86emu_ops *ops, void *ctx, uint64_t gpa, unsigned size,
			   uint64_t *v)
{
	uint8_t b[8];
	pv_err_t e = ops->read_mem(ctx, gpa, b, size);
	if (e != PV_OK)
		return e;
	*v = x86_load_le(b, size);
	return PV_OK;
}

static unsigned st_cpl(const struct pv_x86emu_state *st)
{
	if (!(st->sregs.cr0 & X86_CR0_PE))
		return 0;
	if (st->regs.rflags & X86_RFLAGS_VM)
		return 3;
	return st->sregs.ss.dpl & 3u;
}

static pv_err_t pf(struct pv_x86_fault *fault, uint64_t la, uint32_t ec)
{
	x86_set_fault(fault, PV_X86_VEC_PF, true, ec, la);
	return PV_EFAULTINJ;
}

/* One walk attempt. Returns PV_OK with *gpa, PV_EFAULTINJ, a callback error,
 * or PV_EBUSY when an A/D update raced with a concurrent change (retry). */
static pv_err_t walk_once(const struct pv_x86emu_state *st, const struct pv_x86emu_ops *ops,
			  void *ctx, uint64_t la, unsigned access, uint64_t *gpa,
			  struct pv_x86_fault *fault)
{
	const uint64_t cr0 = st->sregs.cr0, cr4 = st->sregs.cr4, efer = st->sregs.efer;
	const bool write = (access & PV_X86_ACC_WRITE) != 0;
	const bool fetch = (access & PV_X86_ACC_FETCH) != 0;
	const bool implicit = (access & PV_X86_ACC_IMPLICIT) != 0;
	const unsigned cpl = st_cpl(st);
	const bool user = !implicit && cpl == 3;
	const bool lma = (efer & X86_EFER_LMA) != 0;
	const bool pae = (cr4 & X86_CR4_PAE) != 0;
	const bool nxe = (efer & X86_EFER_NXE) != 0 && (lma || pae);
	unsigned maxpa = st->maxphyaddr ? st->maxphyaddr : 52;
	if (maxpa > 52)
		maxpa = 52;
	if (maxpa < 32)
		maxpa = 32;
	/* Bits MAXPHYADDR..51 are reserved in 64-bit-format entries. */
	const uint64_t rsvd_pa = ((1ull << 52) - 1) & ~((1ull << maxpa) - 1);
	const uint64_t addr_mask = ((1ull << maxpa) - 1) & ~0xfffull;

	struct walk_entry ent[WALK_MAX_LEVELS];
	unsigned n = 0;
	bool rw = true, us = true, nx = false;
	uint64_t page_pa = 0, page_off_mask = 0xfff;
	uint32_t ec_base = (write ? PV_X86_PF_W : 0) | (user ? PV_X86_PF_U : 0) |
			   ((fetch && (nxe || (cr4 & X86_CR4_SMEP))) ? PV_X86_PF_I : 0);

	if (lma || pae) {
		unsigned levels;
		uint64_t table;
		if (lma) {
			levels = (cr4 & X86_CR4_LA57) ? 5 : 4;
			table = st->sregs.cr3 & addr_mask;
		} else {
			/* PAE: 4 PDPTEs at CR3[31:5]. */
			uint64_t pdpte_gpa =
				(st->sregs.cr3 & 0xffffffe0ull) + ((la >> 30) & 3u) * 8u;
			uint64_t v;
			pv_err_t e = read_entry(ops, ctx, pdpte_gpa, 8, &v);
			if (e != PV_OK)
				return e;
			if (!(v & PTE_P))
				return pf(fault, la, ec_base);
			/* Reserved: bits 2:1, 8:5, 63 and MAXPHYADDR..62. */
			uint64_t rsvd = 0x6ull | 0x1e0ull | (1ull << 63) |
					(~((1ull << maxpa) - 1) & ~(1ull << 63));
			if (v & rsvd)
				return pf(fault, la, ec_base | PV_X86_PF_P | PV_X86_PF_RSVD);
			ent[n++] = (struct walk_entry){pdpte_gpa, v, 8, false, false};
			levels = 2;
			table = v & addr_mask;
		}
		for (unsigned lvl = levels; lvl >= 1; lvl--) {
			unsigned shift = 12 + 9 * (lvl - 1);
			uint64_t egpa = table + ((la >> shift) & 511u) * 8u;
			uint64_t v;
			pv_err_t e = read_entry(ops, ctx, egpa, 8, &v);
			if (e != PV_OK)
				return e;
			if (!(v & PTE_P))
				return pf(fault, la, ec_base);
			uint64_t rsvd = rsvd_pa;
			if (!nxe)
				rsvd |= PTE_NX;
			bool leaf = lvl == 1;
			if (lvl >= 4) {
				rsvd |= PTE_PS;
			} else if (lvl >= 2 && (v & PTE_PS)) {
				leaf = true;
				/* Large page: bits 12 (PAT) .. shift-1 hold nothing else. */
				rsvd |= ((1ull << shift) - 1) & ~0x1fffull;
			}
			if (v & rsvd)
				return pf(fault, la, ec_base | PV_X86_PF_P | PV_X86_PF_RSVD);
			rw = rw && (v & PTE_RW);
			us = us && (v & PTE_US);
			nx = nx || (nxe && (v & PTE_NX));
			ent[n++] = (struct walk_entry){egpa, v, 8, true, leaf};
			if (leaf) {
				page_off_mask = (1ull << shift) - 1;
				page_pa = v & addr_mask & ~page_off_mask;
				break;
			}
			table = v & addr_mask;
		}
	} else {
		/* 32-bit paging. */
		uint64_t pde_gpa = (st->sregs.cr3 & 0xfffff000ull) + ((la >> 22) & 1023u) * 4u;
		uint64_t v;
		pv_err_t e = read_entry(ops, ctx, pde_gpa, 4, &v);
		if (e != PV_OK)
			return e;
		if (!(v & PTE_P))
			return pf(fault, la, ec_base);
		rw = (v & PTE_RW) != 0;
		us = (v & PTE_US) != 0;
		if ((v & PTE_PS) && (cr4 & X86_CR4_PSE)) {
			/* 4 MiB page; PSE-36: bits (M-20):13 are PA bits (M-1):32, M = min(MAXPHYADDR, 40). */
			unsigned m = maxpa > 40 ? 40 : maxpa;
			uint64_t rsvd = ((1ull << 22) - 1) & ~((1ull << (m - 19)) - 1);
			if (v & rsvd)
				return pf(fault, la, ec_base | PV_X86_PF_P | PV_X86_PF_RSVD);
			ent[n++] = (struct walk_entry){pde_gpa, v, 4, true, true};
			page_off_mask = (1ull << 22) - 1;
			page_pa = (v & 0xffc00000ull) | (((v >> 13) & 0xffull) << 32);
		} else {
			ent[n++] = (struct walk_entry){pde_gpa, v, 4, true, false};
			uint64_t pte_gpa = (v & 0xfffff000ull) + ((la >> 12) & 1023u) * 4u;
			e = read_entry(ops, ctx, pte_gpa, 4, &v);
			if (e != PV_OK)
				return e;
			if (!(v & PTE_P))
				return pf(fault, la, ec_base);
			rw = rw && (v & PTE_RW);
			us = us && (v & PTE_US);
			ent[n++] = (struct walk_entry){pte_gpa, v, 4, true, true};
			page_pa = v & 0xfffff000ull;
		}
	}

	/* Permission checks. */
	bool denied = false;
	if (user) {
		if (!us || (write && !rw) || (fetch && nx))
			denied = true;
	} else {
		if (write && !rw && (cr0 & X86_CR0_WP))
			denied = true;
		if (fetch && nx)
			denied = true;
		if (fetch && us && (cr4 & X86_CR4_SMEP))
			denied = true;
		if (!fetch && us && (cr4 & X86_CR4_SMAP)) {
			bool ac_override =
				!implicit && cpl < 3 && (st->regs.rflags & X86_RFLAGS_AC);
			if (!ac_override)
				denied = true;
		}
	}
	if (denied)
		return pf(fault, la, ec_base | PV_X86_PF_P);

	/* Accessed / dirty updates, atomically, as the CPU does. */
	for (unsigned i = 0; i < n; i++) {
		if (!ent[i].has_ad)
			continue;
		uint64_t want = ent[i].val | PTE_A;
		if (ent[i].leaf && write)
			want |= PTE_D;
		if (want == ent[i].val)
			continue;
		uint8_t exp[8], des[8];
		bool swapped = false;
		x86_store_le(exp, ent[i].val, ent[i].size);
		x86_store_le(des, want, ent[i].size);
		pv_err_t e = ops->cmpxchg_mem(ctx, ent[i].gpa, ent[i].size, exp, des, &swapped);
		if (e != PV_OK)
			return e;
		if (!swapped)
			return PV_EBUSY;
	}
	*gpa = page_pa | (la & page_off_mask);
	return PV_OK;
}

pv_err_t pv_x86emu_translate(const struct pv_x86emu_state *st, const struct pv_x86emu_ops *ops,
			     void *ctx, uint64_t la, unsigned access, uint64_t *gpa,
			     struct pv_x86_fault *fault)
{
	if (!st || !ops || !ops->read_mem || !ops->cmpxchg_mem || !gpa || !fault)
		return PV_EINVAL;
	const bool lma = (st->sregs.efer & X86_EFER_LMA) != 0;
	if (lma) {
		unsigned bits = (st->sregs.cr4 & X86_CR4_LA57) ? 57 : 48;
		uint64_t top = la >> (bits - 1);
		uint64_t all = ~0ull >> (bits - 1);
		if (top != 0 && top != all) {
			x86_set_fault(fault, PV_X86_VEC_GP, true, 0, 0);
			return PV_EFAULTINJ;
		}
	} else {
		la &= 0xffffffffull;
	}
	if (!(st->sregs.cr0 & X86_CR0_PG)) {
		*gpa = la;
		return PV_OK;
	}
	for (unsigned i = 0; i < WALK_MAX_RETRIES; i++) {
		pv_err_t e = walk_once(st, ops, ctx, la, access, gpa, fault);
		if (e != PV_EBUSY)
			return e;
	}
	return PV_EBUSY;
}
