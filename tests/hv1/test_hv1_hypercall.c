/* SPDX-License-Identifier: MIT */
/* hv1: every hypercall path — control word, GPA rules, rep counts, fast
 * calls, unknown codes, built-in handlers and handler registration. */
#include "hv1_fixture.h"

#define ST(r) ((uint16_t)((r)&0xFFFFu))
#define REPS(r) ((uint16_t)(((r) >> 32) & 0xFFFu))
#define CTL(code, fast, varhdr, count, start)                                          \
	((uint64_t)(code) | ((fast) ? (1ull << 16) : 0) | ((uint64_t)(varhdr) << 17) | \
	 ((uint64_t)(count) << 32) | ((uint64_t)(start) << 48))

struct msg_rec {
	int calls;
	struct pv_vcpu *vcpu;
	uint32_t conn, type, size;
	uint8_t payload[240];
	pv_err_t ret;
};

static pv_err_t on_msg(void *ctx, struct pv_vcpu *vcpu, uint32_t conn, uint32_t type,
		       const void *payload, uint32_t size)
{
	struct msg_rec *r = ctx;
	r->calls++;
	r->vcpu = vcpu;
	r->conn = conn;
	r->type = type;
	r->size = size;
	memcpy(r->payload, payload, size);
	return r->ret;
}

struct evt_rec {
	int calls;
	uint32_t conn;
	uint16_t flag;
	pv_err_t ret;
};

static pv_err_t on_evt(void *ctx, struct pv_vcpu *vcpu, uint32_t conn, uint16_t flag)
{
	(void)vcpu;
	struct evt_rec *r = ctx;
	r->calls++;
	r->conn = conn;
	r->flag = flag;
	return r->ret;
}

static void put_post(struct fx *f, uint64_t gpa, uint32_t conn, uint32_t rsvd, uint32_t type,
		     uint32_t size, uint8_t fill)
{
	uint8_t in[256];
	memset(in, fill, sizeof(in));
	memcpy(in, &conn, 4);
	memcpy(in + 4, &rsvd, 4);
	memcpy(in + 8, &type, 4);
	memcpy(in + 12, &size, 4);
	gmem_write(f, gpa, in, sizeof(in));
}

