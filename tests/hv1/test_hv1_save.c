/* SPDX-License-Identifier: MIT */
/* hv1: save/restore round trip, and restore of damaged records (every byte
 * mutated, truncations, crafted invalid fields) never crashes and never
 * changes state. */
#include "hv1_fixture.h"

static uint64_t slot(uint32_t vcpu, uint8_t sint)
{
	return simp_of(vcpu) + (uint64_t)sint * 256u;
}

/* A partition with every kind of state. */
/* The configuration every hv1 instance of these tests uses. */
static void save_config(struct pv_hv1_config *cfg)
{
	pv_hv1_config_default(NULL, cfg);
	cfg->tsc_frequency_hz = 2000000000ull;
	cfg->sint_queue_depth = 4;
	cfg->privileges_low |= PV_HV1_PRIV_SYNTHETIC_TIMERS;
	cfg->features_edx |= PV_HV1_FEAT_DIRECT_STIMERS;
}

/* Replace @f's emulator with a new instance (servicing): reset state. */
static void new_hv1(struct fx *f)
{
	pv_hv1_destroy(f->hv1);
	struct pv_hv1_config cfg;
	save_config(&cfg);
	assert_int_equal(pv_hv1_create(f->part, &cfg, &f->hv1), PV_OK);
}

static void build_state(struct fx *f)
{
	struct pv_hv1_config cfg;
	save_config(&cfg);
	assert_int_equal(fx_init(f, PV_PORT_CAP_TIMERS, 2, &cfg), 0);
	enable_hypercalls(f);
	assert_true(wrmsr(f, 0, MSR_REFERENCE_TSC, TSC_PAGE | 1u));
	synic_enable(f, 0, 2, 0xF3);
	synic_enable(f, 1, 5, 0x55);
	assert_true(wrmsr(f, 1, MSR_VP_ASSIST, 0x7001));
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(pv_hv1_post_message(f->hv1, 0, 2, 1, &i, 4), PV_OK);
	/* Timer: periodic 1 ms on vCPU 1, SINT 5. */
	assert_true(wrmsr(f, 1, MSR_STIMER_CONFIG(3), (5u << 16) | 2u | 1u));
	assert_true(wrmsr(f, 1, MSR_STIMER_COUNT(3), 10000));
	pv_mock_advance_clock(f->mock, 300000);
}

