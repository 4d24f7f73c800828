/* SPDX-License-Identifier: MIT */
/* hv1: CPUID leaves and every synthetic MSR (read, write, reserved bits,
 * feature gating) on the mock port. */
#include "hv1_fixture.h"

static void test_cpuid_leaves(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_CPUID_EXITS | PV_PORT_CAP_TIMERS, 3, NULL), 0);
	struct pv_cpuid_entry e;
	assert_int_equal(pv_cpuid_get(f.part, 0x40000000u, 0, &e), PV_OK);
	assert_int_equal(e.eax, 0x40000006u);
	char sig[13];
	memcpy(sig, &e.ebx, 4);
	memcpy(sig + 4, &e.ecx, 4);
	memcpy(sig + 8, &e.edx, 4);
	sig[12] = 0;
	assert_string_equal(sig, "Microsoft Hv");
	assert_int_equal(pv_cpuid_get(f.part, 0x40000001u, 0, &e), PV_OK);
	assert_int_equal(e.eax, 0x31237648u);
	assert_int_equal(pv_cpuid_get(f.part, 0x40000003u, 0, &e), PV_OK);
	/* Linux requires AccessHypercallMsrs and AccessVpIndex. */
	assert_true(e.eax & (1u << 5));
	assert_true(e.eax & (1u << 6));
	assert_true(e.eax & PV_HV1_PRIV_SYNIC);
	assert_true(e.eax & PV_HV1_PRIV_SYNTHETIC_TIMERS);
	assert_true(e.ebx & PV_HV1_PRIV_POST_MESSAGES);
	assert_true(e.ebx & PV_HV1_PRIV_SIGNAL_EVENTS);
	assert_false(e.ebx & (1u << 12)); /* never CpuManagement */
	assert_false(e.ebx & (1u << 22)); /* never Isolation */
	assert_true(e.edx & PV_HV1_FEAT_DIRECT_STIMERS);
	assert_int_equal(pv_cpuid_get(f.part, 0x40000004u, 0, &e), PV_OK);
	assert_int_equal(e.ebx, 0xFFFFFFFFu);
	assert_false(e.eax & PV_HV1_REC_DEPRECATE_AEOI); /* no irqchip: auto-EOI works */
	assert_int_equal(pv_cpuid_get(f.part, 0x40000005u, 0, &e), PV_OK);
	assert_int_equal(e.eax, 3);
	/* CPUID exits dispatch from the table. */
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_CPUID;
	x.u.cpuid.leaf = 0x40000000u;
	assert_int_equal(pv_vcpu_dispatch(fx_vcpu(&f, 0), &x), PV_OK);
	assert_int_equal(x.u.cpuid.ebx, 0x7263694Du);
	fx_fini(&f);
}

