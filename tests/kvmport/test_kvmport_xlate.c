/* SPDX-License-Identifier: MIT */
/* Exit translation and completion of the kvm port, driven with a fake kvm_run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kvm_exit.h"

#define RUN_SIZE 12288u
#define DATA_OFF 4096u
#define HC_PORT 0xe7u

static struct kvm_run *new_run(void **state)
{
	void *p = aligned_alloc(4096, RUN_SIZE);
	assert_non_null(p);
	memset(p, 0, RUN_SIZE);
	*state = p;
	return p;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void set_io(struct kvm_run *run, uint8_t dir, uint8_t size, uint16_t port, uint32_t count)
{
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = dir;
	run->io.size = size;
	run->io.port = port;
	run->io.count = count;
	run->io.data_offset = DATA_OFF;
}

static uint8_t *io_data(struct kvm_run *run)
{
	return (uint8_t *)run + run->io.data_offset;
}

static void test_io_out_single(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	memset(&e, 0xcc, sizeof(e));
	set_io(run, KVM_EXIT_IO_OUT, 2, 0x600, 1);
	io_data(run)[0] = 0x34;
	io_data(run)[1] = 0x12;
	io_data(run)[2] = 0x99; /* beyond the access: must not leak into data */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_IO);
	assert_int_equal(e.u.io.port, 0x600);
	assert_int_equal(e.u.io.size, 2);
	assert_true(e.u.io.is_write);
	assert_int_equal(e.u.io.count, 1);
	assert_int_equal(e.u.io.data, 0x1234);
	assert_null(e.u.io.rep_data);
	assert_int_equal(e.inject.kind, PV_EVENT_NONE);
	unsigned todo = 99;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(todo, 0);
	assert_int_equal(io_data(run)[0], 0x34); /* OUT completion writes nothing */
}

static void test_io_in_single(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	for (uint8_t size = 1; size <= 4; size *= 2) {
		set_io(run, KVM_EXIT_IO_IN, size, 0x71, 1);
		memset(io_data(run), 0xee, 8);
		assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
		assert_int_equal(e.kind, PV_EXIT_IO);
		assert_false(e.u.io.is_write);
		assert_int_equal(e.u.io.data, 0);
		e.u.io.data = 0xaabbccddu;
		unsigned todo;
		assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
		uint32_t got = 0;
		memcpy(&got, io_data(run), size);
		uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
		assert_int_equal(got, 0xaabbccddu & mask);
		assert_int_equal(io_data(run)[size], 0xee); /* nothing written past the access */
	}
}

static void test_io_rep(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	set_io(run, KVM_EXIT_IO_OUT, 1, 0x3f8, 16);
	memcpy(io_data(run), "0123456789abcdef", 16);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.u.io.count, 16);
	assert_ptr_equal(e.u.io.rep_data, io_data(run));
	assert_memory_equal(e.u.io.rep_data, "0123456789abcdef", 16);

	/* rep INS: the library writes into rep_data; completion keeps it. */
	set_io(run, KVM_EXIT_IO_IN, 2, 0x1f0, 8);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_false(e.u.io.is_write);
	assert_ptr_equal(e.u.io.rep_data, io_data(run));
	memset(e.u.io.rep_data, 0x5a, 16);
	unsigned todo;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	for (int i = 0; i < 16; i++)
		assert_int_equal(io_data(run)[i], 0x5a);
}

static void test_io_malformed(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	set_io(run, KVM_EXIT_IO_OUT, 3, 0x80, 1); /* bad width */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	assert_int_equal(e.kind, PV_EXIT_INTERNAL_ERROR);
	assert_int_equal(e.u.error.code, PV_KVM_ERR_BAD_RUN);
	set_io(run, KVM_EXIT_IO_OUT, 1, 0x80, 0); /* zero count */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	set_io(run, 7, 1, 0x80, 1); /* bad direction */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	set_io(run, KVM_EXIT_IO_OUT, 4, 0x80, 2048); /* 8 KiB from offset 4096 fits */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	set_io(run, KVM_EXIT_IO_OUT, 4, 0x80, 2049); /* one element past the mapping */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	set_io(run, KVM_EXIT_IO_OUT, 4, 0x80, 0xffffffffu); /* size * count overflows 32 bits */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	set_io(run, KVM_EXIT_IO_OUT, 1, 0x80, 1);
	run->io.data_offset = RUN_SIZE; /* data outside the mapping */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	run->io.data_offset = 8; /* inside the kvm_run header */
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	run->io.data_offset = 0xffffffffffffff00ull;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	/* A mapping smaller than kvm_run itself is refused. */
	assert_int_equal(pv_kvm_xlate_exit(run, 64, HC_PORT, &e), PV_KVM_XLATE_BAD);
}

