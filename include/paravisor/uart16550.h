/* SPDX-License-Identifier: MIT */
/**
 * @file uart16550.h
 * @brief 16550A UART device model with 16-byte FIFOs and a host backend.
 *
 * The device occupies 8 I/O ports (COM1: 0x3F8, IRQ 4). It models the whole
 * register set (RBR/THR, IER, IIR/FCR, LCR with the divisor latch, MCR with
 * loopback, LSR, MSR, SCR), the 16-byte receive and transmit FIFOs and the
 * four interrupt sources with the 16550A priorities and clear rules:
 *
 * | priority | IIR  | source                     | cleared by                        |
 * |----------|------|----------------------------|-----------------------------------|
 * | 1        | 0x06 | line status (OE/PE/FE/BI)  | reading LSR                       |
 * | 2        | 0x04 | received data >= trigger   | FIFO drops below the trigger      |
 * | 2        | 0x0C | character timeout          | reading RBR                       |
 * | 3        | 0x02 | transmitter holding empty  | reading IIR (when shown), writing THR |
 * | 4        | 0x00 | modem status change        | reading MSR                       |
 *
 * The interrupt line follows the highest pending enabled source; on a PC the
 * MCR OUT2 bit gates it (configurable). Transmission is instantaneous: a byte
 * written to THR is handed to the backend at once. Bytes the backend refuses
 * stay in the transmit FIFO (THRE clear) and are retried on the next THR
 * write, LSR read, poll-timer tick (pv_uart_config::rx_poll_ns) or
 * pv_uart_tx_kick(). The character timeout is 4 character times derived from
 * the divisor latch and LCR.
 *
 * Multi-byte port accesses are split into byte accesses at consecutive
 * offsets (as an 8-bit bus would); bytes beyond the 8-port range read 0xFF
 * and ignore writes.
 */
#ifndef PARAVISOR_UART16550_H
#define PARAVISOR_UART16550_H

#include "paravisor/error.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Number of I/O ports a UART occupies. */
#define PV_UART_PORT_COUNT 8u
/** @brief Depth of each FIFO. */
#define PV_UART_FIFO_SIZE 16u
/** @brief Standard COM1 base port. */
#define PV_UART_COM1_BASE 0x3F8u
/** @brief Standard COM1 interrupt line. */
#define PV_UART_COM1_IRQ 4u

/** @brief Host side of a UART: where transmitted bytes go, where received bytes come from.
 *
 *  Callbacks run with the device lock held, from vCPU or timer threads; they
 *  must not block and must not call back into the UART. */
struct pv_uart_backend {
	/** Context given to the callbacks. */
	void *ctx;
	/** Take up to @p len transmitted bytes; return how many were accepted
	 *  (0 = try again later, see pv_uart_tx_kick()). NULL discards output. */
	size_t (*write)(void *ctx, const uint8_t *buf, size_t len);
	/** Non-blocking: copy up to @p cap bytes of pending input into @p buf and
	 *  return the count (0 when none). NULL means no input source. */
	size_t (*read)(void *ctx, uint8_t *buf, size_t cap);
};

/** @brief UART configuration. */
struct pv_uart_config {
	uint16_t io_base;      /**< First I/O port (e.g. ::PV_UART_COM1_BASE). */
	uint32_t irq;          /**< Interrupt line (GSI) for pv_irq_set(). */
	bool irq_ignores_out2; /**< true: MCR OUT2 does not gate the line. */
	/** Poll the backend this often with a port timer: pull input, retry
	 *  refused output (0: only when the guest reads RBR/LSR or the host
	 *  calls pv_uart_poll() / pv_uart_tx_kick()). */
	uint64_t rx_poll_ns;
	struct pv_uart_backend backend; /**< Host backend (copied). */
};

/** @brief Opaque UART instance. */
struct pv_uart;

/**
 * @brief Create a UART and register its I/O ports.
 * @param part Partition.
 * @param config Configuration (copied).
 * @param out Receives the device.
 * @return ::PV_OK; ::PV_EINVAL (NULL argument, ports past 0xFFFF);
 *         ::PV_ENOMEM; ::PV_EEXIST if the ports are taken; a timer error
 *         when @c rx_poll_ns is set and the port has no timers.
 */
pv_err_t pv_uart_create(struct pv_partition *part, const struct pv_uart_config *config,
			struct pv_uart **out);

/**
 * @brief Unregister and free a UART. NULL is ignored.
 * @pre No vCPU is accessing the device.
 * @param uart Device.
 */
void pv_uart_destroy(struct pv_uart *uart);

/**
 * @brief Perform a register access exactly as a guest IN/OUT would.
 * @param uart Device.
 * @param offset Port offset from the base (0..7; larger offsets read 0xFF).
 * @param size 1, 2 or 4.
 * @param is_write true for OUT.
 * @param data In: value written; out: value read.
 * @return ::PV_OK; ::PV_EINVAL for a NULL argument or a bad size.
 */
