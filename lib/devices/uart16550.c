/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART model. Register behaviour follows the TI/NS PC16550D data
 * sheet: DLAB-banked divisor latch, FIFO control, the four prioritized
 * interrupt sources and their clear-on-read rules, loopback wiring of the
 * modem-control outputs to the modem-status inputs.
 */
#include "paravisor/uart16550.h"

#include "dev_common.h"
#include "paravisor/device.h"
#include "paravisor/dispatch.h"
#include "paravisor/partition.h"

/* Register offsets. */
#define R_RBR_THR 0u
#define R_IER 1u
#define R_IIR_FCR 2u
#define R_LCR 3u
#define R_MCR 4u
#define R_LSR 5u
#define R_MSR 6u
#define R_SCR 7u

#define IER_RDA 0x01u
#define IER_THRE 0x02u
#define IER_RLS 0x04u
#define IER_MS 0x08u

#define IIR_NONE 0x01u
#define IIR_RLS 0x06u
#define IIR_RDA 0x04u
#define IIR_TIMEOUT 0x0Cu
#define IIR_THRE 0x02u
#define IIR_MS 0x00u
#define IIR_FIFO 0xC0u

#define FCR_ENABLE 0x01u
#define FCR_CLR_RX 0x02u
#define FCR_CLR_TX 0x04u
#define FCR_DMA 0x08u
#define FCR_TRIG 0xC0u

#define LCR_BREAK 0x40u
#define LCR_DLAB 0x80u

#define MCR_DTR 0x01u
#define MCR_RTS 0x02u
#define MCR_OUT1 0x04u
#define MCR_OUT2 0x08u
#define MCR_LOOP 0x10u
#define MCR_MASK 0x1Fu

#define LSR_DR 0x01u
#define LSR_OE 0x02u
#define LSR_PE 0x04u
#define LSR_FE 0x08u
#define LSR_BI 0x10u
#define LSR_THRE 0x20u
#define LSR_TEMT 0x40u
#define LSR_FIFOERR 0x80u
#define LSR_ERRS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01u
#define MSR_DDSR 0x02u
#define MSR_TERI 0x04u
#define MSR_DDCD 0x08u
#define MSR_CTS 0x10u
#define MSR_DSR 0x20u
#define MSR_RI 0x40u
#define MSR_DCD 0x80u

#define UART_CLOCK_HZ 1843200u
#define UART_REC_MAGIC PVD_MAGIC('U', 'A', 'R', 'T')
#define UART_REC_VERSION 1u
#define UART_REC_BODY (13u + 1u + 2u * PV_UART_FIFO_SIZE + 1u + PV_UART_FIFO_SIZE)

struct pv_uart {
	struct pv_partition *part;
	void *lock;
	struct pv_uart_config cfg;
	struct pv_timer *timeout_timer; /* NULL: the port has no timers */
	struct pv_timer *poll_timer;
	bool registered;

	uint8_t ier, lcr, mcr, scr, fcr;
	uint16_t divisor;
	uint8_t lsr_err;    /* latched OE/PE/FE/BI, cleared by reading LSR */
	uint8_t msr_delta;  /* DCTS/DDSR/TERI/DDCD */
	uint8_t msr_in;     /* current CTS/DSR/RI/DCD inputs as seen by the guest */
	uint8_t host_lines; /* lines the host drives (used outside loopback) */
	uint8_t rbr_last;
	bool thre_pending;
	bool irq_level;

	uint8_t rx[PV_UART_FIFO_SIZE];
	uint8_t rx_flags[PV_UART_FIFO_SIZE];
	uint8_t rx_head, rx_count;
	uint8_t tx[PV_UART_FIFO_SIZE];
	uint8_t tx_head, tx_count;
	uint64_t rx_deadline; /* character-timeout deadline (pv_clock_ns) */
};

static uint8_t rx_cap(const struct pv_uart *u)
{
	return (u->fcr & FCR_ENABLE) ? PV_UART_FIFO_SIZE : 1u;
}