static uint8_t *save(struct fx *f, size_t *len)
{
	size_t need = pv_hv1_save_size(f->hv1);
	uint8_t *buf = malloc(need);
	assert_non_null(buf);
	size_t small;
	assert_int_equal(pv_hv1_save(f->hv1, buf, 16, &small), PV_ERANGE);
	assert_int_equal(small, need);
	assert_int_equal(pv_hv1_save(f->hv1, buf, need, len), PV_OK);
	assert_int_equal(*len, need);
	return buf;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct fx f;
	build_state(&f);
	uint64_t ref_before = rd(&f, 0, MSR_TIME_REF_COUNT);
	size_t len;
	uint8_t *rec = save(&f, &len);

	/* A new emulator instance (servicing): starts from reset state. */
	new_hv1(&f);
	pv_mock_advance_clock(f.mock, 5000000); /* the new clock bias must not show */
	assert_int_equal(rd(&f, 0, MSR_HYPERCALL), 0);
	assert_int_equal(pv_hv1_restore(f.hv1, rec, len), PV_OK);

	assert_int_equal(rd(&f, 0, MSR_GUEST_OS_ID), LINUX_OS_ID);
	assert_int_equal(rd(&f, 0, MSR_HYPERCALL), HC_PAGE | 1u);
	assert_int_equal(rd(&f, 0, MSR_REFERENCE_TSC), TSC_PAGE | 1u);
	assert_int_equal(rd(&f, 0, MSR_TIME_REF_COUNT), ref_before);
	assert_int_equal(rd(&f, 0, MSR_SIMP), simp_of(0) | 1u);
	assert_int_equal(rd(&f, 1, MSR_SIEFP), siefp_of(1) | 1u);
	assert_int_equal(rd(&f, 0, MSR_SINT(2)), 0xF3);
	assert_int_equal(rd(&f, 1, MSR_SINT(5)), 0x55);
	assert_int_equal(rd(&f, 1, MSR_VP_ASSIST), 0x7001);
	assert_int_equal(rd(&f, 1, MSR_STIMER_CONFIG(3)), (5u << 16) | 3u);
	assert_int_equal(rd(&f, 1, MSR_STIMER_COUNT(3)), 10000);
	/* Hypercalls work (the page state came back). */
	assert_int_equal(hcall(&f, 0, 0x10008, 0, 0), 0);
	/* The queued messages continue in order. */
	for (uint32_t i = 1; i < 3; i++) {
		uint32_t zero = 0;
		gmem_write(&f, slot(0, 2), &zero, 4);
		assert_true(wrmsr(&f, 0, MSR_EOM, 0));
		assert_int_equal(gmem_u32(&f, slot(0, 2) + 16), i);
	}
	/* The periodic timer is armed again and fires on vCPU 1 SINT 5. */
	uint32_t zero = 0;
	gmem_write(&f, slot(1, 5), &zero, 4);
	pv_mock_advance_clock(f.mock, 1000000);
	assert_int_equal(gmem_u32(&f, slot(1, 5)), PV_HV1_MSG_TIMER_EXPIRED);
	/* Disabling the hypercall page puts back what the guest had before. */
	assert_true(wrmsr(&f, 0, MSR_HYPERCALL, HC_PAGE));
	assert_int_equal(gmem_u64(&f, HC_PAGE), 0);
	free(rec);
	fx_fini(&f);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Offset of the first section with @tag, or 0. */
static size_t find_section(const uint8_t *rec, size_t len, uint16_t tag, size_t nth)
{
	size_t off = 32;
	while (off + 8 <= len) {
		uint16_t t;
		uint32_t n;
		memcpy(&t, rec + off, 2);
		memcpy(&n, rec + off + 4, 4);
		if (t == tag && nth-- == 0)
			return off;
		off += 8 + n;
	}
	return 0;
}

static void expect_reject(struct fx *f, const uint8_t *rec, size_t len)
{
	assert_int_equal(pv_hv1_restore(f->hv1, rec, len), PV_EVERSION);
	/* State unchanged: the fresh instance still has its reset values. */
	assert_int_equal(rd(f, 0, MSR_GUEST_OS_ID), 0);
	assert_int_equal(rd(f, 0, MSR_SINT(2)), 0x10000);
}

static void test_crafted_rejections(void **state)
{
	(void)state;
	struct fx f;
	build_state(&f);
	size_t len;
	uint8_t *rec = save(&f, &len);
	uint8_t *bad = malloc(len + 8);
	assert_non_null(bad);
	new_hv1(&f);

	size_t part = find_section(rec, len, 1, 0);
	size_t vp0 = find_section(rec, len, 3, 0);
	size_t q0 = find_section(rec, len, 4, 0);
	assert_true(part && vp0 && q0);

#define MUTATE(stmt)                         \
	do {                                 \
		memcpy(bad, rec, len);       \
		stmt;                        \
		expect_reject(&f, bad, len); \
	} while (0)

	MUTATE(put32(bad, 0x12345678));                       /* magic */
	MUTATE(put16(bad + 4, 2));                            /* version */
	MUTATE(put16(bad + 6, 40));                           /* header size */
	MUTATE(put32(bad + 8, (uint32_t)len + 1));            /* total size */
	MUTATE(put32(bad + 12, 99));                          /* section count */
	MUTATE(put32(bad + 16, 3));                           /* vCPU count */
	MUTATE(put64(bad + 24, 1));                           /* reserved */
	MUTATE(put16(bad + part, 9));                         /* unknown tag */
	MUTATE(put16(bad + part + 2, 2));                     /* section version */
	MUTATE(put32(bad + part + 4, 0xFFFFFFF0u));           /* section length */
	MUTATE(put64(bad + part + 8, 0));                     /* hypercall on, OS ID 0 */
	MUTATE(put64(bad + part + 16, MMIO_BASE | 1u));       /* hypercall page not RAM */
	MUTATE(put64(bad + part + 16, HC_PAGE + 0x1000 + 1)); /* overlay GPA mismatch */
	MUTATE(put64(bad + part + 16, HC_PAGE));              /* disabled but overlay present */
	MUTATE(put64(bad + part + 8 + 32 + 8, 5));            /* reserved */
	MUTATE(put32(bad + vp0 + 8, 7));                      /* VP index out of range */
	MUTATE(put64(bad + vp0 + 8 + 40 + 2 * 8, 0x05));      /* unmasked vector < 16 */
	MUTATE(put64(bad + vp0 + 8 + 168, 1ull << 13));       /* stimer RsvdZ */
	MUTATE(put32(bad + vp0 + 8 + 168 + 32, 2));           /* stimer flags */
	MUTATE(put32(bad + q0 + 8, 5));                       /* queue VP */
	MUTATE(bad[q0 + 8 + 4] = 16);                         /* queue SINT */
	MUTATE(put32(bad + q0 + 8 + 8, 5));                   /* queue count > depth */
	MUTATE(put32(bad + q0 + 8 + 16, 0));                  /* message type 0 */
	MUTATE(bad[q0 + 8 + 16 + 4] = 241);                   /* message size */
	/* Duplicate VP section: overwrite VP 1's index with 0. */
	size_t vp1 = find_section(rec, len, 3, 1);
	MUTATE(put32(bad + vp1 + 8, 0));
	/* Truncations. */
	for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 509))
		expect_reject(&f, rec, cut);
	/* Trailing garbage. */
	memcpy(bad, rec, len);
	put32(bad + 8, (uint32_t)len + 8);
	memset(bad + len, 0, 8);
	expect_reject(&f, bad, len + 8);
	assert_int_equal(pv_hv1_restore(f.hv1, NULL, len), PV_EINVAL);
	/* The original still restores. */
	assert_int_equal(pv_hv1_restore(f.hv1, rec, len), PV_OK);
	assert_int_equal(rd(&f, 0, MSR_GUEST_OS_ID), LINUX_OS_ID);
	free(bad);
	free(rec);
	fx_fini(&f);
}

static void test_every_byte_mutated(void **state)
{
	(void)state;
	struct fx f;
	build_state(&f);
	size_t len;
	uint8_t *rec = save(&f, &len);
	uint8_t *bad = malloc(len);
	assert_non_null(bad);
	/* Restore into the same live instance: each attempt either fully applies
	 * a (still valid) record or changes nothing; it must never crash. */
	size_t ok = 0, rejected = 0;
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, rec, len);
		bad[i] ^= (uint8_t)(0x5Bu + i);
		pv_err_t err = pv_hv1_restore(f.hv1, bad, len);
		assert_true(err == PV_OK || err == PV_EVERSION);
		if (err == PV_OK)
			ok++;
		else
			rejected++;
		if (err == PV_OK)
			assert_int_equal(pv_hv1_restore(f.hv1, rec, len), PV_OK);
	}
	/* Structure bytes are rejected, payload bytes (queue payloads, saved
	 * page contents) are accepted: both kinds must occur. */
	assert_true(ok > 0);
	assert_true(rejected > 0);
	free(bad);
	free(rec);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_crafted_rejections),
		cmocka_unit_test(test_every_byte_mutated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
