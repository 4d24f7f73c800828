/* SPDX-License-Identifier: MIT */
/* Devices TMK guest: 16550A loopback and interrupt-driven I/O, CMOS RTC time
 * and update interrupt, and a CRB client running TPM2_GetRandom and
 * TPM2_PCR_Read through the MMIO registers. */
#include "devices_cases.h"
#include "tmk.h"

#define U(r) ((uint16_t)(DEV_UART_BASE + (r)))

/* ---- UART ---------------------------------------------------------------- */

TMK_CASE(uart_loopback)
{
	outb(U(3), 0x80);
	outb(U(0), 1); /* 115200 baud */
	outb(U(1), 0);
	outb(U(3), 0x03);
	TMK_CHECK_EQ(inb(U(0)) | 0, inb(U(0))); /* RBR readable, empty */
	outb(U(2), 0x07);
	TMK_CHECK_EQ(inb(U(2)) & 0xC0, 0xC0);
	outb(U(4), 0x13); /* loop, RTS, DTR */
	TMK_CHECK_EQ(inb(U(6)) & 0xF0, 0x30);
	static const char msg[] = "loopback!";
	for (unsigned i = 0; i < sizeof(msg) - 1; i++)
		outb(U(0), (uint8_t)msg[i]);
	for (unsigned i = 0; i < sizeof(msg) - 1; i++) {
		TMK_CHECK_EQ(inb(U(5)) & 0x01, 0x01);
		TMK_CHECK_EQ(inb(U(0)), (uint8_t)msg[i]);
	}
	TMK_CHECK_EQ(inb(U(5)), 0x60);
	outb(U(7), 0xA5);
	TMK_CHECK_EQ(inb(U(7)), 0xA5);
	outb(U(4), 0x00);
}

static volatile uint32_t uart_rx_done, uart_tx_done;
static volatile uint8_t uart_rx_byte;
static volatile unsigned uart_tx_pos, uart_isr_runs;
static const char tx_msg[] = DEV_TX_MESSAGE;

static void uart_isr(uint8_t vector)
{
	(void)vector;
	uart_isr_runs++;
	for (int guard = 0; guard < 64; guard++) {
		uint8_t iir = inb(U(2));
		if (iir & 1)
			break;
		switch (iir & 0x0E) {
		case 0x02: /* THRE: refill the FIFO */
			for (int n = 0; n < 16 && uart_tx_pos < sizeof(tx_msg) - 1; n++)
				outb(U(0), (uint8_t)tx_msg[uart_tx_pos++]);
			if (uart_tx_pos == sizeof(tx_msg) - 1) {
				outb(U(1), 0);
				uart_tx_done = 1;
			}
			break;
		case 0x04:
		case 0x0C:
			uart_rx_byte = inb(U(0));
			uart_rx_done = 1;
			break;
		case 0x06:
			(void)inb(U(5));
			break;
		default:
			(void)inb(U(6));
			break;
		}
	}
}

TMK_CASE(uart_irq_receive_loopback)
{
	tmk_lapic_enable();
	tmk_set_irq_handler(DEV_UART_VECTOR, uart_isr);
	outb(U(2), 0x07);
	outb(U(4), 0x18); /* loop + OUT2 */
	outb(U(1), 0x01); /* received-data interrupt */
	uart_rx_done = 0;
	outb(U(0), 'x');
	tmk_wait_for(&uart_rx_done);
	TMK_CHECK_EQ(uart_rx_byte, 'x');
	outb(U(1), 0);
	outb(U(4), 0);
}

TMK_CASE(uart_irq_transmit)
{
	tmk_lapic_enable();
	tmk_set_irq_handler(DEV_UART_VECTOR, uart_isr);
	outb(U(2), 0x07);
	outb(U(4), 0x08); /* OUT2 gates the IRQ line on a PC */
	uart_tx_pos = 0;
	uart_tx_done = 0;
	uart_isr_runs = 0;
	outb(U(1), 0x02); /* enabling THRE interrupts starts the transmission */
	tmk_wait_for(&uart_tx_done);
	TMK_CHECK_EQ(uart_tx_pos, sizeof(tx_msg) - 1);
	TMK_CHECK(uart_isr_runs >= 1);
	TMK_CHECK_EQ(inb(U(5)) & 0x60, 0x60);
	/* The host checks that the backend got exactly the message. */
}

static volatile uint32_t host_rx_len, host_rx_done, host_rx_want;
static volatile uint8_t host_rx[32];
static volatile unsigned host_rx_timeouts;

