/* SPDX-License-Identifier: MIT */
/*
 * The kvm port on real /dev/kvm with tiny hand-assembled guests: stop from
 * another thread, interrupt, exception and NMI injection into running and halted vCPUs
 * without the in-kernel irqchip, hypercalls through the port's I/O
 * sequence (32- and 64-bit register ABI), an undeliverable fault, timers,
 * MSR access, the irqchip operations and option checks. Exits 77 (SKIPPED)
 * when /dev/kvm is unusable.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kvmport/kvm_fixture.h"
#include "paravisor/port_kvm.h"
#include "paravisor/pv.h"

#define RAM_SIZE 0x10000u
#define CODE 0x1000u
#define STOP_PORT 0x601u   /* OUT here: the test's handler stops the vCPU */
#define STOP_PORT8 0xf1u   /* 8-bit port variant */
#define REPORT_PORT 0x602u /* OUT here: the test records the value */
#define TABLES 0x8000u
#define HCPAGE 0x5000u /* hypercall page */

struct fx {
	struct pv_kvm *kvm;
	struct pv_partition *part;
	struct pv_vcpu *v;
	unsigned stops;
	unsigned hcalls;
	struct pv_exit_hypercall hc;
	bool decline_hcalls; /* the filter passes hypercalls on: the default #UD */
	uint32_t reported;   /* last value OUT to REPORT_PORT */
};

static pv_err_t stop_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			bool is_write, uint32_t *data)
{
	struct fx *f = ctx;
	(void)offset;
	(void)size;
	(void)data;
	if (is_write) {
		f->stops++;
		pv_vcpu_stop(vcpu);
	}
	return PV_OK;
}

static pv_err_t report_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			  bool is_write, uint32_t *data)
{
	struct fx *f = ctx;
	(void)vcpu;
	(void)offset;
	(void)size;
	if (is_write)
		f->reported = *data;
	return PV_OK;
}

static bool hv_filter(void *ctx, struct pv_vcpu *vcpu, struct pv_exit *exit)
{
	struct fx *f = ctx;
	(void)vcpu;
	if (exit->kind != PV_EXIT_HYPERCALL)
		return false;
	f->hcalls++;
	f->hc = exit->u.hypercall;
	if (f->decline_hcalls)
		return false;
	exit->u.hypercall.result = 0xaabbccdd00112233ull;
	return true;
}

static void fx_open_n(struct fx *f, bool irqchip, uint32_t vcpus)
{
	memset(f, 0, sizeof(*f));
	struct pv_kvm_options o;
	pv_kvm_options_init(&o);
	o.irqchip = irqchip;
	assert_int_equal(kvmfx_create(&o, RAM_SIZE, vcpus, &f->kvm, &f->part), PV_OK);
	f->v = pv_partition_vcpu(f->part, 0);
	assert_int_equal(pv_io_register(f->part, STOP_PORT, 1, stop_io, f), PV_OK);
	assert_int_equal(pv_io_register(f->part, STOP_PORT8, 1, stop_io, f), PV_OK);
	assert_int_equal(pv_io_register(f->part, REPORT_PORT, 1, report_io, f), PV_OK);
	assert_int_equal(pv_dispatch_set_filter(f->part, PV_FILTER_HV1, hv_filter, f), PV_OK);
}

static void fx_open(struct fx *f, bool irqchip)
{
	fx_open_n(f, irqchip, 1);
}

static void fx_close(struct fx *f)
{
	pv_partition_destroy(f->part);
	pv_kvm_destroy(f->kvm);
}

