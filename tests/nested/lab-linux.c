/* SPDX-License-Identifier: MIT */
/*
 * lab-linux: boot a Linux bzImage on the kvm port with libparavisor's
 * direct-boot loader, ACPI tables and PM registers, the 16550 UART (on
 * stdin/stdout) and the CMOS RTC. A stand-in for pvrun in the nested lab
 * until pvrun boots Linux: it proves the loader, the tables and the ACPI
 * power-off path against an unmodified kernel. No VMBus, no vTPM.
 *
 * usage: lab-linux --kernel BZIMAGE [--initrd FILE] [--cmdline STR]
 *                  [--mem MIB] [--smp N] [--tpm-state DIR] [--timeout S]
 * --tpm-state adds the vTPM (CRB at 0xFED40000) with its state in DIR, and
 * the TPM2 table and MSFT0101 device to the ACPI tables (builds with TPM
 * support only). --cpu-vendor-intel shows the guest "GenuineIntel" in CPUID
 * leaf 0 (Linux 6.1's tpm_crb disables the TPM hwrng on AMD CPUs; the lab
 * VM's CPU model is AMD for SVM).
 * Application processors are left to KVM's in-kernel local APIC: they wait
 * for the guest's INIT/SIPI, each on its own thread.
 * Exit status: 0 on the guest's ACPI power-off (S5), 3 on a guest reset,
 * 4 on a timeout, 1 on errors.
 */
#define _DEFAULT_SOURCE
#include <cpuid.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "paravisor/acpi.h"
#include "paravisor/boot_linux.h"
#include "paravisor/port_kvm.h"
#include "paravisor/pv.h"
#include "paravisor/rtc_cmos.h"
#include "paravisor/uart16550.h"
#if defined(PV_HAVE_TPM) && PV_HAVE_TPM
#include "paravisor/vtpm.h"
#define LAB_TPM 1
#else
#define LAB_TPM 0
#endif

struct lab {
	struct pv_partition *part;
	uint32_t vcpus;
	volatile unsigned aps_done;
	volatile int outcome; /* 0 running, 1 power-off, 2 reset, 3 timeout */
	unsigned timeout_s;
	double t0;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = n > 0 ? malloc((size_t)n) : NULL;
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = buf ? (size_t)n : 0;
	return buf;
}

static void stop_all(struct lab *l)
{
	for (uint32_t i = 0; i < l->vcpus; i++)
		pv_vcpu_stop(pv_partition_vcpu(l->part, i));
}

static struct lab *the_lab;

