/* SPDX-License-Identifier: MIT */
/*
 * pvrun: run a guest image in a libparavisor partition.
 *
 *   pvrun --port kvm|mock --image FILE [--mem MiB] [--vcpus N] [--device NAME ...]
 *         [--irqchip] [--timeout SEC] [--list-devices]
 *   pvrun --kernel BZIMAGE [--initrd FILE] [--cmdline STR] [--device uart|rtc|vtpm|vmbus|pit ...]
 *         [--tpm-state DIR] [--shutdown-after SEC] ...   (Linux mode, linux.c)
 *
 * On the kvm port the image (a TMK ELF, or a flat binary loaded at 1 MiB)
 * runs in 64-bit long mode and speaks the TMK protocol: its console goes to
 * stdout and its case reports are printed. The mock port cannot execute x86
 * code: pvrun loads the image and replays a scripted exit sequence shaped
 * like the demo (console text, device accesses), so the library's dispatch
 * path still runs. When /dev/kvm is missing or unusable, --port kvm falls
 * back to the mock port and says so. At the end pvrun prints the exits by
 * kind and the run time.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices.h"
#include "linux.h"
#include "paravisor/port_kvm.h"
#include "paravisor/port_mock.h"
#include "paravisor/pv.h"
#include "profile.h"
#include "tmk_host.h"

#define MAX_DEVICES 16

struct opts {
	const char *port;
	const char *image;
	uint32_t mem_mib;
	uint32_t vcpus;
	bool irqchip;
	bool profile; /* --exit-profile */
	uint32_t timeout_s;
	const char *devices[MAX_DEVICES];
	unsigned ndevices;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvrun --port kvm|mock --image FILE [--mem MiB] [--vcpus N]\n"
		"             [--device NAME ...] [--irqchip] [--timeout SEC] [--exit-profile]\n"
		"             [--list-devices]\n"
		"   or: pvrun --kernel BZIMAGE [--initrd FILE] [--cmdline STR] [--device uart|rtc|vtpm|vmbus|pit ...]\n"
		"             [--tpm-state DIR] [--shutdown-after SEC] [--timeout SEC] [--exit-profile]\n"
		"             (Linux mode)\n"
		"--exit-profile: at the end, the busiest I/O ports and MSRs and the time of the first exit\n");
}

static void list_devices(void)
{
	printf("devices (--device NAME):\n");
	for (const struct pvrun_device *d = pvrun_devices; d->name; d++)
		printf("  %-10s %s\n", d->name, d->help);
}

