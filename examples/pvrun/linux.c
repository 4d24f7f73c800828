/* SPDX-License-Identifier: MIT */
/*
 * pvrun's Linux mode: boot an unmodified Linux bzImage on the kvm port with
 * libparavisor providing the platform.
 *
 *   pvrun --kernel BZIMAGE [--initrd FILE] [--cmdline STR] [--mem MiB] [--vcpus N]
 *         [--device uart|rtc|vtpm|vmbus|pit ...] [--tpm-state DIR] [--shutdown-after S]
 *         [--timeout S] [--tsc-khz N] [--cpu-vendor-intel] [--exit-profile]
 *
 * Always present: the Linux loader (boot protocol, E820, initrd), the ACPI
 * tables with the PM block (S5 power-off and reset reach pvrun), and KVM's
 * in-kernel irqchip (LAPICs, I/O APIC, PIC); application processors wait for
 * the guest's INIT/SIPI. Devices:
 *   uart   16550A COM1 (0x3F8, IRQ 4) on pvrun's stdin/stdout
 *   rtc    CMOS RTC (0x70, IRQ 8) starting at the host's time
 *   vtpm   TPM 2.0 CRB at 0xFED40000 (state in --tpm-state DIR), ACPI TPM2
 *          table and MSFT0101 device
 *   vmbus  the Hyper-V interface (hv1: CPUID leaves, synthetic MSRs,
 *          hypercall page, SynIC, timers), the ACPI VMBus device and a VMBus
 *          server offering the heartbeat, shutdown and timesync ICs
 * --shutdown-after S asks the guest to power off through the shutdown IC S
 * seconds after the start (as soon as the IC is ready if it is not yet);
 * so does the first SIGTERM or SIGINT (with vmbus; a second one, or one
 * without vmbus, stops the guest at once).
 * Exit status: 0 on the guest's ACPI power-off (S5), 3 on a reset, 4 on a
 * timeout or a stop by signal, 1 on errors, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "linux.h"
#include "paravisor/acpi.h"
#include "paravisor/boot_linux.h"
#include "paravisor/hv1.h"
#include "paravisor/port_kvm.h"
#include "paravisor/pv.h"
#include "paravisor/rtc_cmos.h"
#include "paravisor/uart16550.h"
#include "paravisor/vmbus.h"
#include "paravisor/vmbus_ic.h"
#include "profile.h"
#if defined(PV_HAVE_TPM) && PV_HAVE_TPM
#include "paravisor/vtpm.h"
#define LX_TPM 1
#else
#define LX_TPM 0
#endif

#define LX_MAX_VCPUS 64u
#define LX_IC_COUNT 3
/* 100 ns intervals between 1601-01-01 and 1970-01-01. */
#define LX_EPOCH_1601 116444736000000000ull

enum lx_dev {
	LX_UART = 1u << 0,
	LX_RTC = 1u << 1,
	LX_VTPM = 1u << 2,
	LX_VMBUS = 1u << 3,
	LX_PIT = 1u << 4
};

struct lx_opts {
	const char *kernel, *initrd, *cmdline, *tpm_dir;
	unsigned mem_mib, vcpus, timeout_s, shutdown_after_s, devices;
	unsigned long tsc_khz;
	bool intel;
	bool profile; /* --exit-profile */
};

struct lx {
	struct lx_opts o;
	struct pv_partition *part;
	struct pv_hv1 *hv1;
	struct pv_vmbus *vmbus;
	struct pv_vmbus_ic *ic[LX_IC_COUNT];
	volatile unsigned aps_done;
	volatile int outcome; /* 0 running, 1 power-off, 2 reset, 3 timeout */
	double t0;
};

static struct lx lx_the;
/* SIGTERM/SIGINT count: 1 asks for a guest shutdown, 2 stops the guest. */
static volatile sig_atomic_t lx_signals;

