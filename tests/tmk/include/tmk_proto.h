/* SPDX-License-Identifier: MIT */
/*
 * The TMK guest <-> host protocol, shared by the guest runtime and the host
 * runner. Freestanding: only <stdint.h>.
 *
 * The guest writes console text to TMK_PORT_CONSOLE (byte OUT or rep outsb)
 * and reports by writing the 32-bit guest physical address of a struct
 * tmk_msg to TMK_PORT_REPORT with a 4-byte OUT. The host copies the message
 * once and validates it.
 */
#ifndef TMK_PROTO_H
#define TMK_PROTO_H

#include <stdint.h>

/* Guest memory layout used by the runner. */
#define TMK_IMAGE_BASE 0x100000u /* link address of every TMK image */
#define TMK_BOOT_TABLES 0x10000u /* GDT + page tables (PV_KVM_BOOT_TABLES_SIZE) */
#define TMK_DEFAULT_MEM_MIB 4u   /* RAM is [0, mem) */
#define TMK_MAX_VCPUS 4u

/* Without the in-kernel irqchip, the runner's default interrupt router turns a
 * rising edge on line GSI (< 32) into vector TMK_ROUTER_VECTOR_BASE + GSI on
 * vCPU 0, and an MSI into vector data[7:0] on APIC ID address[19:12]. A case's
 * setup hook may install its own router instead. */
#define TMK_ROUTER_VECTOR_BASE 0x30u

/* I/O ports. */
#define TMK_PORT_CONSOLE 0x00e9u /* console bytes */
#define TMK_PORT_REPORT 0xe0e0u  /* 4-byte OUT: GPA of a struct tmk_msg */

/* Fixtures the core runner setup registers (tests/tmk/cases/core). */
#define TMK_TESTDEV_PORT 0x0600u     /* 8 scratch I/O ports */
#define TMK_TESTDEV_MMIO 0xd0000000u /* 4 KiB scratch MMIO register file */

/* Message types. */
enum tmk_msg_type {
	TMK_MSG_CASE_BEGIN = 1,  /* text: case name */
	TMK_MSG_CASE_END = 2,    /* arg[0]: enum tmk_case_result */
	TMK_MSG_FAIL_DETAIL = 3, /* text: "file:line: what" for the current case */
	TMK_MSG_DONE =
		4, /* arg[0]: 0 = all passed; arg[1] passed; arg[2] failed. Stops the vCPU. */
	TMK_MSG_START_VCPU = 5,  /* arg[0]: vCPU index to start at the image entry */
	TMK_MSG_VCPU_EXIT = 6,   /* an application processor finished: stop it */
	TMK_MSG_REQUEST_IRQ = 7, /* arg[0]: vCPU, arg[1]: vector, arg[2]: delay in microseconds */
	TMK_MSG_USER = 0x100     /* and above: passed to the case's host setup */
};

enum tmk_case_result {
	TMK_PASS = 0,
	TMK_FAIL = 1,
	TMK_SKIP = 2
};

#define TMK_MSG_TEXT 112u

struct tmk_msg {
	uint32_t type; /* enum tmk_msg_type */
	uint32_t vcpu; /* sender's vCPU index */
	uint64_t arg[3];
	char text[TMK_MSG_TEXT]; /* NUL-terminated (the host forces a terminator) */
};

#endif /* TMK_PROTO_H */
