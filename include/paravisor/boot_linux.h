/* SPDX-License-Identifier: MIT */
/**
 * @file boot_linux.h
 * @brief Linux direct boot: load a bzImage through the x86 64-bit boot protocol.
 *
 * The loader checks the bzImage setup header, places the protected-mode
 * kernel, the command line, the initrd, the boot parameters ("zero page")
 * with an E820 map, a GDT and identity page tables for the low 4 GiB in
 * guest RAM, and returns the long-mode register state the boot vCPU starts
 * with (RIP = kernel + 0x200, RSI = boot parameters).
 *
 * Two layers:
 * - pure functions that work on plain buffers (pv_linux_parse(),
 *   pv_linux_build_e820(), pv_linux_plan(), pv_linux_build_boot_params(),
 *   pv_linux_build_page_tables(), pv_linux_build_gdt(),
 *   pv_linux_entry_state()): no partition needed;
 * - pv_linux_load() and pv_linux_start(), which write guest memory only
 *   through pv_mem_write() with ::PV_ACCESS_PARAVISOR and set the vCPU state.
 *
 * Default low-memory layout (each address overridable in
 * ::pv_linux_boot_config; all of it must be RAM in the memory map):
 *
 * | GPA | content |
 * |---|---|
 * | 0x6000 | GDT (null, null, code 0x10, data 0x18, TSS 0x20) |
 * | 0x7000 | boot parameters (4 KiB) |
 * | 0x8000 | initial stack page (RSP = 0x8ff0) |
 * | 0x9000 | page tables: PML4, PDPT, 4 page directories (24 KiB) |
 * | 0x20000 | command line |
 * | 16 MiB | kernel (pref_address, aligned to kernel_alignment) |
 * | top of RAM below min(initrd_addr_max, 4 GiB) | initrd |
 */
#ifndef PARAVISOR_BOOT_LINUX_H
#define PARAVISOR_BOOT_LINUX_H

#include "paravisor/error.h"
#include "paravisor/memory.h"
#include "paravisor/regs.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Size of the boot parameters block (the "zero page"). */
#define PV_LINUX_BOOT_PARAMS_SIZE 4096u
/** @brief Bytes of identity page tables pv_linux_build_page_tables() writes. */
#define PV_LINUX_PAGE_TABLES_SIZE (6u * 4096u)
/** @brief Bytes of GDT pv_linux_build_gdt() writes (3 + 1 descriptors + a 16-byte TSS). */
#define PV_LINUX_GDT_SIZE 48u
/** @brief Maximum number of E820 entries in the boot parameters. */
#define PV_LINUX_E820_MAX 128u
/** @brief Boot-protocol code segment selector (__BOOT_CS). */
#define PV_LINUX_BOOT_CS 0x10u
/** @brief Boot-protocol data segment selector (__BOOT_DS). */
#define PV_LINUX_BOOT_DS 0x18u
/** @brief Task register selector in the loader's GDT. */
#define PV_LINUX_BOOT_TSS 0x20u
/** @brief Lowest boot protocol version accepted (2.12: xloadflags, 64-bit entry). */
#define PV_LINUX_MIN_PROTOCOL 0x020cu

/** @brief E820 range types. */
enum pv_e820_type {
	PV_E820_RAM = 1,      /**< Usable RAM. */
	PV_E820_RESERVED = 2, /**< Reserved. */
	PV_E820_ACPI = 3,     /**< ACPI tables (reclaimable). */
	PV_E820_NVS = 4,      /**< ACPI non-volatile storage. */
	PV_E820_UNUSABLE = 5  /**< Unusable (bad memory). */
};

/** @brief One E820 entry (host-side form; packed to 20 bytes in the zero page). */
struct pv_e820_entry {
	uint64_t addr; /**< First address. */
	uint64_t size; /**< Length in bytes. */
	uint32_t type; /**< ::pv_e820_type. */
};

/** @brief What pv_linux_parse() learned from a bzImage setup header. */
struct pv_linux_image_info {
	uint16_t protocol;   /**< Boot protocol version, e.g. 0x020f for 2.15. */
	uint8_t setup_sects; /**< Setup sectors (0 in the image is read as 4). */
	uint8_t loadflags;   /**< loadflags (bit 0: loaded high). */
	uint16_t xloadflags; /**< xloadflags (bit 0: 64-bit entry at +0x200). */
	bool relocatable;    /**< relocatable_kernel. */
	/** Bytes before the protected-mode kernel: (setup_sects + 1) * 512. */
	uint32_t setup_size;
	/** Image offset just past the setup header (0x202 + byte at 0x201). */
	uint32_t header_end;
	/** Bytes of protected-mode kernel in the image (image size - setup_size). */
	uint64_t kernel_size;
	uint32_t kernel_alignment; /**< Required physical alignment of the kernel (power of two). */
	uint64_t pref_address;     /**< Preferred load address. */
	/** Bytes the kernel needs from its load address while it decompresses. */
	uint32_t init_size;
	uint32_t cmdline_size;    /**< Longest command line, without the terminating NUL. */
	uint32_t initrd_addr_max; /**< Highest address the initrd's last byte may have. */
};