static void test_hypercall_detect(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	set_io(run, KVM_EXIT_IO_OUT, 1, HC_PORT, 1);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_HYPERCALL);
	assert_int_equal(e.kind, PV_EXIT_HYPERCALL);
	/* Other shapes on the same port are plain I/O. */
	set_io(run, KVM_EXIT_IO_IN, 1, HC_PORT, 1);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_IO);
	set_io(run, KVM_EXIT_IO_OUT, 2, HC_PORT, 1);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_IO);
	set_io(run, KVM_EXIT_IO_OUT, 1, HC_PORT, 4);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	/* With another hypercall port, 0xE7 is plain I/O. */
	set_io(run, KVM_EXIT_IO_OUT, 1, HC_PORT, 1);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, 0xe8, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_IO);
}

static void test_hypercall_regs(void **state)
{
	(void)state;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct pv_exit e;
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	r.rax = 0x1111111122222222ull;
	r.rbx = 0x3333333344444444ull;
	r.rcx = 0x0001000000000002ull;
	r.rdx = 0x5555555566666666ull;
	r.rsi = 0x77777777aaaaaaaaull;
	r.rdi = 0x88888888bbbbbbbbull;
	r.r8 = 0x99999999ccccccccull;
	s.efer = 0x500; /* LMA */
	s.cs.l = 1;
	pv_kvm_hypercall_from_regs(&r, &s, &e);
	assert_int_equal(e.kind, PV_EXIT_HYPERCALL);
	assert_true(e.u.hypercall.is_64bit);
	assert_int_equal(e.u.hypercall.control, r.rcx);
	assert_int_equal(e.u.hypercall.input, r.rdx);
	assert_int_equal(e.u.hypercall.output, r.r8);
	pv_kvm_hypercall_set_result(&r, true, 0x0000000100000005ull);
	assert_int_equal(r.rax, 0x0000000100000005ull);

	/* 32-bit (compatibility mode: LMA but CS.L = 0). */
	s.cs.l = 0;
	pv_kvm_hypercall_from_regs(&r, &s, &e);
	assert_false(e.u.hypercall.is_64bit);
	assert_int_equal(e.u.hypercall.control, 0x6666666600000005ull); /* EDX:EAX */
	assert_int_equal(e.u.hypercall.input, 0x4444444400000002ull);   /* EBX:ECX */
	assert_int_equal(e.u.hypercall.output, 0xbbbbbbbbaaaaaaaaull);  /* EDI:ESI */
	pv_kvm_hypercall_set_result(&r, false, 0x123456789abcdef0ull);
	assert_int_equal(r.rax, 0x9abcdef0ull);
	assert_int_equal(r.rdx, 0x12345678ull);
	/* Protected mode without LMA is 32-bit too. */
	s.efer = 0;
	s.cs.l = 1;
	pv_kvm_hypercall_from_regs(&r, &s, &e);
	assert_false(e.u.hypercall.is_64bit);
}

static void test_hypercall_complete(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	unsigned todo;
	set_io(run, KVM_EXIT_IO_OUT, 1, HC_PORT, 1);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_HYPERCALL);
	e.u.hypercall.result = 0;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(todo, PV_KVM_TODO_HCALL);
	/* An injected #UD replaces the result. */
	e.inject.kind = PV_EVENT_EXCEPTION;
	e.inject.vector = PV_VEC_UD;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(todo, PV_KVM_TODO_INJECT);
	/* A hypercall completion while KVM's exit is something else is refused. */
	run->exit_reason = KVM_EXIT_MMIO;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_EINVAL);
}

