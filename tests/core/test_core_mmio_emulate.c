/* SPDX-License-Identifier: MIT */
/*
 * MMIO exits that carry no decoded access (size 0): the dispatcher fetches or
 * takes the instruction bytes, emulates the instruction with x86emu, calls
 * the MMIO handler for each access and writes the registers back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core_test.h"
#include "paravisor/port_mock.h"

#define MMIO_BASE 0x30000u

struct access {
	uint64_t offset;
	uint8_t size;
	bool is_write;
	uint64_t data;
};

static struct {
	struct access log[16];
	int count;
	uint64_t read_value;
} g;

static pv_err_t mmio_fn(void *ctx, struct pv_vcpu *vcpu, uint64_t offset, uint8_t size,
			bool is_write, uint64_t *data)
{
	(void)ctx;
	(void)vcpu;
	if (g.count < 16)
		g.log[g.count++] = (struct access){offset, size, is_write, *data};
	if (!is_write)
		*data = g.read_value;
	return PV_OK;
}

/* Flat 64-bit state: long mode active, paging off (identity) as x86emu allows. */
static void set_long_mode(struct ct_env *e, uint64_t rip, uint64_t rax, uint64_t rcx)
{
	struct pv_sregs s;
	memset(&s, 0, sizeof(s));
	s.cr0 = 1;                       /* PE */
	s.efer = (1u << 8) | (1u << 10); /* LME | LMA */
	s.cs = (struct pv_segment){.present = 1, .s = 1, .type = 0xB, .l = 1, .limit = 0xFFFFFFFF};
	s.ds = s.es = s.ss =
		(struct pv_segment){.present = 1, .s = 1, .type = 3, .db = 1, .limit = 0xFFFFFFFF};
	assert_int_equal(pv_mock_set_sregs(e->mock, 0, &s), PV_OK);
	struct pv_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = rip;
	r.rflags = 2;
	r.gpr[PV_RAX] = rax;
	r.gpr[PV_RCX] = rcx;
	assert_int_equal(pv_mock_set_regs(e->mock, 0, &r), PV_OK);
}

static struct pv_exit emu_exit(const uint8_t *insn, uint8_t len)
{
	struct pv_exit x = ct_mmio(MMIO_BASE, 0, false, 0);
	x.u.mmio.insn_len = len;
	if (len)
		memcpy(x.u.mmio.insn, insn, len);
	return x;
}

static void open_env(struct ct_env *e)
{
	memset(&g, 0, sizeof(g));
	ct_open(e, 0, 1);
	assert_int_equal(pv_mmio_register(e->part, pv_gpa(MMIO_BASE), 0x1000, mmio_fn, NULL),
			 PV_OK);
}

static struct pv_regs regs_of(struct ct_env *e)
{
	struct pv_regs r;
	assert_int_equal(pv_mock_get_regs(e->mock, 0, &r), PV_OK);
	return r;
}

static void test_store_from_exit_bytes(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	set_long_mode(&e, 0x1000, MMIO_BASE + 0x10, 0x11223344);
	static const uint8_t mov_store[] = {0x89, 0x08}; /* mov [rax], ecx */
	struct pv_exit x = emu_exit(mov_store, sizeof(mov_store));
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(g.count, 1);
	assert_int_equal(g.log[0].offset, 0x10);
	assert_int_equal(g.log[0].size, 4);
	assert_true(g.log[0].is_write);
	assert_int_equal(g.log[0].data, 0x11223344);
	assert_int_equal(regs_of(&e).rip, 0x1002);
	struct pv_stats st;
	pv_partition_get_stats(e.part, &st);
	assert_int_equal(st.mmio_emulated, 1);
	assert_int_equal(st.bad_exits, 0);
	ct_close(&e);
}

static void test_load_fetched_from_ram(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	/* mov rcx, [rax+8] with REX.W, placed in guest RAM: the exit has no bytes. */
	static const uint8_t insn[] = {0x48, 0x8B, 0x48, 0x08};
	assert_int_equal(pv_mem_write(e.part, PV_ACCESS_PARAVISOR, pv_gpa(0x2000), insn, 4), PV_OK);
	set_long_mode(&e, 0x2000, MMIO_BASE, 0xFFFFFFFFFFFFFFFFull);
	g.read_value = 0x8877665544332211ull;
	struct pv_exit x = emu_exit(NULL, 0);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(g.count, 1);
	assert_int_equal(g.log[0].offset, 8);
	assert_int_equal(g.log[0].size, 8);
	assert_false(g.log[0].is_write);
	struct pv_regs r = regs_of(&e);
	assert_int_equal(r.gpr[PV_RCX], 0x8877665544332211ull);
	assert_int_equal(r.rip, 0x2004);
	ct_close(&e);
}

static void test_rep_stosb_to_mmio(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	set_long_mode(&e, 0x1000, 0x5A, 3); /* al = 0x5A, rcx = 3 */
	struct pv_regs r = regs_of(&e);
	r.gpr[PV_RDI] = MMIO_BASE + 0x20;
	assert_int_equal(pv_mock_set_regs(e.mock, 0, &r), PV_OK);
	static const uint8_t rep_stosb[] = {0xF3, 0xAA};
	struct pv_exit x = emu_exit(rep_stosb, 2);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(g.count, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(g.log[i].offset, 0x20 + (uint64_t)i);
		assert_int_equal(g.log[i].size, 1);
		assert_int_equal(g.log[i].data, 0x5A);
	}
	r = regs_of(&e);
	assert_int_equal(r.gpr[PV_RCX], 0);
	assert_int_equal(r.gpr[PV_RDI], MMIO_BASE + 0x23);
	assert_int_equal(r.rip, 0x1002);
	ct_close(&e);
}