/* Load real-mode code at CODE and point the vCPU at it (segment bases 0). */
static void real_mode(struct fx *f, const uint8_t *code, size_t len)
{
	assert_int_equal(kvmfx_real_mode(f->part, f->v, CODE, code, len, 0x7000), PV_OK);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct later {
	struct pv_vcpu *v;
	unsigned delay_ms;
	bool inject;
	uint8_t vector;
	pv_err_t err;
};

static void *later_main(void *arg)
{
	struct later *l = arg;
	usleep(l->delay_ms * 1000u);
	if (l->inject) {
		struct pv_event ev = {.kind = PV_EVENT_INTERRUPT, .vector = l->vector};
		l->err = pv_vcpu_inject(l->v, &ev);
	} else {
		pv_vcpu_stop(l->v);
	}
	return NULL;
}

static void test_stop_running_vcpu(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	static const uint8_t spin[] = {0xeb, 0xfe}; /* jmp $ */
	real_mode(&f, spin, sizeof(spin));
	struct later l = {.v = f.v, .delay_ms = 30};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, later_main, &l), 0);
	struct pv_exit last;
	uint64_t t0 = now_ns();
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	uint64_t dt = now_ns() - t0;
	pthread_join(t, NULL);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_true(dt >= 20000000ull);  /* it really ran until the stop */
	assert_true(dt < 5000000000ull); /* and stopped promptly */

	/* A stop requested while not running ends the next run at once. */
	pv_vcpu_stop(f.v);
	t0 = now_ns();
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_true(now_ns() - t0 < 1000000000ull);

	/* The stop was consumed: the vCPU runs again until the next one. */
	l.delay_ms = 10;
	assert_int_equal(pthread_create(&t, NULL, later_main, &l), 0);
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	pthread_join(t, NULL);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	fx_close(&f);
}

/* Real-mode IVT entry 0x40 -> handler at 0x2000. */
static void ivt_vector_0x40(struct fx *f, const uint8_t *handler, size_t len)
{
	uint8_t ivt[4] = {0x00, 0x20, 0x00, 0x00};
	assert_int_equal(pv_mem_write(f->part, PV_ACCESS_PARAVISOR, pv_gpa(0x40 * 4), ivt, 4),
			 PV_OK);
	assert_int_equal(pv_mem_write(f->part, PV_ACCESS_PARAVISOR, pv_gpa(0x2000), handler, len),
			 PV_OK);
}

/* Vector 0x40 -> @handler, the vCPU on @code in real mode; run it while
 * another thread injects vector 0x40 30 ms in (its result in @l->err). */
static void run_with_late_0x40(struct fx *f, const uint8_t *handler, size_t hlen,
			       const uint8_t *code, size_t clen, struct later *l,
			       struct pv_exit *last)
{
	ivt_vector_0x40(f, handler, hlen);
	real_mode(f, code, clen);
	*l = (struct later){.v = f->v, .delay_ms = 30, .inject = true, .vector = 0x40};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, later_main, l), 0);
	assert_int_equal(pv_vcpu_run(f->v, last), PV_OK);
	pthread_join(t, NULL);
}

static void test_inject_into_running_vcpu(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	static const uint8_t handler[] = {0xba, 0x01, 0x06, 0xee, 0xcf}; /* out 0x601; iret */
	static const uint8_t spin[] = {0xfb, 0xeb, 0xfe};                /* sti; jmp $ */
	struct later l;
	struct pv_exit last;
	run_with_late_0x40(&f, handler, sizeof(handler), spin, sizeof(spin), &l, &last);
	assert_int_equal(l.err, PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f.stops, 1); /* the handler ran exactly once */
	fx_close(&f);
}

