/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the vTPM's CRB command path. Input byte 0 selects the
 * mode: even = the rest is a TPM command run through the CRB registers
 * (pv_vtpm_crb_transact, i.e. MMIO exits through the dispatcher into
 * libtpms); odd = the rest is a stream of raw MMIO accesses (16-bit offset,
 * width, 8-byte value) anywhere in the five locality pages, then a restore of
 * the tail. libtpms holds one TPM per process, so one vTPM serves all runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"
#include "paravisor/vtpm.h"
#include "vtpm_memstore.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pv_mock *g_mock;
static struct pv_partition *g_part;
static struct pv_vtpm *g_vtpm;
static struct vtpm_memstore g_store;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS, .no_recording = true};
	struct pv_mem_range ram = {pv_gpa(0), 1u << 16, PV_MEM_RAM};
	if (pv_mock_create(&mc, &g_mock))
		abort();
	struct pv_partition_config pc = {.vcpu_count = 1,
					 .vtl_count = 1,
					 .ranges = &ram,
					 .range_count = 1,
					 .port = pv_mock_port_ops(g_mock),
					 .port_ctx = g_mock};
	if (pv_partition_create(&pc, &g_part))
		abort();
	struct pv_vtpm_config vc = {.startup = PV_VTPM_STARTUP_CLEAR};
	vtpm_memstore_attach(&g_store, &vc.storage);
	if (pv_vtpm_create(g_part, &vc, &g_vtpm))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct pv_vcpu *vcpu = pv_partition_vcpu(g_part, 0);
	static uint8_t rsp[4096];
	if (!(data[0] & 1)) {
		size_t rlen = 0;
		size_t clen = size - 1;
		if (clen > PV_VTPM_CRB_BUFFER_SIZE)
			clen = PV_VTPM_CRB_BUFFER_SIZE;
		pv_err_t err = pv_vtpm_crb_transact(vcpu, pv_gpa(PV_VTPM_CRB_BASE), data[0] >> 5,
						    data + 1, clen, rsp, sizeof(rsp), &rlen);
		/* Every well-sized command gets a well-formed response. */
		if (clen >= 10 && (data[0] >> 5) <= 4 && err != PV_OK)
			abort();
		return 0;
	}
	size_t i = 1;
	for (; i + 11 <= size; i += 11) {
		uint64_t off = ((uint64_t)data[i] | (uint64_t)data[i + 1] << 8) % PV_VTPM_CRB_SIZE;
		static const uint8_t widths[4] = {1, 2, 4, 8};
		uint8_t w = widths[data[i + 2] & 3];
		bool wr = (data[i + 2] & 4) != 0;
		uint64_t v;
		memcpy(&v, data + i + 3, 8);
		if (pv_vtpm_mmio(g_vtpm, off, w, wr, &v))
			abort();
	}
	static uint8_t rec[8192];
	size_t len;
	if (pv_vtpm_save(g_vtpm, rec, sizeof(rec), &len) || pv_vtpm_restore(g_vtpm, rec, len))
		abort();
	if (i < size)
		(void)pv_vtpm_restore(g_vtpm, data + i, size - i);
	/* Leave the interface usable for the next input: nobody holds a locality. */
	for (uint64_t l = 0; l < 5; l++) {
		uint64_t v = 2;
		(void)pv_vtpm_mmio(g_vtpm, l * 0x1000 + 0x40, 4, true, &v);
		(void)pv_vtpm_mmio(g_vtpm, l * 0x1000 + 0x48, 4, true, &(uint64_t){0});
		(void)pv_vtpm_mmio(g_vtpm, l * 0x1000 + 0x08, 4, true, &v);
	}
	pv_vtpm_set_cancel(g_vtpm, false);
	return 0;
}
