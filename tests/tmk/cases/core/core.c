/* SPDX-License-Identifier: MIT */
/* Core TMK cases: port I/O, MMIO, MSRs, CPUID, HLT + interrupt, two vCPUs. */
#include "core_cases.h"
#include "tmk.h"

#define P(off) ((uint16_t)(TMK_TESTDEV_PORT + (off)))

TMK_CASE(io_in_out_widths)
{
	outl(P(0), 0x12345678u);
	TMK_CHECK_EQ(inl(P(0)), 0x12345678u);
	TMK_CHECK_EQ(inw(P(0)), 0x5678u);
	TMK_CHECK_EQ(inb(P(0)), 0x78u);
	outw(P(1), 0xbeefu);
	TMK_CHECK_EQ(inw(P(1)), 0xbeefu);
	TMK_CHECK_EQ(inl(P(1)), 0xbeefu);
	outb(P(2), 0x5a);
	TMK_CHECK_EQ(inb(P(2)), 0x5au);
	TMK_CHECK_EQ(inl(P(2)), 0x5au);
}

TMK_CASE(io_rep_outsb_insb)
{
	static const char text[] = CORE_REP_TEXT;
	uint8_t buf[8];
	outb(P(CORE_IO_COUNT), 0);
	outsb(P(CORE_IO_SINK), text, sizeof(text) - 1);
	TMK_CHECK_EQ(inb(P(CORE_IO_COUNT)), sizeof(text) - 1);
	memset(buf, 0, sizeof(buf));
	insb(P(CORE_IO_SOURCE), buf, sizeof(buf));
	for (unsigned i = 0; i < sizeof(buf); i++)
		TMK_CHECK_EQ(buf[i], 0x30u + i);
}

TMK_CASE(io_unhandled_reads_all_ones)
{
	TMK_CHECK_EQ(inb(CORE_UNHANDLED_PORT), 0xffu);
	TMK_CHECK_EQ(inw(CORE_UNHANDLED_PORT), 0xffffu);
	TMK_CHECK_EQ(inl(CORE_UNHANDLED_PORT), 0xffffffffu);
	outl(CORE_UNHANDLED_PORT, 1); /* ignored */
}

TMK_CASE(mmio_widths)
{
	uint64_t b = TMK_TESTDEV_MMIO;
	mmio_write8(b + 0x10, 0xa5);
	TMK_CHECK_EQ(mmio_read8(b + 0x10), 0xa5u);
	mmio_write16(b + 0x20, 0x1234);
	TMK_CHECK_EQ(mmio_read16(b + 0x20), 0x1234u);
	mmio_write32(b + 0x30, 0xdeadbeefu);
	TMK_CHECK_EQ(mmio_read32(b + 0x30), 0xdeadbeefu);
	mmio_write64(b + 0x40, 0x0123456789abcdefull);
	TMK_CHECK_EQ(mmio_read64(b + 0x40), 0x0123456789abcdefull);
	/* Narrow reads of a wide write see the little-endian bytes. */
	TMK_CHECK_EQ(mmio_read8(b + 0x41), 0xcdu);
	TMK_CHECK_EQ(mmio_read32(b + 0x44), 0x01234567u);
}

TMK_CASE(msr_handler_roundtrip)
{
	uint64_t v = 0;
	TMK_CHECK_EQ(tmk_wrmsr_safe(CORE_MSR, 0x1122334455667788ull), -1);
	TMK_CHECK_EQ(tmk_rdmsr_safe(CORE_MSR, &v), -1);
	TMK_CHECK_EQ(v, 0x1122334455667788ull);
}

TMK_CASE(msr_filter_overrides_kvm)
{
	uint64_t v = 0;
	TMK_CHECK_EQ(tmk_wrmsr_safe(CORE_MSR_KVM_KNOWN, 0x1000), -1);
	TMK_CHECK_EQ(tmk_rdmsr_safe(CORE_MSR_KVM_KNOWN, &v), -1);
	TMK_CHECK_EQ(v, 0x1000u ^ CORE_MSR_READ_XOR); /* KVM would have answered 0x1000 */
}

TMK_CASE(msr_unknown_raises_gp)
{
	uint64_t v = 0;
	TMK_CHECK_EQ(tmk_rdmsr_safe(CORE_MSR_UNKNOWN, &v), 13);
	TMK_CHECK_EQ(tmk_wrmsr_safe(CORE_MSR_UNKNOWN, 1), 13);
	/* Hyper-V range, nobody registered (no hv1 here): reaches the library, #GP. */
	TMK_CHECK_EQ(tmk_rdmsr_safe(0x40000001u, &v), 13);
	/* The IDT records other exceptions too. */
	TMK_CHECK_EQ(tmk_ud2_safe(), 6);
}

