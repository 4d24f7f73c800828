/* SPDX-License-Identifier: MIT */
/* Host fixtures of the core TMK: test I/O and MMIO devices, an MSR, CPUID leaves. */
#include <stdlib.h>
#include <string.h>

#include "core_cases.h"
#include "tmk_host.h"

struct core_fixture {
	struct pv_partition *part;
	unsigned pulses;
	uint32_t scratch[4];
	uint8_t sink[64];
	uint32_t sink_len;
	uint32_t source_next;
	uint8_t mmio[4096];
	unsigned mmio_sizes_read, mmio_sizes_written; /* bit n: a 2^n-byte access */
	uint64_t msr;
	bool msr_written;
	uint64_t kvm_known;
};

static pv_err_t testdev_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			   bool is_write, uint32_t *data)
{
	struct core_fixture *f = ctx;
	(void)vcpu;
	if (offset < 4) {
		if (is_write)
			f->scratch[offset] = *data;
		else
			*data = f->scratch[offset];
		return PV_OK;
	}
	switch (offset) {
	case CORE_IO_SINK:
		if (is_write && f->sink_len < sizeof(f->sink))
			f->sink[f->sink_len++] = (uint8_t)*data;
		else if (!is_write)
			*data = f->sink_len;
		return PV_OK;
	case CORE_IO_SOURCE:
		if (!is_write)
			*data = 0x30u + f->source_next++;
		return PV_OK;
	case CORE_IO_IRQCHIP:
		if (!is_write)
			*data = (pv_partition_port(f->part)->caps & PV_PORT_CAP_IRQCHIP) ? 1 : 0;
		return PV_OK;
	case CORE_IO_COUNT:
		if (is_write) {
			f->sink_len = 0;
			f->source_next = 0;
		} else {
			*data = f->sink_len;
		}
		return PV_OK;
	default:
		return PV_ENOENT;
	}
}

static pv_err_t testdev_mmio(void *ctx, struct pv_vcpu *vcpu, uint64_t offset, uint8_t size,
			     bool is_write, uint64_t *data)
{
	struct core_fixture *f = ctx;
	(void)vcpu;
	if (offset >= sizeof(f->mmio) || size > sizeof(f->mmio) - offset)
		return PV_ERANGE;
	unsigned bit = size == 1 ? 1u : size == 2 ? 2u : size == 4 ? 4u : size == 8 ? 8u : 0u;
	if (is_write) {
		memcpy(&f->mmio[offset], data, size);
		f->mmio_sizes_written |= bit;
	} else {
		uint64_t v = 0;
		memcpy(&v, &f->mmio[offset], size);
		*data = v;
		f->mmio_sizes_read |= bit;
	}
	return PV_OK;
}

static pv_err_t core_msr(void *ctx, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
			 uint64_t *value)
{
	struct core_fixture *f = ctx;
	(void)vcpu;
	(void)index;
	if (is_write) {
		f->msr = *value;
		f->msr_written = true;
	} else {
		*value = f->msr;
	}
	return PV_OK;
}

static pv_err_t kvm_known_msr(void *ctx, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
			      uint64_t *value)
{
	struct core_fixture *f = ctx;
	(void)vcpu;
	(void)index;
	if (is_write)
		f->kvm_known = *value;
	else
		*value = f->kvm_known ^ CORE_MSR_READ_XOR;
	return PV_OK;
}

static pv_err_t set_leaf(struct pv_partition *part, uint32_t leaf, uint32_t sub, bool any,
			 uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	struct pv_cpuid_entry e = {leaf, sub, any, a, b, c, d};
	return pv_cpuid_set(part, &e);
}