static void test_inject_exception_and_nmi(void **state)
{
	(void)state;
	static const uint8_t handler[] = {0xba, 0x01, 0x06, 0xee, 0xcf}; /* out 0x601; iret */
	static const uint8_t spin[] = {0xfa, 0xeb, 0xfe}; /* cli; jmp $ (NMI and #UD ignore IF) */
	static const struct pv_event events[] = {
		{.kind = PV_EVENT_EXCEPTION, .vector = PV_VEC_UD},
		{.kind = PV_EVENT_NMI, .vector = 2},
	};
	for (size_t i = 0; i < 2; i++) {
		struct fx f;
		fx_open(&f, false);
		/* IVT entries 2 (NMI) and 6 (#UD) -> the handler at 0x2000. */
		uint8_t ivt[4] = {0x00, 0x20, 0x00, 0x00};
		assert_int_equal(pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(2 * 4), ivt, 4),
				 PV_OK);
		assert_int_equal(pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(6 * 4), ivt, 4),
				 PV_OK);
		assert_int_equal(pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(0x2000), handler,
					      sizeof(handler)),
				 PV_OK);
		real_mode(&f, spin, sizeof(spin));
		/* Queued before the run: delivered at the first entry. */
		assert_int_equal(pv_vcpu_inject(f.v, &events[i]), PV_OK);
		struct pv_exit last;
		assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
		assert_int_equal(last.kind, PV_EXIT_STOPPED);
		assert_int_equal(f.stops, 1);
		fx_close(&f);
	}
	/* Malformed events are refused. */
	struct fx f;
	fx_open(&f, false);
	const struct pv_port_ops *ops = pv_partition_port(f.part);
	struct pv_event bad = {.kind = PV_EVENT_EXCEPTION, .vector = 32};
	assert_int_equal(ops->inject(pv_vcpu_port_data(f.v), &bad), PV_EINVAL);
	bad.kind = (enum pv_event_kind)77;
	assert_int_equal(ops->inject(pv_vcpu_port_data(f.v), &bad), PV_EINVAL);
	/* A second exception while one is queued: busy, not lost silently. */
	struct pv_event ud = {.kind = PV_EVENT_EXCEPTION, .vector = PV_VEC_UD};
	assert_int_equal(ops->inject(pv_vcpu_port_data(f.v), &ud), PV_OK);
	assert_int_equal(ops->inject(pv_vcpu_port_data(f.v), &ud), PV_EBUSY);
	fx_close(&f);
}

static void test_hlt_wakes_on_inject(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	static const uint8_t handler[] = {0xcf}; /* iret */
	static const uint8_t code[] = {0xfb, 0xf4, 0xba, 0x01,
				       0x06, 0xee, 0xf4}; /* sti; hlt; out */
	struct later l;
	struct pv_exit last;
	run_with_late_0x40(&f, handler, sizeof(handler), code, sizeof(code), &l, &last);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f.stops, 1);
	assert_true(pv_vcpu_exit_count(f.v, PV_EXIT_HLT) >= 1);
	fx_close(&f);
}

