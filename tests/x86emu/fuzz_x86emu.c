/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the x86 emulator: any byte sequence must decode and
 * emulate without crashing or touching memory out of bounds, under any
 * register state and any (garbage) guest page tables.
 *
 * Input layout: [0..3] configuration bits, [4..67] 16 register seeds,
 * [68..83] instruction bytes, the rest (and the whole input, repeated)
 * fills 64 KiB of fake guest RAM.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <paravisor/x86emu.h>

#define RAM_SIZE 0x10000u

struct fz {
	uint8_t ram[RAM_SIZE];
	unsigned budget; /* callbacks allowed per input, bounds the run time */
	bool fail_cmpxchg;
};

static struct fz g_fz;

/* GPAs wrap into the 64 KiB RAM; GPAs above 1 TiB are "unbacked". */
static pv_err_t f_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	struct fz *f = ctx;
	if (len == 0 || len > 16 || ((gpa & 0xfff) + len) > 0x1000)
		__builtin_trap(); /* contract: one page, at most 16 bytes */
	if (gpa >= (1ull << 40) || f->budget == 0)
		return PV_EFAULT;
	f->budget--;
	for (unsigned i = 0; i < len; i++)
		((uint8_t *)buf)[i] = f->ram[(gpa + i) & (RAM_SIZE - 1)];
	return PV_OK;
}

static pv_err_t f_write(void *ctx, uint64_t gpa, const void *buf, unsigned len)
{
	struct fz *f = ctx;
	if (len == 0 || len > 16 || ((gpa & 0xfff) + len) > 0x1000)
		__builtin_trap();
	if (gpa >= (1ull << 40) || f->budget == 0)
		return PV_EFAULT;
	f->budget--;
	for (unsigned i = 0; i < len; i++)
		f->ram[(gpa + i) & (RAM_SIZE - 1)] = ((const uint8_t *)buf)[i];
	return PV_OK;
}

static pv_err_t f_cmpxchg(void *ctx, uint64_t gpa, unsigned len, void *expected,
			  const void *desired, bool *swapped)
{
	struct fz *f = ctx;
	if (!(len == 1 || len == 2 || len == 4 || len == 8 || len == 16) ||
	    ((gpa & 0xfff) + len) > 0x1000)
		__builtin_trap();
	if (gpa >= (1ull << 40) || f->budget == 0)
		return PV_EFAULT;
	f->budget--;
	bool eq = !f->fail_cmpxchg;
	for (unsigned i = 0; i < len && eq; i++)
		eq = f->ram[(gpa + i) & (RAM_SIZE - 1)] == ((uint8_t *)expected)[i];
	for (unsigned i = 0; i < len; i++) {
		uint8_t *m = &f->ram[(gpa + i) & (RAM_SIZE - 1)];
		if (eq)
			*m = ((const uint8_t *)desired)[i];
		else
			((uint8_t *)expected)[i] = *m;
	}
	*swapped = eq;
	return PV_OK;
}

static const struct pv_x86emu_ops g_ops = {f_read, f_write, f_cmpxchg};

static uint64_t seed_value(uint8_t sel, const uint8_t *raw8)
{
	uint64_t v;
	memcpy(&v, raw8, 8);
	switch (sel & 3) {
	case 0:
		return v & 0xffff; /* lands in RAM */
	case 1:
		return v & 0xff;
	case 2:
		return (uint64_t)(int64_t)(int8_t)sel << 8;
	default:
		return v;
	}
}

