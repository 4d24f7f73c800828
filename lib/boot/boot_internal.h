/* SPDX-License-Identifier: MIT */
/*
 * Private helpers of the Linux direct-boot loader: little-endian field
 * access on byte buffers and the setup-header offsets of the x86 boot
 * protocol (Documentation/arch/x86/boot.rst; zero-page.rst).
 */
#ifndef PV_BOOT_INTERNAL_H
#define PV_BOOT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Setup header, at the same offsets in the image and in boot_params. */
#define BP_SETUP_SECTS 0x1f1u
#define BP_SYSSIZE 0x1f4u
#define BP_BOOT_FLAG 0x1feu
#define BP_JUMP 0x200u
#define BP_HEADER 0x202u
#define BP_VERSION 0x206u
#define BP_TYPE_OF_LOADER 0x210u
#define BP_LOADFLAGS 0x211u
#define BP_CODE32_START 0x214u
#define BP_RAMDISK_IMAGE 0x218u
#define BP_RAMDISK_SIZE 0x21cu
#define BP_HEAP_END_PTR 0x224u
#define BP_CMD_LINE_PTR 0x228u
#define BP_INITRD_ADDR_MAX 0x22cu
#define BP_KERNEL_ALIGNMENT 0x230u
#define BP_RELOCATABLE 0x234u
#define BP_XLOADFLAGS 0x236u
#define BP_CMDLINE_SIZE 0x238u
#define BP_HARDWARE_SUBARCH 0x23cu
#define BP_PREF_ADDRESS 0x258u
#define BP_INIT_SIZE 0x260u
/* Fields of boot_params outside the setup header. */
#define BP_ACPI_RSDP_ADDR 0x070u
#define BP_EXT_RAMDISK_IMAGE 0x0c0u
#define BP_EXT_RAMDISK_SIZE 0x0c4u
#define BP_EXT_CMD_LINE_PTR 0x0c8u
#define BP_E820_ENTRIES 0x1e8u
#define BP_E820_TABLE 0x2d0u

#define BP_HDRS_MAGIC 0x53726448u /* "HdrS" */
#define BP_BOOT_FLAG_MAGIC 0xaa55u
#define BP_XLF_KERNEL_64 (1u << 0)
#define BP_LOADED_HIGH (1u << 0)
#define BP_CAN_USE_HEAP (1u << 7)
/* Fields the loader reads must lie inside the header the image declares. */
#define BP_MIN_HEADER_END (BP_INIT_SIZE + 4u)

#define BOOT_DEFAULT_GDT 0x6000u
#define BOOT_DEFAULT_BOOT_PARAMS 0x7000u
#define BOOT_DEFAULT_STACK 0x8000u
#define BOOT_DEFAULT_PAGE_TABLES 0x9000u
#define BOOT_DEFAULT_CMDLINE 0x20000u
#define BOOT_4G 0x100000000ull

static inline uint16_t boot_rd16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | (p[off + 1] << 8));
}

static inline uint32_t boot_rd32(const uint8_t *p, size_t off)
{
	return (uint32_t)p[off] | ((uint32_t)p[off + 1] << 8) | ((uint32_t)p[off + 2] << 16) |
	       ((uint32_t)p[off + 3] << 24);
}

static inline uint64_t boot_rd64(const uint8_t *p, size_t off)
{
	return (uint64_t)boot_rd32(p, off) | ((uint64_t)boot_rd32(p, off + 4) << 32);
}

static inline void boot_wr16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static inline void boot_wr32(uint8_t *p, size_t off, uint32_t v)
{
	boot_wr16(p, off, (uint16_t)v);
	boot_wr16(p, off + 2, (uint16_t)(v >> 16));
}

static inline void boot_wr64(uint8_t *p, size_t off, uint64_t v)
{
	boot_wr32(p, off, (uint32_t)v);
	boot_wr32(p, off + 4, (uint32_t)(v >> 32));
}

#endif /* PV_BOOT_INTERNAL_H */
