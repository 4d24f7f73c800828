/* SPDX-License-Identifier: MIT */
/*
 * E820 table construction from the partition memory map plus caller
 * ranges. All arithmetic uses inclusive last addresses so a range that ends
 * at the top of the 64-bit space cannot overflow.
 */
#include "boot/boot_internal.h"
#include "core/util.h"
#include "paravisor/boot_linux.h"

static pv_err_t e820_push(struct pv_e820_entry *out, size_t max, uint32_t *n, uint64_t addr,
			  uint64_t last, uint32_t type)
{
	if (*n >= max)
		return PV_ERANGE;
	out[*n].addr = addr;
	out[*n].size = last - addr + 1u;
	out[*n].type = type;
	(*n)++;
	return PV_OK;
}

/* Remove [addr, last] from every entry, splitting entries it falls inside. */
static pv_err_t e820_carve(struct pv_e820_entry *out, size_t max, uint32_t *n, uint64_t addr,
			   uint64_t last)
{
	uint32_t i = 0;

	while (i < *n) {
		uint64_t a = out[i].addr;
		uint64_t l = a + out[i].size - 1u;
		uint32_t type = out[i].type;
		pv_err_t err;

		if (l < addr || a > last) {
			i++;
			continue;
		}
		/* Drop entry i (move the last one into its slot), then re-add the pieces. */
		out[i] = out[*n - 1u];
		(*n)--;
		if (a < addr) {
			err = e820_push(out, max, n, a, addr - 1u, type);
			if (err)
				return err;
		}
		if (l > last) {
			err = e820_push(out, max, n, last + 1u, l, type);
			if (err)
				return err;
		}
		/* Pieces were appended at the end and no longer overlap: keep i. */
	}
	return PV_OK;
}

pv_err_t pv_linux_build_e820(const struct pv_mem_range *map, size_t map_count,
			     const struct pv_linux_e820_extra *extra, size_t extra_count,
			     struct pv_e820_entry *out, size_t max, uint32_t *count)
{
	uint32_t n = 0;
	pv_err_t err;
	size_t i;

	if (!map || !out || !count || (extra_count && !extra))
		return PV_EINVAL;
	*count = 0;
	if (max > UINT32_MAX)
		max = UINT32_MAX;
	for (i = 0; i < map_count; i++) {
		uint64_t last;
		uint32_t type;

		if (!pv_range_last(pv_gpa_val(map[i].base), map[i].size, &last))
			return PV_EINVAL;
		if (map[i].kind == PV_MEM_RAM)
			type = PV_E820_RAM;
		else if (map[i].kind == PV_MEM_RESERVED)
			type = PV_E820_RESERVED;
		else if (map[i].kind == PV_MEM_MMIO)
			continue;
		else
			return PV_EINVAL;
		err = e820_push(out, max, &n, pv_gpa_val(map[i].base), last, type);
		if (err)
			return err;
	}
	for (i = 0; i < extra_count; i++) {
		uint64_t last;

		if (!pv_range_last(extra[i].addr, extra[i].size, &last))
			return PV_EINVAL;
		if (extra[i].type < PV_E820_RESERVED || extra[i].type > PV_E820_UNUSABLE)
			return PV_EINVAL;
		err = e820_carve(out, max, &n, extra[i].addr, last);
		if (err)
			return err;
		err = e820_push(out, max, &n, extra[i].addr, last, extra[i].type);
		if (err)
			return err;
	}
	/* Insertion sort by address (at most PV_LINUX_E820_MAX-ish entries). */
	for (uint32_t a = 1; a < n; a++) {
		struct pv_e820_entry e = out[a];
		uint32_t b = a;

		while (b > 0 && out[b - 1u].addr > e.addr) {
			out[b] = out[b - 1u];
			b--;
		}
		out[b] = e;
	}
	/* Reject overlaps left by the map itself; merge touching same-type entries. */
	uint32_t w = 0;
	for (uint32_t r = 0; r < n; r++) {
		if (w > 0) {
			struct pv_e820_entry *prev = &out[w - 1u];
			uint64_t prev_last = prev->addr + prev->size - 1u;

			if (out[r].addr <= prev_last)
				return PV_EINVAL;
			uint64_t r_last = out[r].addr + (out[r].size - 1u);

			/* (Merging [0, 2^64) would overflow the size: keep two entries.) */
			if (prev->type == out[r].type && out[r].addr == prev_last + 1u &&
			    !(prev->addr == 0 && r_last == UINT64_MAX)) {
				prev->size += out[r].size;
				continue;
			}
		}
		out[w++] = out[r];
	}
	*count = w;
	return PV_OK;
}