struct watchdog {
	struct pv_vcpu *v;
	volatile bool done;
	bool fired;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	for (int i = 0; i < 500 && !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	if (!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
		w->fired = true;
		pv_vcpu_stop(w->v);
	}
	return NULL;
}

static void test_hlt_with_interrupt_already_queued(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	static const uint8_t handler[] = {0xba, 0x01, 0x06, 0xee, 0xcf}; /* out 0x601; iret */
	/* cli; hlt (woken by the inject, which cannot be delivered: IF=0);
	 * sti; hlt (the queued interrupt must end this halt); jmp $ */
	static const uint8_t code[] = {0xfa, 0xf4, 0xfb, 0xf4, 0xeb, 0xfe};
	ivt_vector_0x40(&f, handler, sizeof(handler));
	real_mode(&f, code, sizeof(code));
	struct later l = {.v = f.v, .delay_ms = 30, .inject = true, .vector = 0x40};
	struct watchdog w = {.v = f.v};
	pthread_t t, wt;
	assert_int_equal(pthread_create(&t, NULL, later_main, &l), 0);
	assert_int_equal(pthread_create(&wt, NULL, watchdog_main, &w), 0);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	__atomic_store_n(&w.done, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	pthread_join(wt, NULL);
	assert_false(w.fired); /* not stuck in the second HLT */
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f.stops, 1);
	fx_close(&f);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void test_hypercall_32bit(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	uint8_t code[64];
	size_t n = 0;
	static const uint8_t op[6] = {0xb8, 0xba, 0xbb,
				      0xb9, 0xbf, 0xbe}; /* eax edx ebx ecx edi esi */
	static const uint32_t val[6] = {0x11111111, 0x22222222, 0x33333333,
					0x44444444, 0x55555555, 0x66666666};
	for (int i = 0; i < 6; i++) {
		code[n++] = 0x66;
		code[n++] = op[i];
		put32(&code[n], val[i]);
		n += 4;
	}
	uint8_t hc[8];
	size_t hlen = 0;
	const struct pv_port_ops *ops = pv_partition_port(f.part);
	assert_non_null(ops->hypercall_code);
	assert_int_equal(ops->hypercall_code(pv_partition_port_data(f.part), hc, sizeof(hc), &hlen),
			 PV_OK);
	assert_int_equal(hlen, 3);
	memcpy(&code[n], hc, 2); /* the OUT, without the RET */
	n += 2;
	code[n++] = 0xe6; /* out STOP_PORT8, al */
	code[n++] = STOP_PORT8;
	code[n++] = 0xf4;
	real_mode(&f, code, n);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f.hcalls, 1);
	assert_false(f.hc.is_64bit);
	assert_int_equal(f.hc.control, 0x2222222211111111ull); /* EDX:EAX */
	assert_int_equal(f.hc.input, 0x3333333344444444ull);   /* EBX:ECX */
	assert_int_equal(f.hc.output, 0x5555555566666666ull);  /* EDI:ESI */
	struct pv_regs r;
	assert_int_equal(pv_vcpu_get_regs(f.v, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RAX] & 0xffffffffu, 0x00112233u);
	assert_int_equal(r.gpr[PV_RDX] & 0xffffffffu, 0xaabbccddu);
	struct pv_stats st;
	pv_partition_get_stats(f.part, &st);
	assert_int_equal(st.exits[PV_EXIT_HYPERCALL], 1);
	assert_int_equal(st.io_unhandled_writes, 0); /* the OUT never reached the I/O tables */
	fx_close(&f);
}

static void test_hypercall_64bit_long_mode(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	uint8_t code[64];
	size_t n = 0;
	code[n++] = 0x48; /* mov rcx, imm64 */
	code[n++] = 0xb9;
	put64(&code[n], 0x0001000000000002ull);
	n += 8;
	code[n++] = 0x48; /* mov rdx, imm64 */
	code[n++] = 0xba;
	put64(&code[n], 0x0000000000003000ull);
	n += 8;
	code[n++] = 0x49; /* mov r8, imm64 */
	code[n++] = 0xb8;
	put64(&code[n], 0x0000000000004000ull);
	n += 8;
	code[n++] = 0x48; /* mov rax, HCPAGE */
	code[n++] = 0xb8;
	put64(&code[n], HCPAGE);
	n += 8;
	code[n++] = 0xff; /* call rax: into the hypercall page, which returns */
	code[n++] = 0xd0;
	code[n++] = 0xe6;
	code[n++] = STOP_PORT8;
	code[n++] = 0xf4;
	assert_int_equal(pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(CODE), code, n), PV_OK);
	/* The hypercall page holds exactly what the port's hypercall_code gives. */
	uint8_t hc[16];
	size_t hlen = 0;
	const struct pv_port_ops *ops = pv_partition_port(f.part);
	assert_int_equal(ops->hypercall_code(pv_partition_port_data(f.part), hc, sizeof(hc), &hlen),
			 PV_OK);
	assert_int_equal(hc[hlen - 1], 0xc3); /* ends with ret */
	assert_int_equal(pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(HCPAGE), hc, hlen),
			 PV_OK);
	assert_int_equal(pv_kvm_build_long_mode_tables(f.part, pv_gpa(TABLES)), PV_OK);
	assert_int_equal(pv_kvm_setup_long_mode(f.v, pv_gpa(TABLES), CODE, 0x7000, 1, 2), PV_OK);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f.hcalls, 1);
	assert_true(f.hc.is_64bit);
	assert_int_equal(f.hc.control, 0x0001000000000002ull);
	assert_int_equal(f.hc.input, 0x3000);
	assert_int_equal(f.hc.output, 0x4000);
	struct pv_regs r;
	assert_int_equal(pv_vcpu_get_regs(f.v, &r), PV_OK);
	assert_int_equal(r.gpr[PV_RAX], 0xaabbccdd00112233ull);
	assert_int_equal(r.gpr[PV_RDI], 1);
	assert_int_equal(r.gpr[PV_RSP], 0x7000); /* the page's ret returned */
	assert_int_equal(r.gpr[PV_RSI], 2);
	struct pv_sregs s;
	assert_int_equal(pv_vcpu_get_sregs(f.v, &s), PV_OK);
	assert_true(s.efer & 0x400); /* LMA */
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cr3, TABLES + 0x1000);
	fx_close(&f);
}

