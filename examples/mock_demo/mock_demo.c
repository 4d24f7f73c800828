/* SPDX-License-Identifier: MIT */
/*
 * mock_demo: a toy device dispatched through libparavisor on the mock port.
 *
 * The device ("echo/counter") has
 *   I/O  0x510: echo register (OUT stores, IN returns the last value)
 *   I/O  0x511: access counter (IN only)
 *   MMIO 0xFED00000 + 0: 64-bit echo register
 *   MMIO 0xFED00000 + 8: access counter (read); any write resets it
 * The counter counts device accesses made before the current one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"

#define ECHO_PORT 0x510
#define MMIO_BASE 0xFED00000ull
#define TOY_MSR 0x4B564D00u

struct toy {
	uint64_t echo;
	uint64_t accesses;
};

static pv_err_t toy_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
		       bool is_write, uint32_t *data)
{
	struct toy *t = ctx;
	(void)vcpu;
	(void)size;
	uint64_t before = t->accesses++;
	if (offset == 0) {
		if (is_write)
			t->echo = *data;
		else
			*data = (uint32_t)t->echo;
		return PV_OK;
	}
	if (is_write)
		return PV_EINVAL; /* the counter is read-only on the I/O side */
	*data = (uint32_t)before;
	return PV_OK;
}

static pv_err_t toy_mmio(void *ctx, struct pv_vcpu *vcpu, uint64_t offset, uint8_t size,
			 bool is_write, uint64_t *data)
{
	struct toy *t = ctx;
	(void)vcpu;
	(void)size;
	uint64_t before = t->accesses++;
	if (offset < 8) {
		if (is_write)
			t->echo = *data;
		else
			*data = t->echo;
	} else if (offset < 16) {
		if (is_write)
			t->accesses = 0;
		else
			*data = before;
	} else if (!is_write) {
		*data = 0;
	}
	return PV_OK;
}

static pv_err_t toy_msr(void *ctx, struct pv_vcpu *vcpu, uint32_t index, bool is_write,
			uint64_t *value)
{
	struct toy *t = ctx;
	(void)vcpu;
	(void)index;
	if (is_write)
		return PV_EINVAL; /* read-only: the guest gets #GP */
	*value = t->accesses;
	return PV_OK;
}

static struct pv_exit io(uint16_t port, uint8_t size, bool wr, uint32_t data)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_IO;
	x.u.io = (struct pv_exit_io){
		.port = port, .size = size, .is_write = wr, .count = 1, .data = data};
	return x;
}

static struct pv_exit mmio(uint64_t gpa, uint8_t size, bool wr, uint64_t data)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_MMIO;
	x.u.mmio.gpa = pv_gpa(gpa);
	x.u.mmio.size = size;
	x.u.mmio.is_write = wr;
	x.u.mmio.data = data;
	return x;
}

static struct pv_exit msr(bool wr, uint32_t index, uint64_t value)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = wr ? PV_EXIT_MSR_WRITE : PV_EXIT_MSR_READ;
	x.u.msr.index = index;
	x.u.msr.value = value;
	return x;
}

static struct pv_exit cpuid(uint32_t leaf)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = PV_EXIT_CPUID;
	x.u.cpuid.leaf = leaf;
	return x;
}

static struct pv_exit kind(enum pv_exit_kind k)
{
	struct pv_exit x;
	memset(&x, 0, sizeof(x));
	x.kind = k;
	return x;
}

/* One step of the guest and the completion it must get back. */
struct step {
	struct pv_exit exit;
	uint64_t want;      /* data / value / EAX / result the guest must read */
	bool check_value;   /* compare @want */
	uint8_t want_fault; /* 0: none; else the exception vector injected */
	const char *what;
};