static int parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->port = "kvm";
	o->mem_mib = TMK_DEFAULT_MEM_MIB;
	o->vcpus = 1;
	o->timeout_s = 60;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--list-devices")) {
			list_devices();
			exit(0);
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--irqchip")) {
			o->irqchip = true;
			continue;
		} else if (!strcmp(a, "--exit-profile")) {
			o->profile = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "pvrun: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--port"))
			o->port = v;
		else if (!strcmp(a, "--image"))
			o->image = v;
		else if (!strcmp(a, "--mem"))
			o->mem_mib = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--vcpus"))
			o->vcpus = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--timeout"))
			o->timeout_s = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--device")) {
			if (o->ndevices == MAX_DEVICES) {
				fprintf(stderr, "pvrun: too many --device options\n");
				return -1;
			}
			if (!pvrun_device_find(v)) {
				fprintf(stderr, "pvrun: unknown device '%s'\n", v);
				list_devices();
				return -1;
			}
			o->devices[o->ndevices++] = v;
		} else {
			fprintf(stderr, "pvrun: unknown option %s\n", a);
			return -1;
		}
	}
	if (!o->image) {
		fprintf(stderr, "pvrun: --image is required\n");
		return -1;
	}
	if (strcmp(o->port, "kvm") && strcmp(o->port, "mock")) {
		fprintf(stderr, "pvrun: --port must be kvm or mock\n");
		return -1;
	}
	if (o->mem_mib < 2 || o->mem_mib > 3072 || o->vcpus < 1 || o->vcpus > TMK_MAX_VCPUS ||
	    o->timeout_s == 0) {
		fprintf(stderr,
			"pvrun: need 2 <= --mem <= 3072 (RAM stays below the MMIO hole), 1 <= --vcpus <= %u, --timeout > 0\n",
			TMK_MAX_VCPUS);
		return -1;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pv_err_t make_partition(const struct opts *o, const struct pv_port_ops *ops, void *ctx,
			       struct pv_partition **part)
{
	struct pv_mem_range ram = {pv_gpa(0), (uint64_t)o->mem_mib << 20, PV_MEM_RAM};
	struct pv_partition_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.vcpu_count = o->vcpus;
	pc.vtl_count = 1;
	pc.isolation = PV_ISOLATION_NONE;
	pc.ranges = &ram;
	pc.range_count = 1;
	pc.port = ops;
	pc.port_ctx = ctx;
	pv_err_t err = pv_partition_create(&pc, part);
	if (!err && o->profile && (err = pvrun_profile_install(*part, now_s()))) {
		pv_partition_destroy(*part);
		*part = NULL;
	}
	return err;
}

static void *dev_state[MAX_DEVICES];

static pv_err_t attach_devices(const struct opts *o, struct pv_partition *part)
{
	for (unsigned i = 0; i < o->ndevices; i++) {
		pv_err_t err = pvrun_device_find(o->devices[i])->attach(part, &dev_state[i]);
		if (err) {
			fprintf(stderr, "pvrun: device %s: %s\n", o->devices[i], pv_strerror(err));
			while (i--)
				pvrun_device_find(o->devices[i])->detach(part, dev_state[i]);
			return err;
		}
	}
	return PV_OK;
}

static void detach_devices(const struct opts *o, struct pv_partition *part)
{
	for (unsigned i = o->ndevices; i--;)
		pvrun_device_find(o->devices[i])->detach(part, dev_state[i]);
}

static void summary(struct pv_partition *part, const char *port, double secs)
{
	struct pv_stats st;
	pv_partition_get_stats(part, &st);
	uint64_t total = 0;
	printf("---- pvrun summary (%s port) ----\n", port);
	printf("exits by kind:\n");
	for (int k = 0; k < PV_EXIT_KIND_COUNT; k++) {
		if (!st.exits[k])
			continue;
		total += st.exits[k];
		printf("  %-18s %10llu\n", pv_exit_kind_name((enum pv_exit_kind)k),
		       (unsigned long long)st.exits[k]);
	}
	printf("  %-18s %10llu\n", "total", (unsigned long long)total);
	printf("unhandled: IN %llu, OUT %llu, MMIO read %llu, MMIO write %llu, MSR %llu\n",
	       (unsigned long long)st.io_unhandled_reads,
	       (unsigned long long)st.io_unhandled_writes,
	       (unsigned long long)st.mmio_unhandled_reads,
	       (unsigned long long)st.mmio_unhandled_writes, (unsigned long long)st.msr_unhandled);
	printf("run time: %.3f s\n", secs);
}

/* ---- kvm ---- */

static int run_kvm(const struct opts *o)
{
	struct pv_kvm_options ko;
	pv_kvm_options_init(&ko);
	ko.irqchip = o->irqchip;
	struct pv_kvm *kvm = NULL;
	struct pv_partition *part = NULL;
	pv_err_t err = pv_kvm_create(&ko, &kvm);
	if (!err)
		err = make_partition(o, pv_kvm_port_ops(kvm), kvm, &part);
	if (err) {
		fprintf(stderr, "pvrun: cannot create the kvm partition: %s\n", pv_strerror(err));
		pv_kvm_destroy(kvm);
		return 1;
	}
	if (attach_devices(o, part)) {
		pv_partition_destroy(part);
		pv_kvm_destroy(kvm);
		return 1;
	}
	struct tmk_host_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.image_path = o->image;
	cfg.vcpus = o->vcpus;
	cfg.timeout_ms = o->timeout_s * 1000u;
	struct tmk_result res;
	double t0 = now_s();
	err = tmk_host_run(part, &cfg, &res);
	double secs = now_s() - t0;
	summary(part, "kvm", secs);
	if (o->profile)
		pvrun_profile_report(stdout);
	bool ok = !err && tmk_result_ok(&res);
	printf("guest verdict: %s (%u passed, %u failed, %u skipped)%s%s\n",
	       !res.done   ? "none" :
	       res.verdict ? "FAIL" :
			     "PASS",
	       res.passed, res.failed, res.skipped, res.first_failure[0] ? "; first failure: " : "",
	       res.first_failure);
	detach_devices(o, part);
	pv_partition_destroy(part);
	pv_kvm_destroy(kvm);
	return ok ? 0 : 1;
}

/* ---- mock ---- */

static pv_err_t mock_console(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			     bool is_write, uint32_t *data)
{
	(void)ctx;
	(void)vcpu;
	(void)offset;
	if (!is_write) {
		*data = 0xffffffffu;
		return PV_OK;
	}
	for (uint8_t i = 0; i < size; i++)
		putchar((char)(*data >> (8 * i)));
	return PV_OK;
}

static struct pv_exit io_exit(uint16_t port, uint8_t size, bool write, uint32_t data)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_IO;
	e.u.io.port = port;
	e.u.io.size = size;
	e.u.io.is_write = write;
	e.u.io.count = 1;
	e.u.io.data = data;
	return e;
}