static uint8_t rx_trigger(const struct pv_uart *u)
{
	static const uint8_t trig[4] = {1, 4, 8, 14};
	if (!(u->fcr & FCR_ENABLE))
		return 1;
	return trig[(u->fcr & FCR_TRIG) >> 6];
}

/* Duration of one character frame at the programmed divisor and format. */
static uint64_t char_time_ns(const struct pv_uart *u)
{
	uint64_t bits = 1u + 5u + (u->lcr & 3u) + ((u->lcr & 0x08u) ? 1u : 0u) +
			((u->lcr & 0x04u) ? 2u : 1u);
	uint64_t div = u->divisor ? u->divisor : 1u;
	/* At most 12 * 65535 * 16 * 1e9 < 2^64. */
	return bits * div * 16u * 1000000000ull / UART_CLOCK_HZ;
}

static bool timeout_pending(const struct pv_uart *u, uint64_t now)
{
	return (u->fcr & FCR_ENABLE) && u->rx_count > 0 && now >= u->rx_deadline;
}

static uint8_t compute_iir(const struct pv_uart *u, uint64_t now)
{
	if ((u->ier & IER_RLS) && (u->lsr_err & LSR_ERRS))
		return IIR_RLS;
	if ((u->ier & IER_RDA) && u->rx_count >= rx_trigger(u))
		return IIR_RDA;
	if ((u->ier & IER_RDA) && timeout_pending(u, now))
		return IIR_TIMEOUT;
	if ((u->ier & IER_THRE) && u->thre_pending)
		return IIR_THRE;
	if ((u->ier & IER_MS) && (u->msr_delta & 0x0Fu))
		return IIR_MS;
	return IIR_NONE;
}

static void update_irq(struct pv_uart *u)
{
	uint64_t now = pv_clock_ns(u->part);
	bool pending = compute_iir(u, now) != IIR_NONE;
	bool level = pending && (u->cfg.irq_ignores_out2 || (u->mcr & MCR_OUT2));
	if (level != u->irq_level) {
		u->irq_level = level;
		(void)pv_irq_set(u->part, u->cfg.irq, level);
	}
}

/* (Re)start the character timeout after receiver activity. */
static void restart_timeout(struct pv_uart *u)
{
	uint64_t now = pv_clock_ns(u->part);
	if (!u->timeout_timer) {
		/* Without timers the timeout is reported at once. */
		u->rx_deadline = now;
		return;
	}
	u->rx_deadline = now + 4u * char_time_ns(u);
	if ((u->fcr & FCR_ENABLE) && u->rx_count > 0)
		(void)pv_timer_arm(u->timeout_timer, u->rx_deadline);
}

/* Latch the error flags of the byte at the head of the receive FIFO. */
static void latch_head_errors(struct pv_uart *u)
{
	if (u->rx_count) {
		u->lsr_err |= u->rx_flags[u->rx_head];
		u->rx_flags[u->rx_head] = 0;
	}
}

static bool rx_push(struct pv_uart *u, uint8_t byte, uint8_t flags)
{
	if (u->rx_count >= rx_cap(u)) {
		u->lsr_err |= LSR_OE;
		return false;
	}
	uint8_t idx = (uint8_t)((u->rx_head + u->rx_count) % PV_UART_FIFO_SIZE);
	u->rx[idx] = byte;
	u->rx_flags[idx] = flags;
	u->rx_count++;
	if (u->rx_count == 1)
		latch_head_errors(u);
	return true;
}

static void rx_clear(struct pv_uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
	pvd_memset(u->rx_flags, 0, sizeof(u->rx_flags));
}

