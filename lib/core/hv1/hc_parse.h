/* SPDX-License-Identifier: MIT */
/* Pure hypercall input parsers (no partition access): control word, GPA
 * layout rules and the inputs of the built-in calls. Fuzzed directly. */
#ifndef PV_HV1_HC_PARSE_H
#define PV_HV1_HC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/hv1.h"

/* Control word fields (TLFS hypercall input value). */
#define HV1_HC_FAST (1ull << 16)
#define HV1_HC_VARHDR_SHIFT 17u
#define HV1_HC_VARHDR_MASK 0x3FFull
#define HV1_HC_REP_COUNT_SHIFT 32u
#define HV1_HC_REP_START_SHIFT 48u
#define HV1_HC_REP_MASK 0xFFFull
/* Bits 30:27, 31 (nested), 47:44 and 63:60 must be zero. */
#define HV1_HC_RSVD_MASK (0xF8000000ull | 0x0000F00000000000ull | 0xF000000000000000ull)

/** Decoded control word. */
struct hv1_hc_control {
	uint16_t code;
	bool fast;
	uint16_t varhdr_qwords;
	uint16_t rep_count;
	uint16_t rep_start;
};

/** Byte sizes of a call's input and output blocks. */
struct hv1_hc_layout {
	uint32_t input_size;
	uint32_t output_size;
	uint32_t varhdr_size;
};

/** Decoded HvPostMessage input. */
struct hv1_post_message {
	uint32_t connection_id;
	uint32_t message_type;
	uint32_t payload_size;
	const uint8_t *payload;
};

/** Decoded HvSignalEvent input. */
struct hv1_signal_event {
	uint32_t connection_id;
	uint16_t flag_number;
};

uint16_t hv1_hc_parse_control(uint64_t control, struct hv1_hc_control *out);
uint16_t hv1_hc_check(const struct hv1_hc_control *c, const struct pv_hv1_hypercall_desc *d,
		      uint64_t in_gpa, uint64_t out_gpa, struct hv1_hc_layout *lay);
bool hv1_hc_desc_valid(const struct pv_hv1_hypercall_desc *d);
uint16_t hv1_parse_post_message(const uint8_t *in, size_t len, struct hv1_post_message *out);
uint16_t hv1_parse_signal_event(const uint8_t *in, size_t len, struct hv1_signal_event *out);
uint16_t hv1_parse_flush(uint16_t code, const uint8_t *in, size_t len, uint16_t varhdr_qwords);

/** Decoded HvSendSyntheticClusterIpi(Ex) input. The VP set is kept as the
 *  raw bank words inside the input buffer; test membership with
 *  hv1_ipi_targets(). */
struct hv1_send_ipi {
	uint32_t vector;
	bool all;             /* every VP (Ex, format 1) */
	uint64_t bank_mask;   /* valid banks (Ex) or 1 (simple: bank 0) */
	const uint8_t *banks; /* one u64 per set bank_mask bit, in bank order */
	uint64_t simple_mask; /* the simple form's 64-bit processor mask */
	bool ex;
};

uint16_t hv1_parse_send_ipi(uint16_t code, const uint8_t *in, size_t len, uint16_t varhdr_qwords,
			    struct hv1_send_ipi *out);
bool hv1_ipi_targets(const struct hv1_send_ipi *ipi, uint32_t vp);

static inline uint32_t hv1_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t hv1_le64(const uint8_t *p)
{
	return (uint64_t)hv1_le32(p) | ((uint64_t)hv1_le32(p + 4) << 32);
}

static inline void hv1_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void hv1_put64(uint8_t *p, uint64_t v)
{
	hv1_put32(p, (uint32_t)v);
	hv1_put32(p + 4, (uint32_t)(v >> 32));
}

#endif /* PV_HV1_HC_PARSE_H */