static void test_control_word(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	enable_hypercalls(&f);
	/* Unknown codes. */
	assert_int_equal(ST(hcall(&f, 0, 0x0001, IN_PAGE, OUT_PAGE)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_CODE);
	assert_int_equal(ST(hcall(&f, 0, 0xFFFF, IN_PAGE, OUT_PAGE)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_CODE);
	assert_int_equal(ST(hcall(&f, 0, 0x8001, IN_PAGE, OUT_PAGE)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_CODE);
	/* Reserved control bits: 30:27, 31 (nested), 47:44, 63:60. */
	const uint64_t rsvd[] = {1ull << 27, 1ull << 30, 1ull << 31, 1ull << 44,
				 1ull << 47, 1ull << 60, 1ull << 63};
	for (size_t i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++)
		assert_int_equal(
			ST(hcall(&f, 0, CTL(PV_HV1_CALL_NOTIFY_LONG_SPIN, 1, 0, 0, 0) | rsvd[i], 0,
				 0)),
			PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	/* Rep count / start / varhdr on a simple call. */
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_NOTIFY_LONG_SPIN, 1, 0, 1, 0), 0, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_NOTIFY_LONG_SPIN, 1, 0, 0, 1), 0, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_NOTIFY_LONG_SPIN, 1, 1, 0, 0), 0, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	/* Long spin wait: fast and memory forms. */
	assert_int_equal(hcall(&f, 0, CTL(PV_HV1_CALL_NOTIFY_LONG_SPIN, 1, 0, 0, 0), 100, 0), 0);
	assert_int_equal(hcall(&f, 0, CTL(PV_HV1_CALL_NOTIFY_LONG_SPIN, 0, 0, 0, 0), IN_PAGE, 0),
			 0);
	/* A VTL the partition does not have. */
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_HYPERCALL;
	e.u.hypercall.control = CTL(PV_HV1_CALL_NOTIFY_LONG_SPIN, 1, 0, 0, 0);
	e.u.hypercall.vtl = 1;
	assert_int_equal(pv_vcpu_dispatch(fx_vcpu(&f, 0), &e), PV_OK);
	assert_int_equal(ST(e.u.hypercall.result), PV_HV1_STATUS_ACCESS_DENIED);
	/* Non-hypercall exits are not the filter's. */
	assert_false(pv_hv1_handle_exit(f.hv1, fx_vcpu(&f, 0), &e) == false);
	e.kind = PV_EXIT_IO;
	assert_false(pv_hv1_handle_exit(f.hv1, fx_vcpu(&f, 0), &e));
	fx_fini(&f);
}

static void test_post_message(void **state)
{
	(void)state;
	struct fx f;
	struct msg_rec r = {0};
	assert_int_equal(fx_init(&f, 0, 2, NULL), 0);
	enable_hypercalls(&f);
	assert_int_equal(pv_hv1_register_message_handler(f.hv1, 1, on_msg, &r), PV_OK);
	assert_int_equal(pv_hv1_register_message_handler(f.hv1, 1, on_msg, &r), PV_EEXIST);
	assert_int_equal(pv_hv1_register_message_handler(f.hv1, 1u << 24, on_msg, &r), PV_EINVAL);
	assert_int_equal(pv_hv1_register_message_handler(f.hv1, 2, NULL, &r), PV_EINVAL);

	/* Good message. */
	put_post(&f, IN_PAGE, 1, 0, 1, 12, 0x5A);
	assert_int_equal(hcall(&f, 1, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0), 0);
	assert_int_equal(r.calls, 1);
	assert_ptr_equal(r.vcpu, fx_vcpu(&f, 1));
	assert_int_equal(r.conn, 1);
	assert_int_equal(r.type, 1);
	assert_int_equal(r.size, 12);
	assert_int_equal(r.payload[11], 0x5A);
	/* Full 240-byte payload at the end of a page (no crossing). */
	put_post(&f, IN_PAGE + 4096 - 256, 1, 0, 7, 240, 0x11);
	assert_int_equal(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE + 4096 - 256, 0), 0);
	assert_int_equal(r.size, 240);
	assert_int_equal(r.type, 7);

	/* Bad fields. */
	put_post(&f, IN_PAGE, 9, 0, 1, 4, 0);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_CONNECTION_ID);
	put_post(&f, IN_PAGE, 1, 0, 0, 4, 0);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	put_post(&f, IN_PAGE, 1, 0, 0x80000001u, 4, 0);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	put_post(&f, IN_PAGE, 1, 0, 1, 241, 0);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	put_post(&f, IN_PAGE, 1, 1, 1, 4, 0);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	put_post(&f, IN_PAGE, 1u | (1u << 24), 0, 1, 4, 0);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	assert_int_equal(r.calls, 2);

	/* GPA rules: misaligned, page crossing, outside RAM, MMIO. */
	put_post(&f, IN_PAGE + 4, 1, 0, 1, 4, 0);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE + 4, 0)),
			 PV_HV1_STATUS_INVALID_ALIGNMENT);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE + 4096 - 248, 0)),
			 PV_HV1_STATUS_INVALID_ALIGNMENT);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, 0x80000000ull, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, MMIO_BASE, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, UINT64_MAX - 4095, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	/* Fast form, rep count or variable header are not allowed. */
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_POST_MESSAGE, 1, 0, 0, 0), 1, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_POST_MESSAGE, 0, 0, 1, 0), IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_POST_MESSAGE, 0, 2, 0, 0), IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(r.calls, 2);

	/* Handler back-pressure and failure. */
	put_post(&f, IN_PAGE, 1, 0, 1, 4, 0);
	r.ret = PV_EBUSY;
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INSUFFICIENT_BUFFERS);
	r.ret = PV_EBADMSG;
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	/* Unregistered. */
	assert_int_equal(pv_hv1_unregister_message_handler(f.hv1, 1), PV_OK);
	assert_int_equal(pv_hv1_unregister_message_handler(f.hv1, 1), PV_ENOENT);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_CONNECTION_ID);
	fx_fini(&f);

	/* Without the PostMessages privilege: access denied. */
	struct pv_hv1_config cfg;
	pv_hv1_config_default(NULL, &cfg);
	cfg.privileges_high = 0;
	assert_int_equal(fx_init(&f, 0, 1, &cfg), 0);
	enable_hypercalls(&f);
	assert_int_equal(pv_hv1_register_message_handler(f.hv1, 1, on_msg, &r), PV_OK);
	put_post(&f, IN_PAGE, 1, 0, 1, 4, 0);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0)),
			 PV_HV1_STATUS_ACCESS_DENIED);
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_SIGNAL_EVENT, 1, 0, 0, 0), 1, 0)),
			 PV_HV1_STATUS_ACCESS_DENIED);
	fx_fini(&f);
}

