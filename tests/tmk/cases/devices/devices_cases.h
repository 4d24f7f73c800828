/* SPDX-License-Identifier: MIT */
/* Shared constants of the devices TMK (guest and host). */
#ifndef TMK_DEVICES_CASES_H
#define TMK_DEVICES_CASES_H

#define DEV_UART_BASE 0x3F8u
#define DEV_UART_IRQ 4u
#define DEV_UART_VECTOR 0x44u
#define DEV_RTC_IRQ 8u
#define DEV_RTC_VECTOR 0x48u
#define DEV_RTC_EPOCH 1709251198ull /* 2024-02-29 23:59:58 UTC */
#define DEV_CRB_BASE 0xFED40000ull
#define DEV_MSG_UART_INPUT 0x160u /* text: bytes the host pushes into the UART */
#define DEV_TX_MESSAGE "interrupt-driven transmit through the 16550A FIFO, 16 bytes per THRE\n"

#endif /* TMK_DEVICES_CASES_H */