TMK_CASE(cpuid_from_library)
{
	struct tmk_cpuid r = tmk_cpuid(0x40000000u, 0);
	TMK_CHECK_EQ(r.eax, 0x40000002u);
	TMK_CHECK_EQ(r.ebx, CORE_CPUID_SIG_EBX);
	TMK_CHECK_EQ(r.ecx, CORE_CPUID_SIG_ECX);
	TMK_CHECK_EQ(r.edx, CORE_CPUID_SIG_EDX);
	r = tmk_cpuid(0x40000001u, 7);
	TMK_CHECK_EQ(r.eax, CORE_CPUID_FEATURE);
	TMK_CHECK_EQ(tmk_cpuid(0x40000002u, 0).eax, 0x100u);
	TMK_CHECK_EQ(tmk_cpuid(0x40000002u, 1).eax, 0x101u);
	/* No other hypervisor signature (KVM's "KVMKVMKVM") at any 0x100 step. */
	for (uint32_t base = 0x40000100u; base < 0x40010000u; base += 0x100) {
		r = tmk_cpuid(base, 0);
		if (r.ebx == 0x4b4d564bu) /* "KVMK" */
			TMK_CHECK_EQ(base, 0);
	}
	TMK_CHECK_EQ(tmk_cpuid(1, 0).ebx >> 24, tmk_vcpu_index());
}

static volatile uint32_t irq_seen;
static volatile uint32_t irq_count;

static void on_irq(uint8_t vector)
{
	if (vector == CORE_IRQ_VECTOR)
		irq_seen = 1;
	irq_count++;
}

TMK_CASE(hlt_wakes_on_injected_interrupt)
{
	tmk_lapic_enable();
	tmk_set_irq_handler(CORE_IRQ_VECTOR, on_irq);
	irq_seen = 0;
	irq_count = 0;
	tmk_request_irq(0, CORE_IRQ_VECTOR, 2000);
	tmk_wait_for(&irq_seen);
	TMK_CHECK_EQ(irq_seen, 1);
	TMK_CHECK_EQ(irq_count, 1);
	tmk_cli();
}

static volatile uint32_t gsi_seen;
static volatile uint32_t gsi_vector;

static void on_gsi(uint8_t vector)
{
	gsi_vector = vector;
	gsi_seen++;
}

#define IOAPIC_BASE 0xfec00000u

static void ioapic_write(uint32_t reg, uint32_t val)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, val);
}

TMK_CASE(interrupt_line_delivers_vector)
{
	bool irqchip = inb(P(CORE_IO_IRQCHIP)) == 1;
	/* irqchip: the in-kernel IOAPIC maps the line; otherwise the runner's
	 * default router injects TMK_ROUTER_VECTOR_BASE + GSI. */
	uint8_t vector = irqchip ? CORE_GSI_VECTOR : TMK_ROUTER_VECTOR_BASE + CORE_GSI;
	tmk_lapic_enable();
	tmk_set_irq_handler(vector, on_gsi);
	if (irqchip) {
		outb(0x21, 0xff); /* mask both PICs: only the IOAPIC delivers */
		outb(0xa1, 0xff);
		/* Redirection entry: fixed, physical, edge, unmasked, to APIC ID 0. */
		ioapic_write(0x10 + 2 * CORE_GSI + 1, 0);
		ioapic_write(0x10 + 2 * CORE_GSI, CORE_GSI_VECTOR);
	}
	gsi_seen = 0;
	gsi_vector = 0;
	tmk_cli();
	tmk_send(TMK_MSG_CORE_PULSE, CORE_GSI, 0, 0, NULL);
	tmk_wait_for(&gsi_seen);
	tmk_cli();
	TMK_CHECK_EQ(gsi_seen, 1);
	TMK_CHECK_EQ(gsi_vector, vector);
	if (irqchip)
		ioapic_write(0x10 + 2 * CORE_GSI, 0x10000); /* mask again */
}

static volatile uint32_t ap_done;
static volatile uint32_t ap_apic_id;

static void ap_work(uint32_t index)
{
	ap_apic_id = tmk_cpuid(1, 0).ebx >> 24;
	tmk_printf("vCPU %u: APIC ID %u\n", index, ap_apic_id);
	ap_done = 1;
}

TMK_CASE(two_vcpus_report_apic_ids)
{
	if (tmk_vcpu_count() < 2) {
		tmk_skip("needs 2 vCPUs");
		return;
	}
	uint32_t bsp_id = tmk_cpuid(1, 0).ebx >> 24;
	tmk_printf("vCPU 0: APIC ID %u\n", bsp_id);
	tmk_start_vcpu(1, ap_work);
	tmk_spin_until(&ap_done, 20000000000ull); /* >= 5 s at any TSC rate */
	TMK_CHECK_EQ(ap_done, 1);
	TMK_CHECK_EQ(bsp_id, 0);
	TMK_CHECK_EQ(ap_apic_id, 1);
}
