/* SPDX-License-Identifier: MIT */
/* Shared set-up of the programs that run tiny guests on /dev/kvm (the kvmport
 * and boot tests, the TMK host, bench_kvm_io, bench_kvm_emu): a partition
 * with RAM at GPA 0 on a fresh kvm port, and a vCPU started in real mode on
 * code written to RAM.
 * Errors are returned, not asserted, so that the benchmarks can use it too. */
#ifndef PV_TEST_KVM_FIXTURE_H
#define PV_TEST_KVM_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "paravisor/port_kvm.h"
#include "paravisor/pv.h"

/* Create a kvm port with options @o (NULL: the defaults) and a partition on it
 * with @vcpus vCPUs, one VTL and one RAM range [0, @ram_size). On failure
 * nothing is left behind and *@kvm, *@part are NULL. */
static inline pv_err_t kvmfx_create(const struct pv_kvm_options *o, uint64_t ram_size,
				    uint32_t vcpus, struct pv_kvm **kvm, struct pv_partition **part)
{
	*kvm = NULL;
	*part = NULL;
	pv_err_t err = pv_kvm_create(o, kvm);
	if (err)
		return err;
	struct pv_mem_range ram = {pv_gpa(0), ram_size, PV_MEM_RAM};
	struct pv_partition_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.vcpu_count = vcpus;
	pc.vtl_count = 1;
	pc.ranges = &ram;
	pc.range_count = 1;
	pc.port = pv_kvm_port_ops(*kvm);
	pc.port_ctx = *kvm;
	err = pv_partition_create(&pc, part);
	if (err) {
		pv_kvm_destroy(*kvm);
		*kvm = NULL;
	}
	return err;
}

/* Write @len bytes of @code at @gpa and point @v at it in real mode: CS, DS,
 * ES and SS selector and base 0 (DS, ES and SS already are after reset),
 * IP = @gpa, SP = @sp, RFLAGS = the fixed bit, every other GPR 0. */
static inline pv_err_t kvmfx_real_mode(struct pv_partition *part, struct pv_vcpu *v, uint64_t gpa,
				       const uint8_t *code, size_t len, uint64_t sp)
{
	pv_err_t err = pv_mem_write(part, PV_ACCESS_PARAVISOR, pv_gpa(gpa), code, len);
	if (err)
		return err;
	struct pv_sregs s;
	err = pv_vcpu_get_sregs(v, &s);
	if (err)
		return err;
	s.cs.base = 0;
	s.cs.selector = 0;
	s.ss.base = 0;
	s.ss.selector = 0;
	s.ds.base = 0;
	s.ds.selector = 0;
	s.es = s.ds;
	err = pv_vcpu_set_sregs(v, &s);
	if (err)
		return err;
	struct pv_regs r;
	memset(&r, 0, sizeof(r));
	r.rip = gpa;
	r.rflags = PV_RFLAGS_FIXED;
	r.gpr[PV_RSP] = sp;
	return pv_vcpu_set_regs(v, &r);
}

#endif /* PV_TEST_KVM_FIXTURE_H */