static void test_cpuid_config_irqchip_and_kvm_sig(void **state)
{
	(void)state;
	struct pv_mock *mock;
	struct pv_partition *part;
	struct pv_hv1 *hv1;
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_IRQCHIP};
	assert_int_equal(pv_mock_create(&mc, &mock), PV_OK);
	struct pv_mem_range r = {.base = pv_gpa(0), .size = RAM_SIZE, .kind = PV_MEM_RAM};
	struct pv_partition_config pc = {.vcpu_count = 1,
					 .vtl_count = 1,
					 .ranges = &r,
					 .range_count = 1,
					 .port = pv_mock_port_ops(mock),
					 .port_ctx = mock};
	assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
	/* A leaf 1 owner and a KVM signature the embedder left in the table. */
	struct pv_cpuid_entry l1 = {.leaf = 1, .any_subleaf = true, .ecx = 0x1};
	struct pv_cpuid_entry kvm = {.leaf = 0x40000100u,
				     .any_subleaf = true,
				     .eax = 0x40000101u,
				     .ebx = 0x4B4D564Bu,
				     .ecx = 0x564B4D56u,
				     .edx = 0x4Du};
	assert_int_equal(pv_cpuid_set(part, &l1), PV_OK);
	assert_int_equal(pv_cpuid_set(part, &kvm), PV_OK);

	struct pv_hv1_config cfg;
	pv_hv1_config_default(part, &cfg);
	assert_true(cfg.recommendations & PV_HV1_REC_DEPRECATE_AEOI);
	assert_false(cfg.privileges_low & PV_HV1_PRIV_SYNTHETIC_TIMERS); /* no timers cap */
	cfg.build_number = 20348;
	cfg.max_vps = 64;
	cfg.tsc_frequency_hz = 2500000000ull;
	cfg.privileges_low |= PV_HV1_PRIV_FREQUENCY_MSRS;
	assert_int_equal(pv_hv1_create(part, &cfg, &hv1), PV_OK);

	struct pv_cpuid_entry e;
	assert_int_equal(pv_cpuid_get(part, 1, 0, &e), PV_OK);
	assert_int_equal(e.ecx, 0x80000001u);
	assert_int_equal(pv_cpuid_get(part, 0x40000100u, 0, &e), PV_ENOENT);
	assert_int_equal(pv_cpuid_get(part, 0x40000002u, 0, &e), PV_OK);
	assert_int_equal(e.eax, 20348);
	assert_int_equal(pv_cpuid_get(part, 0x40000005u, 0, &e), PV_OK);
	assert_int_equal(e.eax, 64);
	assert_int_equal(pv_cpuid_get(part, 0x40000004u, 0, &e), PV_OK);
	assert_true(e.eax & PV_HV1_REC_DEPRECATE_AEOI);
	/* A second instance cannot take the same filter/MSR range. */
	struct pv_hv1 *second;
	assert_int_not_equal(pv_hv1_create(part, &cfg, &second), PV_OK);
	/* Destroy removes the leaves. */
	pv_hv1_destroy(hv1);
	assert_int_equal(pv_cpuid_get(part, 0x40000000u, 0, &e), PV_ENOENT);
	/* Bad configurations. */
	cfg.sint_queue_depth = 0;
	assert_int_equal(pv_hv1_create(part, &cfg, &hv1), PV_EINVAL);
	cfg.sint_queue_depth = 4;
	cfg.tsc_frequency_hz = 1000;
	assert_int_equal(pv_hv1_create(part, &cfg, &hv1), PV_EINVAL);
	assert_int_equal(pv_hv1_cpuid_set_hv_bit(NULL), PV_EINVAL);
	pv_partition_destroy(part);
	pv_mock_destroy(mock);
}

static void test_guest_os_id_and_hypercall_page(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	uint8_t orig[4096];
	for (int i = 0; i < 4096; i++)
		orig[i] = (uint8_t)(i * 7);
	gmem_write(&f, HC_PAGE, orig, sizeof(orig));

	assert_int_equal(rd(&f, 0, MSR_GUEST_OS_ID), 0);
	/* Enable without a guest OS ID: stays disabled, page untouched. */
	assert_true(wrmsr(&f, 0, MSR_HYPERCALL, HC_PAGE | 1u));
	assert_int_equal(rd(&f, 0, MSR_HYPERCALL), HC_PAGE);
	assert_int_equal(hcall(&f, 0, PV_HV1_CALL_NOTIFY_LONG_SPIN | (1ull << 16), 0, 0),
			 UINT64_MAX); /* #UD: interface not established */

	assert_true(wrmsr(&f, 0, MSR_GUEST_OS_ID, LINUX_OS_ID));
	assert_int_equal(rd(&f, 0, MSR_GUEST_OS_ID), LINUX_OS_ID);
	/* Reserved-preserve bits are kept as written. */
	assert_true(wrmsr(&f, 0, MSR_HYPERCALL, HC_PAGE | 0x10u | 1u));
	assert_int_equal(rd(&f, 0, MSR_HYPERCALL), HC_PAGE | 0x11u);
	uint8_t page[4096];
	const uint8_t code[] = PV_MOCK_HYPERCALL_CODE_BYTES;
	gmem_read(&f, HC_PAGE, page, sizeof(page));
	assert_memory_equal(page, code, sizeof(code));
	assert_int_equal(page[sizeof(code)], 0xCC);
	/* Now hypercalls work. */
	assert_int_equal(hcall(&f, 0, PV_HV1_CALL_NOTIFY_LONG_SPIN | (1ull << 16), 0, 0), 0);

	/* Disable: the guest's own contents come back. A guest that traps
	 * without the page still gets hypercalls (the OS ID is set). */
	assert_true(wrmsr(&f, 0, MSR_HYPERCALL, HC_PAGE));
	gmem_read(&f, HC_PAGE, page, sizeof(page));
	assert_memory_equal(page, orig, sizeof(orig));
	assert_int_equal(hcall(&f, 0, PV_HV1_CALL_NOTIFY_LONG_SPIN | (1ull << 16), 0, 0), 0);

	/* Re-enable, then clearing the OS ID disables the page too. */
	assert_true(wrmsr(&f, 0, MSR_HYPERCALL, HC_PAGE | 1u));
	assert_true(wrmsr(&f, 0, MSR_GUEST_OS_ID, 0));
	assert_int_equal(rd(&f, 0, MSR_HYPERCALL) & 1u, 0);
	assert_int_equal(hcall(&f, 0, PV_HV1_CALL_NOTIFY_LONG_SPIN | (1ull << 16), 0, 0),
			 UINT64_MAX); /* #UD again */
	gmem_read(&f, HC_PAGE, page, sizeof(page));
	assert_memory_equal(page, orig, sizeof(orig));

	/* A page outside RAM is refused with #GP and nothing changes. */
	assert_true(wrmsr(&f, 0, MSR_GUEST_OS_ID, LINUX_OS_ID));
	assert_false(wrmsr(&f, 0, MSR_HYPERCALL, MMIO_BASE | 1u));
	assert_false(wrmsr(&f, 0, MSR_HYPERCALL, 0x80000000ull | 1u));
	assert_int_equal(rd(&f, 0, MSR_HYPERCALL) & 1u, 0);

	/* Locked: further writes are ignored. */
	assert_true(wrmsr(&f, 0, MSR_HYPERCALL, HC_PAGE | 3u));
	assert_true(wrmsr(&f, 0, MSR_HYPERCALL, 0));
	assert_int_equal(rd(&f, 0, MSR_HYPERCALL), HC_PAGE | 3u);
	fx_fini(&f);
}

