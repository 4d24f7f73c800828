/* SPDX-License-Identifier: MIT */
/*
 * Host side of the x86emu TMK: two memory-like MMIO devices that log every
 * handler call; after the run the log must equal X86EMU_EXPECTED_LOG. Built
 * twice: with X86EMU_EMULATE the kvm port runs in MMIO emulation mode (the
 * library's x86 emulator makes every access), without it KVM's decoded
 * accesses are used; both must give the same log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paravisor/port_kvm.h"
#include "tmk_host.h"
#include "x86emu_cases.h"

#define LOG_MAX 256

struct x86emu_fx {
	struct pv_partition *part;
	uint8_t mem[2][X86EMU_DEV_SIZE];
	struct x86emu_access log[LOG_MAX];
	unsigned n;
	bool overflow;
};

static pv_err_t dev_access(struct x86emu_fx *f, unsigned dev, uint64_t off, uint8_t size,
			   bool is_write, uint64_t *data)
{
	if (off >= X86EMU_DEV_SIZE || size > X86EMU_DEV_SIZE - off)
		return PV_ERANGE;
	if (is_write)
		memcpy(&f->mem[dev][off], data, size);
	uint64_t v = 0;
	memcpy(&v, &f->mem[dev][off], size);
	if (!is_write)
		*data = v;
	if (f->n == LOG_MAX) {
		f->overflow = true;
		return PV_OK;
	}
	f->log[f->n++] = (struct x86emu_access){(unsigned char)dev,  is_write, size, 0, 0,
						(unsigned short)off, v};
	return PV_OK;
}

static pv_err_t far_mmio(void *ctx, struct pv_vcpu *vcpu, uint64_t off, uint8_t size, bool is_write,
			 uint64_t *data)
{
	(void)vcpu;
	return dev_access(ctx, 0, off, size, is_write, data);
}

static pv_err_t near_mmio(void *ctx, struct pv_vcpu *vcpu, uint64_t off, uint8_t size,
			  bool is_write, uint64_t *data)
{
	(void)vcpu;
	return dev_access(ctx, 1, off, size, is_write, data);
}

static pv_err_t mode_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			bool is_write, uint32_t *data)
{
	(void)ctx;
	(void)vcpu;
	(void)offset;
	(void)size;
#ifdef X86EMU_EMULATE
	if (!is_write)
		*data = 1;
#else
	if (!is_write)
		*data = 0;
#endif
	return PV_OK;
}

static pv_err_t x86emu_setup(struct tmk_host *h, struct pv_partition *part, void **ctx)
{
	(void)h;
	struct x86emu_fx *f = calloc(1, sizeof(*f));
	if (!f)
		return PV_ENOMEM;
	*ctx = f;
	f->part = part;
#ifdef X86EMU_EMULATE
	pv_err_t err = pv_kvm_set_emulate_mmio(part, true);
#else
	pv_err_t err = PV_OK;
#endif
	if (!err)
		err = pv_mmio_register(part, pv_gpa(X86EMU_FAR), X86EMU_DEV_SIZE, far_mmio, f);
	if (!err)
		err = pv_io_register(part, X86EMU_MODE_PORT, 1, mode_io, f);
	if (!err)
		err = pv_mmio_register(part, pv_gpa(X86EMU_NEAR), X86EMU_DEV_SIZE, near_mmio, f);
	return err;
}

static bool x86emu_check(struct tmk_host *h, void *ctx)
{
	static const struct x86emu_access all[] = X86EMU_EXPECTED_LOG;
	struct x86emu_access want[sizeof(all) / sizeof(all[0])];
	unsigned nwant = 0;
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
#ifdef X86EMU_EMULATE
		if (all[i].only == X86EMU_KVM_ONLY)
			continue;
#else
		if (all[i].only == X86EMU_EMU_ONLY)
			continue;
#endif
		want[nwant++] = all[i];
	}
	struct x86emu_fx *f = ctx;
	bool ok = true;
	unsigned insns = 0;
	for (unsigned i = 0; i < f->n || i < nwant; i++) {
		const struct x86emu_access *g = i < f->n ? &f->log[i] : NULL;
		const struct x86emu_access *w = i < nwant ? &want[i] : NULL;
		if (w && w->first)
			insns++;
		if (g && w && g->dev == w->dev && g->write == w->write && g->size == w->size &&
		    g->off == w->off && g->val == w->val)
			continue;
		if (ok) {
			tmk_host_fail(h,
				      "handler log entry %u: got %s dev %d %s size %d off 0x%x val "
				      "0x%llx, want %s dev %d %s size %d off 0x%x val 0x%llx",
				      i, g ? "" : "(none)", g ? g->dev : -1,
				      g ? (g->write ? "W" : "R") : "-", g ? g->size : 0,
				      g ? g->off : 0, g ? g->val : 0, w ? "" : "(none)",
				      w ? w->dev : -1, w ? (w->write ? "W" : "R") : "-",
				      w ? w->size : 0, w ? w->off : 0, w ? w->val : 0);
			for (unsigned j = 0; j < f->n; j++)
				fprintf(stderr, "  log %3u: dev %u %s %u 0x%03x 0x%llx\n", j,
					f->log[j].dev, f->log[j].write ? "W" : "R", f->log[j].size,
					f->log[j].off, f->log[j].val);
		}
		ok = false;
	}
	if (f->overflow) {
		tmk_host_fail(h, "handler log overflow");
		ok = false;
	}
	struct pv_stats st;
	pv_partition_get_stats(f->part, &st);
	struct pv_kvm_emu_stats es;
	if (pv_kvm_get_emu_stats(f->part, &es) != PV_OK) {
		tmk_host_fail(h, "pv_kvm_get_emu_stats failed");
		return false;
	}
	printf("x86emu: %u handler calls, %u instructions; library emulated %llu (faults %llu); "
	       "port: %llu read / %llu write / %llu refused exits handed over, %llu fallbacks, "
	       "%llu flush exits\n",
	       f->n, insns, (unsigned long long)st.mmio_emulated,
	       (unsigned long long)st.mmio_emulation_faults, (unsigned long long)es.reads,
	       (unsigned long long)es.writes, (unsigned long long)es.refused,
	       (unsigned long long)es.fallbacks, (unsigned long long)es.flush_exits);
#ifdef X86EMU_EMULATE
	/* Every instruction went through the library's emulator, none through KVM's data. */
	/* KVM refuses the 4 MMIO MOVD/MOVQ of sse_movd_movq and the 3 register
	 * MOVD/MOVQ around them; the library emulates all 7. Every other
	 * instruction is one read or write exit handed over. */
	if (st.mmio_emulated != es.reads + es.writes + es.refused || st.mmio_emulation_faults ||
	    es.fallbacks || es.refused != 7 || es.reads + es.writes + 4 != insns) {
		tmk_host_fail(h, "emulation mode: %llu emulated / %u instructions, %llu fallbacks",
			      (unsigned long long)st.mmio_emulated, insns,
			      (unsigned long long)es.fallbacks);
		ok = false;
	}
#else
	if (st.mmio_emulated || es.reads || es.writes) {
		tmk_host_fail(h, "decoded mode: the library emulated %llu instructions",
			      (unsigned long long)st.mmio_emulated);
		ok = false;
	}
#endif
	return ok;
}

static void x86emu_teardown(struct tmk_host *h, void *ctx)
{
	(void)h;
	free(ctx);
}

const struct tmk_setup tmk_setup = {
#ifdef X86EMU_EMULATE
	.name = "tmk_x86emu",
#else
	.name = "tmk_x86emu_kvmdecode",
#endif
	.setup = x86emu_setup,
	.check = x86emu_check,
	.teardown = x86emu_teardown,
};
