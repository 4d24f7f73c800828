/* SPDX-License-Identifier: MIT */
/*
 * An outside program linked against the installed libparavisor: checks the
 * version and error strings, and (when the mock port is installed) creates
 * and destroys a partition. Prints one line per check; exits non-zero on any
 * mismatch.
 */
#include <stdio.h>
#include <string.h>

#include <paravisor/config.h>
#include <paravisor/pv.h>

#if defined(__has_include)
#if __has_include(<paravisor/port_mock.h>)
#include <paravisor/port_mock.h>
#define CONSUMER_HAVE_MOCK 1
#endif
#endif

static int failures;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

#ifdef CONSUMER_HAVE_MOCK
#include "consumer_mock.inc"
#endif

int main(void)
{
	const char *v = pv_version();

	printf("libparavisor %s (headers %s)\n", v, PV_VERSION_STRING);
	check(v != NULL && strcmp(v, PV_VERSION_STRING) == 0, "pv_version matches the headers");
	check(strcmp(pv_strerror(PV_OK), pv_strerror(PV_ENOMEM)) != 0,
	      "pv_strerror distinguishes codes");
	check(strcmp(pv_strerror(-12345), pv_strerror(PV_ENOMEM)) != 0,
	      "pv_strerror of an unknown code");
	printf("pv_strerror(PV_ENOMEM) = \"%s\"\n", pv_strerror(PV_ENOMEM));
#ifdef PV_HAVE_TPM
	printf("feature: tpm\n");
#endif
#ifdef PV_HAVE_CRYPTO
	printf("feature: crypto\n");
#endif
#ifdef PV_HAVE_FDT
	printf("feature: fdt\n");
#endif
#ifdef CONSUMER_HAVE_MOCK
	consumer_mock_partition();
#else
	printf("mock port header not installed: partition check skipped\n");
#endif
	printf("%s\n", failures ? "CONSUMER FAILED" : "CONSUMER OK");
	return failures ? 1 : 0;
}