static void test_hypercall_page_fallback(void **state)
{
	(void)state;
	uint8_t page[8];
	/* Port code fails -> vmcall (Intel default). */
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	assert_int_equal(pv_mock_fail_op_from(f.mock, PV_MOCK_OP_HYPERCALL_CODE, 1, PV_EPORT),
			 PV_OK);
	enable_hypercalls(&f);
	gmem_read(&f, HC_PAGE, page, sizeof(page));
	const uint8_t vmcall[] = {0x0F, 0x01, 0xC1, 0xC3, 0xCC};
	assert_memory_equal(page, vmcall, sizeof(vmcall));
	fx_fini(&f);

	/* AMD -> vmmcall. */
	struct pv_hv1_config cfg;
	pv_hv1_config_default(NULL, &cfg);
	cfg.vendor = PV_HV1_VENDOR_AMD;
	assert_int_equal(fx_init(&f, 0, 1, &cfg), 0);
	assert_int_equal(pv_mock_fail_op_from(f.mock, PV_MOCK_OP_HYPERCALL_CODE, 1, PV_EPORT),
			 PV_OK);
	enable_hypercalls(&f);
	gmem_read(&f, HC_PAGE, page, sizeof(page));
	const uint8_t vmmcall[] = {0x0F, 0x01, 0xD9, 0xC3};
	assert_memory_equal(page, vmmcall, sizeof(vmmcall));
	fx_fini(&f);
}

static void test_vp_index_runtime_refcount(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 2, NULL), 0);
	assert_int_equal(rd(&f, 0, MSR_VP_INDEX), 0);
	assert_int_equal(rd(&f, 1, MSR_VP_INDEX), 1);
	assert_false(wrmsr(&f, 1, MSR_VP_INDEX, 5));

	uint64_t t0 = rd(&f, 0, MSR_TIME_REF_COUNT);
	assert_int_equal(t0, 0);                /* starts at partition (hv1) creation */
	pv_mock_advance_clock(f.mock, 1000000); /* 1 ms */
	assert_int_equal(rd(&f, 0, MSR_TIME_REF_COUNT), 10000);
	assert_int_equal(pv_hv1_reference_time(f.hv1), 10000);
	assert_false(wrmsr(&f, 0, MSR_TIME_REF_COUNT, 0));
	assert_true(rd(&f, 1, MSR_VP_RUNTIME) <= 10000);
	assert_false(wrmsr(&f, 0, MSR_VP_RUNTIME, 0));
	/* Frequencies are not advertised by default. */
	assert_false(rdmsr(&f, 0, MSR_TSC_FREQUENCY, NULL));
	assert_false(rdmsr(&f, 0, MSR_APIC_FREQUENCY, NULL));
	/* Unknown MSRs in the range raise #GP. */
	assert_false(rdmsr(&f, 0, 0x40000005u, NULL));
	assert_false(wrmsr(&f, 0, 0x400000FFu, 1));
	assert_false(rdmsr(&f, 0, 0x40000003u, NULL)); /* RESET: not implemented */
	fx_fini(&f);
}

