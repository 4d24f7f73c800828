/* SPDX-License-Identifier: MIT */
/* 16550A UART: registers, FIFOs, interrupt priorities and clear rules,
 * backends, every-width access and save/restore, through the dispatcher. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/devtest.h"
#include "paravisor/uart16550.h"

#define BASE 0x3F8u
#define IRQ 4u
#define RBR (BASE + 0)
#define IER (BASE + 1)
#define IIR (BASE + 2)
#define FCR (BASE + 2)
#define LCR (BASE + 3)
#define MCR (BASE + 4)
#define LSR (BASE + 5)
#define MSR (BASE + 6)
#define SCR (BASE + 7)

/* 4 character times at divisor 1, 8N1: 4 * 10 * 16 / 1.8432 MHz. */
#define TIMEOUT_DIV1_NS 347223u

struct fx {
	struct devtest t;
	struct pv_uart *u;
	struct pv_uart_membuf mem;
	uint8_t txbuf[256];
	uint8_t rxsrc[64];
};

static int fx_setup_caps(void **state, uint32_t caps, uint64_t poll_ns)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(devtest_init(&f->t, caps), 0);
	f->mem.tx = f->txbuf;
	f->mem.tx_cap = sizeof(f->txbuf);
	struct pv_uart_config cfg = {.io_base = BASE, .irq = IRQ, .rx_poll_ns = poll_ns};
	cfg.backend = pv_uart_backend_mem(&f->mem);
	assert_int_equal(pv_uart_create(f->t.part, &cfg, &f->u), PV_OK);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_caps(state, PV_PORT_CAP_TIMERS, 0);
}

static int fx_setup_notimers(void **state)
{
	return fx_setup_caps(state, 0, 0);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	pv_uart_destroy(f->u);
	devtest_fini(&f->t);
	free(f);
	return 0;
}

static uint8_t in8(struct fx *f, uint16_t port)
{
	return (uint8_t)devtest_in(&f->t, port, 1);
}

static void out8(struct fx *f, uint16_t port, uint8_t v)
{
	devtest_out(&f->t, port, 1, v);
}

static void set_divisor(struct fx *f, uint16_t div)
{
	uint8_t lcr = in8(f, LCR);
	out8(f, LCR, (uint8_t)(lcr | 0x80));
	out8(f, RBR, (uint8_t)div);
	out8(f, IER, (uint8_t)(div >> 8));
	out8(f, LCR, lcr);
}

static void test_reset_values(void **state)
{
	struct fx *f = *state;
	assert_int_equal(in8(f, IER), 0);
	assert_int_equal(in8(f, IIR), 0x01);
	assert_int_equal(in8(f, LCR), 0);
	assert_int_equal(in8(f, MCR), 0);
	assert_int_equal(in8(f, LSR), 0x60);
	assert_int_equal(in8(f, MSR), 0);
	assert_int_equal(in8(f, SCR), 0);
	assert_false(f->t.level[IRQ]);
	assert_int_equal(devtest_handler_errors(&f->t), 0);
}

static void test_scratch_and_divisor(void **state)
{
	struct fx *f = *state;
	out8(f, SCR, 0xA5);
	assert_int_equal(in8(f, SCR), 0xA5);
	out8(f, IER, 0x05);
	out8(f, LCR, 0x83);
	out8(f, RBR, 0x34); /* DLL */
	out8(f, IER, 0x12); /* DLM */
	assert_int_equal(in8(f, RBR), 0x34);
	assert_int_equal(in8(f, IER), 0x12);
	assert_int_equal(in8(f, LCR), 0x83);
	out8(f, LCR, 0x03);
	/* IER kept its own value; upper nibble is not writable. */
	assert_int_equal(in8(f, IER), 0x05);
	out8(f, IER, 0xFF);
	assert_int_equal(in8(f, IER), 0x0F);
	/* LSR and MSR ignore writes. */
	out8(f, LSR, 0x00);
	assert_int_equal(in8(f, LSR) & 0x60, 0x60);
	out8(f, MSR, 0xFF);
	assert_int_equal(in8(f, MSR), 0);
	/* MCR keeps only bits 4:0. */
	out8(f, MCR, 0xFF);
	assert_int_equal(in8(f, MCR), 0x1F);
}