static void test_mmio(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	unsigned todo;
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xfed00010ull;
	run->mmio.len = 8;
	run->mmio.is_write = 1;
	uint64_t v = 0x0123456789abcdefull;
	memcpy(run->mmio.data, &v, 8);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_MMIO);
	assert_int_equal(pv_gpa_val(e.u.mmio.gpa), 0xfed00010ull);
	assert_int_equal(e.u.mmio.size, 8);
	assert_true(e.u.mmio.is_write);
	assert_int_equal(e.u.mmio.data, v);
	assert_int_equal(e.u.mmio.insn_len, 0);

	for (uint8_t len = 1; len <= 8; len *= 2) {
		run->mmio.len = len;
		run->mmio.is_write = 0;
		memset(run->mmio.data, 0xee, 8);
		assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
		assert_false(e.u.mmio.is_write);
		assert_int_equal(e.u.mmio.size, len);
		e.u.mmio.data = 0x1122334455667788ull;
		assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
		uint64_t got = 0;
		memcpy(&got, run->mmio.data, 8);
		uint64_t mask = len == 8 ? ~0ull : (1ull << (8 * len)) - 1;
		assert_int_equal(got & mask, 0x1122334455667788ull & mask);
		if (len < 8)
			assert_int_equal(run->mmio.data[len], 0xee);
	}
	run->mmio.len = 0;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	run->mmio.len = 9;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_BAD);
	/* Completion must match the pending exit. */
	run->mmio.len = 4;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	e.u.mmio.gpa = pv_gpa(0xfed00014ull);
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_EINVAL);
}

static void test_msr(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	unsigned todo;
	run->exit_reason = KVM_EXIT_X86_RDMSR;
	run->msr.index = 0x40000001u;
	run->msr.reason = KVM_MSR_EXIT_REASON_FILTER;
	run->msr.data = 0xdead;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_MSR_READ);
	assert_int_equal(e.u.msr.index, 0x40000001u);
	assert_int_equal(e.u.msr.value, 0);
	e.u.msr.value = 0x8100000000000000ull;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(run->msr.data, 0x8100000000000000ull);
	assert_int_equal(run->msr.error, 0);
	assert_int_equal(todo, 0);
	/* #GP from the library becomes msr.error, not an injected event. */
	e.inject.kind = PV_EVENT_EXCEPTION;
	e.inject.vector = PV_VEC_GP;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(run->msr.error, 1);
	assert_int_equal(todo, 0);
	/* Another event is injected by the caller. */
	e.inject.vector = PV_VEC_UD;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(run->msr.error, 0);
	assert_int_equal(todo, PV_KVM_TODO_INJECT);

	run->exit_reason = KVM_EXIT_X86_WRMSR;
	run->msr.index = 0x40000000u;
	run->msr.data = 0x8100000601c00000ull;
	run->msr.error = 0;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_MSR_WRITE);
	assert_int_equal(e.u.msr.value, 0x8100000601c00000ull);
	e.inject.kind = PV_EVENT_EXCEPTION;
	e.inject.vector = PV_VEC_GP;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(run->msr.error, 1);
	assert_int_equal(run->msr.data, 0x8100000601c00000ull); /* WRMSR data untouched */
	/* Mismatched kind or index is refused. */
	e.kind = PV_EXIT_MSR_READ;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_EINVAL);
	e.kind = PV_EXIT_MSR_WRITE;
	e.u.msr.index = 0x40000001u;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_EINVAL);
}

static void test_simple_exits(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	unsigned todo;
	run->exit_reason = KVM_EXIT_HLT;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_HLT);
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(todo, 0);
	run->exit_reason = KVM_EXIT_SHUTDOWN;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_SHUTDOWN);
	run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_SHUTDOWN);
	run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_REENTER);
	run->exit_reason = KVM_EXIT_INTR;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_REENTER);
	run->exit_reason = KVM_EXIT_DEBUG;
	run->debug.arch.exception = 1;
	run->debug.arch.pc = 0x100123;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_PORT_SPECIFIC);
	assert_int_equal(e.u.port.code, PV_KVM_PORT_DEBUG);
	assert_int_equal(e.u.port.data[1], 0x100123);
	/* An event injected on a HLT exit is left to the caller. */
	e.kind = PV_EXIT_HLT;
	e.inject.kind = PV_EVENT_NMI;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &e, &todo), PV_OK);
	assert_int_equal(todo, PV_KVM_TODO_INJECT);
}