static void describe(const struct pv_exit *x, char *buf, size_t cap)
{
	switch (x->kind) {
	case PV_EXIT_IO:
		snprintf(buf, cap, "%-3s port 0x%04x size %u data 0x%" PRIx32,
			 x->u.io.is_write ? "OUT" : "IN", x->u.io.port, x->u.io.size, x->u.io.data);
		break;
	case PV_EXIT_MMIO:
		snprintf(buf, cap, "%-3s gpa 0x%" PRIx64 " size %u data 0x%" PRIx64,
			 x->u.mmio.is_write ? "ST" : "LD", pv_gpa_val(x->u.mmio.gpa),
			 x->u.mmio.size, x->u.mmio.data);
		break;
	case PV_EXIT_MSR_READ:
	case PV_EXIT_MSR_WRITE:
		snprintf(buf, cap, "%s 0x%" PRIx32 " value 0x%" PRIx64,
			 x->kind == PV_EXIT_MSR_READ ? "RDMSR" : "WRMSR", x->u.msr.index,
			 x->u.msr.value);
		break;
	case PV_EXIT_CPUID:
		snprintf(buf, cap,
			 "CPUID 0x%" PRIx32 " -> %08" PRIx32 " %08" PRIx32 " %08" PRIx32
			 " %08" PRIx32,
			 x->u.cpuid.leaf, x->u.cpuid.eax, x->u.cpuid.ebx, x->u.cpuid.ecx,
			 x->u.cpuid.edx);
		break;
	case PV_EXIT_HYPERCALL:
		snprintf(buf, cap, "HYPERCALL control 0x%" PRIx64 " result 0x%" PRIx64,
			 x->u.hypercall.control, x->u.hypercall.result);
		break;
	default:
		snprintf(buf, cap, "%s", pv_exit_kind_name(x->kind));
		break;
	}
}

static uint64_t result_of(const struct pv_exit *x)
{
	switch (x->kind) {
	case PV_EXIT_IO:
		return x->u.io.data;
	case PV_EXIT_MMIO:
		return x->u.mmio.data;
	case PV_EXIT_MSR_READ:
	case PV_EXIT_MSR_WRITE:
		return x->u.msr.value;
	case PV_EXIT_CPUID:
		return x->u.cpuid.eax;
	case PV_EXIT_HYPERCALL:
		return x->u.hypercall.result;
	default:
		return 0;
	}
}