static void test_signal_event(void **state)
{
	(void)state;
	struct fx f;
	struct evt_rec r = {0};
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	enable_hypercalls(&f);
	assert_int_equal(pv_hv1_register_event_handler(f.hv1, 0x2A, on_evt, &r), PV_OK);
	assert_int_equal(pv_hv1_register_event_handler(f.hv1, 0x2A, on_evt, &r), PV_EEXIST);
	assert_int_equal(pv_hv1_register_event_handler(f.hv1, 0x1000000, on_evt, &r), PV_EINVAL);
	/* Linux's form: fast, RDX = connection | flag << 32. */
	assert_int_equal(hcall(&f, 0, 0x1005D, 0x2A | (5ull << 32), 0), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.conn, 0x2A);
	assert_int_equal(r.flag, 5);
	/* Memory form. */
	uint8_t in[8] = {0x2A, 0, 0, 0, 7, 0, 0, 0};
	gmem_write(&f, IN_PAGE, in, 8);
	assert_int_equal(hcall(&f, 0, PV_HV1_CALL_SIGNAL_EVENT, IN_PAGE, 0), 0);
	assert_int_equal(r.flag, 7);
	/* Bad input. */
	assert_int_equal(ST(hcall(&f, 0, 0x1005D, 0x2B, 0)), PV_HV1_STATUS_INVALID_CONNECTION_ID);
	assert_int_equal(ST(hcall(&f, 0, 0x1005D, 0x2A | (1ull << 48), 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER); /* RsvdZ */
	assert_int_equal(ST(hcall(&f, 0, 0x1005D, 0x2A | (2048ull << 32), 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_SIGNAL_EVENT, IN_PAGE + 1, 0)),
			 PV_HV1_STATUS_INVALID_ALIGNMENT);
	assert_int_equal(ST(hcall(&f, 0, PV_HV1_CALL_SIGNAL_EVENT, IN_PAGE + 4092, 0)),
			 PV_HV1_STATUS_INVALID_ALIGNMENT);
	assert_int_equal(r.calls, 2);
	r.ret = PV_EINVAL;
	assert_int_equal(ST(hcall(&f, 0, 0x1005D, 0x2A, 0)), PV_HV1_STATUS_INVALID_PARAMETER);
	assert_int_equal(pv_hv1_unregister_event_handler(f.hv1, 0x2A), PV_OK);
	assert_int_equal(pv_hv1_unregister_event_handler(f.hv1, 0x2A), PV_ENOENT);
	assert_int_equal(ST(hcall(&f, 0, 0x1005D, 0x2A, 0)), PV_HV1_STATUS_INVALID_CONNECTION_ID);
	fx_fini(&f);
}

static void test_flush_calls(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	enable_hypercalls(&f);
	uint64_t in[64];
	memset(in, 0, sizeof(in));
	in[0] = 0x1000; /* address space */
	in[1] = 1;      /* all processors */
	in[2] = 1;      /* processor mask */
	gmem_write(&f, IN_PAGE, in, sizeof(in));
	/* HvFlushVirtualAddressSpace: simple. */
	assert_int_equal(hcall(&f, 0, PV_HV1_CALL_FLUSH_VA_SPACE, IN_PAGE, 0), 0);
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_SPACE, 0, 0, 2, 0), IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	/* HvFlushVirtualAddressList: rep; reps completed = rep count. */
	uint64_t res = hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_LIST, 0, 0, 5, 0), IN_PAGE, 0);
	assert_int_equal(ST(res), 0);
	assert_int_equal(REPS(res), 5);
	res = hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_LIST, 0, 0, 5, 3), IN_PAGE, 0);
	assert_int_equal(ST(res), 0);
	assert_int_equal(REPS(res), 5); /* total, not relative to the start */
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_LIST, 0, 0, 0, 0), IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_LIST, 0, 0, 5, 5), IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	/* 24 + 600*8 bytes do not fit in one page. */
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_LIST, 0, 0, 600, 0), IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	/* 24 + 10*8 crossing the page end. */
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_LIST, 0, 0, 10, 0),
				  IN_PAGE + 4096 - 64, 0)),
			 PV_HV1_STATUS_INVALID_ALIGNMENT);
	/* Ex forms: VP set format 0 with one bank = one variable-header qword. */
	in[2] = 0; /* format sparse */
	in[3] = 1; /* bank 0 valid */
	in[4] = 3; /* VPs 0-1 */
	gmem_write(&f, IN_PAGE, in, sizeof(in));
	assert_int_equal(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_SPACE_EX, 0, 1, 0, 0), IN_PAGE, 0),
			 0);
	assert_int_equal(
		ST(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_SPACE_EX, 0, 2, 0, 0), IN_PAGE, 0)),
		PV_HV1_STATUS_INVALID_PARAMETER);
	res = hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_LIST_EX, 0, 1, 4, 0), IN_PAGE, 0);
	assert_int_equal(ST(res), 0);
	assert_int_equal(REPS(res), 4);
	in[2] = 7; /* bad format */
	gmem_write(&f, IN_PAGE, in, sizeof(in));
	assert_int_equal(
		ST(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_SPACE_EX, 0, 1, 0, 0), IN_PAGE, 0)),
		PV_HV1_STATUS_INVALID_PARAMETER);
	/* Variable header on the non-Ex form is refused. */
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_FLUSH_VA_SPACE, 0, 1, 0, 0), IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	fx_fini(&f);
}