static void test_error_exits(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run->internal.ndata = 200; /* bogus: clamped */
	for (int i = 0; i < 16; i++)
		run->internal.data[i] = 0x100u + (unsigned)i;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_INTERNAL_ERROR);
	assert_int_equal(e.u.error.code, KVM_INTERNAL_ERROR_EMULATION);
	assert_int_equal(e.u.error.data[0], 0x100);
	assert_int_equal(e.u.error.data[3], 0x103);
	run->internal.ndata = 1;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.u.error.data[0], 0x100);
	assert_int_equal(e.u.error.data[1], 0);

	run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_entry_failure_reason = 0x21;
	run->fail_entry.cpu = 1;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_INTERNAL_ERROR);
	assert_int_equal(e.u.error.code, PV_KVM_ERR_FAIL_ENTRY);
	assert_int_equal(e.u.error.data[0], 0x21);
	assert_int_equal(e.u.error.data[1], 1);

	run->exit_reason = KVM_EXIT_UNKNOWN;
	run->hw.hardware_exit_reason = 0x7b;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.u.error.code, PV_KVM_ERR_HW_UNKNOWN);
	assert_int_equal(e.u.error.data[0], 0x7b);

	run->exit_reason = 9999;
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	assert_int_equal(e.kind, PV_EXIT_INTERNAL_ERROR);
	assert_int_equal(e.u.error.code, PV_KVM_ERR_UNKNOWN_EXIT);
	assert_int_equal(e.u.error.data[0], 9999);
}

static void test_complete_mismatch(void **state)
{
	struct kvm_run *run = new_run(state);
	struct pv_exit e;
	unsigned todo;
	set_io(run, KVM_EXIT_IO_IN, 1, 0x60, 1);
	assert_int_equal(pv_kvm_xlate_exit(run, RUN_SIZE, HC_PORT, &e), PV_KVM_XLATE_EXIT);
	struct pv_exit bad = e;
	bad.u.io.port = 0x64;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &bad, &todo), PV_EINVAL);
	bad = e;
	bad.u.io.size = 2;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &bad, &todo), PV_EINVAL);
	bad = e;
	bad.u.io.is_write = true;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &bad, &todo), PV_EINVAL);
	bad = e;
	bad.kind = PV_EXIT_MMIO;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &bad, &todo), PV_EINVAL);
	/* Exits the port produced itself (stopped, none) need no kvm_run state. */
	bad.kind = PV_EXIT_STOPPED;
	bad.inject.kind = PV_EVENT_NONE;
	assert_int_equal(pv_kvm_xlate_complete(run, RUN_SIZE, HC_PORT, &bad, &todo), PV_OK);
	assert_int_equal(todo, 0);
}

static void test_regs_roundtrip(void **state)
{
	(void)state;
	struct kvm_regs k, k2;
	struct pv_regs r;
	uint64_t *w = (uint64_t *)&k;
	for (size_t i = 0; i < sizeof(k) / 8; i++)
		w[i] = 0x1000 + i;
	pv_kvm_regs_from_kvm(&k, &r);
	assert_int_equal(r.gpr[PV_RAX], k.rax);
	assert_int_equal(r.gpr[PV_RCX], k.rcx);
	assert_int_equal(r.gpr[PV_RDX], k.rdx);
	assert_int_equal(r.gpr[PV_RBX], k.rbx);
	assert_int_equal(r.gpr[PV_RSP], k.rsp);
	assert_int_equal(r.gpr[PV_RBP], k.rbp);
	assert_int_equal(r.gpr[PV_RSI], k.rsi);
	assert_int_equal(r.gpr[PV_RDI], k.rdi);
	assert_int_equal(r.gpr[PV_R8], k.r8);
	assert_int_equal(r.gpr[PV_R15], k.r15);
	assert_int_equal(r.rip, k.rip);
	assert_int_equal(r.rflags, k.rflags);
	memset(&k2, 0, sizeof(k2));
	pv_kvm_regs_to_kvm(&r, &k2);
	assert_memory_equal(&k, &k2, sizeof(k));
}