int main(void)
{
	const struct step steps[] = {
		{io(ECHO_PORT, 1, true, 0x42), 0, false, 0, "echo register write"},
		{io(ECHO_PORT, 1, false, 0), 0x42, true, 0, "echo register read"},
		{io(ECHO_PORT + 1, 2, false, 0), 2, true, 0, "device counter (2 accesses before)"},
		{io(ECHO_PORT + 1, 1, true, 7), 0, false, 0,
		 "write to read-only port: error counted"},
		{mmio(MMIO_BASE, 8, true, 0x1122334455667788ull), 0, false, 0, "MMIO echo store"},
		{mmio(MMIO_BASE, 4, false, 0), 0x55667788, true, 0, "MMIO echo load, 4 bytes"},
		{mmio(MMIO_BASE + 8, 8, false, 0), 6, true, 0, "MMIO counter load (6 before)"},
		{io(0x60, 1, false, 0), 0xFF, true, 0, "unhandled IN: all ones"},
		{io(0x80, 1, true, 0x99), 0, false, 0, "unhandled OUT (POST code): ignored"},
		{mmio(0xFEE00300, 4, false, 0), 0xFFFFFFFFull, true, 0, "unhandled MMIO load"},
		{msr(false, TOY_MSR, 0), 7, true, 0, "registered MSR read"},
		{msr(true, TOY_MSR, 1), 0, false, PV_VEC_GP, "read-only MSR write: #GP"},
		{msr(false, 0xC0000080, 0), 0, false, PV_VEC_GP, "unknown MSR: #GP"},
		{cpuid(0x40000000), 0x40000001, true, 0, "CPUID from the table"},
		{cpuid(0x80000000), 0, true, 0, "CPUID leaf not in the table: zeros"},
		{kind(PV_EXIT_HYPERCALL), 0, false, PV_VEC_UD, "hypercall without hv1: #UD"},
		{kind(PV_EXIT_SHUTDOWN), 0, false, 0, "guest shuts down"},
	};
	const size_t n = sizeof(steps) / sizeof(steps[0]);
	struct pv_exit script[sizeof(steps) / sizeof(steps[0])];
	for (size_t i = 0; i < n; i++)
		script[i] = steps[i].exit;

	struct pv_mock_config mc = {.caps = PV_PORT_CAP_CPUID_EXITS};
	struct pv_mock *mock = NULL;
	struct pv_partition *part = NULL;
	int failures = 0;
	pv_err_t err = pv_mock_create(&mc, &mock);
	if (err) {
		fprintf(stderr, "mock_demo: pv_mock_create: %s\n", pv_strerror(err));
		return 1;
	}
	const struct pv_mem_range map[] = {
		{pv_gpa(0), 0x100000, PV_MEM_RAM},
		{pv_gpa(MMIO_BASE), 0x1000, PV_MEM_MMIO},
	};
	struct pv_partition_config pc = {
		.vcpu_count = 1,
		.vtl_count = 1,
		.isolation = PV_ISOLATION_NONE,
		.ranges = map,
		.range_count = 2,
		.port = pv_mock_port_ops(mock),
		.port_ctx = mock,
	};
	struct toy toy = {0, 0};
	const struct pv_cpuid_entry leaf = {.leaf = 0x40000000,
					    .any_subleaf = true,
					    .eax = 0x40000001,
					    .ebx = 0x4B434F4D /* "MOCK" */};
	err = pv_partition_create(&pc, &part);
	if (!err)
		err = pv_io_register(part, ECHO_PORT, 2, toy_io, &toy);
	if (!err)
		err = pv_mmio_register(part, pv_gpa(MMIO_BASE), 0x1000, toy_mmio, &toy);
	if (!err)
		err = pv_msr_register(part, TOY_MSR, 1, toy_msr, &toy);
	if (!err)
		err = pv_cpuid_set(part, &leaf);
	if (!err)
		err = pv_mock_set_script(mock, 0, script, n);
	struct pv_exit last;
	if (!err)
		err = pv_vcpu_run(pv_partition_vcpu(part, 0), &last);
	if (err) {
		fprintf(stderr, "mock_demo: setup or run failed: %s\n", pv_strerror(err));
		pv_partition_destroy(part);
		pv_mock_destroy(mock);
		return 1;
	}

	printf("mock_demo: %zu exits dispatched, loop ended on '%s'\n\n",
	       pv_mock_completion_count(mock, 0), pv_exit_kind_name(last.kind));
	if (last.kind != PV_EXIT_SHUTDOWN || pv_mock_completion_count(mock, 0) != n)
		failures++;
	for (size_t i = 0; i < n; i++) {
		struct pv_exit c;
		char in[160], out[160];
		if (pv_mock_completion_get(mock, 0, i, &c) != PV_OK) {
			printf("%2zu  missing completion\n", i);
			failures++;
			continue;
		}
		describe(&steps[i].exit, in, sizeof(in));
		describe(&c, out, sizeof(out));
		bool ok = c.kind == steps[i].exit.kind;
		if (steps[i].check_value)
			ok = ok && result_of(&c) == steps[i].want;
		if (steps[i].want_fault)
			ok = ok && c.inject.kind == PV_EVENT_EXCEPTION &&
			     c.inject.vector == steps[i].want_fault;
		else
			ok = ok && c.inject.kind == PV_EVENT_NONE;
		printf("%2zu  %-4s %s\n    exit: %s\n    done: %s", i, ok ? "ok" : "FAIL",
		       steps[i].what, in, out);
		if (c.inject.kind == PV_EVENT_EXCEPTION)
			printf("  [inject vector %u]", c.inject.vector);
		printf("\n");
		failures += !ok;
	}

	struct pv_stats st;
	pv_partition_get_stats(part, &st);
	printf("\nexit counts:\n");
	for (int k = 0; k < PV_EXIT_KIND_COUNT; k++)
		if (st.exits[k])
			printf("  %-18s %" PRIu64 "\n", pv_exit_kind_name((enum pv_exit_kind)k),
			       st.exits[k]);
	printf("unhandled: io reads %" PRIu64 ", io writes %" PRIu64 ", mmio reads %" PRIu64
	       ", mmio writes %" PRIu64 ", msr %" PRIu64 ", cpuid %" PRIu64 ", hypercalls %" PRIu64
	       "\nhandler errors %" PRIu64 ", bad exits %" PRIu64 "\n",
	       st.io_unhandled_reads, st.io_unhandled_writes, st.mmio_unhandled_reads,
	       st.mmio_unhandled_writes, st.msr_unhandled, st.cpuid_unhandled,
	       st.hypercall_unhandled, st.handler_errors, st.bad_exits);
	/* the summary must add up to the script */
	if (st.exits[PV_EXIT_IO] != 6 || st.exits[PV_EXIT_MMIO] != 4 ||
	    st.exits[PV_EXIT_MSR_READ] != 2 || st.exits[PV_EXIT_MSR_WRITE] != 1 ||
	    st.exits[PV_EXIT_CPUID] != 2 || st.io_unhandled_reads != 1 ||
	    st.io_unhandled_writes != 1 || st.mmio_unhandled_reads != 1 || st.msr_unhandled != 1 ||
	    st.cpuid_unhandled != 1 || st.hypercall_unhandled != 1 || st.handler_errors != 2 ||
	    st.bad_exits != 0) {
		printf("FAIL: counters do not match the script\n");
		failures++;
	}
	pv_partition_destroy(part);
	pv_mock_destroy(mock);
	printf("\nmock_demo: %s (%d failure%s)\n", failures ? "FAILED" : "passed", failures,
	       failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
