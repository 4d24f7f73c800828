/* SPDX-License-Identifier: MIT */
/*
 * Boot helpers for small guests (TMKs, demos): image loaders and a 64-bit
 * long-mode entry with identity-mapped page tables. Only the public library
 * API is used, so these work on every port.
 */
#include <elf.h>
#include <string.h>

#include "paravisor/memory.h"
#include "paravisor/port_kvm.h"
#include "paravisor/vcpu.h"

#define OFF_GDT 0x0000u
#define OFF_TSS 0x0800u
#define OFF_PML4 0x1000u
#define OFF_PDPT 0x2000u
#define OFF_PD 0x3000u /* four page directories: 4 GiB with 2 MiB pages */

#define SEL_CODE 0x08u
#define SEL_DATA 0x10u
#define SEL_TSS 0x18u

pv_err_t pv_kvm_load_flat(struct pv_partition *part, pv_gpa_t gpa, const void *image, size_t size)
{
	if (!part || (size && !image))
		return PV_EINVAL;
	pv_err_t err = pv_mem_check(part, PV_ACCESS_PARAVISOR, gpa, size, PV_PERM_WRITE);
	if (err)
		return err;
	return pv_mem_write(part, PV_ACCESS_PARAVISOR, gpa, image, size);
}

pv_err_t pv_kvm_load_elf(struct pv_partition *part, const void *image, size_t size, uint64_t *entry)
{
	Elf64_Ehdr eh;
	if (!part || !image || !entry)
		return PV_EINVAL;
	if (size < sizeof(eh))
		return PV_EBADMSG;
	memcpy(&eh, image, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0)
		return PV_EBADMSG;
	uint64_t ph_bytes = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (eh.e_phoff > size || ph_bytes > size - eh.e_phoff)
		return PV_EBADMSG;
	/* Validate every segment before writing anything. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint16_t i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			memcpy(&ph, (const uint8_t *)image + eh.e_phoff + i * sizeof(ph),
			       sizeof(ph));
			if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
				continue;
			if (ph.p_filesz > ph.p_memsz || ph.p_offset > size ||
			    ph.p_filesz > size - ph.p_offset ||
			    ph.p_paddr + ph.p_memsz < ph.p_paddr || ph.p_memsz > SIZE_MAX)
				return PV_EBADMSG;
			pv_err_t err;
			if (pass == 0) {
				err = pv_mem_check(part, PV_ACCESS_PARAVISOR, pv_gpa(ph.p_paddr),
						   (size_t)ph.p_memsz, PV_PERM_WRITE);
			} else {
				err = pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(ph.p_paddr),
						   (const uint8_t *)image + ph.p_offset,
						   (size_t)ph.p_filesz);
				if (!err)
					err = pv_mem_zero(part, PV_ACCESS_PARAVISOR,
							  pv_gpa(ph.p_paddr + ph.p_filesz),
							  (size_t)(ph.p_memsz - ph.p_filesz));
			}
			if (err)
				return err;
		}
	}
	*entry = eh.e_entry;
	return PV_OK;
}

pv_err_t pv_kvm_build_long_mode_tables(struct pv_partition *part, pv_gpa_t tables)
{
	if (!part || (tables.v & (PV_PAGE_SIZE - 1)) ||
	    tables.v > UINT64_MAX - PV_KVM_BOOT_TABLES_SIZE)
		return PV_EINVAL;
	pv_err_t err = pv_mem_check(part, PV_ACCESS_PARAVISOR, tables, PV_KVM_BOOT_TABLES_SIZE,
				    PV_PERM_WRITE);
	if (err)
		return err;
	err = pv_mem_zero(part, PV_ACCESS_PARAVISOR, tables, PV_KVM_BOOT_TABLES_SIZE);
	if (err)
		return err;

	uint64_t tss = tables.v + OFF_TSS;
	uint64_t gdt[5] = {
		0,
		0x00af9b000000ffffull, /* 64-bit code, DPL 0 */
		0x00cf93000000ffffull, /* flat data */
		/* 64-bit TSS (busy), limit 0x67, base tss */
		0x0000000000000067ull | ((tss & 0xffffffull) << 16) | (0x8bull << 40) |
			(((tss >> 24) & 0xffull) << 56),
		tss >> 32,
	};
	err = pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(tables.v + OFF_GDT), gdt, sizeof(gdt));
	if (err)
		return err;

	uint64_t e = (tables.v + OFF_PDPT) | 0x3;
	err = pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(tables.v + OFF_PML4), &e, sizeof(e));
	for (uint64_t i = 0; i < 4 && !err; i++) {
		e = (tables.v + OFF_PD + i * PV_PAGE_SIZE) | 0x3;
		err = pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(tables.v + OFF_PDPT + i * 8),
				   &e, sizeof(e));
	}
	for (uint64_t i = 0; i < 4 && !err; i++) {
		uint64_t pd[512];
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = ((i << 30) + (j << 21)) | 0x83; /* present, writable, 2 MiB */
		err = pv_mem_write(part, PV_ACCESS_PARAVISOR,
				   pv_gpa(tables.v + OFF_PD + i * PV_PAGE_SIZE), pd, sizeof(pd));
	}
	return err;
}

static void flat_seg(struct pv_segment *s, uint16_t sel, uint8_t type, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffffu;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code ? 1 : 0;
	s->db = code ? 0 : 1;
}

pv_err_t pv_kvm_setup_long_mode(struct pv_vcpu *vcpu, pv_gpa_t tables, uint64_t rip, uint64_t rsp,
				uint64_t rdi, uint64_t rsi)
{
	struct pv_sregs s;
	if (!vcpu)
		return PV_EINVAL;
	pv_err_t err = pv_vcpu_get_sregs(vcpu, &s);
	if (err)
		return err;
	flat_seg(&s.cs, SEL_CODE, 0xb, true);
	flat_seg(&s.ds, SEL_DATA, 0x3, false);
	s.es = s.ds;
	s.fs = s.ds;
	s.gs = s.ds;
	s.ss = s.ds;
	memset(&s.tr, 0, sizeof(s.tr));
	s.tr.base = tables.v + OFF_TSS;
	s.tr.limit = 0x67;
	s.tr.selector = SEL_TSS;
	s.tr.type = 0xb;
	s.tr.present = 1;
	memset(&s.ldt, 0, sizeof(s.ldt));
	s.ldt.unusable = 1;
	s.ldt.type = 2;
	s.gdt.base = tables.v + OFF_GDT;
	s.gdt.limit = 5 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x80050033ull; /* PG WP NE ET MP PE */
	s.cr3 = tables.v + OFF_PML4;
	s.cr4 = 0x620;  /* OSXMMEXCPT OSFXSR PAE */
	s.efer = 0x500; /* LMA LME */
	err = pv_vcpu_set_sregs(vcpu, &s);
	if (err)
		return err;
	struct pv_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = rip;
	r.rflags = PV_RFLAGS_FIXED;
	r.gpr[PV_RSP] = rsp;
	r.gpr[PV_RDI] = rdi;
	r.gpr[PV_RSI] = rsi;
	return pv_vcpu_set_regs(vcpu, &r);
}