static void test_unhandled_hypercall_raises_ud(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	f.decline_hcalls = true;
	/* 0x1000: mov eax, 1; out 0xE7, al (the hypercall); out 0xF1 (not reached) */
	static const uint8_t code[] = {0x66, 0xb8,       0x01, 0x00,
				       0x00, 0x00,       0xe6, PV_KVM_HYPERCALL_PORT,
				       0xe6, STOP_PORT8, 0xf4};
	/* #UD handler: pop ax (faulting IP); out REPORT_PORT, ax; out STOP_PORT8 */
	static const uint8_t ud[] = {0x58, 0xba, 0x02, 0x06, 0xef, 0xe6, STOP_PORT8, 0xf4};
	uint8_t ivt[4] = {0x00, 0x20, 0x00, 0x00};
	assert_int_equal(pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(6 * 4), ivt, 4), PV_OK);
	assert_int_equal(pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(0x2000), ud, sizeof(ud)),
			 PV_OK);
	real_mode(&f, code, sizeof(code));
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f.hcalls, 1);
	struct pv_stats st;
	pv_partition_get_stats(f.part, &st);
	assert_int_equal(st.hypercall_unhandled, 1);
	/* The #UD reached the guest's handler. KVM retires the OUT before the
	 * event is delivered, so the saved IP is the instruction after it
	 * (0x1008); a port that can rewind would report 0x1006. */
	assert_true(f.reported == CODE + 6 || f.reported == CODE + 8);
	assert_int_equal(f.stops, 1);
	fx_close(&f);
}

static void test_undeliverable_fault_ends_run(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	/* Long mode, lidt [0x1100] (a zero-limit IDT), int3: the #BP cannot be
	 * delivered (#GP, #DF, triple fault). Depending on the host this is a
	 * KVM shutdown or an internal error; either must end pv_vcpu_run()
	 * cleanly with that exit, never hang or crash. */
	uint8_t code[0x110];
	memset(code, 0, sizeof(code));
	const uint8_t prog[] = {0xfa, 0x0f, 0x01, 0x1c, 0x25, 0x00, 0x11, 0x00, 0x00, 0xcc, 0xf4};
	memcpy(code, prog, sizeof(prog));
	assert_int_equal(
		pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(CODE), code, sizeof(code)), PV_OK);
	assert_int_equal(pv_kvm_build_long_mode_tables(f.part, pv_gpa(TABLES)), PV_OK);
	assert_int_equal(pv_kvm_setup_long_mode(f.v, pv_gpa(TABLES), CODE, 0x7000, 0, 0), PV_OK);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	if (last.kind == PV_EXIT_INTERNAL_ERROR)
		printf("  internal error, KVM suberror %d\n", last.u.error.code);
	assert_true(last.kind == PV_EXIT_SHUTDOWN || last.kind == PV_EXIT_INTERNAL_ERROR);
	fx_close(&f);
}

struct tstate {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned fired;
	uint64_t at;
	struct pv_partition *part;
};

static void on_timer(void *ctx)
{
	struct tstate *t = ctx;
	pthread_mutex_lock(&t->m);
	t->fired++;
	t->at = pv_clock_ns(t->part);
	pthread_cond_broadcast(&t->c);
	pthread_mutex_unlock(&t->m);
}

static unsigned get_fired(struct tstate *t)
{
	pthread_mutex_lock(&t->m);
	unsigned n = t->fired;
	pthread_mutex_unlock(&t->m);
	return n;
}