pv_err_t pv_uart_io(struct pv_uart *uart, uint16_t offset, uint8_t size, bool is_write,
		    uint32_t *data);

/**
 * @brief Host input: queue received bytes into the receive FIFO.
 *
 * Ignored (returns 0) while the UART is in loopback mode.
 * @param uart Device.
 * @param buf Bytes.
 * @param len Count.
 * @return How many bytes fitted into the FIFO.
 */
size_t pv_uart_receive(struct pv_uart *uart, const uint8_t *buf, size_t len);

/**
 * @brief Pull pending input from the backend into the receive FIFO and
 *        update the interrupt line.
 * @param uart Device.
 * @return Number of bytes taken from the backend.
 */
size_t pv_uart_poll(struct pv_uart *uart);

/**
 * @brief Retry handing the transmit FIFO to the backend (call when a backend
 *        that refused bytes can accept again).
 * @param uart Device.
 */
void pv_uart_tx_kick(struct pv_uart *uart);

/** @brief Modem-status input bits for pv_uart_set_modem_lines() (MSR bit positions). */
enum pv_uart_modem_line {
	PV_UART_LINE_CTS = 0x10, /**< Clear to send. */
	PV_UART_LINE_DSR = 0x20, /**< Data set ready. */
	PV_UART_LINE_RI = 0x40,  /**< Ring indicator. */
	PV_UART_LINE_DCD = 0x80  /**< Data carrier detect. */
};

/**
 * @brief Set the modem input lines the host side drives (ignored in loopback).
 *
 * Changes set the MSR delta bits (TERI only on a RI falling edge) and may
 * raise the modem-status interrupt.
 * @param uart Device.
 * @param lines Bit set of ::pv_uart_modem_line.
 */
void pv_uart_set_modem_lines(struct pv_uart *uart, uint8_t lines);

/**
 * @brief Host-side break: the receiver sees a break (a 0 byte flagged BI).
 * @param uart Device.
 */
void pv_uart_send_break(struct pv_uart *uart);

/**
 * @brief Save the device state into a versioned byte record.
 * @param uart Device.
 * @param buf Destination (may be NULL to query the size).
 * @param cap Capacity of @p buf.
 * @param len Receives the record length (also when it did not fit).
 * @return ::PV_OK; ::PV_ERANGE if @p buf is NULL or too small; ::PV_EINVAL.
 */
pv_err_t pv_uart_save(struct pv_uart *uart, uint8_t *buf, size_t cap, size_t *len);

/**
 * @brief Restore the device state from a record made by pv_uart_save().
 *
 * The record is validated completely before anything changes.
 * @param uart Device.
 * @param buf Record.
 * @param len Record length.
 * @return ::PV_OK; ::PV_EVERSION for another version; ::PV_EBADMSG for a
 *         malformed record; ::PV_EINVAL for NULL arguments.
 */
pv_err_t pv_uart_restore(struct pv_uart *uart, const uint8_t *buf, size_t len);

/** @brief In-memory backend state (caller-owned; see pv_uart_backend_mem()). */
struct pv_uart_membuf {
	uint8_t *tx;       /**< Transmitted bytes are appended here. */
	size_t tx_cap;     /**< Capacity of @c tx; further bytes are refused. */
	size_t tx_len;     /**< Bytes in @c tx. */
	const uint8_t *rx; /**< Input bytes offered to the guest. */
	size_t rx_len;     /**< Length of @c rx. */
	size_t rx_pos;     /**< Bytes of @c rx already consumed. */
};

/**
 * @brief Make a backend over an in-memory buffer (freestanding; for tests).
 * @param mem Buffer state; must outlive the UART. Access it only while no
 *        vCPU uses the UART.
 * @return The backend, to place in pv_uart_config::backend.
 */
struct pv_uart_backend pv_uart_backend_mem(struct pv_uart_membuf *mem);

/** @brief File-descriptor backend state (hosted builds only). */
struct pv_uart_fdbuf {
	int in_fd;  /**< Read end (stdin, a pty, a socket), or -1 for no input. */
	int out_fd; /**< Write end (stdout, a pty, a socket), or -1 to discard. */
};

/**
 * @brief Make a backend over a file-descriptor pair (hosted builds only).
 *
 * Reads poll @c in_fd without blocking; writes are non-blocking where the
 * descriptor allows (a full pipe/socket makes the UART hold the bytes).
 * Output to a socket whose peer is gone is dropped without SIGPIPE; for
 * pipes the embedder should ignore SIGPIPE.
 * @param fds Descriptor pair; must outlive the UART. The caller closes them.
 * @return The backend.
 */
struct pv_uart_backend pv_uart_backend_fd(struct pv_uart_fdbuf *fds);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_UART16550_H */