static void *ap_thread(void *arg)
{
	struct pv_vcpu *v = arg;
	struct pv_exit last;

	pv_vcpu_run(v, &last);
	__atomic_fetch_add(&the_lab->aps_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void on_power(void *ctx, enum pv_acpi_power_event ev, uint8_t typ)
{
	struct lab *l = ctx;

	(void)typ;
	if (l->outcome == 0)
		l->outcome = ev == PV_ACPI_RESET ? 2 : 1;
	stop_all(l);
}

static void *watchdog(void *arg)
{
	struct lab *l = arg;

	while (l->outcome == 0) {
		usleep(200000);
		if (now_s() - l->t0 > l->timeout_s && l->outcome == 0) {
			l->outcome = 3;
			stop_all(l);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *kernel = NULL, *initrd = NULL, *cmdline = "console=ttyS0", *tpm_dir = NULL;
	unsigned mem_mib = 1024, smp = 1;
	bool intel = false;
	struct lab l = {.timeout_s = 600};
	pv_err_t err;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--cpu-vendor-intel")) {
			intel = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "lab-linux: %s needs a value\n", a);
			return 1;
		}
		if (!strcmp(a, "--kernel"))
			kernel = v;
		else if (!strcmp(a, "--initrd"))
			initrd = v;
		else if (!strcmp(a, "--cmdline"))
			cmdline = v;
		else if (!strcmp(a, "--mem"))
			mem_mib = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--tpm-state"))
			tpm_dir = v;
		else if (!strcmp(a, "--smp"))
			smp = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--timeout"))
			l.timeout_s = (unsigned)strtoul(v, NULL, 0);
		else {
			fprintf(stderr, "lab-linux: unknown option %s\n", a);
			return 1;
		}
		i++;
	}
	if (!kernel || mem_mib < 64 || mem_mib > 3072 || smp < 1 || smp > 64) {
		fprintf(stderr, "usage: lab-linux --kernel BZIMAGE [--initrd FILE] [--cmdline STR] "
				"[--mem 64..3072] [--smp 1..64] [--timeout S]\n");
		return 1;
	}
	size_t klen = 0, ilen = 0;
	void *kimg = read_file(kernel, &klen);
	void *iimg = initrd ? read_file(initrd, &ilen) : NULL;
	if (!kimg || (initrd && !iimg)) {
		fprintf(stderr, "lab-linux: cannot read %s\n", !kimg ? kernel : initrd);
		return 1;
	}

	struct pv_kvm_options o;
	struct pv_kvm *kvm;
	struct pv_partition *part;
	pv_kvm_options_init(&o);
	o.irqchip = true;
	err = pv_kvm_create(&o, &kvm);
	if (err) {
		fprintf(stderr, "lab-linux: kvm: %s\n", pv_strerror(err));
		return 1;
	}
	struct pv_mem_range ram = {pv_gpa(0), (uint64_t)mem_mib << 20, PV_MEM_RAM};
	struct pv_partition_config pc = {
		.vcpu_count = smp,
		.vtl_count = 1,
		.ranges = &ram,
		.range_count = 1,
		.port = pv_kvm_port_ops(kvm),
		.port_ctx = kvm,
	};
	err = pv_partition_create(&pc, &part);
	if (err) {
		fprintf(stderr, "lab-linux: partition: %s\n", pv_strerror(err));
		return 1;
	}
	if (intel) {
		unsigned int eax = 0, ebx, ecx, edx;
		__get_cpuid(0, &eax, &ebx, &ecx, &edx);
		struct pv_cpuid_entry e = {.leaf = 0,
					   .any_subleaf = true,
					   .eax = eax,
					   .ebx = 0x756e6547u,  /* "Genu" */
					   .edx = 0x49656e69u,  /* "ineI" */
					   .ecx = 0x6c65746eu}; /* "ntel" */
		err = pv_cpuid_set(part, &e);
		if (err) {
			fprintf(stderr, "lab-linux: CPUID: %s\n", pv_strerror(err));
			return 1;
		}
	}
	l.part = part;
	the_lab = &l;
	l.vcpus = smp;

	struct pv_acpi_config ac = {.devices = PV_ACPI_DEV_COM1 | PV_ACPI_DEV_RTC};
	struct pv_acpi_layout al;
	struct pv_acpi_pm *pm;
	struct pv_uart_fdbuf fds;
	struct pv_uart *uart;
	struct pv_rtc *rtc;
	memset(&fds, 0, sizeof(fds));
	fds.in_fd = 0;
	fds.out_fd = 1;
	struct pv_uart_config uc = {.io_base = PV_UART_COM1_BASE,
				    .irq = PV_UART_COM1_IRQ,
				    .rx_poll_ns = 10000000,
				    .backend = pv_uart_backend_fd(&fds)};
	struct pv_rtc_config rc = {
		.io_base = PV_RTC_IO_BASE, .irq = PV_RTC_IRQ, .epoch_sec = (uint64_t)time(NULL)};
#if LAB_TPM
	static struct pv_vtpm_file_storage tpm_fs;
	struct pv_vtpm *vtpm = NULL;
	if (tpm_dir) {
		struct pv_vtpm_config tc;
		memset(&tc, 0, sizeof(tc));
		mkdir(tpm_dir, 0700);
		if ((err = pv_vtpm_file_storage_init(&tpm_fs, tpm_dir, &tc.storage)) ||
		    (err = pv_vtpm_create(part, &tc, &vtpm))) {
			fprintf(stderr, "lab-linux: vTPM: %s\n", pv_strerror(err));
			return 1;
		}
		ac.devices |= PV_ACPI_DEV_TPM;
	}
#else
	if (tpm_dir) {
		fprintf(stderr, "lab-linux: built without TPM support\n");
		return 1;
	}
#endif
	if ((err = pv_acpi_install(part, &ac, &al)) ||
	    (err = pv_acpi_pm_create(part, 0, on_power, &l, &pm)) ||
	    (err = pv_uart_create(part, &uc, &uart)) || (err = pv_rtc_create(part, &rc, &rtc))) {
		fprintf(stderr, "lab-linux: devices: %s\n", pv_strerror(err));
		return 1;
	}

	/* Legacy VGA/BIOS hole reserved, the table area typed ACPI. */
	const struct pv_linux_e820_extra extra[] = {
		{0xa0000, PV_ACPI_DEFAULT_BASE - 0xa0000, PV_E820_RESERVED},
		{PV_ACPI_DEFAULT_BASE, 0x100000 - PV_ACPI_DEFAULT_BASE, PV_E820_ACPI},
	};
	struct pv_linux_boot_config bc = {
		.kernel = kimg,
		.kernel_size = klen,
		.initrd = iimg,
		.initrd_size = ilen,
		.cmdline = cmdline,
		.map = &ram,
		.map_count = 1,
		.extra = extra,
		.extra_count = 2,
		.rsdp_gpa = al.rsdp,
	};
	static struct pv_linux_plan plan;
	struct pv_vcpu *bsp = pv_partition_vcpu(part, 0);
	if ((err = pv_linux_load(part, &bc, &plan)) || (err = pv_linux_start(bsp, &plan))) {
		fprintf(stderr, "lab-linux: loading %s: %s\n", kernel, pv_strerror(err));
		return 1;
	}
	fprintf(stderr,
		"lab-linux: boot protocol %u.%02u, kernel at 0x%llx, initrd 0x%llx (%zu bytes), "
		"%u MiB RAM, %u vCPUs, %u E820 entries\n",
		plan.info.protocol >> 8, plan.info.protocol & 0xff,
		(unsigned long long)plan.kernel_gpa, (unsigned long long)plan.initrd_gpa, ilen,
		mem_mib, smp, plan.e820_count);

	pthread_t wd, aps[64];
	struct pv_exit last;
	l.t0 = now_s();
	pthread_create(&wd, NULL, watchdog, &l);
	for (uint32_t i = 1; i < smp; i++)
		pthread_create(&aps[i], NULL, ap_thread, pv_partition_vcpu(part, i));
	err = pv_vcpu_run(bsp, &last);
	if (l.outcome == 0)
		l.outcome = 4;
	/* Keep asking until every AP left its run loop (a stop can race with
	 * an AP that was just entering it). */
	while (__atomic_load_n(&l.aps_done, __ATOMIC_SEQ_CST) < smp - 1) {
		stop_all(&l);
		usleep(100000);
	}
	for (uint32_t i = 1; i < smp; i++)
		pthread_join(aps[i], NULL);
	pthread_join(wd, NULL);
	double secs = now_s() - l.t0;
	struct pv_stats st;
	pv_partition_get_stats(part, &st);
	fprintf(stderr,
		"\nlab-linux: %s after %.1f s (run: %s, last exit kind %d; exits: io %llu, mmio %llu, "
		"hlt %llu)\n",
		l.outcome == 1 ? "guest powered off through ACPI (S5)" :
		l.outcome == 2 ? "guest reset through the ACPI reset register" :
		l.outcome == 3 ? "timed out" :
				 "the vCPU stopped",
		secs, pv_strerror(err), (int)last.kind, (unsigned long long)st.exits[PV_EXIT_IO],
		(unsigned long long)st.exits[PV_EXIT_MMIO],
		(unsigned long long)st.exits[PV_EXIT_HLT]);
#if LAB_TPM
	pv_vtpm_destroy(vtpm);
#endif
	pv_rtc_destroy(rtc);
	pv_uart_destroy(uart);
	pv_acpi_pm_destroy(pm);
	pv_partition_destroy(part);
	pv_kvm_destroy(kvm);
	free(kimg);
	free(iimg);
	return l.outcome == 1 ? 0 : l.outcome == 2 ? 3 : l.outcome == 3 ? 4 : 1;
}