/** @brief An extra E820 range supplied by the caller (ACPI tables, firmware areas...). */
struct pv_linux_e820_extra {
	uint64_t addr; /**< First address. */
	uint64_t size; /**< Length in bytes (> 0). */
	uint32_t type; /**< ::pv_e820_type other than ::PV_E820_RAM. */
};

/** @brief What to load and where. Zero addresses select the defaults in the file comment. */
struct pv_linux_boot_config {
	const void *kernel;  /**< bzImage bytes. */
	size_t kernel_size;  /**< bzImage length. */
	const void *initrd;  /**< initrd bytes, or NULL. */
	size_t initrd_size;  /**< initrd length (0: no initrd). */
	const char *cmdline; /**< NUL-terminated command line, or NULL (empty). */
	/** Guest memory map for the E820 table and placement. NULL: pv_linux_load()
	 *  discovers it with pv_mem_lookup() by following ranges from GPA 0 and
	 *  from 4 GiB (the pure functions need it). */
	const struct pv_mem_range *map;
	size_t map_count; /**< Entries in @c map. */
	/** Extra non-RAM E820 ranges, carved out of RAM. */
	const struct pv_linux_e820_extra *extra;
	size_t extra_count;    /**< Entries in @c extra. */
	uint64_t kernel_gpa;   /**< Kernel load address; 0: pref_address (aligned). */
	uint64_t initrd_gpa;   /**< Fixed initrd address; 0: highest suitable. */
	uint64_t initrd_limit; /**< Extra cap on the initrd's end address (exclusive); 0: none. */
	uint64_t boot_params_gpa; /**< Boot parameters; 0: 0x7000. */
	uint64_t cmdline_gpa;     /**< Command line; 0: 0x20000. */
	uint64_t page_tables_gpa; /**< Page tables (page aligned, 24 KiB); 0: 0x9000. */
	uint64_t gdt_gpa;         /**< GDT; 0: 0x6000. */
	uint64_t stack_gpa;       /**< Initial stack page; 0: 0x8000 (RSP = page + 0xff0). */
	/** ACPI RSDP for boot_params.acpi_rsdp_addr (protocol >= 2.14); 0: none. */
	uint64_t rsdp_gpa;
};

/** @brief Where everything goes: the result of pv_linux_plan(). */
struct pv_linux_plan {
	struct pv_linux_image_info info; /**< Parsed image. */
	uint64_t kernel_gpa;             /**< Protected-mode kernel load address. */
	uint64_t kernel_end;      /**< kernel_gpa + max(kernel_size, init_size) (exclusive). */
	uint64_t initrd_gpa;      /**< initrd address (0 when there is none). */
	uint64_t initrd_size;     /**< initrd length. */
	uint64_t boot_params_gpa; /**< Boot parameters. */
	uint64_t cmdline_gpa;     /**< Command line. */
	uint64_t cmdline_len;     /**< Command line length without NUL. */
	uint64_t page_tables_gpa; /**< Page tables. */
	uint64_t gdt_gpa;         /**< GDT. */
	uint64_t stack_gpa;       /**< Stack page. */
	uint64_t rsdp_gpa;        /**< RSDP (0: none). */
	struct pv_e820_entry e820[PV_LINUX_E820_MAX]; /**< E820 table, sorted. */
	uint32_t e820_count;                          /**< Entries in @c e820. */
};

/**
 * @brief Parse and check a bzImage setup header.
 *
 * Refuses: images too short for the header or for the kernel the header
 * describes (syssize), a missing 0xAA55 boot flag or "HdrS" magic, protocols
 * older than 2.12, kernels without the 64-bit entry (xloadflags bit 0),
 * non-power-of-two kernel_alignment, and a zero init_size.
 * @param image bzImage bytes.
 * @param size Length of @p image.
 * @param out Receives the header facts.
 * @return ::PV_OK; ::PV_EINVAL for NULL arguments; ::PV_EBADMSG for a
 *         truncated or malformed image; ::PV_ENOTSUP for an old protocol or a
 *         kernel without 64-bit entry.
 */
pv_err_t pv_linux_parse(const void *image, size_t size, struct pv_linux_image_info *out);

/**
 * @brief Build an E820 table from a memory map plus extra ranges.
 *
 * RAM ranges become ::PV_E820_RAM and reserved ranges ::PV_E820_RESERVED
 * (MMIO ranges are left out); each extra range is cut out of whatever it
 * overlaps and added with its own type. The result is sorted, without
 * overlaps, with adjacent entries of one type merged.
 * @param map Memory map.
 * @param map_count Entries in @p map.
 * @param extra Extra ranges (may be NULL when @p extra_count is 0).
 * @param extra_count Entries in @p extra.
 * @param out Output table.
 * @param max Capacity of @p out.
 * @param count Receives the number of entries written.
 * @return ::PV_OK; ::PV_EINVAL for NULL arguments, zero-sized, wrapping or
 *         RAM-typed extras or unknown types; ::PV_ERANGE if more than @p max
 *         entries would be needed.
 */
