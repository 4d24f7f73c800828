/* SPDX-License-Identifier: MIT */
/*
 * Placement of the kernel, initrd and the loader's own pages, and the pure
 * builders of the boot parameters, page tables, GDT and entry state.
 */
#include "boot/boot_internal.h"
#include "core/util.h"
#include "paravisor/boot_linux.h"

/* A half-open area [start, end) the loader uses. */
struct boot_area {
	uint64_t start;
	uint64_t end;
};

static bool areas_overlap(const struct boot_area *a, const struct boot_area *b)
{
	return a->start < b->end && b->start < a->end;
}

/* True if [start, end) lies inside one usable-RAM E820 entry. */
static bool in_ram(const struct pv_linux_plan *plan, uint64_t start, uint64_t end)
{
	for (uint32_t i = 0; i < plan->e820_count; i++) {
		const struct pv_e820_entry *e = &plan->e820[i];
		uint64_t e_last = e->addr + (e->size - 1u);

		if (e->type != PV_E820_RAM)
			continue;
		if (start >= e->addr && end > start && end - 1u <= e_last)
			return true;
	}
	return false;
}

static bool overlaps_any(const struct boot_area *areas, size_t n, uint64_t start, uint64_t end)
{
	struct boot_area a = {start, end};

	for (size_t i = 0; i < n; i++)
		if (areas_overlap(&areas[i], &a))
			return true;
	return false;
}

/* Make an area [addr, addr+len) below 4 GiB or fail. */
static pv_err_t area_make(uint64_t addr, uint64_t len, struct boot_area *out)
{
	uint64_t end;

	if (len == 0 || pv_add_overflow_u64(addr, len, &end) || end > BOOT_4G)
		return PV_ERANGE;
	out->start = addr;
	out->end = end;
	return PV_OK;
}

static pv_err_t place_kernel(const struct pv_linux_boot_config *cfg, struct pv_linux_plan *plan)
{
	const struct pv_linux_image_info *info = &plan->info;
	uint64_t align = info->kernel_alignment;
	uint64_t addr = cfg->kernel_gpa;
	uint64_t footprint = PV_MAX(info->kernel_size, (uint64_t)info->init_size);
	uint64_t end;

	if (addr == 0) {
		addr = info->pref_address ? info->pref_address : 0x1000000u;
		if (info->relocatable) {
			if (pv_add_overflow_u64(addr, align - 1u, &addr))
				return PV_ERANGE;
			addr &= ~(align - 1u);
		}
	}
	if (info->relocatable ? !pv_is_aligned_u64(addr, align) : addr != info->pref_address)
		return PV_ERANGE;
	if (pv_add_overflow_u64(addr, footprint, &end) || end > BOOT_4G)
		return PV_ERANGE;
	if (!in_ram(plan, addr, end))
		return PV_ERANGE;
	plan->kernel_gpa = addr;
	plan->kernel_end = end;
	return PV_OK;
}

/* Highest page-aligned start for size bytes below limit in RAM, avoiding busy areas. */
static pv_err_t place_initrd_auto(struct pv_linux_plan *plan, const struct boot_area *busy,
				  size_t nbusy, uint64_t size, uint64_t limit)
{
	bool found = false;
	uint64_t best = 0;

	for (uint32_t i = 0; i < plan->e820_count; i++) {
		const struct pv_e820_entry *e = &plan->e820[i];
		uint64_t e_end;

		if (e->type != PV_E820_RAM || e->addr >= limit)
			continue;
		/* e_end may be 2^64 for a range at the very top: clamp by limit first. */
		e_end = (e->size > limit - e->addr) ? limit : e->addr + e->size;
		/* Candidate tops: the end of the range and the start of each busy area inside it. */
		for (size_t c = 0; c <= nbusy; c++) {
			uint64_t top = c == nbusy ? e_end : busy[c].start;
			uint64_t start;

			if (top > e_end || top <= e->addr || top - e->addr < size)
				continue;
			start = (top - size) & ~(uint64_t)(PV_PAGE_SIZE - 1u);
			if (start < e->addr || overlaps_any(busy, nbusy, start, start + size))
				continue;
			if (!found || start > best) {
				best = start;
				found = true;
			}
		}
	}
	if (!found)
		return PV_ERANGE;
	plan->initrd_gpa = best;
	return PV_OK;
}