static void test_feature_gating(void **state)
{
	(void)state;
	struct fx f;
	struct pv_hv1_config cfg;
	pv_hv1_config_default(NULL, &cfg);
	cfg.privileges_low = PV_HV1_PRIV_VP_INDEX; /* nothing else */
	assert_int_equal(fx_init(&f, PV_PORT_CAP_TIMERS, 1, &cfg), 0);
	assert_true(rdmsr(&f, 0, MSR_VP_INDEX, NULL));
	const uint32_t gated[] = {
		MSR_GUEST_OS_ID,      MSR_HYPERCALL,      MSR_VP_RUNTIME, MSR_TIME_REF_COUNT,
		MSR_REFERENCE_TSC,    MSR_TSC_FREQUENCY,  MSR_EOI,        MSR_VP_ASSIST,
		MSR_SCONTROL,         MSR_SVERSION,       MSR_SIMP,       MSR_SINT(3),
		MSR_STIMER_CONFIG(0), MSR_STIMER_COUNT(3)};
	for (size_t i = 0; i < sizeof(gated) / sizeof(gated[0]); i++) {
		assert_false(rdmsr(&f, 0, gated[i], NULL));
		assert_false(wrmsr(&f, 0, gated[i], 0));
	}
	fx_fini(&f);

	/* Frequencies, when advertised. */
	pv_hv1_config_default(NULL, &cfg);
	cfg.privileges_low |= PV_HV1_PRIV_FREQUENCY_MSRS;
	cfg.features_edx |= PV_HV1_FEAT_FREQUENCY_MSRS;
	cfg.tsc_frequency_hz = 2400000000ull;
	cfg.apic_frequency_hz = 1000000000ull;
	assert_int_equal(fx_init(&f, 0, 1, &cfg), 0);
	assert_int_equal(rd(&f, 0, MSR_TSC_FREQUENCY), 2400000000ull);
	assert_int_equal(rd(&f, 0, MSR_APIC_FREQUENCY), 1000000000ull);
	assert_false(wrmsr(&f, 0, MSR_TSC_FREQUENCY, 1));
	/* Timers without the timers privilege (mock without timers cap). */
	assert_false(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), 0));
	fx_fini(&f);

	/* Timers need the SynIC. */
	pv_hv1_config_default(NULL, &cfg);
	cfg.privileges_low = PV_HV1_PRIV_SYNTHETIC_TIMERS;
	struct pv_mock *mock;
	struct pv_mock_config mc = {0};
	assert_int_equal(pv_mock_create(&mc, &mock), PV_OK);
	struct pv_mem_range r = {.base = pv_gpa(0), .size = RAM_SIZE, .kind = PV_MEM_RAM};
	struct pv_partition_config pc = {.vcpu_count = 1,
					 .vtl_count = 1,
					 .ranges = &r,
					 .range_count = 1,
					 .port = pv_mock_port_ops(mock),
					 .port_ctx = mock};
	struct pv_partition *part;
	struct pv_hv1 *h;
	assert_int_equal(pv_partition_create(&pc, &part), PV_OK);
	assert_int_equal(pv_hv1_create(part, &cfg, &h), PV_EINVAL);
	pv_partition_destroy(part);
	pv_mock_destroy(mock);
}