static void lx_on_signal(int sig)
{
	(void)sig;
	if (lx_signals < 2)
		lx_signals++;
}

static const char *const lx_ic_names[LX_IC_COUNT] = {"heartbeat", "shutdown", "timesync"};

static double lx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lx_usage(FILE *f)
{
	fprintf(f,
		"usage: pvrun --kernel BZIMAGE [--initrd FILE] [--cmdline STR] [--mem MiB]\n"
		"             [--vcpus N] [--device uart|rtc|vtpm|vmbus|pit ...] [--tpm-state DIR]\n"
		"             [--shutdown-after SEC] [--timeout SEC] [--tsc-khz N]\n"
		"             [--cpu-vendor-intel] [--exit-profile]\n");
}

bool pvrun_linux_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--kernel"))
			return true;
	return false;
}

static int lx_parse_uint(const char *opt, const char *v, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 0);

	if (!*v || *end || n > max) {
		fprintf(stderr, "pvrun: %s: bad value '%s' (0..%lu)\n", opt, v, max);
		return -1;
	}
	*out = n;
	return 0;
}

static int lx_parse(int argc, char **argv, struct lx_opts *o)
{
	unsigned long n;

	memset(o, 0, sizeof(*o));
	o->cmdline = "console=ttyS0";
	o->mem_mib = 512;
	o->vcpus = 1;
	o->timeout_s = 600;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--cpu-vendor-intel")) {
			o->intel = true;
			continue;
		}
		if (!strcmp(a, "--exit-profile")) {
			o->profile = true;
			continue;
		}
		if (!strcmp(a, "--irqchip"))
			continue; /* always on in the Linux mode */
		if (!v) {
			fprintf(stderr, "pvrun: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--kernel")) {
			o->kernel = v;
		} else if (!strcmp(a, "--initrd")) {
			o->initrd = v;
		} else if (!strcmp(a, "--cmdline")) {
			o->cmdline = v;
		} else if (!strcmp(a, "--tpm-state")) {
			o->tpm_dir = v;
			o->devices |= LX_VTPM;
		} else if (!strcmp(a, "--port")) {
			if (strcmp(v, "kvm")) {
				fprintf(stderr, "pvrun: --kernel needs the kvm port\n");
				return -1;
			}
		} else if (!strcmp(a, "--device")) {
			if (!strcmp(v, "uart") || !strcmp(v, "com1"))
				o->devices |= LX_UART;
			else if (!strcmp(v, "rtc"))
				o->devices |= LX_RTC;
			else if (!strcmp(v, "vtpm"))
				o->devices |= LX_VTPM;
			else if (!strcmp(v, "vmbus"))
				o->devices |= LX_VMBUS;
			else if (!strcmp(v, "pit"))
				o->devices |= LX_PIT;
			else {
				fprintf(stderr,
					"pvrun: unknown Linux-mode device '%s' "
					"(uart, rtc, vtpm, vmbus, pit)\n",
					v);
				return -1;
			}
		} else {
			unsigned long max = !strcmp(a, "--mem")            ? 3072 :
					    !strcmp(a, "--vcpus")          ? LX_MAX_VCPUS :
					    !strcmp(a, "--tsc-khz")        ? 100000000ul :
					    !strcmp(a, "--timeout")        ? 86400 :
					    !strcmp(a, "--shutdown-after") ? 86400 :
									     0;
			if (!max) {
				fprintf(stderr, "pvrun: unknown option %s\n", a);
				return -1;
			}
			if (lx_parse_uint(a, v, max, &n))
				return -1;
			if (!strcmp(a, "--mem"))
				o->mem_mib = (unsigned)n;
			else if (!strcmp(a, "--vcpus"))
				o->vcpus = (unsigned)n;
			else if (!strcmp(a, "--tsc-khz"))
				o->tsc_khz = n;
			else if (!strcmp(a, "--timeout"))
				o->timeout_s = (unsigned)n;
			else
				o->shutdown_after_s = (unsigned)n;
		}
	}
	if (!o->kernel || o->mem_mib < 64 || o->vcpus < 1 || o->timeout_s == 0) {
		fprintf(stderr,
			"pvrun: need --kernel, 64 <= --mem <= 3072, 1 <= --vcpus <= %u, "
			"--timeout > 0\n",
			LX_MAX_VCPUS);
		return -1;
	}
	if ((o->devices & LX_VTPM) && !o->tpm_dir) {
		fprintf(stderr, "pvrun: --device vtpm needs --tpm-state DIR\n");
		return -1;
	}
	if (o->shutdown_after_s && !(o->devices & LX_VMBUS)) {
		fprintf(stderr, "pvrun: --shutdown-after needs --device vmbus (the shutdown IC)\n");
		return -1;
	}
	return 0;
}

