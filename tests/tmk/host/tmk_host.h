/* SPDX-License-Identifier: MIT */
/*
 * Host side of the TMK framework: loads a TMK image into a partition,
 * boots vCPU 0 in long mode, serves the TMK protocol (console, case
 * reports, starting vCPUs, interrupt requests) and collects the result.
 * Used by the ctest runner (tmk_runner_main.c) and by examples/pvrun.
 */
#ifndef TMK_HOST_H
#define TMK_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "paravisor/pv.h"
#include "tmk_proto.h"

struct tmk_host;
struct pv_kvm;

/* Per-TMK host hooks, defined by a case's RUNNER_SETUP file as
 * `const struct tmk_setup tmk_setup = {...};`. Every member is optional. */
struct tmk_setup {
	const char *name;
	/* Number of vCPUs (0: 1) and RAM in MiB (0: TMK_DEFAULT_MEM_MIB). */
	uint32_t vcpus;
	uint32_t mem_mib;
	/* After the partition exists and before the guest runs: register
	 * devices, MSRs, CPUID leaves... *ctx is passed to the other hooks. */
	pv_err_t (*setup)(struct tmk_host *h, struct pv_partition *part, void **ctx);
	/* A message of type >= TMK_MSG_USER (already copied and terminated). */
	pv_err_t (*message)(struct tmk_host *h, void *ctx, struct pv_vcpu *vcpu,
			    const struct tmk_msg *msg);
	/* After the run: host-side checks; return false (after tmk_host_fail()) to fail. */
	bool (*check)(struct tmk_host *h, void *ctx);
	/* Release what setup created. */
	void (*teardown)(struct tmk_host *h, void *ctx);
};

struct tmk_host_config {
	const char *image_path;        /* ELF (or flat binary loaded at TMK_IMAGE_BASE) */
	uint32_t vcpus;                /* vCPUs in the partition */
	uint32_t timeout_ms;           /* 0: 30000 */
	FILE *console;                 /* guest console (NULL: stdout) */
	bool quiet;                    /* no per-case lines */
	const struct tmk_setup *setup; /* may be NULL */
};

struct tmk_result {
	bool done; /* the guest sent its verdict */
	bool timed_out;
	uint64_t verdict; /* 0 = guest says all passed */
	uint32_t passed, failed, skipped;
	bool host_failed;           /* a hook or the host protocol failed */
	enum pv_exit_kind end_kind; /* exit that ended vCPU 0's run */
	uint64_t run_ns;
	char first_failure[192];
};

/* Run the TMK in @part (already created with cfg->vcpus vCPUs and RAM from 0). */
pv_err_t tmk_host_run(struct pv_partition *part, const struct tmk_host_config *cfg,
		      struct tmk_result *res);

/* True when the run is a pass: verdict sent, zero failures, at least one pass. */
bool tmk_result_ok(const struct tmk_result *res);

/* Record a host-side failure (from hooks); the run fails. */
void tmk_host_fail(struct tmk_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The partition of a run. */
struct pv_partition *tmk_host_partition(struct tmk_host *h);

/* Create a kvm port context and a partition with RAM [0, mem_mib MiB). */
pv_err_t tmk_host_kvm_partition(bool irqchip, uint32_t vcpus, uint32_t mem_mib, struct pv_kvm **kvm,
				struct pv_partition **part);

#endif /* TMK_HOST_H */
