/* SPDX-License-Identifier: MIT */
/* Hypercall control-word and input parsers. Pure functions: every size and
 * offset comes from the guest and is checked with 64-bit arithmetic on
 * values bounded to 16 or 32 bits, so nothing here can overflow. */
#include "core/hv1/hc_parse.h"

#define HV1_PAGE 4096u
#define HV1_FAST_INPUT_MAX 16u

uint16_t hv1_hc_parse_control(uint64_t control, struct hv1_hc_control *out)
{
	if (control & HV1_HC_RSVD_MASK)
		return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	out->code = (uint16_t)(control & 0xFFFFu);
	out->fast = (control & HV1_HC_FAST) != 0;
	out->varhdr_qwords = (uint16_t)((control >> HV1_HC_VARHDR_SHIFT) & HV1_HC_VARHDR_MASK);
	out->rep_count = (uint16_t)((control >> HV1_HC_REP_COUNT_SHIFT) & HV1_HC_REP_MASK);
	out->rep_start = (uint16_t)((control >> HV1_HC_REP_START_SHIFT) & HV1_HC_REP_MASK);
	return PV_HV1_STATUS_SUCCESS;
}

bool hv1_hc_desc_valid(const struct pv_hv1_hypercall_desc *d)
{
	if (!d || !d->fn)
		return false;
	if (d->flags & ~(uint32_t)(PV_HV1_HC_REP | PV_HV1_HC_VARHDR | PV_HV1_HC_FAST))
		return false;
	if (d->input_size > HV1_PAGE || d->output_size > HV1_PAGE || d->rep_input_size > HV1_PAGE ||
	    d->rep_output_size > HV1_PAGE)
		return false;
	if (!(d->flags & PV_HV1_HC_REP) && (d->rep_input_size || d->rep_output_size))
		return false;
	if ((d->flags & PV_HV1_HC_REP) && !d->rep_input_size && !d->rep_output_size)
		return false;
	if ((d->flags & PV_HV1_HC_FAST) &&
	    (d->input_size > HV1_FAST_INPUT_MAX || d->output_size || d->rep_output_size))
		return false;
	return true;
}

/* A memory block must be 8-byte aligned and must not cross a page. */
static bool block_ok(uint64_t gpa, uint64_t size)
{
	if (size == 0)
		return true;
	if (gpa & 7u)
		return false;
	return (gpa & (HV1_PAGE - 1u)) + size <= HV1_PAGE;
}

uint16_t hv1_hc_check(const struct hv1_hc_control *c, const struct pv_hv1_hypercall_desc *d,
		      uint64_t in_gpa, uint64_t out_gpa, struct hv1_hc_layout *lay)
{
	bool rep = (d->flags & PV_HV1_HC_REP) != 0;

	if (rep) {
		if (c->rep_count == 0 || c->rep_start >= c->rep_count)
			return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	} else if (c->rep_count || c->rep_start) {
		return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	}
	if (c->varhdr_qwords && !(d->flags & PV_HV1_HC_VARHDR))
		return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	if (c->fast && !(d->flags & PV_HV1_HC_FAST))
		return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;

	/* Bounded: <= 4096 + 1023*8 + 4095*4096, fits easily in 64 bits. */
	uint64_t varhdr = (uint64_t)c->varhdr_qwords * 8u;
	uint64_t in = (uint64_t)d->input_size + varhdr + (uint64_t)c->rep_count * d->rep_input_size;
	uint64_t out = (uint64_t)d->output_size + (uint64_t)c->rep_count * d->rep_output_size;

	if (c->fast) {
		if (in > HV1_FAST_INPUT_MAX || out)
			return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	} else {
		if (in > HV1_PAGE || out > HV1_PAGE)
			return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
		if (!block_ok(in_gpa, in) || !block_ok(out_gpa, out))
			return PV_HV1_STATUS_INVALID_ALIGNMENT;
		/* Input and output must not overlap. */
		if (in && out && in_gpa < out_gpa + out && out_gpa < in_gpa + in)
			return PV_HV1_STATUS_INVALID_PARAMETER;
	}
	lay->input_size = (uint32_t)in;
	lay->output_size = (uint32_t)out;
	lay->varhdr_size = (uint32_t)varhdr;
	return PV_HV1_STATUS_SUCCESS;
}

