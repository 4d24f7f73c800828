/* SPDX-License-Identifier: MIT */
/* hv1 TMK guest: the Hyper-V interface as a guest OS sees it on the kvm
 * port — CPUID leaves, guest OS ID and hypercall page, HvPostMessage with the
 * reply in the SynIC message page and the SINT interrupt, HvSignalEvent with
 * the event flag, the reference counter against the reference TSC page, and a
 * direct-mode synthetic timer. */
#include "hv1_cases.h"
#include "tmk.h"

#define MSR_GUEST_OS_ID 0x40000000u
#define MSR_HYPERCALL 0x40000001u
#define MSR_VP_INDEX 0x40000002u
#define MSR_TIME_REF_COUNT 0x40000020u
#define MSR_REFERENCE_TSC 0x40000021u
#define MSR_TSC_FREQUENCY 0x40000022u
#define MSR_SCONTROL 0x40000080u
#define MSR_SVERSION 0x40000081u
#define MSR_SIEFP 0x40000082u
#define MSR_SIMP 0x40000083u
#define MSR_EOM 0x40000084u
#define MSR_SINT0 0x40000090u
#define MSR_STIMER0_CONFIG 0x400000B0u
#define MSR_STIMER0_COUNT 0x400000B1u

#define PAGE __attribute__((aligned(4096)))

static uint8_t hc_page[4096] PAGE;
static uint8_t simp[4096] PAGE;
static uint8_t siefp[4096] PAGE;
static uint8_t tsc_page[4096] PAGE;
static uint8_t in_page[4096] PAGE;

static volatile uint32_t sint_irqs, stimer_irqs;