static void fill_segment(struct pv_segment *s, uint8_t b)
{
	s->base = (b & 0x80) ? 0x1000ull * (b & 7) : 0;
	s->limit = (b & 0x40) ? 0xfff : ((b & 0x20) ? 0xffff : 0xffffffffu);
	s->type = (uint8_t)((b >> 1) & 0xf);
	s->present = (b & 1) || (b & 0x10);
	s->s = !(b == 0x44);
	s->db = (b >> 3) & 1;
	s->dpl = (uint8_t)(b & 3);
	s->unusable = b == 0xff;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 84)
		return 0;
	struct fz *f = &g_fz;
	for (size_t off = 0; off < RAM_SIZE;) {
		size_t n = size - 84 < RAM_SIZE - off ? size - 84 : RAM_SIZE - off;
		if (n == 0) {
			memset(f->ram, 0, RAM_SIZE);
			break;
		}
		memcpy(f->ram + off, data + 84, n);
		off += n;
	}
	f->budget = 3000;
	f->fail_cmpxchg = (data[3] & 0x80) != 0;

	struct pv_x86emu_state st;
	memset(&st, 0, sizeof(st));
	const uint8_t c0 = data[0], c1 = data[1], c2 = data[2], c3 = data[3];
	/* paging mode: 0 off, 1 32-bit, 2 PAE, 3 4-level, 4 5-level */
	unsigned pmode = c0 % 5;
	if (c0 & 0x08)
		st.sregs.cr0 |= 1; /* PE */
	if (pmode) {
		st.sregs.cr0 |= 1ull | (1ull << 31);
		if (pmode >= 2)
			st.sregs.cr4 |= 1ull << 5;
		if (pmode >= 3)
			st.sregs.efer |= (1ull << 8) | (1ull << 10);
		if (pmode == 4)
			st.sregs.cr4 |= 1ull << 12;
	}
	if (c0 & 0x10)
		st.sregs.cr0 |= 1ull << 16; /* WP */
	if (c0 & 0x20)
		st.sregs.cr4 |= 1ull << 20; /* SMEP */
	if (c0 & 0x40)
		st.sregs.cr4 |= 1ull << 21; /* SMAP */
	if (c0 & 0x80)
		st.sregs.efer |= 1ull << 11; /* NXE */
	if (c1 & 0x01)
		st.sregs.cr4 |= 1ull << 4; /* PSE */
	if (!(c1 & 0x02))
		st.sregs.cr4 |= 1ull << 9; /* OSFXSR */
	if (c1 & 0x04)
		st.sregs.cr0 |= 1ull << 3; /* TS */
	st.sregs.cs.l = (c1 >> 3) & 1;
	st.sregs.cs.db = (c1 >> 4) & 1;
	st.sregs.cs.present = 1;
	st.sregs.cs.s = 1;
	st.sregs.cs.type = 0xb;
	st.sregs.cs.limit = (c1 & 0x20) ? 0xffff : 0xffffffffu;
	fill_segment(&st.sregs.ds, c2);
	fill_segment(&st.sregs.es, (uint8_t)(c2 * 37 + 1));
	fill_segment(&st.sregs.ss, (uint8_t)(c2 ^ 0x13));
	fill_segment(&st.sregs.fs, (uint8_t)(c3 & 0x7f));
	fill_segment(&st.sregs.gs, (uint8_t)(c3 * 11));
	st.sregs.ss.dpl = (c1 >> 6) & 3;
	st.sregs.cr3 = (uint64_t)(data[4] & 0xf) << 12;
	st.maxphyaddr = (uint8_t)(c3 & 0x40 ? 36 : 0);
	st.regs.rflags = 0x2 | ((uint64_t)c3 << 4 & 0xcd5) | ((c3 & 1) ? 0x400 : 0) |
			 ((c3 & 2) ? (1ull << 18) : 0);
	for (unsigned i = 0; i < 16; i++)
		st.regs.gpr[i] = seed_value(data[4 + i * 4], data + 4 + i * 4);
	for (unsigned i = 0; i < 16; i++)
		for (unsigned j = 0; j < 16; j++)
			st.xmm[i][j] = data[(4 + i * 16 + j) % size];
	st.regs.rip = (uint64_t)(data[5] | (data[6] << 8)) & 0xffff;

	/* Decode the instruction bytes in every mode and execute in the state's mode. */
	const uint8_t *ib = data + 68;
	struct pv_x86_insn in;
	struct pv_x86_fault fault;
	for (unsigned m = 0; m < 3; m++) {
		size_t n = (size_t)(data[7] % 16);
		pv_err_t e = pv_x86emu_decode(ib, n ? n : 16, (enum pv_x86_mode)m, &in);
		if (e == PV_OK && (in.len == 0 || in.len > 15))
			__builtin_trap();
	}
	if (pv_x86emu_decode(ib, 16, pv_x86emu_mode(&st), &in) == PV_OK) {
		struct pv_x86emu_state copy = st;
		(void)pv_x86emu_execute(&copy, &in, &g_ops, f, &fault);
	}
	{
		struct pv_x86emu_state copy = st;
		(void)pv_x86emu_step_bytes(&copy, ib, (size_t)(data[8] % 17), &g_ops, f, &fault);
	}
	/* And fetch/decode/execute through the walker a few times. */
	memcpy(&f->ram[st.regs.rip & (RAM_SIZE - 1)], ib,
	       (RAM_SIZE - (st.regs.rip & (RAM_SIZE - 1))) < 16 ?
		       (RAM_SIZE - (st.regs.rip & (RAM_SIZE - 1))) :
		       16);
	for (unsigned i = 0; i < 3; i++) {
		pv_err_t e = pv_x86emu_step(&st, &g_ops, f, &fault);
		if (e != PV_OK)
			break;
	}
	return 0;
}
