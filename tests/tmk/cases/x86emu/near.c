/* SPDX-License-Identifier: MIT */
/* The near MMIO device's address as a link-time symbol (see guest.c). */
__asm__(".globl x86emu_near\n.set x86emu_near, 0xf00000\n");