static struct pv_exit mmio_exit(uint64_t gpa, uint8_t size, bool write, uint64_t data)
{
	struct pv_exit e;
	memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_MMIO;
	e.u.mmio.gpa = pv_gpa(gpa);
	e.u.mmio.size = size;
	e.u.mmio.is_write = write;
	e.u.mmio.data = data;
	return e;
}

static int run_mock(const struct opts *o)
{
	static char text[] = "Hello from libparavisor on the mock port! (scripted exits: the mock "
			     "port does not execute the image)\n";
	struct pv_mock *mock = NULL;
	struct pv_partition *part = NULL;
	pv_err_t err = pv_mock_create(NULL, &mock);
	if (!err)
		err = make_partition(o, pv_mock_port_ops(mock), mock, &part);
	if (err) {
		fprintf(stderr, "pvrun: cannot create the mock partition: %s\n", pv_strerror(err));
		pv_mock_destroy(mock);
		return 1;
	}
	int rc = 1;
	if (attach_devices(o, part))
		goto out;
	err = pv_io_register(part, TMK_PORT_CONSOLE, 1, mock_console, NULL);
	if (err)
		goto detach;
	/* Load the image so a bad path or format is still reported. */
	FILE *f = fopen(o->image, "rb");
	if (!f) {
		perror(o->image);
		goto detach;
	}
	static uint8_t img[1u << 20];
	size_t n = fread(img, 1, sizeof(img), f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	if (more) {
		fprintf(stderr, "pvrun: %s is larger than the mock demo's 1 MiB limit\n", o->image);
		goto detach;
	}
	uint64_t entry = TMK_IMAGE_BASE;
	err = n >= 4 && !memcmp(img, "\177ELF", 4) ?
		      pv_kvm_load_elf(part, img, n, &entry) :
		      pv_kvm_load_flat(part, pv_gpa(TMK_IMAGE_BASE), img, n);
	if (err) {
		fprintf(stderr, "pvrun: loading %s: %s\n", o->image, pv_strerror(err));
		goto detach;
	}
	printf("pvrun: image %s loaded (%zu bytes, entry 0x%llx); replaying the demo's exits\n",
	       o->image, n, (unsigned long long)entry);

	struct pv_exit script[12];
	size_t k = 0;
	struct pv_exit con = io_exit(TMK_PORT_CONSOLE, 1, true, 0);
	con.u.io.count = (uint32_t)(sizeof(text) - 1);
	con.u.io.rep_data = (uint8_t *)text;
	script[k++] = con;
	script[k++] = io_exit(TMK_TESTDEV_PORT, 4, true, 0xc0ffee);
	script[k++] = io_exit(TMK_TESTDEV_PORT, 4, false, 0);
	script[k++] = mmio_exit(TMK_TESTDEV_MMIO, 8, true, 0x0123456789abcdefull);
	script[k++] = mmio_exit(TMK_TESTDEV_MMIO, 8, false, 0);
	script[k++] = io_exit(0x0700, 1, false, 0); /* nobody there: reads all ones */
	err = pv_mock_set_script(mock, 0, script, k);
	if (err)
		goto detach;
	struct pv_exit last;
	double t0 = now_s();
	err = pv_vcpu_run(pv_partition_vcpu(part, 0), &last);
	double secs = now_s() - t0;
	fflush(stdout);
	summary(part, "mock", secs);
	if (o->profile)
		pvrun_profile_report(stdout);
	/* Show what the dispatcher answered to the scripted reads. */
	size_t nc = pv_mock_completion_count(mock, 0);
	for (size_t i = 0; i < nc; i++) {
		struct pv_exit c;
		if (pv_mock_completion_get(mock, 0, i, &c))
			continue;
		if (c.kind == PV_EXIT_IO && !c.u.io.is_write && c.u.io.count == 1)
			printf("  IN  port 0x%04x -> 0x%x\n", c.u.io.port, c.u.io.data);
		else if (c.kind == PV_EXIT_MMIO && !c.u.mmio.is_write)
			printf("  MMIO read 0x%llx -> 0x%llx\n",
			       (unsigned long long)pv_gpa_val(c.u.mmio.gpa),
			       (unsigned long long)c.u.mmio.data);
	}
	rc = (!err && last.kind == PV_EXIT_SHUTDOWN) ? 0 : 1;
	pv_io_unregister(part, TMK_PORT_CONSOLE);
detach:
	detach_devices(o, part);
out:
	pv_partition_destroy(part);
	pv_mock_destroy(mock);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (pvrun_linux_wanted(argc, argv))
		return pvrun_linux_main(argc, argv);
	if (parse(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(o.port, "kvm")) {
		char reason[256];
		if (pv_kvm_probe(NULL, reason, sizeof(reason)) == PV_OK)
			return run_kvm(&o);
		printf("pvrun: /dev/kvm is not usable (%s); falling back to the mock port\n",
		       reason);
	}
	return run_mock(&o);
}