pv_err_t pv_linux_plan(const struct pv_linux_boot_config *cfg, struct pv_linux_plan *plan)
{
	struct boot_area busy[6];
	size_t nbusy = 0;
	pv_err_t err;

	if (!cfg || !plan)
		return PV_EINVAL;
	pv_memset(plan, 0, sizeof(*plan));
	if (!cfg->kernel || !cfg->map || cfg->map_count == 0 || (cfg->initrd_size && !cfg->initrd))
		return PV_EINVAL;
	err = pv_linux_parse(cfg->kernel, cfg->kernel_size, &plan->info);
	if (err)
		return err;
	err = pv_linux_build_e820(cfg->map, cfg->map_count, cfg->extra, cfg->extra_count,
				  plan->e820, PV_LINUX_E820_MAX, &plan->e820_count);
	if (err)
		return err;

	plan->cmdline_len = cfg->cmdline ? pv_strlen(cfg->cmdline) : 0;
	if (plan->cmdline_len > plan->info.cmdline_size)
		return PV_ERANGE;

	plan->gdt_gpa = cfg->gdt_gpa ? cfg->gdt_gpa : BOOT_DEFAULT_GDT;
	plan->boot_params_gpa =
		cfg->boot_params_gpa ? cfg->boot_params_gpa : BOOT_DEFAULT_BOOT_PARAMS;
	plan->stack_gpa = cfg->stack_gpa ? cfg->stack_gpa : BOOT_DEFAULT_STACK;
	plan->page_tables_gpa =
		cfg->page_tables_gpa ? cfg->page_tables_gpa : BOOT_DEFAULT_PAGE_TABLES;
	plan->cmdline_gpa = cfg->cmdline_gpa ? cfg->cmdline_gpa : BOOT_DEFAULT_CMDLINE;
	plan->rsdp_gpa = cfg->rsdp_gpa;
	if (!pv_is_aligned_u64(plan->page_tables_gpa, PV_PAGE_SIZE) ||
	    !pv_is_aligned_u64(plan->stack_gpa, PV_PAGE_SIZE) ||
	    !pv_is_aligned_u64(plan->gdt_gpa, 8u) || !pv_is_aligned_u64(plan->boot_params_gpa, 16u))
		return PV_EINVAL;

	err = place_kernel(cfg, plan);
	if (err)
		return err;
	busy[nbusy++] = (struct boot_area){plan->kernel_gpa, plan->kernel_end};
	{
		const struct {
			uint64_t addr, len;
		} own[5] = {
			{plan->gdt_gpa, PV_LINUX_GDT_SIZE},
			{plan->boot_params_gpa, PV_LINUX_BOOT_PARAMS_SIZE},
			{plan->stack_gpa, PV_PAGE_SIZE},
			{plan->page_tables_gpa, PV_LINUX_PAGE_TABLES_SIZE},
			{plan->cmdline_gpa, plan->cmdline_len + 1u},
		};
		for (size_t i = 0; i < PV_ARRAY_SIZE(own); i++) {
			struct boot_area a;

			err = area_make(own[i].addr, own[i].len, &a);
			if (err)
				return err;
			if (!in_ram(plan, a.start, a.end) ||
			    overlaps_any(busy, nbusy, a.start, a.end))
				return PV_ERANGE;
			busy[nbusy++] = a;
		}
	}

	if (cfg->initrd_size) {
		uint64_t limit = (uint64_t)plan->info.initrd_addr_max + 1u;
		uint64_t size = cfg->initrd_size;

		limit = PV_MIN(limit, BOOT_4G);
		if (cfg->initrd_limit)
			limit = PV_MIN(limit, cfg->initrd_limit);
		if (size > limit)
			return PV_ERANGE;
		plan->initrd_size = size;
		if (cfg->initrd_gpa) {
			uint64_t end;

			if (pv_add_overflow_u64(cfg->initrd_gpa, size, &end) || end > limit ||
			    !in_ram(plan, cfg->initrd_gpa, end) ||
			    overlaps_any(busy, nbusy, cfg->initrd_gpa, end))
				return PV_ERANGE;
			plan->initrd_gpa = cfg->initrd_gpa;
		} else {
			err = place_initrd_auto(plan, busy, nbusy, size, limit);
			if (err)
				return err;
		}
	}
	return PV_OK;
}