static pv_err_t core_setup(struct tmk_host *h, struct pv_partition *part, void **ctx)
{
	(void)h;
	struct core_fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return PV_ENOMEM;
	*ctx = f;
	f->part = part;
	pv_err_t err = pv_io_register(part, TMK_TESTDEV_PORT, 8, testdev_io, f);
	if (!err)
		err = pv_mmio_register(part, pv_gpa(TMK_TESTDEV_MMIO), 4096, testdev_mmio, f);
	if (!err)
		err = pv_msr_register(part, CORE_MSR, 1, core_msr, f);
	if (!err)
		err = pv_msr_register(part, CORE_MSR_KVM_KNOWN, 1, kvm_known_msr, f);
	if (!err)
		err = set_leaf(part, 0x40000000u, 0, true, 0x40000002u, CORE_CPUID_SIG_EBX,
			       CORE_CPUID_SIG_ECX, CORE_CPUID_SIG_EDX);
	if (!err)
		err = set_leaf(part, 0x40000001u, 0, true, CORE_CPUID_FEATURE, 0, 0, 0);
	if (!err)
		err = set_leaf(part, 0x40000002u, 0, false, 0x100, 0, 0, 0);
	if (!err)
		err = set_leaf(part, 0x40000002u, 1, false, 0x101, 0, 0, 0);
	return err;
}

static pv_err_t core_message(struct tmk_host *h, void *ctx, struct pv_vcpu *vcpu,
			     const struct tmk_msg *msg)
{
	struct core_fixture *f = ctx;
	(void)vcpu;
	if (msg->type != TMK_MSG_CORE_PULSE || msg->arg[0] > 23) {
		tmk_host_fail(h, "unexpected message %u", msg->type);
		return PV_EINVAL;
	}
	/* An edge on the line: the in-kernel IOAPIC turns it into the programmed vector. */
	pv_err_t err = pv_irq_set(tmk_host_partition(h), (uint32_t)msg->arg[0], true);
	if (!err)
		err = pv_irq_set(tmk_host_partition(h), (uint32_t)msg->arg[0], false);
	if (err)
		tmk_host_fail(h, "pv_irq_set(%u): %s", (unsigned)msg->arg[0], pv_strerror(err));
	else
		f->pulses++;
	return err;
}

static bool core_check(struct tmk_host *h, void *ctx)
{
	struct core_fixture *f = ctx;
	struct pv_partition *part = tmk_host_partition(h);
	bool ok = true;
	if (f->sink_len != strlen(CORE_REP_TEXT) ||
	    memcmp(f->sink, CORE_REP_TEXT, strlen(CORE_REP_TEXT)) != 0) {
		tmk_host_fail(h, "rep outsb delivered %u bytes, not the expected text",
			      f->sink_len);
		ok = false;
	}
	if (f->mmio_sizes_read != 0xf || f->mmio_sizes_written != 0xf) {
		tmk_host_fail(h, "MMIO widths seen: read 0x%x, written 0x%x (want 0xf)",
			      f->mmio_sizes_read, f->mmio_sizes_written);
		ok = false;
	}
	if (!f->msr_written || f->msr != 0x1122334455667788ull) {
		tmk_host_fail(h, "MSR handler did not receive the write");
		ok = false;
	}
	struct pv_stats st;
	pv_partition_get_stats(part, &st);
	if (st.io_unhandled_reads < 3 || st.msr_unhandled < 3) {
		tmk_host_fail(h, "default policy counters: %llu unhandled IN, %llu unhandled MSR",
			      (unsigned long long)st.io_unhandled_reads,
			      (unsigned long long)st.msr_unhandled);
		ok = false;
	}
	/* Without an in-kernel irqchip the HLT must have reached the library. */
	if (!(pv_partition_port(part)->caps & PV_PORT_CAP_IRQCHIP) && st.exits[PV_EXIT_HLT] == 0) {
		tmk_host_fail(h, "no HLT exit reached the library");
		ok = false;
	}
	return ok;
}

static void core_teardown(struct tmk_host *h, void *ctx)
{
	struct pv_partition *part = tmk_host_partition(h);
	pv_io_unregister(part, TMK_TESTDEV_PORT);
	pv_mmio_unregister(part, pv_gpa(TMK_TESTDEV_MMIO));
	pv_msr_unregister(part, CORE_MSR);
	pv_msr_unregister(part, CORE_MSR_KVM_KNOWN);
	free(ctx);
}

const struct tmk_setup tmk_setup = {
	.name = "tmk_core",
	.vcpus = 2,
	.setup = core_setup,
	.message = core_message,
	.check = core_check,
	.teardown = core_teardown,
};
