/* SPDX-License-Identifier: MIT */
/* libFuzzer target: ring reads over a ring whose control page and data are
 * entirely attacker-chosen. Any access outside the ring aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/ring.h"

#define DATA_SIZE 1024u
#define TOTAL (4096u + DATA_SIZE)

struct flat {
	uint8_t mem[TOTAL];
};

static pv_err_t f_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct flat *f = ctx;

	if (off > TOTAL || len > TOTAL - off)
		abort();
	memcpy(buf, f->mem + off, len);
	return PV_OK;
}

static pv_err_t f_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct flat *f = ctx;

	if (off > TOTAL || len > TOTAL - off)
		abort();
	memcpy(f->mem + off, buf, len);
	return PV_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct flat f;
	struct vmb_ring_io io = {f_read, f_write, &f};
	struct vmb_ring cons, prod;
	uint8_t buf[DATA_SIZE + 64];
	uint32_t cap, len, start;
	bool sig;
	int i;

	if (size < 16)
		return 0;
	memset(&f, 0, sizeof(f));
	/* control fields from the input, the rest becomes the data area */
	memcpy(f.mem, data, 16);
	memcpy(f.mem + 64, data + 8, 4);
	cap = (uint32_t)data[12] * 8u;
	start = ((uint32_t)data[13] * 8u) % DATA_SIZE;
	if (size - 16 > DATA_SIZE)
		size = 16 + DATA_SIZE;
	memcpy(f.mem + 4096, data + 16, size - 16);
	if (vmb_ring_init(&cons, &io, TOTAL) != PV_OK || vmb_ring_init(&prod, &io, TOTAL) != PV_OK)
		abort();
	cons.priv = cons.committed = start;
	for (i = 0; i < 64; i++) {
		pv_err_t e = vmb_ring_read(&cons, buf, cap > sizeof(buf) ? sizeof(buf) : cap, &len);

		if (e == PV_OK && (len < 16 || len > cap || len % 8))
			abort();
		if (e == PV_ENOENT || e == PV_EBADMSG)
			break;
		if (cons.priv >= DATA_SIZE || cons.priv % 8)
			abort();
	}
	vmb_ring_commit_read(&cons, &sig);
	/* the producer side against the same hostile control page */
	if (vmb_ring_attach_producer(&prod) == PV_OK) {
		struct vmb_ring_buf b = {data, (uint32_t)(size > 200 ? 200 : size)};
		uint32_t needed;

		for (i = 0; i < 8; i++)
			if (vmb_ring_write(&prod, 6, 0, (uint64_t)i, &b, 1, &sig, &needed) != PV_OK)
				break;
	}
	return 0;
}