/* A registered rep call with output: element i of the output = input element i * 2. */
static uint16_t hc_double(void *ctx, struct pv_hv1_hypercall *call)
{
	int *calls = ctx;
	(*calls)++;
	for (uint16_t i = call->rep_start; i < call->rep_count; i++) {
		uint32_t v;
		memcpy(&v, call->input + 8 + 4u * i, 4);
		if (v == 0xFFFFFFFFu) {
			call->reps_completed = i;
			return 0x78; /* HV_STATUS_TIMEOUT: partial */
		}
		uint64_t o = (uint64_t)v * 2u;
		memcpy(call->output + 8u * i, &o, 8);
	}
	return PV_HV1_STATUS_SUCCESS;
}

static uint16_t hc_fail_simple(void *ctx, struct pv_hv1_hypercall *call)
{
	(void)ctx;
	memset(call->output, 0xEE, call->output_size);
	return PV_HV1_STATUS_INVALID_PARAMETER;
}

static void test_registered_rep_call_with_output(void **state)
{
	(void)state;
	struct fx f;
	int calls = 0;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	enable_hypercalls(&f);
	struct pv_hv1_hypercall_desc d = {.code = 0x0050,
					  .flags = PV_HV1_HC_REP,
					  .input_size = 8,
					  .rep_input_size = 4,
					  .rep_output_size = 8,
					  .fn = hc_double,
					  .ctx = &calls};
	assert_int_equal(pv_hv1_register_hypercall(f.hv1, &d), PV_OK);
	assert_int_equal(pv_hv1_register_hypercall(f.hv1, &d), PV_EEXIST);
	/* Invalid descriptors. */
	struct pv_hv1_hypercall_desc bad = d;
	bad.code = 0x51;
	bad.flags = PV_HV1_HC_REP | PV_HV1_HC_FAST;
	assert_int_equal(pv_hv1_register_hypercall(f.hv1, &bad), PV_EINVAL);
	bad.flags = 0;
	assert_int_equal(pv_hv1_register_hypercall(f.hv1, &bad),
			 PV_EINVAL); /* rep sizes on simple */
	bad = d;
	bad.code = 0x51;
	bad.fn = NULL;
	assert_int_equal(pv_hv1_register_hypercall(f.hv1, &bad), PV_EINVAL);
	bad.fn = hc_double;
	bad.input_size = 8192;
	assert_int_equal(pv_hv1_register_hypercall(f.hv1, &bad), PV_EINVAL);
	bad.input_size = 8;
	bad.flags = 8;
	assert_int_equal(pv_hv1_register_hypercall(f.hv1, &bad), PV_EINVAL);

	uint32_t in[2 + 4] = {0, 0, 10, 20, 30, 40};
	gmem_write(&f, IN_PAGE, in, sizeof(in));
	uint64_t sentinel[4] = {111, 222, 333, 444};
	gmem_write(&f, OUT_PAGE, sentinel, sizeof(sentinel));
	uint64_t res = hcall(&f, 0, CTL(0x50, 0, 0, 4, 1), IN_PAGE, OUT_PAGE);
	assert_int_equal(ST(res), 0);
	assert_int_equal(REPS(res), 4);
	uint64_t out[4];
	gmem_read(&f, OUT_PAGE, out, sizeof(out));
	assert_int_equal(out[0], 111); /* before rep start: untouched */
	assert_int_equal(out[1], 40);
	assert_int_equal(out[3], 80);
	/* Partial completion: reps completed reported, only those written. */
	in[4] = 0xFFFFFFFFu;
	gmem_write(&f, IN_PAGE, in, sizeof(in));
	gmem_write(&f, OUT_PAGE, sentinel, sizeof(sentinel));
	res = hcall(&f, 0, CTL(0x50, 0, 0, 4, 0), IN_PAGE, OUT_PAGE);
	assert_int_equal(ST(res), 0x78);
	assert_int_equal(REPS(res), 2);
	gmem_read(&f, OUT_PAGE, out, sizeof(out));
	assert_int_equal(out[0], 20);
	assert_int_equal(out[1], 40);
	assert_int_equal(out[2], 333);
	assert_int_equal(out[3], 444);
	/* Output GPA rules. */
	int before = calls;
	assert_int_equal(ST(hcall(&f, 0, CTL(0x50, 0, 0, 4, 0), IN_PAGE, OUT_PAGE + 4)),
			 PV_HV1_STATUS_INVALID_ALIGNMENT);
	assert_int_equal(ST(hcall(&f, 0, CTL(0x50, 0, 0, 4, 0), IN_PAGE, OUT_PAGE + 4096 - 16)),
			 PV_HV1_STATUS_INVALID_ALIGNMENT);
	assert_int_equal(ST(hcall(&f, 0, CTL(0x50, 0, 0, 4, 0), IN_PAGE, IN_PAGE + 8)),
			 PV_HV1_STATUS_INVALID_PARAMETER); /* overlaps the input */
	assert_int_equal(ST(hcall(&f, 0, CTL(0x50, 0, 0, 4, 0), IN_PAGE, 0x80000000ull)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(ST(hcall(&f, 0, CTL(0x50, 0, 0, 4, 0), IN_PAGE, MMIO_BASE)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_INPUT);
	assert_int_equal(calls, before);

	/* A simple call with output that fails writes nothing back. */
	struct pv_hv1_hypercall_desc s = {.code = 0x46, .output_size = 8, .fn = hc_fail_simple};
	assert_int_equal(pv_hv1_register_hypercall(f.hv1, &s), PV_OK);
	gmem_write(&f, OUT_PAGE, sentinel, sizeof(sentinel));
	assert_int_equal(ST(hcall(&f, 0, 0x46, 0, OUT_PAGE)), PV_HV1_STATUS_INVALID_PARAMETER);
	assert_int_equal(gmem_u64(&f, OUT_PAGE), 111);

	/* Unregistering makes the code unknown; built-ins can be removed too. */
	assert_int_equal(pv_hv1_unregister_hypercall(f.hv1, 0x50), PV_OK);
	assert_int_equal(pv_hv1_unregister_hypercall(f.hv1, 0x50), PV_ENOENT);
	assert_int_equal(ST(hcall(&f, 0, CTL(0x50, 0, 0, 4, 0), IN_PAGE, OUT_PAGE)),
			 PV_HV1_STATUS_INVALID_HYPERCALL_CODE);
	assert_int_equal(pv_hv1_unregister_hypercall(f.hv1, PV_HV1_CALL_NOTIFY_LONG_SPIN), PV_OK);
	assert_int_equal(ST(hcall(&f, 0, 0x10008, 0, 0)), PV_HV1_STATUS_INVALID_HYPERCALL_CODE);
	fx_fini(&f);
}

static void test_guest_post_and_reply(void **state)
{
	(void)state;
	/* The VMBus pattern: the guest posts to connection 1 and the host
	 * answers in the guest's SINT 2 slot, with the SINT interrupt. */
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	enable_hypercalls(&f);
	synic_enable(&f, 0, 2, 0xF3);
	struct msg_rec r = {0};
	assert_int_equal(pv_hv1_register_message_handler(f.hv1, 1, on_msg, &r), PV_OK);
	put_post(&f, IN_PAGE, 1, 0, 1, 16, 0x42);
	assert_int_equal(hcall(&f, 0, PV_HV1_CALL_POST_MESSAGE, IN_PAGE, 0), 0);
	assert_int_equal(pv_hv1_post_message(f.hv1, 0, 2, 1, r.payload, r.size), PV_OK);
	uint64_t slot = simp_of(0) + 2 * 256;
	assert_int_equal(gmem_u32(&f, slot), 1);
	uint8_t hdr[16];
	gmem_read(&f, slot, hdr, 16);
	assert_int_equal(hdr[4], 16);
	uint8_t body[16];
	gmem_read(&f, slot + 16, body, 16);
	assert_int_equal(body[15], 0x42);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	struct pv_event ev;
	assert_int_equal(pv_mock_inject_get(f.mock, 0, 0, &ev), PV_OK);
	assert_int_equal(ev.kind, PV_EVENT_INTERRUPT);
	assert_int_equal(ev.vector, 0xF3);
	fx_fini(&f);
}

static void test_synthetic_cluster_ipi(void **state)
{
	(void)state;
	struct fx f;
	struct pv_event ev;
	assert_int_equal(fx_init(&f, 0, 3, NULL), 0);
	enable_hypercalls(&f);
	/* Linux's fast form: RDX = vector (VTL byte 0), R8 = processor mask. */
	assert_int_equal(hcall(&f, 0, CTL(PV_HV1_CALL_SEND_IPI, 1, 0, 0, 0), 0x60, 0x5), 0);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	assert_int_equal(pv_mock_inject_count(f.mock, 1), 0);
	assert_int_equal(pv_mock_inject_count(f.mock, 2), 1);
	assert_int_equal(pv_mock_inject_get(f.mock, 2, 0, &ev), PV_OK);
	assert_int_equal(ev.vector, 0x60);
	/* VPs beyond the partition are ignored. */
	assert_int_equal(hcall(&f, 0, CTL(PV_HV1_CALL_SEND_IPI, 1, 0, 0, 0), 0x60, 1ull << 40), 0);
	/* Bad vector, non-zero target VTL. */
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_SEND_IPI, 1, 0, 0, 0), 0x05, 1)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_SEND_IPI, 1, 0, 0, 0), 0x100, 1)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	assert_int_equal(
		ST(hcall(&f, 0, CTL(PV_HV1_CALL_SEND_IPI, 1, 0, 0, 0), 0x60 | (1ull << 32), 1)),
		PV_HV1_STATUS_INVALID_PARAMETER);
	/* Ex form: sparse VP set {bank 0: VP 1} as a one-qword variable header. */
	uint64_t in[4] = {0x61, 0, 1, 0x2};
	gmem_write(&f, IN_PAGE, in, sizeof(in));
	assert_int_equal(hcall(&f, 0, CTL(PV_HV1_CALL_SEND_IPI_EX, 0, 1, 0, 0), IN_PAGE, 0), 0);
	assert_int_equal(pv_mock_inject_count(f.mock, 1), 1);
	assert_int_equal(pv_mock_inject_get(f.mock, 1, 0, &ev), PV_OK);
	assert_int_equal(ev.vector, 0x61);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 1);
	/* Bank count and variable header disagree. */
	assert_int_equal(ST(hcall(&f, 0, CTL(PV_HV1_CALL_SEND_IPI_EX, 0, 2, 0, 0), IN_PAGE, 0)),
			 PV_HV1_STATUS_INVALID_PARAMETER);
	/* Format 1: all VPs. */
	in[1] = 1;
	gmem_write(&f, IN_PAGE, in, sizeof(in));
	assert_int_equal(hcall(&f, 0, CTL(PV_HV1_CALL_SEND_IPI_EX, 0, 0, 0, 0), IN_PAGE, 0), 0);
	assert_int_equal(pv_mock_inject_count(f.mock, 0), 2);
	assert_int_equal(pv_mock_inject_count(f.mock, 1), 2);
	assert_int_equal(pv_mock_inject_count(f.mock, 2), 2);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_word),
		cmocka_unit_test(test_post_message),
		cmocka_unit_test(test_signal_event),
		cmocka_unit_test(test_flush_calls),
		cmocka_unit_test(test_registered_rep_call_with_output),
		cmocka_unit_test(test_guest_post_and_reply),
		cmocka_unit_test(test_synthetic_cluster_ipi),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
