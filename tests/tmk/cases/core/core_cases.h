/* SPDX-License-Identifier: MIT */
/* Constants shared by the core TMK guest (core.c) and its host setup (core_setup.c). */
#ifndef TMK_CORE_CASES_H
#define TMK_CORE_CASES_H

#define CORE_MSR 0x40001000u         /* owned by a registered handler */
#define CORE_MSR_UNKNOWN 0x40001001u /* nobody handles it: #GP */
#define CORE_UNHANDLED_PORT 0x0700u  /* no device */
/* An MSR KVM itself implements (MSR_KVM_SYSTEM_TIME_NEW): the library's handler must win. */
#define CORE_MSR_KVM_KNOWN 0x4b564d01u
#define CORE_MSR_READ_XOR 0xffffu /* the handler answers (last write ^ this) */
#define CORE_IRQ_VECTOR 0x40u

/* Test I/O device at TMK_TESTDEV_PORT: */
#define CORE_IO_SCRATCH 0 /* offsets 0..3: 32-bit scratch registers */
#define CORE_IO_SINK 4    /* writes append their low byte to the sink */
#define CORE_IO_SOURCE 5  /* reads return 0x30, 0x31, ... */
#define CORE_IO_COUNT 6   /* read: bytes in the sink; write: reset sink and source */
#define CORE_IO_IRQCHIP 7 /* read: 1 when the port has the in-kernel irqchip */

/* IOAPIC case (irqchip mode): the host pulses this GSI on TMK_MSG_CORE_PULSE. */
#define CORE_GSI 5u
#define CORE_GSI_VECTOR 0x41u
#define TMK_MSG_CORE_PULSE (TMK_MSG_USER + 1) /* arg[0]: GSI */

#define CORE_REP_TEXT "0123456789abcdef"

#define CORE_CPUID_SIG_EBX 0x7062696cu /* "libp" */
#define CORE_CPUID_SIG_ECX 0x76617261u /* "arav" */
#define CORE_CPUID_SIG_EDX 0x726f7369u /* "isor" */
#define CORE_CPUID_FEATURE 0xc0ffee01u

#endif /* TMK_CORE_CASES_H */