static size_t rx_pull_backend(struct pv_uart *u)
{
	if ((u->mcr & MCR_LOOP) || !u->cfg.backend.read)
		return 0;
	size_t space = (size_t)(rx_cap(u) - u->rx_count);
	if (space == 0)
		return 0;
	uint8_t tmp[PV_UART_FIFO_SIZE];
	size_t got = u->cfg.backend.read(u->cfg.backend.ctx, tmp, space);
	if (got > space)
		got = space; /* a misbehaving backend cannot overrun the FIFO */
	for (size_t i = 0; i < got; i++)
		(void)rx_push(u, tmp[i], 0);
	if (got)
		restart_timeout(u);
	return got;
}

static void tx_drain(struct pv_uart *u)
{
	while (u->tx_count) {
		/* Hand over the contiguous part of the ring. */
		uint8_t run = u->tx_count;
		if (u->tx_head + run > PV_UART_FIFO_SIZE)
			run = (uint8_t)(PV_UART_FIFO_SIZE - u->tx_head);
		size_t took = run;
		if (u->cfg.backend.write)
			took = u->cfg.backend.write(u->cfg.backend.ctx, &u->tx[u->tx_head], run);
		if (took > run)
			took = run;
		if (took == 0)
			return;
		u->tx_head = (uint8_t)((u->tx_head + took) % PV_UART_FIFO_SIZE);
		u->tx_count = (uint8_t)(u->tx_count - took);
	}
	u->tx_head = 0;
	u->thre_pending = true;
}

/* Recompute the modem-status inputs and their delta bits. */
static void set_msr_inputs(struct pv_uart *u)
{
	uint8_t in;
	if (u->mcr & MCR_LOOP) {
		in = 0;
		if (u->mcr & MCR_RTS)
			in |= MSR_CTS;
		if (u->mcr & MCR_DTR)
			in |= MSR_DSR;
		if (u->mcr & MCR_OUT1)
			in |= MSR_RI;
		if (u->mcr & MCR_OUT2)
			in |= MSR_DCD;
	} else {
		in = u->host_lines;
	}
	uint8_t changed = (uint8_t)(in ^ u->msr_in);
	if (changed & MSR_CTS)
		u->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_delta |= MSR_DDSR;
	if ((changed & MSR_RI) && !(in & MSR_RI))
		u->msr_delta |= MSR_TERI;
	if (changed & MSR_DCD)
		u->msr_delta |= MSR_DDCD;
	u->msr_in = in;
}

static uint8_t read_lsr(struct pv_uart *u)
{
	uint8_t v = u->lsr_err;
	if (u->rx_count)
		v |= LSR_DR;
	if (u->tx_count == 0)
		v |= LSR_THRE | LSR_TEMT;
	if (u->fcr & FCR_ENABLE) {
		bool err = (u->lsr_err & (LSR_PE | LSR_FE | LSR_BI)) != 0;
		for (uint8_t i = 0; i < u->rx_count && !err; i++)
			err = u->rx_flags[(u->rx_head + i) % PV_UART_FIFO_SIZE] != 0;
		if (err)
			v |= LSR_FIFOERR;
	}
	return v;
}

static uint8_t reg_read(struct pv_uart *u, uint16_t off)
{
	uint8_t v = 0;
	switch (off) {
	case R_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return (uint8_t)u->divisor;
		if (u->rx_count) {
			u->rbr_last = u->rx[u->rx_head];
			u->rx_flags[u->rx_head] = 0;
			u->rx_head = (uint8_t)((u->rx_head + 1u) % PV_UART_FIFO_SIZE);
			u->rx_count--;
			latch_head_errors(u);
		}
		(void)rx_pull_backend(u);
		restart_timeout(u);
		return u->rbr_last;
	case R_IER:
		if (u->lcr & LCR_DLAB)
			return (uint8_t)(u->divisor >> 8);
		return u->ier;
	case R_IIR_FCR:
		v = compute_iir(u, pv_clock_ns(u->part));
		if (v == IIR_THRE)
			u->thre_pending = false;
		if (u->fcr & FCR_ENABLE)
			v |= IIR_FIFO;
		return v;
	case R_LCR:
		return u->lcr;
	case R_MCR:
		return u->mcr;
	case R_LSR:
		/* A polling guest makes progress without a host kick: retry
		 * bytes the backend refused, and pull new input. */
		if (u->tx_count && !(u->mcr & MCR_LOOP))
			tx_drain(u);
		(void)rx_pull_backend(u);
		v = read_lsr(u);
		u->lsr_err = 0;
		return v;
	case R_MSR:
		v = (uint8_t)(u->msr_in | u->msr_delta);
		u->msr_delta = 0;
		return v;
	case R_SCR:
		return u->scr;
	default:
		return 0xFF;
	}
}