static void test_transmit_to_memory(void **state)
{
	struct fx *f = *state;
	const char *msg = "hello, 16550";
	for (const char *p = msg; *p; p++)
		out8(f, RBR, (uint8_t)*p);
	assert_int_equal(f->mem.tx_len, strlen(msg));
	assert_memory_equal(f->txbuf, msg, strlen(msg));
	assert_int_equal(in8(f, LSR) & 0x60, 0x60);
}

static void test_backend_backpressure(void **state)
{
	struct fx *f = *state;
	f->mem.tx_cap = 2;
	for (int i = 0; i < 5; i++)
		out8(f, RBR, (uint8_t)('a' + i));
	assert_int_equal(f->mem.tx_len, 2);
	/* Bytes held in the FIFO: THR/TEMT clear. */
	assert_int_equal(in8(f, LSR) & 0x60, 0);
	/* Once the backend accepts again, a polling guest's LSR read retries. */
	f->mem.tx_cap = sizeof(f->txbuf);
	assert_int_equal(in8(f, LSR) & 0x60, 0x60);
	assert_int_equal(f->mem.tx_len, 5);
	assert_memory_equal(f->txbuf, "abcde", 5);
	/* A full transmit FIFO drops further bytes. */
	f->mem.tx_cap = 5;
	for (int i = 0; i < 20; i++)
		out8(f, RBR, (uint8_t)i);
	f->mem.tx_cap = sizeof(f->txbuf);
	pv_uart_tx_kick(f->u);
	assert_int_equal(f->mem.tx_len, 5 + PV_UART_FIFO_SIZE);
}