uint16_t hv1_parse_post_message(const uint8_t *in, size_t len, struct hv1_post_message *out)
{
	if (len < 16u + PV_HV1_MESSAGE_PAYLOAD_MAX)
		return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	uint32_t conn = hv1_le32(in);
	uint32_t rsvd = hv1_le32(in + 4);
	uint32_t type = hv1_le32(in + 8);
	uint32_t size = hv1_le32(in + 12);

	if ((conn >> 24) != 0 || rsvd != 0)
		return PV_HV1_STATUS_INVALID_PARAMETER;
	/* Guests may only post types with the MSB clear, and not "none". */
	if (type == 0 || (type & 0x80000000u))
		return PV_HV1_STATUS_INVALID_PARAMETER;
	if (size > PV_HV1_MESSAGE_PAYLOAD_MAX)
		return PV_HV1_STATUS_INVALID_PARAMETER;
	out->connection_id = conn;
	out->message_type = type;
	out->payload_size = size;
	out->payload = in + 16;
	return PV_HV1_STATUS_SUCCESS;
}

uint16_t hv1_parse_signal_event(const uint8_t *in, size_t len, struct hv1_signal_event *out)
{
	if (len < 8u)
		return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	uint32_t conn = hv1_le32(in);
	uint16_t flag = (uint16_t)(in[4] | (in[5] << 8));
	uint16_t rsvd = (uint16_t)(in[6] | (in[7] << 8));

	if ((conn >> 24) != 0 || rsvd != 0)
		return PV_HV1_STATUS_INVALID_PARAMETER;
	if (flag >= 2048u)
		return PV_HV1_STATUS_INVALID_PARAMETER;
	out->connection_id = conn;
	out->flag_number = flag;
	return PV_HV1_STATUS_SUCCESS;
}

static unsigned popcount64(uint64_t v)
{
	unsigned n = 0;
	while (v) {
		v &= v - 1u;
		n++;
	}
	return n;
}

uint16_t hv1_parse_flush(uint16_t code, const uint8_t *in, size_t len, uint16_t varhdr_qwords)
{
	if (code == PV_HV1_CALL_FLUSH_VA_SPACE || code == PV_HV1_CALL_FLUSH_VA_LIST)
		return len >= 24u ? PV_HV1_STATUS_SUCCESS : PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	/* Ex forms: address space, flags, then HV_VP_SET {format, valid bank mask,
	 * bank words}; the bank words are the variable header. */
	if (len < 32u)
		return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	uint64_t format = hv1_le64(in + 16);
	uint64_t banks = hv1_le64(in + 24);

	if (format == 0) {
		if (popcount64(banks) != varhdr_qwords)
			return PV_HV1_STATUS_INVALID_PARAMETER;
	} else if (format != 1) {
		return PV_HV1_STATUS_INVALID_PARAMETER;
	}
	return PV_HV1_STATUS_SUCCESS;
}

uint16_t hv1_parse_send_ipi(uint16_t code, const uint8_t *in, size_t len, uint16_t varhdr_qwords,
			    struct hv1_send_ipi *out)
{
	/* 0:4 vector, 4:1 target VTL, 5:3 padding, then the processor mask
	 * (simple form) or an HV_VP_SET (Ex form: format, bank mask, banks). */
	size_t fixed = code == PV_HV1_CALL_SEND_IPI ? 16u : 24u;
	if (len < fixed)
		return PV_HV1_STATUS_INVALID_HYPERCALL_INPUT;
	uint32_t vector = hv1_le32(in);
	if (vector < 16u || vector > 255u || in[4] != 0)
		return PV_HV1_STATUS_INVALID_PARAMETER; /* bad vector; only VTL 0 */
	out->vector = vector;
	out->ex = code != PV_HV1_CALL_SEND_IPI;
	out->all = false;
	out->banks = NULL;
	out->bank_mask = 0;
	out->simple_mask = 0;
	if (!out->ex) {
		out->simple_mask = hv1_le64(in + 8);
		return PV_HV1_STATUS_SUCCESS;
	}
	uint64_t format = hv1_le64(in + 8);
	uint64_t banks = hv1_le64(in + 16);
	if (format == 1) {
		out->all = true;
		return PV_HV1_STATUS_SUCCESS;
	}
	if (format != 0 || popcount64(banks) != varhdr_qwords ||
	    len < fixed + 8u * (size_t)varhdr_qwords)
		return PV_HV1_STATUS_INVALID_PARAMETER;
	out->bank_mask = banks;
	out->banks = in + fixed;
	return PV_HV1_STATUS_SUCCESS;
}

bool hv1_ipi_targets(const struct hv1_send_ipi *ipi, uint32_t vp)
{
	if (!ipi->ex)
		return vp < 64u && (ipi->simple_mask >> vp) & 1u;
	if (ipi->all)
		return true;
	uint32_t bank = vp / 64u;
	if (bank >= 64u || !((ipi->bank_mask >> bank) & 1u))
		return false;
	/* Index of this bank among the valid ones. */
	unsigned idx = popcount64(ipi->bank_mask & ((1ull << bank) - 1u));
	return (hv1_le64(ipi->banks + 8u * idx) >> (vp % 64u)) & 1u;
}
