/* SPDX-License-Identifier: MIT */
/* Constants shared by the VMBus TMK guest (vmbus_guest.c) and its host setup. */
#ifndef TMK_VMBUS_CASES_H
#define TMK_VMBUS_CASES_H

#define VMBT_SINT 2u /* VMBus message SINT, as Linux uses */
#define VMBT_SINT_VECTOR 0x50u
#define VMBT_GPADL_ID 0xE1E10u /* Linux's first GPADL ID */
#define VMBT_RING_PAGES 8u     /* hv_utils: 4 + 4 pages */

#endif /* TMK_VMBUS_CASES_H */