static void *lx_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf)
			*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* The TSC frequency the guest is told (hv1's frequency MSRs and TSC page):
 * --tsc-khz, else tsc_early_khz= / tsc_khz= on the guest command line,
 * else the host's "cpu MHz" in /proc/cpuinfo (KVM without TSC scaling gives
 * the guest the host's TSC rate). 0 if unknown. */
static unsigned long lx_tsc_khz(const struct lx_opts *o)
{
	static const char *const keys[] = {"tsc_early_khz=", "tsc_khz="};
	unsigned long khz = o->tsc_khz;

	for (unsigned k = 0; !khz && k < 2; k++) {
		const char *p = o->cmdline;
		size_t kl = strlen(keys[k]);

		while (p && (p = strstr(p, keys[k]))) {
			if (p == o->cmdline || p[-1] == ' ') {
				khz = strtoul(p + kl, NULL, 10);
				break;
			}
			p += kl;
		}
	}
	if (!khz) {
		FILE *f = fopen("/proc/cpuinfo", "r");
		char line[256];
		double mhz;

		while (f && fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "cpu MHz", 7) &&
			    sscanf(strchr(line, ':') ? strchr(line, ':') + 1 : "", "%lf", &mhz) ==
				    1) {
				khz = (unsigned long)(mhz * 1000.0);
				break;
			}
		}
		if (f)
			fclose(f);
	}
	return khz;
}

static void lx_stop_all(struct lx *l)
{
	for (uint32_t i = 0; i < l->o.vcpus; i++)
		pv_vcpu_stop(pv_partition_vcpu(l->part, i));
}