static void write_fcr(struct pv_uart *u, uint8_t v)
{
	uint8_t old = u->fcr;
	if ((v ^ old) & FCR_ENABLE) {
		rx_clear(u);
		u->tx_count = 0;
		u->tx_head = 0;
	}
	if (!(v & FCR_ENABLE)) {
		u->fcr = 0;
		return;
	}
	if (v & FCR_CLR_RX)
		rx_clear(u);
	if ((v & FCR_CLR_TX) && u->tx_count) {
		u->tx_count = 0;
		u->tx_head = 0;
		u->thre_pending = true;
	}
	u->fcr = (uint8_t)(v & (FCR_ENABLE | FCR_DMA | FCR_TRIG));
}

static void write_thr(struct pv_uart *u, uint8_t v)
{
	u->thre_pending = false;
	if (u->mcr & MCR_LOOP) {
		/* Loopback: the transmitter output feeds the receiver. */
		if (rx_push(u, v, 0))
			restart_timeout(u);
		u->thre_pending = true;
		return;
	}
	if (u->tx_count < PV_UART_FIFO_SIZE) {
		u->tx[(u->tx_head + u->tx_count) % PV_UART_FIFO_SIZE] = v;
		u->tx_count++;
	}
	tx_drain(u);
}

static void reg_write(struct pv_uart *u, uint16_t off, uint8_t v)
{
	switch (off) {
	case R_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->divisor = (uint16_t)((u->divisor & 0xFF00u) | v);
		else
			write_thr(u, v);
		break;
	case R_IER:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (uint16_t)((u->divisor & 0x00FFu) | ((uint16_t)v << 8));
			break;
		}
		v &= 0x0Fu;
		/* Enabling THRE while the holding register is empty raises it. */
		if ((v & IER_THRE) && !(u->ier & IER_THRE) && u->tx_count == 0)
			u->thre_pending = true;
		u->ier = v;
		break;
	case R_IIR_FCR:
		write_fcr(u, v);
		break;
	case R_LCR:
		if ((v & LCR_BREAK) && !(u->lcr & LCR_BREAK) && (u->mcr & MCR_LOOP)) {
			/* A break sent in loopback is received as a 0 byte with BI. */
			if (rx_push(u, 0, LSR_BI))
				restart_timeout(u);
		}
		u->lcr = v;
		break;
	case R_MCR: {
		bool was_loop = (u->mcr & MCR_LOOP) != 0;
		u->mcr = (uint8_t)(v & MCR_MASK);
		set_msr_inputs(u);
		if (was_loop && !(u->mcr & MCR_LOOP))
			tx_drain(u);
		break;
	}
	case R_SCR:
		u->scr = v;
		break;
	default:
		/* LSR and MSR writes (factory test) are ignored. */
		break;
	}
}

pv_err_t pv_uart_io(struct pv_uart *uart, uint16_t offset, uint8_t size, bool is_write,
		    uint32_t *data)
{
	if (!uart || !data || (size != 1 && size != 2 && size != 4))
		return PV_EINVAL;
	uint32_t in = *data, out = 0;
	pvd_lock(uart->part, uart->lock);
	for (uint32_t i = 0; i < size; i++) {
		uint32_t off = (uint32_t)offset + i;
		if (is_write) {
			if (off < PV_UART_PORT_COUNT)
				reg_write(uart, (uint16_t)off, (uint8_t)(in >> (8 * i)));
		} else {
			uint8_t b = off < PV_UART_PORT_COUNT ? reg_read(uart, (uint16_t)off) : 0xFF;
			out |= (uint32_t)b << (8 * i);
		}
	}
	update_irq(uart);
	pvd_unlock(uart->part, uart->lock);
	if (!is_write)
		*data = out;
	return PV_OK;
}