static void test_synic_msrs(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	assert_int_equal(rd(&f, 0, MSR_SVERSION), 1);
	assert_false(wrmsr(&f, 0, MSR_SVERSION, 2));
	assert_int_equal(rd(&f, 0, MSR_SCONTROL), 0);
	assert_int_equal(rd(&f, 0, MSR_EOM), 0);
	assert_true(wrmsr(&f, 0, MSR_EOM, 0));
	for (uint32_t s = 0; s < 16; s++)
		assert_int_equal(rd(&f, 0, MSR_SINT(s)), 0x10000u); /* masked at reset */
	/* Unmasked vectors below 16 are invalid; masked ones are accepted. */
	assert_false(wrmsr(&f, 0, MSR_SINT(2), 0x0F));
	assert_true(wrmsr(&f, 0, MSR_SINT(2), 0x1000F));
	assert_true(wrmsr(&f, 0, MSR_SINT(2), 0x200F3)); /* auto-EOI, vector 0xF3 */
	assert_int_equal(rd(&f, 0, MSR_SINT(2)), 0x200F3);

	/* Enabling SIMP/SIEFP zeroes the page; a page outside RAM is accepted
	 * (TLFS: it is just not accessible). */
	uint8_t junk[4096];
	memset(junk, 0xAB, sizeof(junk));
	gmem_write(&f, SIMP_PAGE, junk, sizeof(junk));
	assert_true(wrmsr(&f, 0, MSR_SIMP, SIMP_PAGE | 1u));
	assert_int_equal(rd(&f, 0, MSR_SIMP), SIMP_PAGE | 1u);
	assert_int_equal(gmem_u64(&f, SIMP_PAGE + 4088), 0);
	assert_true(wrmsr(&f, 0, MSR_SIEFP, MMIO_BASE | 1u));
	assert_int_equal(rd(&f, 0, MSR_SIEFP), MMIO_BASE | 1u);
	assert_true(wrmsr(&f, 0, MSR_SIEFP, SIEFP_PAGE | 1u));
	assert_true(wrmsr(&f, 0, MSR_SCONTROL, 1));
	assert_int_equal(rd(&f, 0, MSR_SCONTROL), 1);
	/* Disabled page with an unusable GPA is fine (not used). */
	assert_true(wrmsr(&f, 0, MSR_SIEFP, MMIO_BASE));

	/* VP assist page is stored. */
	assert_true(wrmsr(&f, 0, MSR_VP_ASSIST, 0x5000u | 1u));
	assert_int_equal(rd(&f, 0, MSR_VP_ASSIST), 0x5001u);
	fx_fini(&f);
}

static void test_stimer_msrs(void **state)
{
	(void)state;
	struct fx f;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_TIMERS, 1, NULL), 0);
	/* RsvdZ bits 15:13 and 63:20. */
	assert_false(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), 1ull << 13));
	assert_false(wrmsr(&f, 0, MSR_STIMER_CONFIG(1), 1ull << 20));
	assert_false(wrmsr(&f, 0, MSR_STIMER_CONFIG(3), 1ull << 63));
	/* SINT 2, periodic, not enabled. */
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(2), (2u << 16) | 2u));
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(2)), (2u << 16) | 2u);
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(2), 12345));
	assert_int_equal(rd(&f, 0, MSR_STIMER_COUNT(2)), 12345);
	/* Auto-enable: a non-zero count enables; zero count disables. */
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(1), (2u << 16) | 8u));
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(1), 1000000));
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(1)) & 1u, 1);
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(1), 0));
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(1)) & 1u, 0);
	/* Enabled message-mode timer moved to SINT 0 is disabled. */
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), (3u << 16) | 1u));
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), 1u));
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(0)) & 1u, 0);
	/* ... and so is one enabled directly on SINT 0, or auto-enabled there. */
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), 1u));
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(0)) & 1u, 0);
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), 8u));
	assert_true(wrmsr(&f, 0, MSR_STIMER_COUNT(0), 100));
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(0)), 8u);
	/* Direct mode needs no SINT. */
	assert_true(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), (1u << 12) | (0x40u << 4) | 1u));
	assert_int_equal(rd(&f, 0, MSR_STIMER_CONFIG(0)) & 1u, 1);
	fx_fini(&f);

	/* Direct mode without the feature bit is reserved. */
	struct pv_hv1_config cfg;
	pv_hv1_config_default(NULL, &cfg);
	cfg.privileges_low |= PV_HV1_PRIV_SYNTHETIC_TIMERS;
	assert_int_equal(fx_init(&f, PV_PORT_CAP_TIMERS, 1, &cfg), 0);
	assert_false(wrmsr(&f, 0, MSR_STIMER_CONFIG(0), (1u << 12) | (0xED << 4)));
	fx_fini(&f);
}