static void *lx_ap_thread(void *arg)
{
	struct pv_exit last;

	pv_vcpu_run(arg, &last);
	__atomic_fetch_add(&lx_the.aps_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void lx_on_power(void *ctx, enum pv_acpi_power_event ev, uint8_t typ)
{
	struct lx *l = ctx;

	(void)typ;
	if (l->outcome == 0)
		l->outcome = ev == PV_ACPI_RESET ? 2 : 1;
	lx_stop_all(l);
}

static uint64_t lx_utc_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return LX_EPOCH_1601 + (uint64_t)ts.tv_sec * 10000000ull + (uint64_t)ts.tv_nsec / 100u;
}

static uint64_t lx_ref_time(void *ctx)
{
	return pv_hv1_reference_time(ctx);
}

static void lx_ic_event(void *ctx, struct pv_vmbus_ic *ic, enum pv_vmbus_ic_event ev)
{
	const char *name = ctx;
	uint32_t fw = 0, msg = 0, status = 0;

	switch (ev) {
	case PV_VMBUS_IC_EV_READY:
		pv_vmbus_ic_versions(ic, &fw, &msg);
		fprintf(stderr, "pvrun: %s IC ready (framework %u.%u, message %u.%u) at %.1f s\n",
			name, fw >> 16, fw & 0xffff, msg >> 16, msg & 0xffff, lx_now() - lx_the.t0);
		break;
	case PV_VMBUS_IC_EV_FAILED:
		fprintf(stderr, "pvrun: %s IC: version negotiation failed\n", name);
		break;
	case PV_VMBUS_IC_EV_SHUTDOWN_DONE:
		pv_vmbus_ic_shutdown_result(ic, &status);
		fprintf(stderr, "pvrun: the guest answered the shutdown request: status 0x%08x\n",
			status);
		break;
	case PV_VMBUS_IC_EV_CLOSED:
		fprintf(stderr, "pvrun: %s IC closed by the guest\n", name);
		break;
	default:
		break;
	}
}

/* Watchdog: the timeout, and the shutdown request of --shutdown-after. */
static void *lx_watchdog(void *arg)
{
	struct lx *l = arg;
	bool asked = false, told_wait = false;
	sigset_t set;

	/* Only this thread takes SIGTERM/SIGINT (never a vCPU in KVM_RUN). */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (l->outcome == 0) {
		usleep(200000);
		double t = lx_now() - l->t0;

		if (lx_signals >= 2 || (lx_signals && !l->vmbus)) {
			fprintf(stderr, "\npvrun: %.1f s: stopping the guest (signal)\n", t);
			l->outcome = 3;
			lx_stop_all(l);
			break;
		}
		if (!asked &&
		    ((l->o.shutdown_after_s && t >= l->o.shutdown_after_s) || lx_signals)) {
			struct pv_vmbus_ic *ic = l->ic[PV_VMBUS_IC_SHUTDOWN];
			pv_err_t err = PV_ESTATE;

			if (pv_vmbus_ic_get_state(ic) == PV_VMBUS_IC_READY) {
				if (!told_wait)
					fprintf(stderr,
						"\npvrun: %.1f s: asking the guest to shut down "
						"through the shutdown IC (%s)\n",
						t, lx_signals ? "signal" : "--shutdown-after");
				err = pv_vmbus_ic_shutdown_request(
					ic, 0, 0x80000000u, "pvrun: host-requested shutdown");
			}
			if (err == PV_OK) {
				asked = true;
				fprintf(stderr, "pvrun: shutdown request sent\n");
			} else if (!told_wait) {
				told_wait = true;
				fprintf(stderr,
					"\npvrun: %.1f s: shutdown request not possible yet (%s); "
					"retrying until the IC takes it\n",
					t, pv_strerror(err));
			}
		}
		if (t > l->o.timeout_s && l->outcome == 0) {
			l->outcome = 3;
			lx_stop_all(l);
		}
	}
	return NULL;
}

/* The boot vCPU shut down on its own (a triple fault): print where it was,
 * the one clue a guest that dies before its console works leaves. */
static void lx_dump_state(struct pv_vcpu *v)
{
	struct pv_regs r;
	struct pv_sregs s;

	if (pv_vcpu_get_regs(v, &r) || pv_vcpu_get_sregs(v, &s)) {
		fprintf(stderr,
			"pvrun: the guest shut down (triple fault); its registers are unreadable\n");
		return;
	}
	fprintf(stderr,
		"pvrun: the guest shut down (triple fault): rip %#llx rsp %#llx rflags %#llx "
		"rax %#llx rcx %#llx rdx %#llx\n"
		"pvrun:   cs %#x (base %#llx) cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx "
		"idt %#llx/%#x gdt %#llx/%#x\n",
		(unsigned long long)r.rip, (unsigned long long)r.gpr[PV_RSP],
		(unsigned long long)r.rflags, (unsigned long long)r.gpr[PV_RAX],
		(unsigned long long)r.gpr[PV_RCX], (unsigned long long)r.gpr[PV_RDX], s.cs.selector,
		(unsigned long long)s.cs.base, (unsigned long long)s.cr0, (unsigned long long)s.cr2,
		(unsigned long long)s.cr3, (unsigned long long)s.cr4, (unsigned long long)s.efer,
		(unsigned long long)s.idt.base, s.idt.limit, (unsigned long long)s.gdt.base,
		s.gdt.limit);
}

/* Put KVM's supported CPUID leaf 1 into the core table (so that hv1 can set
 * ECX[31]). The core writes each vCPU's own initial APIC ID into EBX[31:24]
 * when it pushes the table to the vCPU (the lab's 2-vCPU guest reports
 * initial APIC IDs 0 and 1). */
static pv_err_t lx_own_leaf1(struct pv_partition *part)
{
	enum {
		N = 256
	};
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + N * sizeof(struct kvm_cpuid_entry2));
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	pv_err_t err = PV_ENOENT;

	if (c && fd >= 0) {
		c->nent = N;
		if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			for (uint32_t i = 0; i < c->nent; i++) {
				const struct kvm_cpuid_entry2 *k = &c->entries[i];
				struct pv_cpuid_entry e;

				if (k->function != 1)
					continue;
				memset(&e, 0, sizeof(e));
				e.leaf = 1;
				e.any_subleaf = true;
				e.eax = k->eax;
				e.ebx = k->ebx & 0x00ffffffu;
				e.ecx = k->ecx;
				e.edx = k->edx;
				err = pv_cpuid_set(part, &e);
				break;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	free(c);
	if (err)
		fprintf(stderr, "pvrun: cannot read KVM's CPUID leaf 1: %s\n", pv_strerror(err));
	return err;
}

static pv_err_t lx_vmbus_up(struct lx *l)
{
	struct pv_hv1_config hc;
	unsigned long khz = lx_tsc_khz(&l->o);
	pv_err_t err;

	pv_hv1_config_default(l->part, &hc);
	if (khz > 10000) {
		hc.tsc_frequency_hz = (uint64_t)khz * 1000u;
		/* Linux then takes both frequencies from the MSRs. */
		hc.privileges_low |= PV_HV1_PRIV_FREQUENCY_MSRS;
		hc.features_edx |= PV_HV1_FEAT_FREQUENCY_MSRS;
		/* KVM's in-kernel LAPIC timer counts at 1 GHz (1 ns bus cycle). */
		hc.apic_frequency_hz = 1000000000ull;
	}
	err = pv_hv1_create(l->part, &hc, &l->hv1);
	if (err) {
		fprintf(stderr, "pvrun: hv1: %s\n", pv_strerror(err));
		return err;
	}
	/* On the kvm port leaf 1 comes from KVM's supported table, which lacks
	 * the hypervisor bit: own leaf 1 in the core table, then set the bit. */
	err = lx_own_leaf1(l->part);
	if (!err)
		err = pv_hv1_cpuid_set_hv_bit(l->part);
	if (err) {
		fprintf(stderr, "pvrun: CPUID.1:ECX[31]: %s\n", pv_strerror(err));
		return err;
	}
	struct pv_vmbus_config vc;
	memset(&vc, 0, sizeof(vc));
	vc.part = l->part;
	vc.hv1 = l->hv1;
	vc.accessor = PV_ACCESS_VTL0;
	err = pv_vmbus_create(&vc, &l->vmbus);
	if (err) {
		fprintf(stderr, "pvrun: VMBus server: %s\n", pv_strerror(err));
		return err;
	}
	for (int k = 0; k < LX_IC_COUNT; k++) {
		struct pv_vmbus_ic_config ic;

		memset(&ic, 0, sizeof(ic));
		ic.kind = (enum pv_vmbus_ic_kind)k;
		ic.utc_now = lx_utc_now;
		ic.reference_time = lx_ref_time;
		ic.time_ctx = l->hv1;
		if (k == PV_VMBUS_IC_HEARTBEAT || k == PV_VMBUS_IC_TIMESYNC)
			ic.period_ns = 5000000000ull;
		ic.event = lx_ic_event;
		ic.event_ctx = (void *)lx_ic_names[k];
		err = pv_vmbus_ic_create(l->vmbus, &ic, &l->ic[k]);
		if (err) {
			fprintf(stderr, "pvrun: %s IC: %s\n", lx_ic_names[k], pv_strerror(err));
			return err;
		}
	}
	fprintf(stderr,
		"pvrun: hv1 + VMBus: TSC %lu kHz%s; offering heartbeat, shutdown, timesync\n", khz,
		khz > 10000 ? "" : " (unknown: no TSC page)");
	return PV_OK;
}

static void lx_vmbus_down(struct lx *l)
{
	for (int k = LX_IC_COUNT; k--;)
		pv_vmbus_ic_destroy(l->ic[k]);
	pv_vmbus_destroy(l->vmbus);
	pv_hv1_destroy(l->hv1);
}

static pv_err_t lx_intel_vendor(struct pv_partition *part)
{
	unsigned int eax = 0, ebx, ecx, edx;
	struct pv_cpuid_entry e;

	__get_cpuid(0, &eax, &ebx, &ecx, &edx);
	memset(&e, 0, sizeof(e));
	e.leaf = 0;
	e.any_subleaf = true;
	e.eax = eax;
	e.ebx = 0x756e6547u; /* "Genu" */
	e.edx = 0x49656e69u; /* "ineI" */
	e.ecx = 0x6c65746eu; /* "ntel" */
	return pv_cpuid_set(part, &e);
}

int pvrun_linux_main(int argc, char **argv)
{
	struct lx *l = &lx_the;
	pv_err_t err;
	int rc = 1;

	if (lx_parse(argc, argv, &l->o)) {
		lx_usage(stderr);
		return 2;
	}
	/* Every thread created from here on (port timers, vCPUs) keeps
	 * SIGTERM/SIGINT blocked; the watchdog unblocks them for itself. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
#if !LX_TPM
	if (l->o.devices & LX_VTPM) {
		fprintf(stderr, "pvrun: built without TPM support (libtpms)\n");
		return 1;
	}
#endif
	size_t klen = 0, ilen = 0;
	void *kimg = lx_read_file(l->o.kernel, &klen);
	void *iimg = l->o.initrd ? lx_read_file(l->o.initrd, &ilen) : NULL;
	if (!kimg || (l->o.initrd && !iimg)) {
		fprintf(stderr, "pvrun: cannot read %s\n", !kimg ? l->o.kernel : l->o.initrd);
		free(kimg);
		free(iimg);
		return 1;
	}
	char reason[256];
	if (pv_kvm_probe(NULL, reason, sizeof(reason)) != PV_OK) {
		fprintf(stderr, "pvrun: /dev/kvm is not usable (%s); the Linux mode needs it\n",
			reason);
		free(kimg);
		free(iimg);
		return 1;
	}

	struct pv_kvm_options ko;
	struct pv_kvm *kvm = NULL;
	pv_kvm_options_init(&ko);
	ko.irqchip = true;
	ko.pit = (l->o.devices & LX_PIT) != 0;
	err = pv_kvm_create(&ko, &kvm);
	struct pv_mem_range ram = {pv_gpa(0), (uint64_t)l->o.mem_mib << 20, PV_MEM_RAM};
	struct pv_partition_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.vcpu_count = l->o.vcpus;
	pc.vtl_count = 1;
	pc.ranges = &ram;
	pc.range_count = 1;
	pc.port = pv_kvm_port_ops(kvm);
	pc.port_ctx = kvm;
	if (!err)
		err = pv_partition_create(&pc, &l->part);
	if (!err && l->o.intel)
		err = lx_intel_vendor(l->part);
	if (err) {
		fprintf(stderr, "pvrun: kvm partition: %s\n", pv_strerror(err));
		goto out_kvm;
	}

	struct pv_acpi_config ac;
	struct pv_acpi_layout al;
	struct pv_acpi_pm *pm = NULL;
	struct pv_uart_fdbuf fds;
	struct pv_uart *uart = NULL;
	struct pv_rtc *rtc = NULL;
	memset(&ac, 0, sizeof(ac));
	ac.vcpu_count = l->o.vcpus;
	memset(&fds, 0, sizeof(fds));
	fds.in_fd = 0;
	fds.out_fd = 1;
#if LX_TPM
	static struct pv_vtpm_file_storage tpm_fs;
	struct pv_vtpm *vtpm = NULL;
	if (l->o.devices & LX_VTPM) {
		struct pv_vtpm_config tc;
		memset(&tc, 0, sizeof(tc));
		mkdir(l->o.tpm_dir, 0700);
		if ((err = pv_vtpm_file_storage_init(&tpm_fs, l->o.tpm_dir, &tc.storage)) ||
		    (err = pv_vtpm_create(l->part, &tc, &vtpm))) {
			fprintf(stderr, "pvrun: vTPM: %s\n", pv_strerror(err));
			goto out_devs;
		}
		ac.devices |= PV_ACPI_DEV_TPM;
	}
#endif
	if (l->o.devices & LX_UART) {
		struct pv_uart_config uc;
		memset(&uc, 0, sizeof(uc));
		uc.io_base = PV_UART_COM1_BASE;
		uc.irq = PV_UART_COM1_IRQ;
		uc.rx_poll_ns = 10000000;
		uc.backend = pv_uart_backend_fd(&fds);
		if ((err = pv_uart_create(l->part, &uc, &uart))) {
			fprintf(stderr, "pvrun: UART: %s\n", pv_strerror(err));
			goto out_devs;
		}
		ac.devices |= PV_ACPI_DEV_COM1;
	}
	if (l->o.devices & LX_RTC) {
		struct pv_rtc_config rcfg;
		memset(&rcfg, 0, sizeof(rcfg));
		rcfg.io_base = PV_RTC_IO_BASE;
		rcfg.irq = PV_RTC_IRQ;
		rcfg.epoch_sec = (uint64_t)time(NULL);
		if ((err = pv_rtc_create(l->part, &rcfg, &rtc))) {
			fprintf(stderr, "pvrun: RTC: %s\n", pv_strerror(err));
			goto out_devs;
		}
		ac.devices |= PV_ACPI_DEV_RTC;
	}
	if (l->o.devices & LX_VMBUS) {
		if ((err = lx_vmbus_up(l)))
			goto out_devs;
		ac.devices |= PV_ACPI_DEV_VMBUS;
	}
	if ((err = pv_acpi_install(l->part, &ac, &al)) ||
	    (err = pv_acpi_pm_create(l->part, 0, lx_on_power, l, &pm))) {
		fprintf(stderr, "pvrun: ACPI: %s\n", pv_strerror(err));
		goto out_devs;
	}

	/* Legacy VGA/BIOS hole reserved, the table area typed ACPI. */
	const struct pv_linux_e820_extra extra[] = {
		{0xa0000, PV_ACPI_DEFAULT_BASE - 0xa0000, PV_E820_RESERVED},
		{PV_ACPI_DEFAULT_BASE, 0x100000 - PV_ACPI_DEFAULT_BASE, PV_E820_ACPI},
	};
	struct pv_linux_boot_config bc;
	memset(&bc, 0, sizeof(bc));
	bc.kernel = kimg;
	bc.kernel_size = klen;
	bc.initrd = iimg;
	bc.initrd_size = ilen;
	bc.cmdline = l->o.cmdline;
	bc.map = &ram;
	bc.map_count = 1;
	bc.extra = extra;
	bc.extra_count = 2;
	bc.rsdp_gpa = al.rsdp;
	static struct pv_linux_plan plan;
	struct pv_vcpu *bsp = pv_partition_vcpu(l->part, 0);
	if ((err = pv_linux_load(l->part, &bc, &plan)) || (err = pv_linux_start(bsp, &plan))) {
		fprintf(stderr, "pvrun: loading %s: %s\n", l->o.kernel, pv_strerror(err));
		goto out_devs;
	}
	fprintf(stderr,
		"pvrun: Linux boot protocol %u.%02u, kernel at 0x%llx, initrd at 0x%llx (%zu bytes), "
		"%u MiB RAM, %u vCPUs, devices:%s%s%s%s\n",
		plan.info.protocol >> 8, plan.info.protocol & 0xff,
		(unsigned long long)plan.kernel_gpa, (unsigned long long)plan.initrd_gpa, ilen,
		l->o.mem_mib, l->o.vcpus, uart ? " uart" : "", rtc ? " rtc" : "",
		(l->o.devices & LX_VTPM) ? " vtpm" : "", l->vmbus ? " vmbus" : "");

	pthread_t wd, aps[LX_MAX_VCPUS];
	struct pv_exit last;
	memset(&last, 0, sizeof(last));
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = lx_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	l->t0 = lx_now();
	if (l->o.profile && (err = pvrun_profile_install(l->part, l->t0))) {
		fprintf(stderr, "pvrun: --exit-profile: %s\n", pv_strerror(err));
		goto out_devs;
	}
	pthread_create(&wd, NULL, lx_watchdog, l);
	for (uint32_t i = 1; i < l->o.vcpus; i++)
		pthread_create(&aps[i], NULL, lx_ap_thread, pv_partition_vcpu(l->part, i));
	err = pv_vcpu_run(bsp, &last);
	if (l->outcome == 0)
		l->outcome = 4;
	if (l->outcome == 4 && last.kind == PV_EXIT_SHUTDOWN)
		lx_dump_state(bsp);
	/* Keep asking until every AP left its run loop (a stop can race with
	 * an AP that was just entering it). */
	while (__atomic_load_n(&l->aps_done, __ATOMIC_SEQ_CST) < l->o.vcpus - 1) {
		lx_stop_all(l);
		usleep(100000);
	}
	for (uint32_t i = 1; i < l->o.vcpus; i++)
		pthread_join(aps[i], NULL);
	pthread_join(wd, NULL);
	fflush(stdout);
	double secs = lx_now() - l->t0;
	struct pv_stats st;
	pv_partition_get_stats(l->part, &st);
	fprintf(stderr,
		"\npvrun: %s after %.1f s (run: %s, last exit %s; exits: io %llu, mmio %llu, "
		"msr %llu, hypercall %llu, hlt %llu)\n",
		l->outcome == 1 ? "the guest powered off through ACPI (S5); clean exit" :
		l->outcome == 2 ? "the guest reset through ACPI" :
		l->outcome == 3 ? (lx_signals ? "stopped by a signal" : "timed out") :
				  "the boot vCPU stopped",
		secs, pv_strerror(err), pv_exit_kind_name(last.kind),
		(unsigned long long)st.exits[PV_EXIT_IO],
		(unsigned long long)st.exits[PV_EXIT_MMIO],
		(unsigned long long)(st.exits[PV_EXIT_MSR_READ] + st.exits[PV_EXIT_MSR_WRITE]),
		(unsigned long long)st.exits[PV_EXIT_HYPERCALL],
		(unsigned long long)st.exits[PV_EXIT_HLT]);
	if (l->o.profile)
		pvrun_profile_report(stderr);
	rc = l->outcome == 1 ? 0 : l->outcome == 2 ? 3 : l->outcome == 3 ? 4 : 1;
out_devs:
	if (l->vmbus || l->hv1)
		lx_vmbus_down(l);
#if LX_TPM
	pv_vtpm_destroy(vtpm);
#endif
	pv_rtc_destroy(rtc);
	pv_uart_destroy(uart);
	pv_acpi_pm_destroy(pm);
	pv_partition_destroy(l->part);
out_kvm:
	pv_kvm_destroy(kvm);
	free(kimg);
	free(iimg);
	return rc;
}
