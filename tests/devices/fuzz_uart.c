/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the 16550A register interface. The input is a stream of
 * 4-byte operations (guest IN/OUT of any width at any offset, host input,
 * clock advances, breaks, modem lines); afterwards the state must survive a
 * save/restore round trip, and the tail of the input is fed to restore. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"
#include "paravisor/uart16550.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pv_err_t quiet_router(void *ctx, bool is_msi, uint32_t gsi, bool level, uint64_t address,
			     uint32_t d)
{
	(void)ctx, (void)is_msi, (void)gsi, (void)level, (void)address, (void)d;
	return PV_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_mock *mock;
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS, .no_recording = true};
	if (pv_mock_create(&mc, &mock))
		abort();
	struct pv_mem_range ram = {pv_gpa(0), 1u << 16, PV_MEM_RAM};
	struct pv_partition_config pc = {.vcpu_count = 1,
					 .vtl_count = 1,
					 .ranges = &ram,
					 .range_count = 1,
					 .port = pv_mock_port_ops(mock),
					 .port_ctx = mock};
	struct pv_partition *part;
	if (pv_partition_create(&pc, &part))
		abort();
	pv_irq_set_router(part, quiet_router, NULL);
	static uint8_t tx[512], rx[64];
	struct pv_uart_membuf mem = {
		.tx = tx, .tx_cap = sizeof(tx), .rx = rx, .rx_len = sizeof(rx)};
	struct pv_uart_config cfg = {.io_base = 0x3F8, .irq = 4};
	cfg.backend = pv_uart_backend_mem(&mem);
	struct pv_uart *u;
	if (pv_uart_create(part, &cfg, &u))
		abort();

	size_t i = 0;
	for (; i + 4 <= size; i += 4) {
		uint8_t op = data[i], a = data[i + 1], b = data[i + 2], c = data[i + 3];
		if (op == 0xFF) {
			i += 4;
			break; /* the rest is a restore record */
		}
		static const uint8_t widths[4] = {1, 2, 4, 1};
		uint8_t w = widths[(op >> 2) & 3];
		uint32_t v = (uint32_t)b | (uint32_t)c << 8 | (uint32_t)a << 16;
		switch (op & 7) {
		case 0:
		case 1:
			if (pv_uart_io(u, a & 15, w, (op & 1) != 0, &v))
				abort();
			break;
		case 2:
			(void)pv_uart_receive(u, &data[i + 1], 3);
			break;
		case 3:
			pv_mock_advance_clock(mock, (uint64_t)b << (c & 31));
			break;
		case 4:
			pv_uart_send_break(u);
			break;
		case 5:
			pv_uart_set_modem_lines(u, b);
			break;
		case 6:
			mem.tx_cap = b; /* backpressure */
			if (mem.tx_len > mem.tx_cap)
				mem.tx_len = 0;
			pv_uart_tx_kick(u);
			break;
		default:
			mem.rx_pos = 0;
			(void)pv_uart_poll(u);
			break;
		}
	}
	uint8_t rec[256];
	size_t len;
	if (pv_uart_save(u, rec, sizeof(rec), &len) || pv_uart_restore(u, rec, len))
		abort();
	uint8_t rec2[256];
	size_t len2;
	if (pv_uart_save(u, rec2, sizeof(rec2), &len2) || len2 != len || memcmp(rec, rec2, len))
		abort();
	if (i < size)
		(void)pv_uart_restore(u, data + i, size - i);
	uint32_t v = 0;
	for (uint16_t off = 0; off < 8; off++)
		(void)pv_uart_io(u, off, 1, false, &v);
	pv_uart_destroy(u);
	pv_partition_destroy(part);
	pv_mock_destroy(mock);
	return 0;
}