static void test_sregs_roundtrip(void **state)
{
	(void)state;
	struct kvm_sregs k, k2;
	struct pv_sregs s;
	memset(&k, 0, sizeof(k));
	k.cs = (struct kvm_segment){.base = 0,
				    .limit = 0xffffffff,
				    .selector = 8,
				    .type = 11,
				    .present = 1,
				    .s = 1,
				    .l = 1,
				    .g = 1};
	k.ss = (struct kvm_segment){.limit = 0xffffffff,
				    .selector = 0x10,
				    .type = 3,
				    .present = 1,
				    .db = 1,
				    .s = 1,
				    .g = 1,
				    .dpl = 0};
	k.tr = (struct kvm_segment){
		.base = 0x10800, .limit = 0x67, .selector = 0x18, .type = 11, .present = 1};
	k.ldt.unusable = 1;
	k.gdt.base = 0x10000;
	k.gdt.limit = 39;
	k.idt.base = 0x200000;
	k.idt.limit = 4095;
	k.cr0 = 0x80050033;
	k.cr2 = 0xdeadb000;
	k.cr3 = 0x11000;
	k.cr4 = 0x620;
	k.cr8 = 3;
	k.efer = 0x500;
	k.apic_base = 0xfee00900;
	pv_kvm_sregs_from_kvm(&k, &s);
	assert_int_equal(s.cs.selector, 8);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.tr.base, 0x10800);
	assert_int_equal(s.ldt.unusable, 1);
	assert_int_equal(s.idt.limit, 4095);
	assert_int_equal(s.cr2, 0xdeadb000);
	assert_int_equal(s.apic_base, 0xfee00900);
	/* to_kvm keeps fields pv_sregs lacks (the pending-interrupt bitmap). */
	k2 = k;
	memset(&k2.cs, 0, sizeof(k2.cs));
	k2.interrupt_bitmap[1] = 0x40;
	pv_kvm_sregs_to_kvm(&s, &k2);
	assert_memory_equal(&k2.cs, &k.cs, sizeof(k.cs));
	assert_int_equal(k2.interrupt_bitmap[1], 0x40);
	assert_int_equal(k2.efer, 0x500);
	/* Out-of-range bit fields are truncated, never spill into neighbours. */
	s.cs.type = 0xff;
	s.cs.dpl = 7;
	pv_kvm_sregs_to_kvm(&s, &k2);
	assert_int_equal(k2.cs.type, 0xf);
	assert_int_equal(k2.cs.dpl, 3);
}

static void test_hypercall_code(void **state)
{
	(void)state;
	uint8_t buf[8];
	memset(buf, 0, sizeof(buf));
	assert_int_equal(pv_kvm_hypercall_code(0xe7, buf, sizeof(buf)), 3);
	assert_int_equal(buf[0], 0xe6); /* out imm8, al */
	assert_int_equal(buf[1], 0xe7);
	assert_int_equal(buf[2], 0xc3); /* ret */
	assert_int_equal(pv_kvm_hypercall_code(0xe7, buf, 2), 0);
	assert_int_equal(pv_kvm_hypercall_code(0x100, buf, sizeof(buf)), 0);
	assert_int_equal(pv_kvm_hypercall_code(0xe7, NULL, 8), 0);
}

static bool denied(const struct kvm_msr_filter *f, uint32_t msr)
{
	for (unsigned i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) {
		const struct kvm_msr_filter_range *r = &f->ranges[i];
		if (!r->nmsrs || msr < r->base || msr - r->base >= r->nmsrs)
			continue;
		uint32_t bit = msr - r->base;
		return !(r->bitmap[bit / 8] & (1u << (bit % 8)));
	}
	return false; /* default allow */
}

static unsigned windows(const struct kvm_msr_filter *f)
{
	unsigned n = 0;
	while (n < KVM_MSR_FILTER_MAX_RANGES && f->ranges[n].nmsrs)
		n++;
	return n;
}