static void test_reference_tsc_page(void **state)
{
	(void)state;
	struct fx f;
	struct pv_hv1_config cfg;
	pv_hv1_config_default(NULL, &cfg);
	cfg.tsc_frequency_hz = 2500000000ull;
	assert_int_equal(fx_init(&f, 0, 1, &cfg), 0);
	pv_mock_advance_clock(f.mock, 5000000); /* reference time 50000 */
	uint64_t tsc0 = 123456789000ull;
	assert_int_equal(pv_mock_set_msr(f.mock, 0, 0x10, tsc0), PV_OK);
	assert_true(wrmsr(&f, 0, MSR_REFERENCE_TSC, TSC_PAGE | 1u));
	assert_int_equal(rd(&f, 0, MSR_REFERENCE_TSC), TSC_PAGE | 1u);
	uint32_t seq = gmem_u32(&f, TSC_PAGE);
	uint64_t scale = gmem_u64(&f, TSC_PAGE + 8);
	int64_t offset = (int64_t)gmem_u64(&f, TSC_PAGE + 16);
	assert_int_not_equal(seq, 0);
	/* scale = 10^7 * 2^64 / 2.5e9 = 2^64 / 250 */
	assert_int_equal(scale, (uint64_t)((((unsigned __int128)1) << 64) / 250u));
	uint64_t ref = (uint64_t)(((unsigned __int128)tsc0 * scale) >> 64) + (uint64_t)offset;
	assert_int_equal(ref, rd(&f, 0, MSR_TIME_REF_COUNT));
	/* 1 ms later on both clocks: they still agree (within a tick). */
	pv_mock_advance_clock(f.mock, 1000000);
	uint64_t tsc1 = tsc0 + 2500000u;
	ref = (uint64_t)(((unsigned __int128)tsc1 * scale) >> 64) + (uint64_t)offset;
	uint64_t msr = rd(&f, 0, MSR_TIME_REF_COUNT);
	assert_true(ref + 1 >= msr && ref <= msr + 1);
	assert_int_equal(msr, 60000);
	/* Disable restores the page; enabling at a bad GPA is #GP. */
	assert_true(wrmsr(&f, 0, MSR_REFERENCE_TSC, TSC_PAGE));
	assert_int_equal(gmem_u32(&f, TSC_PAGE), 0);
	assert_false(wrmsr(&f, 0, MSR_REFERENCE_TSC, MMIO_BASE | 1u));
	assert_int_equal(rd(&f, 0, MSR_REFERENCE_TSC), TSC_PAGE);
	fx_fini(&f);

	/* Unknown TSC frequency: sequence 0 (guest falls back to the MSR). */
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	uint32_t ones = 0xFFFFFFFFu;
	gmem_write(&f, TSC_PAGE, &ones, 4);
	assert_true(wrmsr(&f, 0, MSR_REFERENCE_TSC, TSC_PAGE | 1u));
	assert_int_equal(gmem_u32(&f, TSC_PAGE), 0);
	fx_fini(&f);
}

static void test_apic_msrs(void **state)
{
	(void)state;
	struct fx f;
	/* No APIC in the port: #GP. */
	assert_int_equal(fx_init(&f, 0, 1, NULL), 0);
	assert_false(wrmsr(&f, 0, MSR_EOI, 0));
	assert_false(rdmsr(&f, 0, MSR_TPR, NULL));
	fx_fini(&f);
	/* With an irqchip they forward to the x2APIC MSRs. */
	assert_int_equal(fx_init(&f, PV_PORT_CAP_IRQCHIP, 1, NULL), 0);
	assert_true(wrmsr(&f, 0, MSR_EOI, 0));
	assert_false(rdmsr(&f, 0, MSR_EOI, NULL)); /* write-only */
	assert_true(wrmsr(&f, 0, MSR_TPR, 0x20));
	assert_false(wrmsr(&f, 0, MSR_TPR, 0x100));
	assert_true(wrmsr(&f, 0, MSR_ICR, 0x00000001000000F0ull));
	assert_int_equal(rd(&f, 0, MSR_TPR), 0x20);
	uint32_t idx;
	uint64_t val;
	assert_int_equal(pv_mock_msr_write_count(f.mock, 0), 3);
	assert_int_equal(pv_mock_msr_write_get(f.mock, 0, 0, &idx, &val), PV_OK);
	assert_int_equal(idx, 0x80B);
	assert_int_equal(pv_mock_msr_write_get(f.mock, 0, 2, &idx, &val), PV_OK);
	assert_int_equal(idx, 0x830);
	assert_int_equal(val, 0x00000001000000F0ull);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpuid_leaves),
		cmocka_unit_test(test_cpuid_config_irqchip_and_kvm_sig),
		cmocka_unit_test(test_guest_os_id_and_hypercall_page),
		cmocka_unit_test(test_hypercall_page_fallback),
		cmocka_unit_test(test_vp_index_runtime_refcount),
		cmocka_unit_test(test_feature_gating),
		cmocka_unit_test(test_synic_msrs),
		cmocka_unit_test(test_stimer_msrs),
		cmocka_unit_test(test_reference_tsc_page),
		cmocka_unit_test(test_apic_msrs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