pv_err_t pv_linux_build_e820(const struct pv_mem_range *map, size_t map_count,
			     const struct pv_linux_e820_extra *extra, size_t extra_count,
			     struct pv_e820_entry *out, size_t max, uint32_t *count);

/**
 * @brief Decide where everything goes (no guest memory touched).
 *
 * Parses the image, builds the E820 table, checks the command line length
 * against cmdline_size, places the kernel (its init_size must fit in one
 * RAM range) and the initrd: at @c initrd_gpa if given, else at the highest
 * page-aligned address whose end is at or below min(initrd_addr_max + 1,
 * 4 GiB, @c initrd_limit), inside usable RAM, not overlapping the kernel or
 * the loader's own pages. @p cfg->map is required.
 * @param cfg Boot configuration.
 * @param plan Receives the placement.
 * @return ::PV_OK; the errors of pv_linux_parse() and pv_linux_build_e820();
 *         ::PV_EINVAL for a NULL map or arguments; ::PV_ERANGE for a command
 *         line longer than cmdline_size, an initrd that fits nowhere under
 *         its limit (too big or fixed too high), or areas that overlap or are
 *         not usable RAM.
 */
pv_err_t pv_linux_plan(const struct pv_linux_boot_config *cfg, struct pv_linux_plan *plan);

/**
 * @brief Fill the boot parameters block for a plan.
 * @param plan Result of pv_linux_plan().
 * @param image The bzImage the plan was made from (its setup header is copied).
 * @param image_size Length of @p image.
 * @param out ::PV_LINUX_BOOT_PARAMS_SIZE bytes, fully written.
 * @return ::PV_OK; ::PV_EINVAL for NULL arguments or an image shorter than
 *         the plan's header.
 */
pv_err_t pv_linux_build_boot_params(const struct pv_linux_plan *plan, const void *image,
				    size_t image_size, uint8_t out[PV_LINUX_BOOT_PARAMS_SIZE]);

/**
 * @brief Build identity page tables mapping [0, 4 GiB) with 2 MiB pages.
 * @param base GPA the tables will live at (page aligned): PML4 at @p base,
 *        PDPT at +4 KiB, the four page directories after it.
 * @param out ::PV_LINUX_PAGE_TABLES_SIZE bytes, fully written.
 * @return ::PV_OK; ::PV_EINVAL for NULL, unaligned @p base or tables that
 *         would not end below 4 GiB.
 */
pv_err_t pv_linux_build_page_tables(uint64_t base, uint8_t out[PV_LINUX_PAGE_TABLES_SIZE]);

/**
 * @brief Build the loader's GDT: null, null, flat 64-bit code at 0x10, flat
 *        data at 0x18, a 64-bit TSS descriptor (base 0, limit 0x67) at 0x20.
 * @param out ::PV_LINUX_GDT_SIZE bytes, fully written.
 */
void pv_linux_build_gdt(uint8_t out[PV_LINUX_GDT_SIZE]);

/**
 * @brief The 64-bit entry state for a plan.
 *
 * RIP = kernel_gpa + 0x200, RSI = boot_params_gpa, RSP = stack page + 0xff0,
 * RFLAGS = 2 (interrupts off); CS = 0x10 flat 64-bit code, DS/ES/FS/GS/SS =
 * 0x18 flat data, TR = 0x20; GDTR at the GDT; IDTR empty; CR0 = PE|ET|PG,
 * CR3 = page tables, CR4 = PAE, EFER = LME|LMA. @c apic_base and @c cr8 are
 * left 0: pv_linux_start() keeps the vCPU's current values for those.
 * @param plan Result of pv_linux_plan().
 * @param regs Receives the general registers.
 * @param sregs Receives the segment and control registers.
 */
void pv_linux_entry_state(const struct pv_linux_plan *plan, struct pv_regs *regs,
			  struct pv_sregs *sregs);

/**
 * @brief Plan and write everything into guest memory.
 *
 * Uses only pv_mem_write() / pv_mem_zero() with ::PV_ACCESS_PARAVISOR.
 * Writes the kernel, zeroes the rest of its init_size area, writes the
 * initrd, command line, boot parameters, page tables and GDT.
 * @param part Partition.
 * @param cfg Boot configuration (@c map may be NULL: see ::pv_linux_boot_config).
 * @param plan Receives the placement (may not be NULL).
 * @return ::PV_OK; the errors of pv_linux_plan(); or the memory accessor's
 *         error (then guest memory may be partly written).
 */
pv_err_t pv_linux_load(struct pv_partition *part, const struct pv_linux_boot_config *cfg,
		       struct pv_linux_plan *plan);

/**
 * @brief Put a vCPU into the plan's 64-bit entry state.
 *
 * Reads the current segment registers first so that @c apic_base and
 * @c cr8 keep their values, then writes pv_linux_entry_state().
 * @pre The vCPU is not running.
 * @param vcpu Boot vCPU.
 * @param plan Result of pv_linux_load().
 * @return ::PV_OK; ::PV_EINVAL for NULL arguments; or the port's error.
 */
pv_err_t pv_linux_start(struct pv_vcpu *vcpu, const struct pv_linux_plan *plan);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_BOOT_LINUX_H */
