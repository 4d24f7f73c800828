/* SPDX-License-Identifier: MIT */
/*
 * bzImage setup-header parsing. The image is host-supplied but treated as
 * untrusted: every offset is checked against the image length first.
 */
#include "boot/boot_internal.h"
#include "core/util.h"
#include "paravisor/boot_linux.h"

/* boot_params has room for the setup header up to this offset. */
#define BP_HEADER_ROOM_END 0x290u

pv_err_t pv_linux_parse(const void *image, size_t size, struct pv_linux_image_info *out)
{
	const uint8_t *p = image;
	struct pv_linux_image_info info;
	uint32_t syssize;
	uint64_t sys_bytes;

	if (!image || !out)
		return PV_EINVAL;
	pv_memset(out, 0, sizeof(*out));
	pv_memset(&info, 0, sizeof(info));
	if (size < BP_HEADER + 6u)
		return PV_EBADMSG; /* too short for the header signature */
	if (boot_rd16(p, BP_BOOT_FLAG) != BP_BOOT_FLAG_MAGIC)
		return PV_EBADMSG;
	if (boot_rd32(p, BP_HEADER) != BP_HDRS_MAGIC)
		return PV_EBADMSG;
	info.protocol = boot_rd16(p, BP_VERSION);
	if (info.protocol < PV_LINUX_MIN_PROTOCOL)
		return PV_ENOTSUP;
	/* The header ends at 0x202 + the jump's displacement byte. */
	info.header_end = BP_HEADER + p[BP_JUMP + 1u];
	if (info.header_end < BP_MIN_HEADER_END)
		return PV_EBADMSG;
	if (info.header_end > BP_HEADER_ROOM_END)
		info.header_end = BP_HEADER_ROOM_END;
	if (size < info.header_end)
		return PV_EBADMSG;

	info.setup_sects = p[BP_SETUP_SECTS] ? p[BP_SETUP_SECTS] : 4u;
	info.setup_size = ((uint32_t)info.setup_sects + 1u) * 512u;
	if (size <= info.setup_size)
		return PV_EBADMSG; /* no protected-mode kernel at all */
	info.kernel_size = (uint64_t)size - info.setup_size;
	syssize = boot_rd32(p, BP_SYSSIZE);
	sys_bytes = (uint64_t)syssize * 16u;
	if (syssize == 0 || sys_bytes > info.kernel_size)
		return PV_EBADMSG; /* truncated: the header promises more kernel */

	info.loadflags = p[BP_LOADFLAGS];
	if (!(info.loadflags & BP_LOADED_HIGH))
		return PV_ENOTSUP; /* a zImage loaded at 0x10000 */
	info.xloadflags = boot_rd16(p, BP_XLOADFLAGS);
	if (!(info.xloadflags & BP_XLF_KERNEL_64))
		return PV_ENOTSUP;
	info.relocatable = p[BP_RELOCATABLE] != 0;
	info.kernel_alignment = boot_rd32(p, BP_KERNEL_ALIGNMENT);
	if (info.kernel_alignment == 0 ||
	    (info.kernel_alignment & (info.kernel_alignment - 1u)) != 0)
		return PV_EBADMSG;
	info.pref_address = boot_rd64(p, BP_PREF_ADDRESS);
	info.init_size = boot_rd32(p, BP_INIT_SIZE);
	if (info.init_size == 0)
		return PV_EBADMSG;
	info.cmdline_size = boot_rd32(p, BP_CMDLINE_SIZE);
	info.initrd_addr_max = boot_rd32(p, BP_INITRD_ADDR_MAX);
	*out = info;
	return PV_OK;
}