static pv_err_t uart_io_handler(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
				bool is_write, uint32_t *data)
{
	(void)vcpu;
	return pv_uart_io(ctx, offset, size, is_write, data);
}

static void uart_timeout_cb(void *ctx)
{
	struct pv_uart *u = ctx;
	pvd_lock(u->part, u->lock);
	update_irq(u);
	pvd_unlock(u->part, u->lock);
}

static void uart_poll_cb(void *ctx)
{
	struct pv_uart *u = ctx;
	pvd_lock(u->part, u->lock);
	if (u->tx_count && !(u->mcr & MCR_LOOP))
		tx_drain(u);
	(void)rx_pull_backend(u);
	update_irq(u);
	(void)pv_timer_arm(u->poll_timer, pv_clock_ns(u->part) + u->cfg.rx_poll_ns);
	pvd_unlock(u->part, u->lock);
}

static void uart_reset(struct pv_uart *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->fcr = 0;
	u->divisor = 12; /* 9600 baud */
	u->lsr_err = 0;
	u->msr_delta = 0;
	u->msr_in = u->host_lines;
	u->rbr_last = 0;
	u->thre_pending = false;
	rx_clear(u);
	u->tx_head = 0;
	u->tx_count = 0;
	u->rx_deadline = 0;
}

pv_err_t pv_uart_create(struct pv_partition *part, const struct pv_uart_config *config,
			struct pv_uart **out)
{
	if (!part || !config || !out)
		return PV_EINVAL;
	*out = NULL;
	if ((uint32_t)config->io_base + PV_UART_PORT_COUNT > 0x10000u)
		return PV_EINVAL;
	struct pv_uart *u = pvd_alloc(part, sizeof(*u));
	if (!u)
		return PV_ENOMEM;
	pvd_memset(u, 0, sizeof(*u));
	u->part = part;
	u->cfg = *config;
	uart_reset(u);
	pv_err_t err = PV_ENOMEM;
	u->lock = pvd_lock_create(part);
	if (!u->lock)
		goto fail;
	/* A port without timers still gets a working UART (immediate timeout). */
	if (pv_timer_create(part, uart_timeout_cb, u, &u->timeout_timer) != PV_OK)
		u->timeout_timer = NULL;
	if (config->rx_poll_ns) {
		err = pv_timer_create(part, uart_poll_cb, u, &u->poll_timer);
		if (err)
			goto fail;
	}
	err = pv_io_register(part, config->io_base, PV_UART_PORT_COUNT, uart_io_handler, u);
	if (err)
		goto fail;
	u->registered = true;
	if (u->poll_timer)
		(void)pv_timer_arm(u->poll_timer, pv_clock_ns(part) + config->rx_poll_ns);
	*out = u;
	return PV_OK;
fail:
	pv_uart_destroy(u);
	return err;
}

void pv_uart_destroy(struct pv_uart *uart)
{
	if (!uart)
		return;
	struct pv_partition *part = uart->part;
	if (uart->registered)
		(void)pv_io_unregister(part, uart->cfg.io_base);
	pv_timer_destroy(uart->poll_timer);
	pv_timer_destroy(uart->timeout_timer);
	pvd_lock_destroy(part, uart->lock);
	pvd_free(part, uart);
}

size_t pv_uart_receive(struct pv_uart *uart, const uint8_t *buf, size_t len)
{
	if (!uart || (!buf && len))
		return 0;
	size_t n = 0;
	pvd_lock(uart->part, uart->lock);
	if (!(uart->mcr & MCR_LOOP)) {
		while (n < len && uart->rx_count < rx_cap(uart)) {
			(void)rx_push(uart, buf[n], 0);
			n++;
		}
		if (n)
			restart_timeout(uart);
		update_irq(uart);
	}
	pvd_unlock(uart->part, uart->lock);
	return n;
}

