/* SPDX-License-Identifier: MIT */
/* Constants shared by the hv1 TMK guest (hv1.c) and its host setup (hv1_setup.c). */
#ifndef TMK_HV1_CASES_H
#define TMK_HV1_CASES_H

#define HV1T_ECHO_CONNECTION 5u  /* HvPostMessage here: the host echoes to SINT 2 */
#define HV1T_EVENT_CONNECTION 6u /* HvSignalEvent here: the host sets SIEF flag n+1 on SINT 2 */
#define HV1T_SINT 2u
#define HV1T_SINT_VECTOR 0x50u
#define HV1T_STIMER_VECTOR 0x51u
#define HV1T_MSG_TYPE 1u
#define HV1T_REPLY_XOR 0xA5u /* the echo XORs every payload byte with this */

#endif /* TMK_HV1_CASES_H */
