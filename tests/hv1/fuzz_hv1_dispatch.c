/* SPDX-License-Identifier: MIT */
/* libFuzzer target: whole hypercall exits through pv_vcpu_dispatch() on a
 * mock-port partition with registered connections and a registered rep call
 * with output. Input: u64 control, u64 input GPA, u64 output GPA (both folded
 * into the first 64 KiB plus a few out-of-RAM values), then bytes copied to
 * guest memory at the input GPA. The result must never be a crash, and a
 * successful call must report a sane reps-completed count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_hv1_fixture.h"
#include "paravisor/hv1.h"
#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM 0x20000u

static struct pv_mock *mock;
static struct pv_partition *part;
static struct pv_hv1 *hv1;

static pv_err_t on_msg(void *ctx, struct pv_vcpu *vcpu, uint32_t conn, uint32_t type,
		       const void *payload, uint32_t size)
{
	(void)ctx;
	(void)conn;
	(void)type;
	if (size > PV_HV1_MESSAGE_PAYLOAD_MAX)
		abort();
	/* Reply like VMBus would; may fill the queue (back-pressure). */
	return pv_hv1_post_message(hv1, pv_vcpu_index(vcpu), 2, 1, payload, size);
}

static pv_err_t on_evt(void *ctx, struct pv_vcpu *vcpu, uint32_t conn, uint16_t flag)
{
	(void)ctx;
	(void)conn;
	return pv_hv1_signal_event(hv1, pv_vcpu_index(vcpu), 2, flag);
}

static uint16_t rep_echo(void *ctx, struct pv_hv1_hypercall *call)
{
	(void)ctx;
	for (uint16_t i = call->rep_start; i < call->rep_count; i++) {
		if (8u + 8u * (uint32_t)i + 8u > call->output_size ||
		    8u + 4u * (uint32_t)i + 4u > call->input_size)
			abort();
		memcpy(call->output + 8u + 8u * i, call->input + 8u + 4u * i, 4);
		if (call->input[8u + 4u * i] == 0xEE) {
			call->reps_completed = i;
			return 0x78;
		}
	}
	return 0;
}

static void msr(uint32_t index, uint64_t value)
{
	fuzz_hv1_wrmsr(part, 0, index, value);
}

static void setup(void)
{
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS, .no_recording = true};
	fuzz_hv1_partition(&mc, RAM, 1, &mock, &part);
	struct pv_hv1_hypercall_desc d = {.code = 0x50,
					  .flags = PV_HV1_HC_REP | PV_HV1_HC_VARHDR,
					  .input_size = 8,
					  .output_size = 8,
					  .rep_input_size = 4,
					  .rep_output_size = 8,
					  .fn = rep_echo};
	if (pv_hv1_create(part, NULL, &hv1) ||
	    pv_hv1_register_message_handler(hv1, 1, on_msg, NULL) ||
	    pv_hv1_register_event_handler(hv1, 2, on_evt, NULL) ||
	    pv_hv1_register_hypercall(hv1, &d))
		abort();
	msr(0x40000000u, 0x8100000000000000ull);
	msr(0x40000001u, 0x1000 | 1u);
	msr(0x40000083u, 0x2000 | 1u);
	msr(0x40000082u, 0x3000 | 1u);
	msr(0x40000092u, 0xF3);
	msr(0x40000080u, 1);
}

static uint64_t fold(uint64_t gpa)
{
	/* Mostly inside RAM, sometimes far outside or at the very top. */
	switch (gpa >> 62) {
	case 0:
	case 1:
		return gpa % RAM;
	case 2:
		return RAM + (gpa & 0xFFF);
	default:
		return gpa;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t control, in, out;
	if (size < 24)
		return 0;
	if (!hv1)
		setup();
	memcpy(&control, data, 8);
	memcpy(&in, data + 8, 8);
	memcpy(&out, data + 16, 8);
	in = fold(in);
	out = fold(out);
	size_t n = size - 24;
	if (in < RAM) {
		size_t room = RAM - in;
		pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(in), data + 24, n < room ? n : room);
	}
	/* Keep mostly to known codes so the handlers are reached. */
	static const uint16_t codes[] = {0x5C, 0x5D, 0x02, 0x03, 0x13, 0x14, 0x08, 0x50};
	if ((control & 0xFFFF) >= 0xF000)
		control = (control & ~0xFFFFull) | codes[control % 8u];

	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_HYPERCALL;
	e.u.hypercall.control = control;
	e.u.hypercall.input = in;
	e.u.hypercall.output = out;
	e.u.hypercall.is_64bit = true;
	if (pv_vcpu_dispatch(pv_partition_vcpu(part, 0), &e) != PV_OK)
		abort();
	uint16_t reps = (uint16_t)((e.u.hypercall.result >> 32) & 0xFFF);
	uint16_t count = (uint16_t)((control >> 32) & 0xFFF);
	if (e.inject.kind == PV_EVENT_NONE && reps > count)
		abort();
	/* Let the guest side free the slot and EOM now and then. */
	if (control & (1ull << 63)) {
		uint32_t zero = 0;
		pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(0x2000 + 2 * 256), &zero, 4);
		msr(0x40000084u, 0);
	}
	return 0;
}