size_t pv_uart_poll(struct pv_uart *uart)
{
	if (!uart)
		return 0;
	pvd_lock(uart->part, uart->lock);
	size_t n = rx_pull_backend(uart);
	update_irq(uart);
	pvd_unlock(uart->part, uart->lock);
	return n;
}

void pv_uart_tx_kick(struct pv_uart *uart)
{
	if (!uart)
		return;
	pvd_lock(uart->part, uart->lock);
	if (uart->tx_count && !(uart->mcr & MCR_LOOP))
		tx_drain(uart);
	update_irq(uart);
	pvd_unlock(uart->part, uart->lock);
}

void pv_uart_set_modem_lines(struct pv_uart *uart, uint8_t lines)
{
	if (!uart)
		return;
	pvd_lock(uart->part, uart->lock);
	uart->host_lines = (uint8_t)(lines & (MSR_CTS | MSR_DSR | MSR_RI | MSR_DCD));
	set_msr_inputs(uart);
	update_irq(uart);
	pvd_unlock(uart->part, uart->lock);
}

void pv_uart_send_break(struct pv_uart *uart)
{
	if (!uart)
		return;
	pvd_lock(uart->part, uart->lock);
	if (!(uart->mcr & MCR_LOOP)) {
		if (rx_push(uart, 0, LSR_BI))
			restart_timeout(uart);
		update_irq(uart);
	}
	pvd_unlock(uart->part, uart->lock);
}

pv_err_t pv_uart_save(struct pv_uart *uart, uint8_t *buf, size_t cap, size_t *len)
{
	if (!uart)
		return PV_EINVAL;
	struct pvd_wr w = {buf, cap, 0};
	pvd_lock(uart->part, uart->lock);
	pvd_rec_begin(&w, UART_REC_MAGIC, UART_REC_VERSION, UART_REC_BODY);
	pvd_put_u8(&w, uart->ier);
	pvd_put_u8(&w, uart->lcr);
	pvd_put_u8(&w, uart->mcr);
	pvd_put_u8(&w, uart->scr);
	pvd_put_u8(&w, uart->fcr);
	pvd_put_u16(&w, uart->divisor);
	pvd_put_u8(&w, uart->lsr_err);
	pvd_put_u8(&w, uart->msr_delta);
	pvd_put_u8(&w, uart->msr_in);
	pvd_put_u8(&w, uart->host_lines);
	pvd_put_u8(&w, uart->rbr_last);
	pvd_put_u8(&w, uart->thre_pending ? 1u : 0u);
	pvd_put_u8(&w, uart->rx_count);
	for (uint8_t i = 0; i < PV_UART_FIFO_SIZE; i++) {
		uint8_t idx = (uint8_t)((uart->rx_head + i) % PV_UART_FIFO_SIZE);
		pvd_put_u8(&w, i < uart->rx_count ? uart->rx[idx] : 0);
		pvd_put_u8(&w, i < uart->rx_count ? uart->rx_flags[idx] : 0);
	}
	pvd_put_u8(&w, uart->tx_count);
	for (uint8_t i = 0; i < PV_UART_FIFO_SIZE; i++)
		pvd_put_u8(&w, i < uart->tx_count ?
				       uart->tx[(uart->tx_head + i) % PV_UART_FIFO_SIZE] :
				       0);
	pvd_unlock(uart->part, uart->lock);
	return pvd_rec_end(&w, len);
}