static void test_clock_and_timers(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	uint64_t a = pv_clock_ns(f.part);
	uint64_t b = pv_clock_ns(f.part);
	assert_true(b >= a);
	assert_true(a > 0);

	struct tstate t = {.part = f.part};
	pthread_mutex_init(&t.m, NULL);
	pthread_cond_init(&t.c, NULL);
	struct pv_timer *tm = NULL;
	assert_int_equal(pv_timer_create(f.part, on_timer, &t, &tm), PV_OK);
	uint64_t deadline = pv_clock_ns(f.part) + 20000000ull;
	assert_int_equal(pv_timer_arm(tm, deadline), PV_OK);
	for (int i = 0; i < 400 && get_fired(&t) == 0; i++)
		usleep(5000);
	assert_int_equal(get_fired(&t), 1);
	pthread_mutex_lock(&t.m);
	uint64_t at = t.at;
	pthread_mutex_unlock(&t.m);
	assert_true(at >= deadline);

	/* Cancelled timers do not fire; re-arming replaces the deadline. */
	assert_int_equal(pv_timer_arm(tm, pv_clock_ns(f.part) + 30000000ull), PV_OK);
	pv_timer_cancel(tm);
	assert_int_equal(pv_timer_arm(tm, pv_clock_ns(f.part) + 5000000000ull), PV_OK);
	assert_int_equal(pv_timer_arm(tm, pv_clock_ns(f.part) + 10000000ull), PV_OK);
	for (int i = 0; i < 400 && get_fired(&t) < 2; i++)
		usleep(5000);
	usleep(60000); /* past the cancelled deadline: it must not fire */
	assert_int_equal(get_fired(&t), 2);
	/* A past deadline fires as soon as possible. */
	assert_int_equal(pv_timer_arm(tm, 0), PV_OK);
	for (int i = 0; i < 200 && get_fired(&t) < 3; i++)
		usleep(5000);
	assert_int_equal(get_fired(&t), 3);
	pv_timer_destroy(tm);
	pthread_cond_destroy(&t.c);
	pthread_mutex_destroy(&t.m);
	fx_close(&f);
}

static void test_msr_access_and_cpuid_after_run(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, false);
	const struct pv_port_ops *ops = pv_partition_port(f.part);
	void *vd = pv_vcpu_port_data(f.v);
	uint64_t v = 0;
	assert_int_equal(ops->set_msr(vd, 0x174, 0x10), PV_OK); /* IA32_SYSENTER_CS */
	assert_int_equal(ops->get_msr(vd, 0x174, &v), PV_OK);
	assert_int_equal(v, 0x10);

	static const uint8_t code[] = {0xe6, STOP_PORT8, 0xf4};
	real_mode(&f, code, sizeof(code));
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	/* KVM cannot change CPUID after KVM_RUN: the port warns, the vCPU keeps running. */
	struct pv_cpuid_entry e = {0x40000000u, 0, true, 0x40000001u, 1, 2, 3};
	assert_int_equal(pv_cpuid_set(f.part, &e), PV_OK);
	pv_vcpu_stop(f.v);
	assert_int_equal(pv_vcpu_run(f.v, &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	fx_close(&f);
}

static void test_irqchip_ops(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, true);
	assert_true(pv_partition_port(f.part)->caps & PV_PORT_CAP_IRQCHIP);
	assert_int_equal(pv_irq_set(f.part, 4, true), PV_OK);
	assert_int_equal(pv_irq_set(f.part, 4, false), PV_OK);
	assert_int_equal(pv_msi_send(f.part, 0xfee00000ull, 0x41), PV_OK);
	fx_close(&f);

	/* With the in-kernel PIT too. */
	struct pv_kvm_options o;
	pv_kvm_options_init(&o);
	o.irqchip = true;
	o.pit = true;
	struct pv_kvm *k = NULL;
	struct pv_partition *part = NULL;
	assert_int_equal(kvmfx_create(&o, RAM_SIZE, 1, &k, &part), PV_OK);
	pv_partition_destroy(part);
	pv_kvm_destroy(k);

	fx_open(&f, false);
	assert_false(pv_partition_port(f.part)->caps & PV_PORT_CAP_IRQCHIP);
	assert_null(pv_partition_port(f.part)->irq_line);
	assert_int_equal(pv_irq_set(f.part, 4, true), PV_ENOTSUP);
	fx_close(&f);
}

struct ap_run {
	struct pv_vcpu *v;
	struct pv_exit last;
	pv_err_t err;
};

static void *ap_run_main(void *arg)
{
	struct ap_run *a = arg;
	a->err = pv_vcpu_run(a->v, &a->last);
	return NULL;
}

