/* SPDX-License-Identifier: MIT */
/* libFuzzer target: pv_hv1_restore() on arbitrary records, on a mock-port
 * partition. Each input is tried as-is and as an XOR patch over a valid
 * record (so the fuzzer reaches the section parsers). A restore either
 * succeeds or returns PV_EVERSION; anything else, or a crash, is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hv1_fixture.h"
#include "paravisor/hv1.h"
#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pv_mock *mock;
static struct pv_partition *part;
static struct pv_hv1 *hv1;
static uint8_t *valid;
static size_t valid_len;

static void wrmsr(uint32_t vcpu, uint32_t index, uint64_t value)
{
	fuzz_hv1_wrmsr(part, vcpu, index, value);
}

static void setup(void)
{
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS};
	fuzz_hv1_partition(&mc, 0x100000, 2, &mock, &part);
	if (pv_hv1_create(part, NULL, &hv1))
		abort();
	wrmsr(0, 0x40000000u, 0x8100000000000000ull);
	wrmsr(0, 0x40000001u, 0x3001);
	wrmsr(0, 0x40000083u, 0x4001);
	wrmsr(0, 0x40000092u, 0xF3);
	wrmsr(0, 0x40000080u, 1);
	wrmsr(1, 0x400000B0u, (2u << 16) | 3u);
	for (uint32_t i = 0; i < 3; i++)
		pv_hv1_post_message(hv1, 0, 2, 1, &i, 4);
	valid_len = pv_hv1_save_size(hv1);
	valid = malloc(valid_len);
	if (!valid || pv_hv1_save(hv1, valid, valid_len, &valid_len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!hv1)
		setup();
	pv_err_t err = pv_hv1_restore(hv1, data, size);
	if (err != PV_OK && err != PV_EVERSION)
		abort();
	/* Patch a valid record: u16 offset, then bytes XORed in from there, so
	 * every section parser is reached with mostly-valid input. */
	if (size >= 3) {
		uint8_t *buf = malloc(valid_len);
		if (!buf)
			return 0;
		memcpy(buf, valid, valid_len);
		size_t off = ((size_t)data[0] | ((size_t)data[1] << 8)) % valid_len;
		for (size_t i = 2; i < size && off < valid_len; i++, off++)
			buf[off] ^= data[i];
		err = pv_hv1_restore(hv1, buf, valid_len);
		if (err != PV_OK && err != PV_EVERSION)
			abort();
		free(buf);
	}
	return 0;
}