pv_err_t pv_uart_restore(struct pv_uart *uart, const uint8_t *buf, size_t len)
{
	if (!uart || !buf)
		return PV_EINVAL;
	struct pvd_rd r = {buf, len, 0, false};
	pv_err_t err = pvd_rec_check(&r, UART_REC_MAGIC, UART_REC_VERSION);
	if (err)
		return err;
	if (len != PVD_REC_HDR + UART_REC_BODY)
		return PV_EBADMSG;
	pvd_lock(uart->part, uart->lock);
	struct pv_uart n = *uart; /* validate into a copy, then commit */
	n.ier = pvd_get_u8(&r);
	n.lcr = pvd_get_u8(&r);
	n.mcr = pvd_get_u8(&r);
	n.scr = pvd_get_u8(&r);
	n.fcr = pvd_get_u8(&r);
	n.divisor = pvd_get_u16(&r);
	n.lsr_err = pvd_get_u8(&r);
	n.msr_delta = pvd_get_u8(&r);
	n.msr_in = pvd_get_u8(&r);
	n.host_lines = pvd_get_u8(&r);
	n.rbr_last = pvd_get_u8(&r);
	uint8_t thre = pvd_get_u8(&r);
	n.rx_count = pvd_get_u8(&r);
	n.rx_head = 0;
	for (uint8_t i = 0; i < PV_UART_FIFO_SIZE; i++) {
		n.rx[i] = pvd_get_u8(&r);
		n.rx_flags[i] = pvd_get_u8(&r);
	}
	n.tx_count = pvd_get_u8(&r);
	n.tx_head = 0;
	pvd_get_bytes(&r, n.tx, PV_UART_FIFO_SIZE);
	if (r.bad || (n.ier & ~0x0Fu) || (n.mcr & ~MCR_MASK) ||
	    (n.fcr & ~(FCR_ENABLE | FCR_DMA | FCR_TRIG)) || (!(n.fcr & FCR_ENABLE) && n.fcr != 0) ||
	    (n.lsr_err & ~LSR_ERRS) || (n.msr_delta & ~0x0Fu) || (n.msr_in & 0x0Fu) ||
	    (n.host_lines & 0x0Fu) || thre > 1 || n.rx_count > rx_cap(&n) ||
	    n.tx_count > PV_UART_FIFO_SIZE)
		err = PV_EBADMSG;
	for (uint8_t i = 0; i < PV_UART_FIFO_SIZE; i++) {
		if ((n.rx_flags[i] & ~(LSR_PE | LSR_FE | LSR_BI)) ||
		    (i >= n.rx_count && n.rx_flags[i]))
			err = PV_EBADMSG;
	}
	if (err) {
		pvd_unlock(uart->part, uart->lock);
		return err;
	}
	n.thre_pending = thre != 0;
	*uart = n;
	restart_timeout(uart);
	/* Re-assert the line from scratch so the interrupt controller agrees. */
	bool want = compute_iir(uart, pv_clock_ns(uart->part)) != IIR_NONE &&
		    (uart->cfg.irq_ignores_out2 || (uart->mcr & MCR_OUT2));
	uart->irq_level = want;
	(void)pv_irq_set(uart->part, uart->cfg.irq, want);
	pvd_unlock(uart->part, uart->lock);
	return PV_OK;
}

static size_t mem_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct pv_uart_membuf *m = ctx;
	size_t room = m->tx_len < m->tx_cap ? m->tx_cap - m->tx_len : 0;
	size_t n = len < room ? len : room;
	if (n && m->tx)
		pvd_memcpy(m->tx + m->tx_len, buf, n);
	m->tx_len += n;
	return n;
}

static size_t mem_read(void *ctx, uint8_t *buf, size_t cap)
{
	struct pv_uart_membuf *m = ctx;
	if (!m->rx || m->rx_pos >= m->rx_len)
		return 0;
	size_t n = m->rx_len - m->rx_pos;
	if (n > cap)
		n = cap;
	pvd_memcpy(buf, m->rx + m->rx_pos, n);
	m->rx_pos += n;
	return n;
}

struct pv_uart_backend pv_uart_backend_mem(struct pv_uart_membuf *mem)
{
	struct pv_uart_backend b = {mem, mem_write, mem_read};
	return b;
}
