/* SPDX-License-Identifier: MIT */
/*
 * Writing a planned Linux boot into a partition and starting the boot
 * vCPU. Guest memory is touched only through the checked accessors, as the
 * paravisor (PV_ACCESS_PARAVISOR).
 */
#include "boot/boot_internal.h"
#include "core/platform_internal.h"
#include "core/util.h"
#include "paravisor/boot_linux.h"
#include "paravisor/partition.h"
#include "paravisor/vcpu.h"

#define WHO PV_ACCESS_PARAVISOR

/* Follow contiguous memory-map ranges starting at start, appending to map. */
static void discover_from(struct pv_partition *part, uint64_t start, struct pv_mem_range *map,
			  size_t max, size_t *n)
{
	uint64_t addr = start;
	struct pv_mem_range r;

	while (*n < max && pv_mem_lookup(part, pv_gpa(addr), &r) == PV_OK) {
		uint64_t next;

		for (size_t i = 0; i < *n; i++)
			if (pv_gpa_val(map[i].base) == pv_gpa_val(r.base))
				return; /* already seen */
		map[(*n)++] = r;
		if (pv_add_overflow_u64(pv_gpa_val(r.base), r.size, &next))
			return;
		addr = next;
	}
}

static pv_err_t load_write(struct pv_partition *part, uint64_t gpa, const void *buf, size_t len,
			   const char *what)
{
	pv_err_t err = pv_mem_write(part, WHO, pv_gpa(gpa), buf, len);

	if (err)
		pv_log(part, PV_LOG_ERROR, "boot", "writing %s (%zu bytes at 0x%llx) failed: %s",
		       what, len, (unsigned long long)gpa, pv_strerror(err));
	return err;
}

pv_err_t pv_linux_load(struct pv_partition *part, const struct pv_linux_boot_config *cfg,
		       struct pv_linux_plan *plan)
{
	struct pv_mem_range map[PV_MAX_MEM_RANGES];
	struct pv_linux_boot_config c;
	uint8_t *scratch;
	pv_err_t err;

	if (!part || !cfg || !plan)
		return PV_EINVAL;
	c = *cfg;
	if (!c.map) {
		size_t n = 0;

		discover_from(part, 0, map, PV_ARRAY_SIZE(map), &n);
		discover_from(part, BOOT_4G, map, PV_ARRAY_SIZE(map), &n);
		if (n == 0)
			return PV_ERANGE;
		c.map = map;
		c.map_count = n;
	}
	err = pv_linux_plan(&c, plan);
	if (err) {
		pv_log(part, PV_LOG_ERROR, "boot", "cannot place the Linux image: %s",
		       pv_strerror(err));
		return err;
	}

	/* The protected-mode kernel, then zeros for the rest of its init_size area. */
	err = load_write(part, plan->kernel_gpa, (const uint8_t *)c.kernel + plan->info.setup_size,
			 (size_t)plan->info.kernel_size, "kernel");
	if (err)
		return err;
	if (plan->kernel_end - plan->kernel_gpa > plan->info.kernel_size) {
		err = pv_mem_zero(
			part, WHO, pv_gpa(plan->kernel_gpa + plan->info.kernel_size),
			(size_t)(plan->kernel_end - plan->kernel_gpa - plan->info.kernel_size));
		if (err)
			return err;
	}
	if (plan->initrd_size) {
		err = load_write(part, plan->initrd_gpa, c.initrd, (size_t)plan->initrd_size,
				 "initrd");
		if (err)
			return err;
	}
	err = load_write(part, plan->cmdline_gpa, c.cmdline ? c.cmdline : "",
			 (size_t)plan->cmdline_len + 1u, "command line");
	if (err)
		return err;

	scratch = pv_alloc(part, PV_LINUX_PAGE_TABLES_SIZE);
	if (!scratch)
		return PV_ENOMEM;
	err = pv_linux_build_boot_params(plan, c.kernel, c.kernel_size, scratch);
	if (!err)
		err = load_write(part, plan->boot_params_gpa, scratch, PV_LINUX_BOOT_PARAMS_SIZE,
				 "boot parameters");
	if (!err)
		err = pv_linux_build_page_tables(plan->page_tables_gpa, scratch);
	if (!err)
		err = load_write(part, plan->page_tables_gpa, scratch, PV_LINUX_PAGE_TABLES_SIZE,
				 "page tables");
	if (!err) {
		pv_linux_build_gdt(scratch);
		err = load_write(part, plan->gdt_gpa, scratch, PV_LINUX_GDT_SIZE, "GDT");
	}
	if (!err)
		err = pv_mem_zero(part, WHO, pv_gpa(plan->stack_gpa), PV_PAGE_SIZE);
	pv_free(part, scratch);
	if (!err)
		pv_log(part, PV_LOG_INFO, "boot",
		       "Linux protocol %u.%u loaded at 0x%llx, initrd 0x%llx+0x%llx, %u E820 entries",
		       plan->info.protocol >> 8, plan->info.protocol & 0xffu,
		       (unsigned long long)plan->kernel_gpa, (unsigned long long)plan->initrd_gpa,
		       (unsigned long long)plan->initrd_size, plan->e820_count);
	return err;
}

pv_err_t pv_linux_start(struct pv_vcpu *vcpu, const struct pv_linux_plan *plan)
{
	struct pv_regs regs;
	struct pv_sregs sregs, cur;
	pv_err_t err;

	if (!vcpu || !plan)
		return PV_EINVAL;
	err = pv_vcpu_get_sregs(vcpu, &cur);
	if (err)
		return err;
	pv_linux_entry_state(plan, &regs, &sregs);
	sregs.apic_base = cur.apic_base;
	sregs.cr8 = cur.cr8;
	err = pv_vcpu_set_sregs(vcpu, &sregs);
	if (err)
		return err;
	return pv_vcpu_set_regs(vcpu, &regs);
}
