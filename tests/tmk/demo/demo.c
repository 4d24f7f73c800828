/* SPDX-License-Identifier: MIT */
/*
 * The pvrun demo guest: greets on the console, touches the TMK scratch
 * device through port I/O and MMIO (attach it with --device testdev), reads
 * CPUID, and with two vCPUs starts the second one.
 */
#include "tmk.h"

TMK_CASE(greeting)
{
	struct tmk_cpuid v = tmk_cpuid(0, 0);
	char vendor[13];
	memcpy(vendor, &v.ebx, 4);
	memcpy(vendor + 4, &v.edx, 4);
	memcpy(vendor + 8, &v.ecx, 4);
	vendor[12] = '\0';
	tmk_printf("Hello from a libparavisor TMK guest! vCPU %u of %u, CPU vendor %s\n",
		   tmk_vcpu_index(), tmk_vcpu_count(), vendor);
}

TMK_CASE(device_accesses)
{
	if (inl(TMK_TESTDEV_PORT + 7) == 0xffffffffu) {
		tmk_printf("no scratch device answers at port 0x%x (run with --device testdev)\n",
			   TMK_TESTDEV_PORT);
		tmk_skip("testdev not attached");
		return;
	}
	outl(TMK_TESTDEV_PORT, 0xc0ffee);
	TMK_CHECK_EQ(inl(TMK_TESTDEV_PORT), 0xc0ffee);
	mmio_write64(TMK_TESTDEV_MMIO, 0x0123456789abcdefull);
	TMK_CHECK_EQ(mmio_read64(TMK_TESTDEV_MMIO), 0x0123456789abcdefull);
	tmk_printf("port 0x%x and MMIO 0x%x answered\n", TMK_TESTDEV_PORT, TMK_TESTDEV_MMIO);
}

TMK_CASE(unhandled_port_reads_all_ones)
{
	TMK_CHECK_EQ(inb(0x0700), 0xff);
}

static volatile uint32_t ap_ran;

static void ap_hello(uint32_t index)
{
	tmk_printf("Hello from vCPU %u (APIC ID %u)\n", index, tmk_cpuid(1, 0).ebx >> 24);
	ap_ran = 1;
}

TMK_CASE(second_vcpu)
{
	if (tmk_vcpu_count() < 2) {
		tmk_skip("one vCPU (use --vcpus 2)");
		return;
	}
	tmk_start_vcpu(1, ap_hello);
	tmk_spin_until(&ap_ran, 20000000000ull); /* >= 5 s at any TSC rate */
	TMK_CHECK_EQ(ap_ran, 1);
}