pv_err_t pv_linux_build_boot_params(const struct pv_linux_plan *plan, const void *image,
				    size_t image_size, uint8_t out[PV_LINUX_BOOT_PARAMS_SIZE])
{
	const uint8_t *img = image;

	if (!plan || !image || !out || plan->info.header_end < BP_MIN_HEADER_END ||
	    image_size < plan->info.header_end || plan->e820_count > PV_LINUX_E820_MAX)
		return PV_EINVAL;
	pv_memset(out, 0, PV_LINUX_BOOT_PARAMS_SIZE);
	pv_memcpy(out + BP_SETUP_SECTS, img + BP_SETUP_SECTS,
		  plan->info.header_end - BP_SETUP_SECTS);

	out[BP_TYPE_OF_LOADER] = 0xff; /* undefined boot loader */
	boot_wr32(out, BP_CODE32_START, (uint32_t)plan->kernel_gpa);
	boot_wr32(out, BP_RAMDISK_IMAGE, (uint32_t)plan->initrd_gpa);
	boot_wr32(out, BP_RAMDISK_SIZE, (uint32_t)plan->initrd_size);
	boot_wr32(out, BP_EXT_RAMDISK_IMAGE, (uint32_t)(plan->initrd_gpa >> 32));
	boot_wr32(out, BP_EXT_RAMDISK_SIZE, (uint32_t)(plan->initrd_size >> 32));
	boot_wr32(out, BP_CMD_LINE_PTR, (uint32_t)plan->cmdline_gpa);
	boot_wr32(out, BP_EXT_CMD_LINE_PTR, (uint32_t)(plan->cmdline_gpa >> 32));
	boot_wr32(out, BP_HARDWARE_SUBARCH, 0); /* default x86 PC */
	if (plan->rsdp_gpa && plan->info.protocol >= 0x020e)
		boot_wr64(out, BP_ACPI_RSDP_ADDR, plan->rsdp_gpa);

	out[BP_E820_ENTRIES] = (uint8_t)plan->e820_count;
	for (uint32_t i = 0; i < plan->e820_count; i++) {
		size_t off = BP_E820_TABLE + (size_t)i * 20u;

		boot_wr64(out, off, plan->e820[i].addr);
		boot_wr64(out, off + 8u, plan->e820[i].size);
		boot_wr32(out, off + 16u, plan->e820[i].type);
	}
	return PV_OK;
}

pv_err_t pv_linux_build_page_tables(uint64_t base, uint8_t out[PV_LINUX_PAGE_TABLES_SIZE])
{
	const uint64_t present_rw = 0x3u, large = 0x80u;

	if (!out || !pv_is_aligned_u64(base, PV_PAGE_SIZE) ||
	    base > BOOT_4G - PV_LINUX_PAGE_TABLES_SIZE)
		return PV_EINVAL;
	pv_memset(out, 0, PV_LINUX_PAGE_TABLES_SIZE);
	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages. */
	boot_wr64(out, 0, (base + 0x1000u) | present_rw);
	for (uint64_t i = 0; i < 4u; i++) {
		boot_wr64(out, 0x1000u + i * 8u, (base + 0x2000u + i * 0x1000u) | present_rw);
		for (uint64_t j = 0; j < 512u; j++) {
			uint64_t phys = (i * 512u + j) << 21;

			boot_wr64(out, 0x2000u + i * 0x1000u + j * 8u, phys | present_rw | large);
		}
	}
	return PV_OK;
}

void pv_linux_build_gdt(uint8_t out[PV_LINUX_GDT_SIZE])
{
	pv_memset(out, 0, PV_LINUX_GDT_SIZE);
	/* 0x10: flat code, P DPL0 S, type execute/read accessed, G, L. */
	boot_wr64(out, PV_LINUX_BOOT_CS, 0x00af9b000000ffffull);
	/* 0x18: flat data, P DPL0 S, type read/write accessed, G, D/B. */
	boot_wr64(out, PV_LINUX_BOOT_DS, 0x00cf93000000ffffull);
	/* 0x20: 64-bit TSS (busy), base 0, limit 0x67; upper 8 bytes zero. */
	boot_wr64(out, PV_LINUX_BOOT_TSS, 0x00008b0000000067ull);
}

static void flat_segment(struct pv_segment *s, uint16_t sel, uint8_t type, bool code)
{
	pv_memset(s, 0, sizeof(*s));
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

void pv_linux_entry_state(const struct pv_linux_plan *plan, struct pv_regs *regs,
			  struct pv_sregs *sregs)
{
	pv_memset(regs, 0, sizeof(*regs));
	pv_memset(sregs, 0, sizeof(*sregs));
	regs->rip = plan->kernel_gpa + 0x200u;
	regs->gpr[PV_RSI] = plan->boot_params_gpa;
	regs->gpr[PV_RSP] = plan->stack_gpa + 0xff0u;
	regs->rflags = PV_RFLAGS_FIXED;

	flat_segment(&sregs->cs, PV_LINUX_BOOT_CS, 0xb, true);
	flat_segment(&sregs->ds, PV_LINUX_BOOT_DS, 0x3, false);
	sregs->es = sregs->ds;
	sregs->fs = sregs->ds;
	sregs->gs = sregs->ds;
	sregs->ss = sregs->ds;
	sregs->tr.selector = PV_LINUX_BOOT_TSS;
	sregs->tr.limit = 0x67;
	sregs->tr.type = 0xb;
	sregs->tr.present = 1;
	sregs->ldt.type = 0x2;
	sregs->ldt.present = 1;
	sregs->ldt.unusable = 1;
	sregs->gdt.base = plan->gdt_gpa;
	sregs->gdt.limit = PV_LINUX_GDT_SIZE - 1u;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cr0 = 0x80000011u; /* PG | ET | PE */
	sregs->cr3 = plan->page_tables_gpa;
	sregs->cr4 = 0x20u;   /* PAE */
	sregs->efer = 0x500u; /* LMA | LME */
}