static uint64_t rdmsr(uint32_t msr)
{
	uint64_t v = 0;
	TMK_CHECK_EQ(tmk_rdmsr_safe(msr, &v), -1);
	return v;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	TMK_CHECK_EQ(tmk_wrmsr_safe(msr, v), -1);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Call the hypercall page as Linux does: RCX control, RDX input, R8 output. */
static uint64_t hv_call(uint64_t control, uint64_t input, uint64_t output)
{
	void *fn = hc_page;
	uint64_t ret;
	register uint64_t r8 __asm__("r8") = output;
	__asm__ volatile("call *%[fn]"
			 : "=a"(ret), "+c"(control), "+d"(input), "+r"(r8)
			 : [fn] "m"(fn)
			 : "memory", "cc", "r9", "r10", "r11");
	return ret;
}

static void setup_hypercalls(void)
{
	if ((rdmsr(MSR_HYPERCALL) & 1u) == 0) {
		wrmsr(MSR_GUEST_OS_ID, 0x8100000601C00000ull);
		wrmsr(MSR_HYPERCALL, (uint64_t)(uintptr_t)hc_page | 1u);
	}
}

static void on_sint(uint8_t vector)
{
	(void)vector;
	sint_irqs++;
}

static void on_stimer(uint8_t vector)
{
	(void)vector;
	stimer_irqs++;
}

static void setup_synic(void)
{
	tmk_lapic_enable();
	tmk_set_irq_handler(HV1T_SINT_VECTOR, on_sint);
	wrmsr(MSR_SIMP, (uint64_t)(uintptr_t)simp | 1u);
	wrmsr(MSR_SIEFP, (uint64_t)(uintptr_t)siefp | 1u);
	wrmsr(MSR_SINT0 + HV1T_SINT, HV1T_SINT_VECTOR);
	wrmsr(MSR_SCONTROL, 1);
}

TMK_CASE(cpuid_hyperv_leaves)
{
	struct tmk_cpuid r = tmk_cpuid(1, 0);
	TMK_CHECK(r.ecx & (1u << 31));
	r = tmk_cpuid(0x40000000u, 0);
	TMK_CHECK(r.eax >= 0x40000005u && r.eax <= 0x4000FFFFu);
	TMK_CHECK_EQ(r.ebx, 0x7263694Du);                         /* "Micr" */
	TMK_CHECK_EQ(r.ecx, 0x666F736Fu);                         /* "osof" */
	TMK_CHECK_EQ(r.edx, 0x76482074u);                         /* "t Hv" */
	TMK_CHECK_EQ(tmk_cpuid(0x40000001u, 0).eax, 0x31237648u); /* "Hv#1" */
	r = tmk_cpuid(0x40000003u, 0);
	TMK_CHECK(r.eax & (1u << 5));        /* hypercall MSRs */
	TMK_CHECK(r.eax & (1u << 6));        /* VP index */
	TMK_CHECK(r.eax & (1u << 2));        /* SynIC */
	TMK_CHECK(r.eax & (1u << 9));        /* reference TSC */
	TMK_CHECK(r.ebx & (1u << 4));        /* post messages */
	TMK_CHECK(r.ebx & (1u << 5));        /* signal events */
	TMK_CHECK_EQ(r.ebx & (1u << 12), 0); /* not the root partition */
	TMK_CHECK_EQ(tmk_cpuid(0x40000005u, 0).eax, tmk_vcpu_count());
	/* No other hypervisor's signature for Linux's detectors to find. */
	r = tmk_cpuid(0x40000100u, 0);
	TMK_CHECK(r.ebx != 0x4B4D564Bu); /* "KVMK" */
	TMK_CHECK_EQ(rdmsr(MSR_VP_INDEX), tmk_vcpu_index());
	TMK_CHECK_EQ(rdmsr(MSR_SVERSION), 1);
	TMK_CHECK(rdmsr(MSR_TSC_FREQUENCY) > 10000000u);
}

TMK_CASE(guest_os_id_and_hypercall_page)
{
	uint64_t v;
	/* Clearing the guest OS ID disables the page; before the guest
	 * identifies itself, the page cannot be enabled. */
	wrmsr(MSR_GUEST_OS_ID, 0);
	TMK_CHECK_EQ(rdmsr(MSR_HYPERCALL) & 1u, 0);
	wrmsr(MSR_HYPERCALL, (uint64_t)(uintptr_t)hc_page | 1u);
	TMK_CHECK_EQ(rdmsr(MSR_HYPERCALL) & 1u, 0);
	wrmsr(MSR_GUEST_OS_ID, 0x8100000601C00000ull);
	TMK_CHECK_EQ(rdmsr(MSR_GUEST_OS_ID), 0x8100000601C00000ull);
	wrmsr(MSR_HYPERCALL, (uint64_t)(uintptr_t)hc_page | 1u);
	v = rdmsr(MSR_HYPERCALL);
	TMK_CHECK_EQ(v, (uint64_t)(uintptr_t)hc_page | 1u);
	/* The port's trap sequence ends in RET; the rest is int3 filler. */
	TMK_CHECK(hc_page[0] != 0 && hc_page[0] != 0xCC);
	TMK_CHECK_EQ(hc_page[4095], 0xCC);
	/* Fast HvNotifyLongSpinWait succeeds; an unknown code is refused. */
	TMK_CHECK_EQ(hv_call(0x10008, 1, 0), 0);
	TMK_CHECK_EQ(hv_call(0x0001, 0, 0) & 0xFFFF, 2);
	/* Rep count on a simple call: invalid input. */
	TMK_CHECK_EQ(hv_call(0x10008 | (1ull << 32), 1, 0) & 0xFFFF, 3);
	/* A reserved MSR bit pattern: unknown synthetic MSR raises #GP. */
	TMK_CHECK_EQ(tmk_rdmsr_safe(0x40000005u, &v), 13);
}

TMK_CASE(post_message_reply_in_message_page)
{
	setup_hypercalls();
	setup_synic();
	sint_irqs = 0;
	/* HvPostMessage input: connection, reserved, type, size, payload. */
	memset(in_page, 0, 256);
	uint32_t hdr[4] = {HV1T_ECHO_CONNECTION, 0, HV1T_MSG_TYPE, 32};
	memcpy(in_page, hdr, sizeof(hdr));
	for (int i = 0; i < 32; i++)
		in_page[16 + i] = (uint8_t)i;
	tmk_sti();
	uint64_t st = hv_call(0x005C, (uint64_t)(uintptr_t)in_page, 0);
	TMK_CHECK_EQ(st, 0);
	tmk_wait_for(&sint_irqs);
	tmk_cli();
	TMK_CHECK_EQ(sint_irqs, 1);
	volatile uint8_t *slot = simp + HV1T_SINT * 256u;
	TMK_CHECK_EQ(*(volatile uint32_t *)slot, HV1T_MSG_TYPE);
	TMK_CHECK_EQ(slot[4], 32);
	for (int i = 0; i < 32; i++)
		TMK_CHECK_EQ(slot[16 + i], (uint8_t)i ^ HV1T_REPLY_XOR);
	uint8_t flags = slot[5];
	*(volatile uint32_t *)slot = 0; /* free the slot */
	if (flags & 1u)
		wrmsr(MSR_EOM, 0);
	/* Unknown connection and bad alignment. */
	hdr[0] = 77;
	memcpy(in_page, hdr, sizeof(hdr));
	TMK_CHECK_EQ(hv_call(0x005C, (uint64_t)(uintptr_t)in_page, 0) & 0xFFFF, 0x12);
	TMK_CHECK_EQ(hv_call(0x005C, (uint64_t)(uintptr_t)in_page + 4, 0) & 0xFFFF, 4);
	/* Outside RAM. */
	TMK_CHECK_EQ(hv_call(0x005C, 0x40000000ull, 0) & 0xFFFF, 3);
}

TMK_CASE(signal_event_sets_flag)
{
	setup_hypercalls();
	setup_synic();
	sint_irqs = 0;
	memset(siefp, 0, sizeof(siefp));
	tmk_sti();
	/* Linux's form: fast, RDX = connection | flag << 32. */
	uint64_t st = hv_call(0x1005D, HV1T_EVENT_CONNECTION | (3ull << 32), 0);
	TMK_CHECK_EQ(st, 0);
	tmk_wait_for(&sint_irqs);
	tmk_cli();
	volatile uint64_t *flags = (volatile uint64_t *)(siefp + HV1T_SINT * 256u);
	TMK_CHECK_EQ(flags[0], 1ull << 4); /* the host set flag 3 + 1 */
	TMK_CHECK_EQ(hv_call(0x1005D, 99, 0) & 0xFFFF, 0x12);
}

static uint64_t tsc_page_time(bool *valid)
{
	volatile uint32_t *seqp = (volatile uint32_t *)tsc_page;
	for (int tries = 0; tries < 100; tries++) {
		uint32_t seq = *seqp;
		if (seq == 0) {
			*valid = false;
			return 0;
		}
		uint64_t scale = *(volatile uint64_t *)(tsc_page + 8);
		int64_t offset = *(volatile int64_t *)(tsc_page + 16);
		uint64_t tsc = rdtsc();
		if (*seqp != seq)
			continue;
		*valid = true;
		return (uint64_t)(((unsigned __int128)tsc * scale) >> 64) + (uint64_t)offset;
	}
	*valid = false;
	return 0;
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

TMK_CASE(reference_counter_and_tsc_page_agree)
{
	bool valid;
	uint64_t c0 = rdmsr(MSR_TIME_REF_COUNT);
	wrmsr(MSR_REFERENCE_TSC, (uint64_t)(uintptr_t)tsc_page | 1u);
	TMK_CHECK_EQ(rdmsr(MSR_REFERENCE_TSC), (uint64_t)(uintptr_t)tsc_page | 1u);
	uint64_t p0 = tsc_page_time(&valid);
	uint64_t c1 = rdmsr(MSR_TIME_REF_COUNT);
	TMK_CHECK(valid);
	TMK_CHECK(c1 >= c0);
	/* Within 2 ms (each MSR read is an exit to user space). */
	TMK_CHECK(absdiff(p0, c1) < 20000u);
	/* Both move forward, and still agree. */
	uint64_t c2;
	do {
		c2 = rdmsr(MSR_TIME_REF_COUNT);
	} while (c2 < c1 + 50000u); /* 5 ms */
	uint64_t p1 = tsc_page_time(&valid);
	TMK_CHECK(valid);
	TMK_CHECK(p1 > p0);
	TMK_CHECK(absdiff(p1, c2) < 20000u);
	tmk_printf("ref count %lu, tsc page %lu (diff %ld)\n", (unsigned long)c2, (unsigned long)p1,
		   (long)(p1 - c2));
}

TMK_CASE(direct_stimer_fires)
{
	tmk_lapic_enable();
	tmk_set_irq_handler(HV1T_STIMER_VECTOR, on_stimer);
	stimer_irqs = 0;
	uint64_t now = rdmsr(MSR_TIME_REF_COUNT);
	/* One-shot, direct mode, auto-enable, 1 ms from now. */
	wrmsr(MSR_STIMER0_CONFIG, (1u << 12) | (HV1T_STIMER_VECTOR << 4) | (1u << 3));
	wrmsr(MSR_STIMER0_COUNT, now + 10000u);
	TMK_CHECK_EQ(rdmsr(MSR_STIMER0_CONFIG) & 1u, 1);
	tmk_wait_for(&stimer_irqs);
	tmk_cli();
	uint64_t later = rdmsr(MSR_TIME_REF_COUNT);
	TMK_CHECK_EQ(stimer_irqs, 1);
	TMK_CHECK(later >= now + 10000u);
	TMK_CHECK_EQ(rdmsr(MSR_STIMER0_CONFIG) & 1u, 0); /* one-shot: disabled */
}