static void test_receive_fifo_and_non_fifo(void **state)
{
	struct fx *f = *state;
	const uint8_t data[20] = "0123456789abcdefghij";
	/* FIFOs off: one holding register. */
	assert_int_equal(pv_uart_receive(f->u, data, 20), 1);
	assert_int_equal(in8(f, LSR) & 0x01, 0x01);
	assert_int_equal(in8(f, RBR), '0');
	assert_int_equal(in8(f, LSR) & 0x01, 0);
	/* Reading an empty RBR repeats the last byte. */
	assert_int_equal(in8(f, RBR), '0');
	/* FIFOs on: 16 bytes. */
	out8(f, FCR, 0x01);
	assert_int_equal(in8(f, IIR) & 0xC0, 0xC0);
	assert_int_equal(pv_uart_receive(f->u, data, 20), 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(in8(f, RBR), data[i]);
	assert_int_equal(in8(f, LSR) & 0x01, 0);
	/* Clear-RX in FCR empties the FIFO; disabling FIFOs clears as well. */
	assert_int_equal(pv_uart_receive(f->u, data, 4), 4);
	out8(f, FCR, 0x03);
	assert_int_equal(in8(f, LSR) & 0x01, 0);
	assert_int_equal(pv_uart_receive(f->u, data, 4), 4);
	out8(f, FCR, 0x00);
	assert_int_equal(in8(f, LSR) & 0x01, 0);
	assert_int_equal(in8(f, IIR) & 0xC0, 0);
}

static void test_rda_trigger_and_timeout(void **state)
{
	struct fx *f = *state;
	uint8_t data[16];
	for (int i = 0; i < 16; i++)
		data[i] = (uint8_t)(0x40 + i);
	set_divisor(f, 1);
	out8(f, LCR, 0x03);
	out8(f, FCR, 0x81); /* trigger 8 */
	out8(f, MCR, 0x08); /* OUT2 */
	out8(f, IER, 0x01);
	assert_int_equal(pv_uart_receive(f->u, data, 7), 7);
	assert_int_equal(in8(f, IIR), 0xC1);
	assert_false(f->t.level[IRQ]);
	/* Just before 4 character times: still nothing. */
	pv_mock_advance_clock(f->t.mock, TIMEOUT_DIV1_NS - 2000);
	assert_false(f->t.level[IRQ]);
	pv_mock_advance_clock(f->t.mock, 4000);
	assert_true(f->t.level[IRQ]); /* raised by the timer, without an access */
	assert_int_equal(in8(f, IIR), 0xCC);
	/* Reading RBR clears the timeout and restarts it. */
	assert_int_equal(in8(f, RBR), 0x40);
	assert_int_equal(in8(f, IIR), 0xC1);
	assert_false(f->t.level[IRQ]);
	/* Reaching the trigger raises RDA at once. */
	assert_int_equal(pv_uart_receive(f->u, data + 7, 2), 2);
	assert_int_equal(in8(f, IIR), 0xC4);
	assert_true(f->t.level[IRQ]);
	/* Dropping below the trigger clears RDA (timeout not yet due). */
	assert_int_equal(in8(f, RBR), 0x41);
	assert_int_equal(in8(f, IIR), 0xC1);
	assert_false(f->t.level[IRQ]);
	/* Trigger levels 1, 4 and 14. */
	out8(f, FCR, 0x03);
	out8(f, FCR, 0x41);
	assert_int_equal(pv_uart_receive(f->u, data, 3), 3);
	assert_int_equal(in8(f, IIR), 0xC1);
	assert_int_equal(pv_uart_receive(f->u, data, 1), 1);
	assert_int_equal(in8(f, IIR), 0xC4);
	out8(f, FCR, 0xC3);
	assert_int_equal(pv_uart_receive(f->u, data, 13), 13);
	assert_int_equal(in8(f, IIR), 0xC1);
	assert_int_equal(pv_uart_receive(f->u, data, 1), 1);
	assert_int_equal(in8(f, IIR), 0xC4);
	out8(f, FCR, 0x03);
	assert_int_equal(pv_uart_receive(f->u, data, 1), 1);
	assert_int_equal(in8(f, IIR), 0xC4);
}

static void test_timeout_scales_with_divisor(void **state)
{
	struct fx *f = *state;
	uint8_t b = 'x';
	set_divisor(f, 12); /* 9600 baud: 4 chars = 4.17 ms */
	out8(f, LCR, 0x03);
	out8(f, FCR, 0x81);
	out8(f, MCR, 0x08);
	out8(f, IER, 0x01);
	assert_int_equal(pv_uart_receive(f->u, &b, 1), 1);
	pv_mock_advance_clock(f->t.mock, 4000000);
	assert_false(f->t.level[IRQ]);
	pv_mock_advance_clock(f->t.mock, 200000);
	assert_true(f->t.level[IRQ]);
}

static void test_timeout_without_timers(void **state)
{
	struct fx *f = *state;
	uint8_t b = 'x';
	out8(f, FCR, 0x81);
	out8(f, MCR, 0x08);
	out8(f, IER, 0x01);
	/* Without port timers the timeout is reported immediately. */
	assert_int_equal(pv_uart_receive(f->u, &b, 1), 1);
	assert_true(f->t.level[IRQ]);
	assert_int_equal(in8(f, IIR), 0xCC);
	assert_int_equal(in8(f, RBR), 'x');
	assert_false(f->t.level[IRQ]);
}

static void test_thre_interrupt_rules(void **state)
{
	struct fx *f = *state;
	out8(f, MCR, 0x08);
	/* Enabling ETBEI while THR is empty raises THRE. */
	out8(f, IER, 0x02);
	assert_true(f->t.level[IRQ]);
	/* Reading IIR that reports THRE clears it. */
	assert_int_equal(in8(f, IIR), 0x02);
	assert_false(f->t.level[IRQ]);
	assert_int_equal(in8(f, IIR), 0x01);
	/* A transmitted byte empties THR again: THRE comes back. */
	out8(f, RBR, 'z');
	assert_true(f->t.level[IRQ]);
	assert_int_equal(in8(f, IIR), 0x02);
	/* Re-writing IER with ETBEI already set does not re-raise it. */
	out8(f, IER, 0x02);
	assert_int_equal(in8(f, IIR), 0x01);
	/* Toggling ETBEI does. */
	out8(f, IER, 0x00);
	out8(f, IER, 0x02);
	assert_int_equal(in8(f, IIR), 0x02);
	/* While the backend refuses bytes THRE stays clear. */
	f->mem.tx_cap = f->mem.tx_len;
	out8(f, RBR, 'q');
	assert_int_equal(in8(f, IIR), 0x01);
	assert_false(f->t.level[IRQ]);
	f->mem.tx_cap = sizeof(f->txbuf);
	pv_uart_tx_kick(f->u);
	assert_true(f->t.level[IRQ]);
	assert_int_equal(in8(f, IIR), 0x02);
}

static void test_out2_gates_line(void **state)
{
	struct fx *f = *state;
	out8(f, IER, 0x02);
	/* Pending in IIR, but OUT2 = 0 keeps the PC line low. */
	assert_false(f->t.level[IRQ]);
	out8(f, MCR, 0x08);
	assert_true(f->t.level[IRQ]);
	out8(f, MCR, 0x00);
	assert_false(f->t.level[IRQ]);
	assert_int_equal(in8(f, IIR), 0x02);
}

static void test_loopback(void **state)
{
	struct fx *f = *state;
	out8(f, FCR, 0x07);
	out8(f, MCR, 0x10);
	const char *msg = "loop";
	for (const char *p = msg; *p; p++)
		out8(f, RBR, (uint8_t)*p);
	assert_int_equal(f->mem.tx_len, 0); /* nothing leaves the chip */
	for (const char *p = msg; *p; p++) {
		assert_int_equal(in8(f, LSR) & 0x01, 0x01);
		assert_int_equal(in8(f, RBR), (uint8_t)*p);
	}
	/* Host input is ignored in loopback. */
	uint8_t b = 1;
	assert_int_equal(pv_uart_receive(f->u, &b, 1), 0);
	/* Modem outputs drive the modem inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
	(void)in8(f, MSR);
	out8(f, MCR, 0x13);
	assert_int_equal(in8(f, MSR), 0x33); /* CTS DSR + DCTS DDSR */
	assert_int_equal(in8(f, MSR), 0x30);
	out8(f, MCR, 0x1C);
	assert_int_equal(in8(f, MSR), 0xCB); /* RI DCD + DCTS DDSR DDCD */
	out8(f, MCR, 0x18);
	assert_int_equal(in8(f, MSR), 0x84); /* RI fell: TERI */
	/* Overrun: 17th byte is lost and OE is reported once. */
	for (int i = 0; i < 17; i++)
		out8(f, RBR, (uint8_t)i);
	assert_int_equal(in8(f, LSR) & 0x03, 0x03);
	assert_int_equal(in8(f, LSR) & 0x03, 0x01);
	for (int i = 0; i < 16; i++)
		assert_int_equal(in8(f, RBR), i);
	assert_int_equal(in8(f, LSR) & 0x01, 0);
	/* Break in loopback: a 0 byte flagged BI (with the FIFO error bit). */
	out8(f, LCR, 0x43);
	assert_int_equal(in8(f, LSR) & 0x91, 0x91);
	assert_int_equal(in8(f, LSR) & 0x90, 0x00);
	assert_int_equal(in8(f, RBR), 0);
	out8(f, LCR, 0x03);
	/* Leaving loopback sends later bytes to the backend again. */
	out8(f, MCR, 0x00);
	out8(f, RBR, 'k');
	assert_int_equal(f->mem.tx_len, 1);
	assert_int_equal(f->txbuf[0], 'k');
}

static void test_priority_order(void **state)
{
	struct fx *f = *state;
	out8(f, FCR, 0x01); /* trigger 1 */
	out8(f, MCR, 0x18); /* loop + OUT2 */
	(void)in8(f, MSR);
	out8(f, MCR, 0x1A); /* RTS: DCTS pending */
	for (int i = 0; i < 17; i++)
		out8(f, RBR, (uint8_t)i); /* data + overrun */
	out8(f, IER, 0x0F);
	assert_true(f->t.level[IRQ]);
	assert_int_equal(in8(f, IIR), 0xC6); /* line status first */
	assert_int_equal(in8(f, IIR), 0xC6); /* IIR read does not clear it */
	(void)in8(f, LSR);
	assert_int_equal(in8(f, IIR), 0xC4); /* then received data */
	for (int i = 0; i < 16; i++)
		(void)in8(f, RBR);
	assert_int_equal(in8(f, IIR), 0xC2); /* then THRE, cleared by this read */
	assert_int_equal(in8(f, IIR), 0xC0); /* then modem status */
	(void)in8(f, MSR);
	assert_int_equal(in8(f, IIR), 0xC1);
	assert_false(f->t.level[IRQ]);
	/* Disabled sources are not reported. */
	out8(f, IER, 0x00);
	out8(f, RBR, 1);
	assert_int_equal(in8(f, IIR), 0xC1);
}

static void test_modem_lines_from_host(void **state)
{
	struct fx *f = *state;
	out8(f, MCR, 0x08);
	out8(f, IER, 0x08);
	pv_uart_set_modem_lines(f->u, PV_UART_LINE_CTS | PV_UART_LINE_DCD | PV_UART_LINE_RI);
	assert_true(f->t.level[IRQ]);
	assert_int_equal(in8(f, IIR), 0x00);
	assert_int_equal(in8(f, MSR), 0xD9); /* CTS RI DCD + DCTS DDCD (RI rising: no TERI) */
	assert_false(f->t.level[IRQ]);
	pv_uart_set_modem_lines(f->u, PV_UART_LINE_CTS | PV_UART_LINE_DCD);
	assert_int_equal(in8(f, MSR), 0x94); /* TERI on falling RI */
	pv_uart_set_modem_lines(f->u, PV_UART_LINE_CTS | PV_UART_LINE_DCD);
	assert_int_equal(in8(f, MSR), 0x90); /* no change, no delta */
	assert_false(f->t.level[IRQ]);
}

static void test_host_break_and_rls(void **state)
{
	struct fx *f = *state;
	out8(f, FCR, 0x01);
	out8(f, MCR, 0x08);
	out8(f, IER, 0x04);
	uint8_t b = 'a';
	assert_int_equal(pv_uart_receive(f->u, &b, 1), 1);
	pv_uart_send_break(f->u);
	/* BI belongs to the second byte: not reported until it reaches the head. */
	assert_int_equal(in8(f, IIR), 0xC1);
	assert_int_equal(in8(f, LSR), 0xE1); /* DR, THRE, TEMT, FIFO error */
	assert_int_equal(in8(f, RBR), 'a');
	assert_int_equal(in8(f, IIR), 0xC6);
	assert_true(f->t.level[IRQ]);
	assert_int_equal(in8(f, LSR), 0xF1); /* DR BI THRE TEMT, BI byte still in FIFO */
	assert_false(f->t.level[IRQ]);
	assert_int_equal(in8(f, LSR), 0x61);
	assert_int_equal(in8(f, RBR), 0);
}

static void test_backend_read_poll(void **state)
{
	struct fx *f = *state;
	memcpy(f->rxsrc, "polled input", 12);
	f->mem.rx = f->rxsrc;
	f->mem.rx_len = 12;
	out8(f, FCR, 0x01);
	/* A polling guest pulls input through LSR/RBR reads. */
	char got[13] = {0};
	int n = 0;
	for (int spins = 0; spins < 100 && n < 12; spins++) {
		if (in8(f, LSR) & 1)
			got[n++] = (char)in8(f, RBR);
	}
	assert_string_equal(got, "polled input");
	/* pv_uart_poll() pulls as well. */
	f->mem.rx_pos = 0;
	assert_int_equal(pv_uart_poll(f->u), 12);
	assert_int_equal(pv_uart_poll(f->u), 0);
}

static void test_backend_poll_timer(void **state)
{
	struct fx *f = *state;
	memcpy(f->rxsrc, "tick", 4);
	f->mem.rx = f->rxsrc;
	f->mem.rx_len = 4;
	out8(f, FCR, 0x01);
	out8(f, MCR, 0x08);
	out8(f, IER, 0x01);
	assert_false(f->t.level[IRQ]);
	pv_mock_advance_clock(f->t.mock, 1000000);
	/* The poll timer moved input into the FIFO and raised RDA. */
	assert_true(f->t.level[IRQ]);
	assert_int_equal(in8(f, RBR), 't');
	/* It also retries output the backend refused, raising THRE. */
	while (in8(f, LSR) & 1)
		(void)in8(f, RBR);
	out8(f, IER, 0x02);
	assert_int_equal(in8(f, IIR), 0xC2);
	f->mem.tx_cap = f->mem.tx_len;
	out8(f, RBR, 'q');
	assert_int_equal(f->mem.tx_len, 0);
	assert_int_equal(in8(f, IIR), 0xC1); /* byte held: no THRE */
	assert_false(f->t.level[IRQ]);
	f->mem.tx_cap = sizeof(f->txbuf);
	pv_mock_advance_clock(f->t.mock, 600000);
	assert_int_equal(f->mem.tx_len, 1);
	assert_int_equal(f->txbuf[0], 'q');
	assert_true(f->t.level[IRQ]); /* raised by the timer */
	assert_int_equal(in8(f, IIR), 0xC2);
}

static int fx_setup_poll(void **state)
{
	return fx_setup_caps(state, PV_PORT_CAP_TIMERS, 500000);
}

static void test_every_width_every_offset(void **state)
{
	struct fx *f = *state;
	static const uint8_t sizes[3] = {1, 2, 4};
	/* Direct accesses: offsets past the range read 0xFF bytes. */
	for (int s = 0; s < 3; s++) {
		for (uint16_t off = 0; off < 16; off++) {
			uint32_t v = 0xDEADBEEF;
			assert_int_equal(pv_uart_io(f->u, off, sizes[s], false, &v), PV_OK);
			for (uint32_t i = 0; i < sizes[s]; i++) {
				if (off + i >= 8)
					assert_int_equal((v >> (8 * i)) & 0xFF, 0xFF);
			}
			if (sizes[s] < 4)
				assert_int_equal(v >> (8 * sizes[s]), 0);
			v = 0x5A5A5A5A;
			assert_int_equal(pv_uart_io(f->u, off, sizes[s], true, &v), PV_OK);
		}
	}
	uint32_t v = 0;
	assert_int_equal(pv_uart_io(f->u, 0, 3, false, &v), PV_EINVAL);
	assert_int_equal(pv_uart_io(f->u, 0, 8, true, &v), PV_EINVAL);
	assert_int_equal(pv_uart_io(NULL, 0, 1, true, &v), PV_EINVAL);
	/* Through the dispatcher around and across the range. */
	for (int s = 0; s < 3; s++) {
		for (uint16_t port = BASE - 4; port < BASE + 12; port++) {
			(void)devtest_in(&f->t, port, sizes[s]);
			devtest_out(&f->t, port, sizes[s], 0xA5A5A5A5);
		}
	}
	assert_int_equal(devtest_handler_errors(&f->t), 0);
	/* A 16-bit read splits into bytes: MSR in the low byte, SCR in the high one. */
	out8(f, MCR, 0);
	out8(f, LCR, 0);
	out8(f, SCR, 0x77);
	(void)in8(f, MSR);
	assert_int_equal(pv_uart_io(f->u, 6, 2, false, &v), PV_OK);
	assert_int_equal(v, 0x7700);
	/* A 16-bit write to LCR/MCR sets both. */
	v = 0x0B03;
	assert_int_equal(pv_uart_io(f->u, 3, 2, true, &v), PV_OK);
	assert_int_equal(in8(f, LCR), 0x03);
	assert_int_equal(in8(f, MCR), 0x0B);
	/* Device still works after the access storm. */
	out8(f, FCR, 0x07);
	out8(f, MCR, 0);
	size_t before = f->mem.tx_len;
	out8(f, RBR, 'Z');
	assert_int_equal(f->mem.tx_len, before + 1);
	assert_int_equal(f->txbuf[before], 'Z');
}

static void test_save_restore(void **state)
{
	struct fx *f = *state;
	set_divisor(f, 3);
	out8(f, LCR, 0x1B);
	out8(f, FCR, 0x81);
	out8(f, MCR, 0x0B);
	out8(f, SCR, 0x42);
	out8(f, IER, 0x07);
	uint8_t data[5] = {1, 2, 3, 4, 5};
	assert_int_equal(pv_uart_receive(f->u, data, 5), 5);
	pv_uart_set_modem_lines(f->u, PV_UART_LINE_DSR);

	size_t need = 0;
	assert_int_equal(pv_uart_save(f->u, NULL, 0, &need), PV_ERANGE);
	assert_true(need > 10);
	uint8_t rec[256];
	size_t len = 0;
	assert_int_equal(pv_uart_save(f->u, rec, sizeof(rec), &len), PV_OK);
	assert_int_equal(len, need);
	assert_int_equal(pv_uart_save(f->u, rec, len - 1, &len), PV_ERANGE);
	assert_int_equal(pv_uart_save(f->u, rec, sizeof(rec), &len), PV_OK);

	/* A second UART on COM2 takes over the state. */
	struct pv_uart_membuf m2 = {0};
	struct pv_uart_config c2 = {.io_base = 0x2F8, .irq = 3};
	c2.backend = pv_uart_backend_mem(&m2);
	struct pv_uart *u2;
	assert_int_equal(pv_uart_create(f->t.part, &c2, &u2), PV_OK);

	/* Malformed records are refused and change nothing. */
	uint8_t bad[256];
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(pv_uart_restore(u2, rec, cut), PV_OK);
	memcpy(bad, rec, len);
	bad[0] ^= 1;
	assert_int_equal(pv_uart_restore(u2, bad, len), PV_EBADMSG);
	memcpy(bad, rec, len);
	bad[4] = 99;
	assert_int_equal(pv_uart_restore(u2, bad, len), PV_EVERSION);
	memcpy(bad, rec, len);
	bad[10] = 0xF0; /* IER with reserved bits */
	assert_int_equal(pv_uart_restore(u2, bad, len), PV_EBADMSG);
	memcpy(bad, rec, len);
	bad[23] = 17; /* rx_count beyond the FIFO */
	assert_int_equal(pv_uart_restore(u2, bad, len), PV_EBADMSG);
	assert_int_equal(pv_uart_restore(u2, NULL, len), PV_EINVAL);
	uint8_t v8 = (uint8_t)devtest_in(&f->t, 0x2F8 + 7, 1);
	assert_int_equal(v8, 0); /* untouched SCR */

	assert_int_equal(pv_uart_restore(u2, rec, len), PV_OK);
	assert_int_equal(devtest_in(&f->t, 0x2F8 + 7, 1), 0x42);
	assert_int_equal(devtest_in(&f->t, 0x2F8 + 3, 1), 0x1B);
	assert_int_equal(devtest_in(&f->t, 0x2F8 + 4, 1), 0x0B);
	assert_int_equal(devtest_in(&f->t, 0x2F8 + 1, 1), 0x07);
	assert_int_equal(devtest_in(&f->t, 0x2F8 + 6, 1), 0x22); /* DSR + DDSR */
	devtest_out(&f->t, 0x2F8 + 3, 1, 0x9B);
	assert_int_equal(devtest_in(&f->t, 0x2F8 + 0, 1), 3);
	devtest_out(&f->t, 0x2F8 + 3, 1, 0x1B);
	for (int i = 0; i < 5; i++)
		assert_int_equal(devtest_in(&f->t, 0x2F8 + 0, 1), data[i]);
	assert_int_equal(devtest_in(&f->t, 0x2F8 + 5, 1) & 1, 0);
	/* The restored line is asserted on the new UART's IRQ (THRE pending). */
	assert_true(f->t.level[3]);
	pv_uart_destroy(u2);
}

static void test_fd_backend(void **state)
{
	(void)state;
	struct devtest t;
	assert_int_equal(devtest_init(&t, PV_PORT_CAP_TIMERS), 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct pv_uart_fdbuf fds = {.in_fd = sv[0], .out_fd = sv[0]};
	struct pv_uart_config cfg = {.io_base = BASE, .irq = IRQ, .rx_poll_ns = 100000};
	cfg.backend = pv_uart_backend_fd(&fds);
	struct pv_uart *u;
	assert_int_equal(pv_uart_create(t.part, &cfg, &u), PV_OK);
	/* Guest output appears on the other end of the socket. */
	const char *msg = "to the host";
	for (const char *p = msg; *p; p++)
		devtest_out(&t, RBR, 1, (uint8_t)*p);
	char got[32] = {0};
	assert_int_equal(read(sv[1], got, sizeof(got)), (ssize_t)strlen(msg));
	assert_string_equal(got, msg);
	/* Host input reaches the guest through the poll timer and raises RDA. */
	devtest_out(&t, FCR, 1, 0x01);
	devtest_out(&t, MCR, 1, 0x08);
	devtest_out(&t, IER, 1, 0x01);
	assert_int_equal(write(sv[1], "in", 2), 2);
	assert_false(t.level[IRQ]);
	pv_mock_advance_clock(t.mock, 200000);
	assert_true(t.level[IRQ]);
	assert_int_equal(devtest_in(&t, RBR, 1), 'i');
	assert_int_equal(devtest_in(&t, RBR, 1), 'n');
	assert_int_equal(devtest_in(&t, LSR, 1) & 1, 0);
	/* A closed peer: output is dropped, input reads nothing, no crash. */
	close(sv[1]);
	devtest_out(&t, RBR, 1, 'x');
	assert_int_equal(devtest_in(&t, LSR, 1) & 0x61, 0x60);
	pv_uart_destroy(u);
	close(sv[0]);
	devtest_fini(&t);
}

struct stress {
	struct pv_uart *u;
	unsigned guest_reads;
};

static void *stress_guest(void *arg)
{
	struct stress *s = arg;
	uint32_t v;
	for (unsigned i = 0; i < 20000; i++) {
		v = (uint32_t)i;
		(void)pv_uart_io(s->u, 0, 1, true, &v);
		(void)pv_uart_io(s->u, 5, 1, false, &v);
		if (v & 1) {
			(void)pv_uart_io(s->u, 0, 1, false, &v);
			s->guest_reads++;
		}
		(void)pv_uart_io(s->u, 2, 1, false, &v);
	}
	return NULL;
}

static void test_concurrent_access(void **state)
{
	struct fx *f = *state;
	/* A vCPU thread and a host thread at once: no deadlock, no lost
	 * accounting (every byte the host queued is read or still queued). */
	out8(f, FCR, 0x01);
	out8(f, MCR, 0x08);
	out8(f, IER, 0x0F);
	f->mem.tx_cap = 0; /* keep the transmit FIFO full: held bytes, retries */
	struct stress s = {.u = f->u};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stress_guest, &s), 0);
	size_t queued = 0;
	for (unsigned i = 0; i < 20000; i++) {
		uint8_t b = (uint8_t)i;
		queued += pv_uart_receive(f->u, &b, 1);
		if (i % 64 == 0)
			pv_uart_tx_kick(f->u);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	unsigned left = 0;
	while (in8(f, LSR) & 1) {
		(void)in8(f, RBR);
		left++;
	}
	assert_int_equal(queued, s.guest_reads + left);
	f->mem.tx_cap = sizeof(f->txbuf);
	pv_uart_tx_kick(f->u);
	assert_int_equal(f->mem.tx_len, PV_UART_FIFO_SIZE);
}

static void test_create_errors(void **state)
{
	struct fx *f = *state;
	struct pv_uart *u2 = NULL;
	struct pv_uart_config c = {.io_base = BASE, .irq = IRQ};
	assert_int_equal(pv_uart_create(f->t.part, &c, &u2), PV_EEXIST);
	assert_null(u2);
	c.io_base = 0xFFFC;
	assert_int_equal(pv_uart_create(f->t.part, &c, &u2), PV_EINVAL);
	assert_int_equal(pv_uart_create(NULL, &c, &u2), PV_EINVAL);
	pv_uart_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_scratch_and_divisor, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_transmit_to_memory, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_backend_backpressure, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_receive_fifo_and_non_fifo, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_rda_trigger_and_timeout, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_scales_with_divisor, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_without_timers, fx_setup_notimers,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt_rules, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_out2_gates_line, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_loopback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_priority_order, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_modem_lines_from_host, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_host_break_and_rls, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_backend_read_poll, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_backend_poll_timer, fx_setup_poll,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_every_width_every_offset, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_save_restore, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, fx_setup, fx_teardown),
		cmocka_unit_test(test_fd_backend),
		cmocka_unit_test_setup_teardown(test_concurrent_access, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