static void uart_rx_isr(uint8_t vector)
{
	(void)vector;
	for (int guard = 0; guard < 64; guard++) {
		uint8_t iir = inb(U(2));
		if (iir & 1)
			break;
		if ((iir & 0x0F) == 0x0C)
			host_rx_timeouts++;
		/* Like Linux's 8250: drain while LSR says data ready. */
		while ((inb(U(5)) & 1) && host_rx_len < sizeof(host_rx))
			host_rx[host_rx_len++] = inb(U(0));
	}
	if (host_rx_len >= host_rx_want)
		host_rx_done = 1;
}

TMK_CASE(uart_irq_receive_from_host)
{
	tmk_lapic_enable();
	tmk_set_irq_handler(DEV_UART_VECTOR, uart_rx_isr);
	outb(U(2), 0x87); /* FIFO, trigger level 8, as Linux programs a 16550A */
	outb(U(4), 0x08);
	outb(U(1), 0x01);
	/* 12 bytes: above the trigger level. */
	host_rx_len = 0;
	host_rx_done = 0;
	host_rx_want = 12;
	tmk_send(DEV_MSG_UART_INPUT, 0, 0, 0, "hello, guest");
	tmk_wait_for(&host_rx_done);
	TMK_CHECK_EQ(host_rx_len, 12);
	TMK_CHECK_EQ(memcmp((const void *)host_rx, "hello, guest", 12), 0);
	/* 3 bytes: below the trigger, delivered by the character timeout. */
	host_rx_len = 0;
	host_rx_done = 0;
	host_rx_want = 3;
	host_rx_timeouts = 0;
	tmk_send(DEV_MSG_UART_INPUT, 0, 0, 0, "abc");
	tmk_wait_for(&host_rx_done);
	TMK_CHECK_EQ(host_rx_len, 3);
	TMK_CHECK_EQ(memcmp((const void *)host_rx, "abc", 3), 0);
	TMK_CHECK(host_rx_timeouts >= 1);
	outb(U(1), 0);
}

/* ---- RTC ----------------------------------------------------------------- */

static uint8_t cmos(uint8_t idx)
{
	outb(0x70, idx);
	return inb(0x71);
}

static void cmos_w(uint8_t idx, uint8_t v)
{
	outb(0x70, idx);
	outb(0x71, v);
}

static uint8_t bcd_inc60(uint8_t b)
{
	unsigned v = (b >> 4) * 10u + (b & 0x0Fu);
	v = (v + 1u) % 60u;
	return (uint8_t)((v / 10u) << 4 | (v % 10u));
}

TMK_CASE(rtc_date_and_ticks)
{
	TMK_CHECK_EQ(cmos(0x0B), 0x02);
	TMK_CHECK_EQ(cmos(0x0D), 0x80);
	TMK_CHECK_EQ(cmos(0x32), 0x20);
	TMK_CHECK_EQ(cmos(0x09), 0x24);
	uint8_t month = cmos(0x08);
	TMK_CHECK(month == 0x02 || month == 0x03);
	/* Poll the seconds until they change; note whether UIP was caught
	 * (its 244 us window is easily missed when the host is loaded, so it
	 * is only reported; the unit tests check its timing exactly). */
	uint8_t s0 = cmos(0x00), s1 = s0;
	unsigned uip_hits = 0;
	for (unsigned i = 0; i < 200000 && s1 == s0; i++) {
		outb(0x70, 0x0A);
		uip_hits += (inb(0x71) & 0x80) != 0;
		s1 = cmos(0x00);
	}
	TMK_CHECK_EQ(s1, bcd_inc60(s0));
	tmk_printf("rtc: UIP seen %u times before the update\n", uip_hits);
	/* And once more: time keeps ticking forward. */
	uint8_t s2 = s1;
	for (unsigned i = 0; i < 400000 && s2 == s1; i++)
		s2 = cmos(0x00);
	TMK_CHECK_EQ(s2, bcd_inc60(s1));
}

static volatile uint32_t rtc_irq_done;
static volatile uint8_t rtc_flags;

static void rtc_isr(uint8_t vector)
{
	(void)vector;
	rtc_flags = cmos(0x0C);
	rtc_irq_done = 1;
}

TMK_CASE(rtc_update_interrupt)
{
	tmk_lapic_enable();
	tmk_set_irq_handler(DEV_RTC_VECTOR, rtc_isr);
	cmos_w(0x0A, 0x20); /* no periodic flag */
	(void)cmos(0x0C);
	rtc_irq_done = 0;
	cmos_w(0x0B, 0x12); /* update-ended interrupt */
	tmk_wait_for(&rtc_irq_done);
	TMK_CHECK_EQ(rtc_flags & 0x90, 0x90);
	cmos_w(0x0B, 0x02);
	(void)cmos(0x0C);
	cmos_w(0x0A, 0x26);
}

