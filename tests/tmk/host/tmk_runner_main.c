/* SPDX-License-Identifier: MIT */
/*
 * ctest/cmocka runner of one TMK: `<runner> --image FILE [--irqchip]
 * [--timeout-ms N] [--expect-fail]`. Exits 77 (ctest SKIP_RETURN_CODE) when /dev/kvm is
 * missing or unusable, printing why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "paravisor/port_kvm.h"
#include "tmk_host.h"

/* Defined by the TMK's RUNNER_SETUP file (or host/default_setup.c). */
extern const struct tmk_setup tmk_setup;

static const char *image_path;
static bool use_irqchip;
static uint32_t timeout_ms = 60000;
static bool expect_fail; /* self-tests: the TMK must be reported as failed */

static void run_tmk(void **state)
{
	(void)state;
	struct pv_kvm *kvm = NULL;
	struct pv_partition *part = NULL;
	uint32_t vcpus = tmk_setup.vcpus ? tmk_setup.vcpus : 1;
	pv_err_t err = tmk_host_kvm_partition(use_irqchip, vcpus, tmk_setup.mem_mib, &kvm, &part);
	assert_int_equal(err, PV_OK);

	struct tmk_host_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.image_path = image_path;
	cfg.vcpus = vcpus;
	cfg.timeout_ms = timeout_ms;
	cfg.setup = &tmk_setup;
	struct tmk_result res;
	err = tmk_host_run(part, &cfg, &res);

	struct pv_stats st;
	pv_partition_get_stats(part, &st);
	printf("TMK %s (irqchip %s): %u passed, %u failed, %u skipped, verdict %s, %.1f ms, "
	       "%llu exits\n",
	       tmk_setup.name ? tmk_setup.name : "?", use_irqchip ? "on" : "off", res.passed,
	       res.failed, res.skipped, res.done ? (res.verdict ? "FAIL" : "PASS") : "none",
	       (double)res.run_ns / 1e6,
	       (unsigned long long)(st.exits[PV_EXIT_IO] + st.exits[PV_EXIT_MMIO] +
				    st.exits[PV_EXIT_MSR_READ] + st.exits[PV_EXIT_MSR_WRITE] +
				    st.exits[PV_EXIT_HLT] + st.exits[PV_EXIT_HYPERCALL]));
	pv_partition_destroy(part);
	pv_kvm_destroy(kvm);
	assert_int_equal(err, PV_OK);
	if (expect_fail) {
		if (tmk_result_ok(&res))
			fail_msg("TMK was expected to fail but passed");
		printf("TMK failed as expected: %s\n",
		       res.first_failure[0] ? res.first_failure : "no verdict");
		return;
	}
	if (!tmk_result_ok(&res))
		fail_msg("TMK failed: %s", res.first_failure[0] ? res.first_failure :
								  "no verdict or no passing case");
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--image") && i + 1 < argc)
			image_path = argv[++i];
		else if (!strcmp(argv[i], "--irqchip"))
			use_irqchip = true;
		else if (!strcmp(argv[i], "--expect-fail"))
			expect_fail = true;
		else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
			timeout_ms = (uint32_t)strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr,
				"usage: %s --image FILE [--irqchip] [--timeout-ms N] [--expect-fail]\n",
				argv[0]);
			return 2;
		}
	}
	if (!image_path) {
		fprintf(stderr, "%s: --image is required\n", argv[0]);
		return 2;
	}
	char reason[256];
	if (pv_kvm_probe(NULL, reason, sizeof(reason)) != PV_OK) {
		printf("SKIPPED: /dev/kvm is not usable: %s\n", reason);
		return 77;
	}
	const struct CMUnitTest tests[] = {cmocka_unit_test(run_tmk)};
	return cmocka_run_group_tests_name(tmk_setup.name ? tmk_setup.name : "tmk", tests, NULL,
					   NULL);
}