static void test_locked_xadd_on_mmio(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	g.read_value = 5;
	set_long_mode(&e, 0x1000, MMIO_BASE + 4, 7); /* lock xadd [rax], ecx */
	static const uint8_t insn[] = {0xF0, 0x0F, 0xC1, 0x08};
	struct pv_exit x = emu_exit(insn, 4);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	/* one read, one write of the sum: the device sees what a CPU does */
	assert_int_equal(g.count, 2);
	assert_false(g.log[0].is_write);
	assert_true(g.log[1].is_write);
	assert_int_equal(g.log[1].data, 12);
	assert_int_equal(regs_of(&e).gpr[PV_RCX], 5);
	ct_close(&e);
}

static void test_failing_cmpxchg_writes_old_value_back(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	g.read_value = 9;
	set_long_mode(&e, 0x1000, 3, 7); /* eax = 3 (expected), ecx = 7 */
	struct pv_regs r = regs_of(&e);
	r.gpr[PV_RBX] = MMIO_BASE + 8;
	assert_int_equal(pv_mock_set_regs(e.mock, 0, &r), PV_OK);
	static const uint8_t insn[] = {0x0F, 0xB1, 0x0B}; /* cmpxchg [rbx], ecx */
	struct pv_exit x = emu_exit(insn, 3);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(g.count, 2);
	assert_false(g.log[0].is_write);
	assert_true(g.log[1].is_write);
	assert_int_equal(g.log[1].data, 9); /* the old value, as the CPU writes it */
	r = regs_of(&e);
	assert_int_equal(r.gpr[PV_RAX], 9);
	assert_int_equal(r.rflags & PV_RFLAGS_ZF, 0);
	ct_close(&e);
}

static void test_unsupported_instruction_injects_ud(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	set_long_mode(&e, 0x1000, MMIO_BASE, 0);
	static const uint8_t ud2[] = {0x0F, 0x0B};
	struct pv_exit x = emu_exit(ud2, 2);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_EXCEPTION);
	assert_int_equal(c.inject.vector, PV_VEC_UD);
	assert_int_equal(g.count, 0);
	assert_int_equal(regs_of(&e).rip, 0x1000); /* not advanced */
	struct pv_stats st;
	pv_partition_get_stats(e.part, &st);
	assert_int_equal(st.mmio_emulation_faults, 1);
	ct_close(&e);
}

static void test_sse_without_port_xmm_access_injects_ud(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	set_long_mode(&e, 0x1000, MMIO_BASE, 0);
	static const uint8_t movdqu_store[] = {0xF3, 0x0F, 0x7F, 0x00}; /* movdqu [rax], xmm0 */
	struct pv_exit x = emu_exit(movdqu_store, 4);
	struct pv_exit c = ct_run1(&e, 0, &x);
	/* The mock port has no get_xmm: never guess the register's value. */
	assert_int_equal(c.inject.kind, PV_EVENT_EXCEPTION);
	assert_int_equal(c.inject.vector, PV_VEC_UD);
	assert_int_equal(g.count, 0);
	ct_close(&e);
}

static void test_fetch_from_unbacked_rip_faults(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	/* RIP in the hole of the standard map: the fetch cannot read anything. */
	set_long_mode(&e, 0x20000, MMIO_BASE, 0);
	struct pv_exit x = emu_exit(NULL, 0);
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_EXCEPTION);
	assert_int_equal(g.count, 0);
	ct_close(&e);
}

static void test_truncated_exit_bytes_are_completed_by_fetch(void **state)
{
	(void)state;
	struct ct_env e;
	open_env(&e);
	static const uint8_t insn[] = {0xC7, 0x00, 0x78,
				       0x56, 0x34, 0x12}; /* mov dword [rax], imm32 */
	assert_int_equal(pv_mem_write(e.part, PV_ACCESS_PARAVISOR, pv_gpa(0x3000), insn, 6), PV_OK);
	set_long_mode(&e, 0x3000, MMIO_BASE + 0x40, 0);
	struct pv_exit x = emu_exit(insn, 3); /* only the first three bytes */
	struct pv_exit c = ct_run1(&e, 0, &x);
	assert_int_equal(c.inject.kind, PV_EVENT_NONE);
	assert_int_equal(g.count, 1);
	assert_int_equal(g.log[0].data, 0x12345678);
	assert_int_equal(regs_of(&e).rip, 0x3006);
	ct_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_from_exit_bytes),
		cmocka_unit_test(test_load_fetched_from_ram),
		cmocka_unit_test(test_rep_stosb_to_mmio),
		cmocka_unit_test(test_locked_xadd_on_mmio),
		cmocka_unit_test(test_failing_cmpxchg_writes_old_value_back),
		cmocka_unit_test(test_unsupported_instruction_injects_ud),
		cmocka_unit_test(test_sse_without_port_xmm_access_injects_ud),
		cmocka_unit_test(test_fetch_from_unbacked_rip_faults),
		cmocka_unit_test(test_truncated_exit_bytes_are_completed_by_fetch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
