/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the hypercall input parser (control word, GPA layout
 * rules, descriptor validation, and the PostMessage / SignalEvent / flush
 * input decoders) on arbitrary bytes.
 * Input: u64 control, u64 input GPA, u64 output GPA, u8 descriptor choice,
 * then the guest's input block. */
#include <stdint.h>
#include <string.h>

#include "core/hv1/hc_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t dummy(void *ctx, struct pv_hv1_hypercall *call)
{
	(void)ctx;
	(void)call;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pv_hv1_hypercall_desc builtin[] = {
		{PV_HV1_CALL_POST_MESSAGE, 0, 256, 0, 0, 0, dummy, NULL},
		{PV_HV1_CALL_SIGNAL_EVENT, PV_HV1_HC_FAST, 8, 0, 0, 0, dummy, NULL},
		{PV_HV1_CALL_FLUSH_VA_SPACE, 0, 24, 0, 0, 0, dummy, NULL},
		{PV_HV1_CALL_FLUSH_VA_LIST, PV_HV1_HC_REP, 24, 0, 8, 0, dummy, NULL},
		{PV_HV1_CALL_FLUSH_VA_SPACE_EX, PV_HV1_HC_VARHDR, 32, 0, 0, 0, dummy, NULL},
		{PV_HV1_CALL_FLUSH_VA_LIST_EX, PV_HV1_HC_REP | PV_HV1_HC_VARHDR, 32, 0, 8, 0, dummy,
		 NULL},
		{PV_HV1_CALL_NOTIFY_LONG_SPIN, PV_HV1_HC_FAST, 8, 0, 0, 0, dummy, NULL},
		{PV_HV1_CALL_SEND_IPI, PV_HV1_HC_FAST, 16, 0, 0, 0, dummy, NULL},
		{PV_HV1_CALL_SEND_IPI_EX, PV_HV1_HC_VARHDR, 24, 0, 0, 0, dummy, NULL},
	};
	static uint8_t page[4096];
	uint64_t control, in_gpa, out_gpa;
	struct hv1_hc_control c;
	struct hv1_hc_layout lay;

	if (size < 25)
		return 0;
	memcpy(&control, data, 8);
	memcpy(&in_gpa, data + 8, 8);
	memcpy(&out_gpa, data + 16, 8);
	uint8_t pick = data[24];
	data += 25;
	size -= 25;

	struct pv_hv1_hypercall_desc d;
	if (pick < sizeof(builtin) / sizeof(builtin[0])) {
		d = builtin[pick];
	} else {
		/* A fuzzed descriptor, as an isolation backend might register. */
		memset(&d, 0, sizeof(d));
		d.code = (uint16_t)control;
		d.flags = pick & 0xFu;
		d.input_size = size > 0 ? (uint32_t)data[0] * 17u : 0;
		d.output_size = size > 1 ? (uint32_t)data[1] * 17u : 0;
		d.rep_input_size = size > 2 ? data[2] : 0;
		d.rep_output_size = size > 3 ? data[3] : 0;
		d.fn = dummy;
		if (!hv1_hc_desc_valid(&d))
			return 0;
	}
	if (hv1_hc_parse_control(control, &c) != PV_HV1_STATUS_SUCCESS)
		return 0;
	if (hv1_hc_check(&c, &d, in_gpa, out_gpa, &lay) != PV_HV1_STATUS_SUCCESS)
		return 0;
	/* The dispatcher's invariants. */
	if (lay.input_size > sizeof(page) || lay.output_size > sizeof(page))
		__builtin_trap();
	if (!c.fast && lay.input_size &&
	    ((in_gpa & 7u) || (in_gpa & 4095u) + lay.input_size > 4096u))
		__builtin_trap();
	if (c.fast && (lay.input_size > 16u || lay.output_size))
		__builtin_trap();

	/* The guest's input block, copied once into the call buffer. */
	memset(page, 0, sizeof(page));
	memcpy(page, data, size < lay.input_size ? size : lay.input_size);
	switch (d.code) {
	case PV_HV1_CALL_POST_MESSAGE: {
		struct hv1_post_message pm;
		if (hv1_parse_post_message(page, lay.input_size, &pm) == 0 &&
		    (pm.payload_size > PV_HV1_MESSAGE_PAYLOAD_MAX || pm.payload != page + 16))
			__builtin_trap();
		break;
	}
	case PV_HV1_CALL_SIGNAL_EVENT: {
		struct hv1_signal_event se;
		if (hv1_parse_signal_event(page, lay.input_size, &se) == 0 &&
		    se.flag_number >= 2048)
			__builtin_trap();
		break;
	}
	case PV_HV1_CALL_SEND_IPI:
	case PV_HV1_CALL_SEND_IPI_EX: {
		struct hv1_send_ipi ipi;
		if (hv1_parse_send_ipi(d.code, page, lay.input_size, c.varhdr_qwords, &ipi) == 0) {
			if (ipi.vector < 16 || ipi.vector > 255)
				__builtin_trap();
			for (uint32_t vp = 0; vp < 4200; vp += 7)
				(void)hv1_ipi_targets(&ipi, vp);
		}
		break;
	}
	default:
		(void)hv1_parse_flush(d.code, page, lay.input_size, c.varhdr_qwords);
		break;
	}
	return 0;
}