static void test_msr_filter(void **state)
{
	uint8_t(*bm)[KVM_MSR_FILTER_MAX_BITMAP_SIZE] =
		calloc(KVM_MSR_FILTER_MAX_RANGES, KVM_MSR_FILTER_MAX_BITMAP_SIZE);
	assert_non_null(bm);
	*state = bm;
	struct kvm_msr_filter f;

	/* Nothing registered: only the Hyper-V range exits. */
	assert_int_equal(pv_kvm_build_msr_filter(NULL, 0, &f, bm), PV_OK);
	assert_int_equal(f.flags, KVM_MSR_FILTER_DEFAULT_ALLOW);
	assert_int_equal(windows(&f), 1);
	assert_int_equal(f.ranges[0].flags, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE);
	assert_true(denied(&f, 0x40000000u));
	assert_true(denied(&f, 0x400000ffu));
	assert_false(denied(&f, 0x40000100u));
	assert_false(denied(&f, 0x3fffffffu));
	assert_false(denied(&f, 0x10));

	/* A nearby MSR shares the window; the MSRs between stay allowed. */
	struct pv_msr_range r1[] = {{0x40001000u, 1}, {0x10, 2}};
	assert_int_equal(pv_kvm_build_msr_filter(r1, 2, &f, bm), PV_OK);
	assert_int_equal(windows(&f), 2);
	assert_true(denied(&f, 0x10));
	assert_true(denied(&f, 0x11));
	assert_false(denied(&f, 0x12));
	assert_true(denied(&f, 0x40001000u));
	assert_false(denied(&f, 0x40000fffu));
	assert_false(denied(&f, 0x40001001u));
	assert_true(denied(&f, 0x40000080u));

	/* Overlap with the Hyper-V range and a range longer than one bitmap. */
	struct pv_msr_range r2[] = {{0x400000f0u, 0x20}, {0xc0000000u, 30000}};
	assert_int_equal(pv_kvm_build_msr_filter(r2, 2, &f, bm), PV_OK);
	assert_true(denied(&f, 0x4000010fu));
	assert_false(denied(&f, 0x40000110u));
	assert_true(denied(&f, 0xc0000000u));
	assert_true(denied(&f, 0xc0000000u + 12288u));
	assert_true(denied(&f, 0xc0000000u + 29999u));
	assert_false(denied(&f, 0xc0000000u + 30000u));
	assert_int_equal(windows(&f), 4); /* hv + 3 windows for 30000 MSRs */

	/* More disjoint windows than KVM accepts. */
	struct pv_msr_range many[17];
	for (int i = 0; i < 17; i++)
		many[i] = (struct pv_msr_range){0x100000u * (uint32_t)i, 1};
	assert_int_equal(pv_kvm_build_msr_filter(many, 17, &f, bm), PV_ERANGE);
	assert_int_equal(pv_kvm_build_msr_filter(many, 15, &f, bm), PV_OK);
	assert_int_equal(windows(&f), 16);

	/* Bad ranges. */
	struct pv_msr_range zero = {0x10, 0};
	assert_int_equal(pv_kvm_build_msr_filter(&zero, 1, &f, bm), PV_EINVAL);
	struct pv_msr_range wrap = {0xffffffffu, 2};
	assert_int_equal(pv_kvm_build_msr_filter(&wrap, 1, &f, bm), PV_EINVAL);
	struct pv_msr_range last = {0xffffffffu, 1};
	assert_int_equal(pv_kvm_build_msr_filter(&last, 1, &f, bm), PV_OK);
	assert_true(denied(&f, 0xffffffffu));
	assert_int_equal(pv_kvm_build_msr_filter(NULL, 3, &f, bm), PV_EINVAL);
}

static struct kvm_cpuid_entry2 ent(uint32_t fn, uint32_t idx, uint32_t flags, uint32_t a,
				   uint32_t b, uint32_t c, uint32_t d)
{
	struct kvm_cpuid_entry2 e;
	memset(&e, 0, sizeof(e));
	e.function = fn;
	e.index = idx;
	e.flags = flags;
	e.eax = a;
	e.ebx = b;
	e.ecx = c;
	e.edx = d;
	return e;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid_entry2 *t, long n, uint32_t fn,
					   uint32_t idx)
{
	for (long i = 0; i < n; i++)
		if (t[i].function == fn && t[i].index == idx)
			return &t[i];
	return NULL;
}