static void test_irqchip_ap_waits_for_sipi(void **state)
{
	(void)state;
	struct fx f;
	fx_open_n(&f, true, 2);
	/* Code the AP would run if it started: report on the stop port. */
	static const uint8_t code[] = {0xe6, STOP_PORT8, 0xf4};
	assert_int_equal(
		pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(CODE), code, sizeof(code)), PV_OK);
	/* Untouched AP: KVM keeps it waiting for INIT/SIPI; only a stop ends its run. */
	struct ap_run a = {.v = pv_partition_vcpu(f.part, 1)};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, ap_run_main, &a), 0);
	usleep(50000);
	pv_vcpu_stop(a.v);
	pthread_join(t, NULL);
	assert_int_equal(a.err, PV_OK);
	assert_int_equal(a.last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f.stops, 0);
	fx_close(&f);

	/* An AP whose registers the library set before its first run starts there. */
	fx_open_n(&f, true, 2);
	assert_int_equal(
		pv_mem_write(f.part, PV_ACCESS_PARAVISOR, pv_gpa(CODE), code, sizeof(code)), PV_OK);
	struct pv_vcpu *ap = pv_partition_vcpu(f.part, 1);
	assert_int_equal(pv_kvm_build_long_mode_tables(f.part, pv_gpa(TABLES)), PV_OK);
	assert_int_equal(pv_kvm_setup_long_mode(ap, pv_gpa(TABLES), CODE, 0x7000, 1, 2), PV_OK);
	struct pv_exit last;
	assert_int_equal(pv_vcpu_run(ap, &last), PV_OK);
	assert_int_equal(last.kind, PV_EXIT_STOPPED);
	assert_int_equal(f.stops, 1);
	fx_close(&f);
}

static void test_options_and_probe(void **state)
{
	(void)state;
	char reason[128];
	assert_int_equal(pv_kvm_probe("/nonexistent/kvm", reason, sizeof(reason)), PV_ENOTSUP);
	assert_non_null(strstr(reason, "cannot open"));
	assert_int_equal(pv_kvm_probe(NULL, reason, sizeof(reason)), PV_OK);
	struct pv_kvm_options o;
	struct pv_kvm *k = NULL;
	pv_kvm_options_init(&o);
	assert_int_equal(o.hypercall_port, PV_KVM_HYPERCALL_PORT);
	o.hypercall_port = 0x1234; /* must fit "out imm8, al" */
	assert_int_equal(pv_kvm_create(&o, &k), PV_EINVAL);
	assert_null(k);
	pv_kvm_options_init(&o);
	o.pit = true; /* the PIT needs the in-kernel irqchip */
	assert_int_equal(pv_kvm_create(&o, &k), PV_EINVAL);
	pv_kvm_options_init(&o);
	o.device_path = "/nonexistent/kvm";
	assert_int_equal(pv_kvm_create(&o, &k), PV_ENOTSUP);
	assert_int_equal(pv_kvm_create(NULL, NULL), PV_EINVAL);
	assert_null(pv_kvm_port_ops(NULL));
	pv_kvm_destroy(NULL);
}

int main(void)
{
	char reason[256];
	if (pv_kvm_probe(NULL, reason, sizeof(reason)) != PV_OK) {
		printf("SKIPPED: /dev/kvm is not usable: %s\n", reason);
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_running_vcpu),
		cmocka_unit_test(test_inject_into_running_vcpu),
		cmocka_unit_test(test_inject_exception_and_nmi),
		cmocka_unit_test(test_hlt_wakes_on_inject),
		cmocka_unit_test(test_hlt_with_interrupt_already_queued),
		cmocka_unit_test(test_hypercall_32bit),
		cmocka_unit_test(test_hypercall_64bit_long_mode),
		cmocka_unit_test(test_unhandled_hypercall_raises_ud),
		cmocka_unit_test(test_undeliverable_fault_ends_run),
		cmocka_unit_test(test_clock_and_timers),
		cmocka_unit_test(test_msr_access_and_cpuid_after_run),
		cmocka_unit_test(test_irqchip_ops),
		cmocka_unit_test(test_irqchip_ap_waits_for_sipi),
		cmocka_unit_test(test_options_and_probe),
	};
	return cmocka_run_group_tests_name("kvmport_live", tests, NULL, NULL);
}