/* ---- vTPM through the CRB registers --------------------------------------- */

#define CRB(o) (DEV_CRB_BASE + (o))

static int crb_command(const uint8_t *cmd, unsigned len, uint8_t *rsp, unsigned cap)
{
	mmio_write32(CRB(0x08), 1);
	if (!(mmio_read32(CRB(0x0C)) & 1))
		return -1;
	mmio_write32(CRB(0x40), 1);
	for (unsigned i = 0; (mmio_read32(CRB(0x40)) & 1) && i < 1000; i++)
		;
	if (mmio_read32(CRB(0x44)) & 3)
		return -2;
	unsigned i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t v = (uint32_t)cmd[i] | (uint32_t)cmd[i + 1] << 8 |
			     (uint32_t)cmd[i + 2] << 16 | (uint32_t)cmd[i + 3] << 24;
		mmio_write32(CRB(0x80 + i), v);
	}
	for (; i < len; i++)
		mmio_write8(CRB(0x80 + i), cmd[i]);
	mmio_write32(CRB(0x48), 0);
	mmio_write32(CRB(0x4C), 1);
	for (unsigned n = 0; (mmio_read32(CRB(0x4C)) & 1); n++)
		if (n > 100000)
			return -3;
	for (i = 0; i < 8; i += 4) {
		uint32_t v = mmio_read32(CRB(0x80 + i));
		for (unsigned b = 0; b < 4; b++)
			rsp[i + b] = (uint8_t)(v >> (8 * b));
	}
	unsigned size =
		(unsigned)rsp[2] << 24 | (unsigned)rsp[3] << 16 | (unsigned)rsp[4] << 8 | rsp[5];
	if (size < 10 || size > cap)
		return -4;
	for (i = 8; i < size; i++)
		rsp[i] = mmio_read8(CRB(0x80 + i));
	mmio_write32(CRB(0x40), 2);
	mmio_write32(CRB(0x08), 2);
	return (int)size;
}

static uint32_t rc_of(const uint8_t *rsp)
{
	return (uint32_t)rsp[6] << 24 | (uint32_t)rsp[7] << 16 | (uint32_t)rsp[8] << 8 | rsp[9];
}

static bool have_crb(void)
{
	/* INTF_ID: interface type CRB (1), version 1. */
	return (mmio_read32(CRB(0x30)) & 0xFF) == 0x11;
}

TMK_CASE(crb_getrandom)
{
	if (!have_crb()) {
		tmk_skip("vTPM not built (no libtpms)");
		return;
	}
	static const uint8_t cmd[12] = {0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 16};
	static uint8_t rsp[64];
	int n = crb_command(cmd, sizeof(cmd), rsp, sizeof(rsp));
	TMK_CHECK_EQ(n, 28);
	TMK_CHECK_EQ(rc_of(rsp), 0);
	TMK_CHECK_EQ((rsp[10] << 8) | rsp[11], 16);
	unsigned nonzero = 0;
	for (int i = 12; i < 28; i++)
		nonzero += rsp[i] != 0;
	TMK_CHECK(nonzero > 0);
	TMK_CHECK_EQ(mmio_read32(CRB(0x00)), 0x81); /* relinquished, regs valid */
}

TMK_CASE(crb_pcr_read)
{
	if (!have_crb()) {
		tmk_skip("vTPM not built (no libtpms)");
		return;
	}
	/* TPM2_PCR_Read(sha256, PCR 0) */
	static const uint8_t cmd[20] = {0x80, 0x01, 0, 0,    0,    20,   0, 0, 0x01, 0x7E,
					0,    0,    0, 0x01, 0x00, 0x0B, 3, 1, 0,    0};
	static uint8_t rsp[128];
	int n = crb_command(cmd, sizeof(cmd), rsp, sizeof(rsp));
	TMK_CHECK_EQ(n, 62);
	TMK_CHECK_EQ(rc_of(rsp), 0);
	TMK_CHECK_EQ(rsp[27], 1); /* one digest */
	TMK_CHECK_EQ((rsp[28] << 8) | rsp[29], 32);
	unsigned nonzero = 0;
	for (int i = 30; i < 62; i++)
		nonzero += rsp[i] != 0;
	TMK_CHECK_EQ(nonzero, 0); /* PCR 0 after TPM2_Startup(CLEAR) */
}