static void test_cpuid_merge(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 sup[] = {
		ent(0, 0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),
		ent(1, 0, 0, 0x00a00f11, 0x00020800, 0x80000000, 0x178bfbff),
		ent(7, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 1, 0x219c91a9, 0, 0),
		ent(7, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0, 0, 0, 0),
		ent(0xb, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 1, 1, 0x100, 0),
		ent(0xb, 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 1, 1, 0x201, 0),
		/* KVM's own leaves: "KVMKVMKVM\0\0\0" */
		ent(0x40000000u, 0, 0, 0x40000001u, 0x4b4d564b, 0x564b4d56, 0x4d),
		ent(0x40000001u, 0, 0, 0x01007afb, 0, 0, 0),
		ent(0x8000001eu, 0, 0, 0, 0x100, 0, 0),
	};
	struct pv_cpuid_entry lib[] = {
		{0x40000000u, 0, true, 0x40000005u, 0x7263694d, 0x666f736f, 0x76482074},
		{7, 0, false, 2, 3, 4, 5},
	};
	struct kvm_cpuid_entry2 out[32];
	long n = pv_kvm_merge_cpuid(sup, 9, lib, 2, 5, out, 32);
	assert_true(n > 0);
	/* No KVM signature survives; the library's leaf is there. */
	for (long i = 0; i < n; i++)
		assert_false(out[i].ebx == 0x4b4d564b);
	assert_null(find(out, n, 0x40000001u, 0));
	const struct kvm_cpuid_entry2 *e = find(out, n, 0x40000000u, 0);
	assert_non_null(e);
	assert_int_equal(e->eax, 0x40000005u);
	assert_int_equal(e->ebx, 0x7263694d);
	assert_int_equal(e->flags, 0);
	/* Leaf 7 belongs to the library entirely: subleaf 1 from KVM is gone. */
	e = find(out, n, 7, 0);
	assert_non_null(e);
	assert_int_equal(e->eax, 2);
	assert_int_equal(e->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	assert_null(find(out, n, 7, 1));
	/* APIC IDs patched in kept KVM leaves. */
	e = find(out, n, 1, 0);
	assert_non_null(e);
	assert_int_equal(e->ebx >> 24, 5);
	assert_int_equal(e->ebx & 0xffffff, 0x020800);
	assert_int_equal(find(out, n, 0xb, 0)->edx, 5);
	assert_int_equal(find(out, n, 0xb, 1)->edx, 5);
	assert_int_equal(find(out, n, 0x8000001eu, 0)->eax, 5);
	assert_int_equal(find(out, n, 0, 0)->ebx, 0x68747541); /* vendor untouched */
	/* 9 supported - 2 KVM leaves - 2 leaf-7 entries + 2 library entries. */
	assert_int_equal(n, 7);
	/* Capacity is respected. */
	assert_int_equal(pv_kvm_merge_cpuid(sup, 9, lib, 2, 0, out, 6), -1);
	assert_int_equal(pv_kvm_merge_cpuid(sup, 9, lib, 2, 0, out, 7), 7);
	/* Without library entries KVM's hypervisor leaves are still hidden. */
	n = pv_kvm_merge_cpuid(sup, 9, NULL, 0, 0, out, 32);
	assert_int_equal(n, 7);
	assert_null(find(out, n, 0x40000000u, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_io_out_single, teardown),
		cmocka_unit_test_teardown(test_io_in_single, teardown),
		cmocka_unit_test_teardown(test_io_rep, teardown),
		cmocka_unit_test_teardown(test_io_malformed, teardown),
		cmocka_unit_test_teardown(test_hypercall_detect, teardown),
		cmocka_unit_test(test_hypercall_regs),
		cmocka_unit_test_teardown(test_hypercall_complete, teardown),
		cmocka_unit_test_teardown(test_mmio, teardown),
		cmocka_unit_test_teardown(test_msr, teardown),
		cmocka_unit_test_teardown(test_simple_exits, teardown),
		cmocka_unit_test_teardown(test_error_exits, teardown),
		cmocka_unit_test_teardown(test_complete_mismatch, teardown),
		cmocka_unit_test(test_regs_roundtrip),
		cmocka_unit_test(test_sregs_roundtrip),
		cmocka_unit_test(test_hypercall_code),
		cmocka_unit_test_teardown(test_msr_filter, teardown),
		cmocka_unit_test(test_cpuid_merge),
	};
	return cmocka_run_group_tests_name("kvmport_xlate", tests, NULL, NULL);
}
