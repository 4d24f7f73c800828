/* SPDX-License-Identifier: MIT */
/* Host side of the hv1 TMK: installs the Hyper-V interface on the kvm
 * partition, an echo connection for HvPostMessage and an event connection
 * for HvSignalEvent, and checks afterwards that both were used. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hv1_cases.h"
#include "paravisor/hv1.h"
#include "tmk_host.h"

struct hv1_fixture {
	struct pv_hv1 *hv1;
	unsigned posts, events;
	pv_err_t last_reply;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* The guest TSC runs at the host TSC rate (no TSC scaling is set up). */
static uint64_t measure_tsc_hz(void)
{
	uint64_t t0 = mono_ns(), c0 = rdtsc();
	struct timespec d = {0, 50000000};
	nanosleep(&d, NULL);
	uint64_t t1 = mono_ns(), c1 = rdtsc();
	return (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0));
}

static pv_err_t on_post(void *ctx, struct pv_vcpu *vcpu, uint32_t conn, uint32_t type,
			const void *payload, uint32_t size)
{
	struct hv1_fixture *f = ctx;
	uint8_t reply[PV_HV1_MESSAGE_PAYLOAD_MAX];
	(void)conn;
	for (uint32_t i = 0; i < size; i++)
		reply[i] = ((const uint8_t *)payload)[i] ^ HV1T_REPLY_XOR;
	f->posts++;
	f->last_reply =
		pv_hv1_post_message(f->hv1, pv_vcpu_index(vcpu), HV1T_SINT, type, reply, size);
	return f->last_reply;
}

static pv_err_t on_event(void *ctx, struct pv_vcpu *vcpu, uint32_t conn, uint16_t flag)
{
	struct hv1_fixture *f = ctx;
	(void)conn;
	f->events++;
	return pv_hv1_signal_event(f->hv1, pv_vcpu_index(vcpu), HV1T_SINT, flag + 1u);
}

static pv_err_t hv1_setup(struct tmk_host *h, struct pv_partition *part, void **ctx)
{
	(void)h;
	struct hv1_fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return PV_ENOMEM;
	*ctx = f;
	struct pv_hv1_config cfg;
	pv_hv1_config_default(part, &cfg);
	cfg.tsc_frequency_hz = measure_tsc_hz();
	cfg.privileges_low |= PV_HV1_PRIV_FREQUENCY_MSRS;
	cfg.features_edx |= PV_HV1_FEAT_FREQUENCY_MSRS;
	pv_err_t err = pv_hv1_create(part, &cfg, &f->hv1);
	if (!err)
		err = pv_hv1_register_message_handler(f->hv1, HV1T_ECHO_CONNECTION, on_post, f);
	if (!err)
		err = pv_hv1_register_event_handler(f->hv1, HV1T_EVENT_CONNECTION, on_event, f);
	return err;
}

static bool hv1_check(struct tmk_host *h, void *ctx)
{
	struct hv1_fixture *f = ctx;
	bool ok = true;
	if (f->posts == 0 || f->last_reply != PV_OK) {
		tmk_host_fail(h, "echo connection: %u posts, last reply %d", f->posts,
			      f->last_reply);
		ok = false;
	}
	if (f->events == 0) {
		tmk_host_fail(h, "event connection never signalled");
		ok = false;
	}
	struct pv_stats st;
	pv_partition_get_stats(tmk_host_partition(h), &st);
	if (st.exits[PV_EXIT_HYPERCALL] == 0) {
		tmk_host_fail(h, "no hypercall exit reached the library");
		ok = false;
	}
	return ok;
}

static void hv1_teardown(struct tmk_host *h, void *ctx)
{
	struct hv1_fixture *f = ctx;
	(void)h;
	pv_hv1_destroy(f->hv1);
	free(f);
}

const struct tmk_setup tmk_setup = {
	.name = "tmk_hv1",
	.vcpus = 1,
	.setup = hv1_setup,
	.check = hv1_check,
	.teardown = hv1_teardown,
};
