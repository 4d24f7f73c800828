/* SPDX-License-Identifier: MIT */
/* Host side of the TMK protocol (see tmk_host.h). */
#define _GNU_SOURCE
#include "tmk_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../kvmport/kvm_fixture.h" /* kvmfx_create: the partition the kvm tests share */
#include "paravisor/port_kvm.h"

struct tmk_irq_req {
	struct tmk_host *h;
	struct pv_vcpu *vcpu;
	struct pv_timer *timer;
	uint8_t vector;
};

struct tmk_host {
	struct pv_partition *part;
	const struct tmk_host_config *cfg;
	const struct tmk_setup *setup;
	void *setup_ctx;
	struct tmk_result *res;
	FILE *console;
	uint64_t entry;
	uint32_t vcpus;

	pthread_mutex_t lock; /* result, console line, vCPU threads */
	char line[256];
	size_t line_len;
	pthread_t ap_thread[TMK_MAX_VCPUS];
	bool ap_started[TMK_MAX_VCPUS];
	struct tmk_irq_req irq[TMK_MAX_VCPUS];

	uint32_t line_levels; /* default router: current level of GSIs 0..31 */

	pthread_mutex_t wd_lock;
	pthread_cond_t wd_cond;
	bool wd_quit;
};

struct pv_partition *tmk_host_partition(struct tmk_host *h)
{
	return h->part;
}

static void record_failure(struct tmk_host *h, const char *msg)
{
	if (!h->res->first_failure[0])
		snprintf(h->res->first_failure, sizeof(h->res->first_failure), "%s", msg);
}

void tmk_host_fail(struct tmk_host *h, const char *fmt, ...)
{
	char buf[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&h->lock);
	h->res->host_failed = true;
	record_failure(h, buf);
	pthread_mutex_unlock(&h->lock);
	fprintf(stderr, "tmk host: %s\n", buf);
}

bool tmk_result_ok(const struct tmk_result *r)
{
	return r->done && !r->timed_out && r->verdict == 0 && r->failed == 0 && r->passed > 0 &&
	       !r->host_failed;
}

/* ---- console ---- */

static void console_flush(struct tmk_host *h)
{
	if (h->line_len) {
		fwrite(h->line, 1, h->line_len, h->console);
		fflush(h->console);
		h->line_len = 0;
	}
}

static pv_err_t console_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			   bool is_write, uint32_t *data)
{
	struct tmk_host *h = ctx;
	(void)vcpu;
	(void)offset;
	if (!is_write) {
		*data = 0xffffffffu;
		return PV_OK;
	}
	pthread_mutex_lock(&h->lock);
	for (uint8_t i = 0; i < size; i++) {
		char c = (char)(*data >> (8 * i));
		h->line[h->line_len++] = c;
		if (c == '\n' || h->line_len == sizeof(h->line))
			console_flush(h);
	}
	pthread_mutex_unlock(&h->lock);
	return PV_OK;
}

/* ---- vCPUs ---- */

static void *ap_main(void *arg)
{
	struct pv_vcpu *vcpu = arg;
	struct pv_exit last;
	memset(&last, 0, sizeof(last));
	pv_err_t err = pv_vcpu_run(vcpu, &last);
	if (err || (last.kind != PV_EXIT_STOPPED)) {
		fprintf(stderr, "tmk host: vCPU %u ended: %s, exit %s\n", pv_vcpu_index(vcpu),
			pv_strerror(err), pv_exit_kind_name(last.kind));
	}
	return NULL;
}

static pv_err_t start_vcpu(struct tmk_host *h, uint64_t index)
{
	if (index == 0 || index >= h->vcpus || index >= TMK_MAX_VCPUS) {
		tmk_host_fail(h, "guest asked to start invalid vCPU %llu",
			      (unsigned long long)index);
		return PV_EINVAL;
	}
	pthread_mutex_lock(&h->lock);
	if (h->ap_started[index]) {
		pthread_mutex_unlock(&h->lock);
		tmk_host_fail(h, "vCPU %llu started twice", (unsigned long long)index);
		return PV_EEXIST;
	}
	struct pv_vcpu *v = pv_partition_vcpu(h->part, (uint32_t)index);
	pv_err_t err =
		pv_kvm_setup_long_mode(v, pv_gpa(TMK_BOOT_TABLES), h->entry, 0, index, h->vcpus);
	if (!err && pthread_create(&h->ap_thread[index], NULL, ap_main, v) != 0)
		err = PV_ENOMEM;
	if (!err)
		h->ap_started[index] = true;
	pthread_mutex_unlock(&h->lock);
	if (err)
		tmk_host_fail(h, "starting vCPU %llu failed: %s", (unsigned long long)index,
			      pv_strerror(err));
	return err;
}

static void irq_fire(void *ctx)
{
	struct tmk_irq_req *r = ctx;
	struct pv_event ev = {.kind = PV_EVENT_INTERRUPT, .vector = r->vector};
	pv_err_t err = pv_vcpu_inject(r->vcpu, &ev);
	if (err)
		tmk_host_fail(r->h, "inject of vector %u failed: %s", r->vector, pv_strerror(err));
}

static pv_err_t request_irq(struct tmk_host *h, uint64_t vcpu, uint64_t vector, uint64_t delay_us)
{
	if (vcpu >= h->vcpus || vcpu >= TMK_MAX_VCPUS || vector < 32 || vector > 255 ||
	    delay_us > 10000000u) {
		tmk_host_fail(h, "bad interrupt request (vCPU %llu, vector %llu)",
			      (unsigned long long)vcpu, (unsigned long long)vector);
		return PV_EINVAL;
	}
	struct tmk_irq_req *r = &h->irq[vcpu];
	r->vector = (uint8_t)vector;
	if (!r->timer) {
		irq_fire(r); /* port without timers: inject now */
		return PV_OK;
	}
	return pv_timer_arm(r->timer, pv_clock_ns(h->part) + delay_us * 1000u);
}

/* Default interrupt router (ports without an irqchip): edges and MSIs become
 * injected vectors, see TMK_ROUTER_VECTOR_BASE. */
static pv_err_t default_router(void *ctx, bool is_msi, uint32_t gsi, bool level, uint64_t address,
			       uint32_t data)
{
	struct tmk_host *h = ctx;
	struct pv_event ev = {.kind = PV_EVENT_INTERRUPT};
	struct pv_vcpu *v;
	if (is_msi) {
		uint32_t dest = (uint32_t)(address >> 12) & 0xff;
		ev.vector = (uint8_t)data;
		v = pv_partition_vcpu(h->part, dest);
	} else {
		if (gsi >= 32 || TMK_ROUTER_VECTOR_BASE + gsi > 255)
			return PV_EINVAL;
		pthread_mutex_lock(&h->lock);
		bool rising = level && !(h->line_levels & (1u << gsi));
		if (level)
			h->line_levels |= 1u << gsi;
		else
			h->line_levels &= ~(1u << gsi);
		pthread_mutex_unlock(&h->lock);
		if (!rising)
			return PV_OK;
		ev.vector = (uint8_t)(TMK_ROUTER_VECTOR_BASE + gsi);
		v = pv_partition_vcpu(h->part, 0);
	}
	if (!v || ev.vector < 32)
		return PV_EINVAL;
	return pv_vcpu_inject(v, &ev);
}

/* ---- reports ---- */

static pv_err_t report_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			  bool is_write, uint32_t *data)
{
	struct tmk_host *h = ctx;
	if (!is_write || offset != 0 || size != 4) {
		if (!is_write)
			*data = 0xffffffffu;
		return PV_OK;
	}
	struct tmk_msg m;
	pv_err_t err = pv_mem_read(h->part, PV_ACCESS_PARAVISOR, pv_gpa(*data), &m, sizeof(m));
	if (err) {
		tmk_host_fail(h, "unreadable report at 0x%x: %s", *data, pv_strerror(err));
		return err;
	}
	m.text[TMK_MSG_TEXT - 1] = '\0';
	uint32_t me = pv_vcpu_index(vcpu);
	struct tmk_result *res = h->res;
	bool quiet = h->cfg->quiet;

	switch (m.type) {
	case TMK_MSG_CASE_BEGIN:
		if (!quiet)
			printf("[ RUN      ] %s\n", m.text);
		break;
	case TMK_MSG_CASE_END:
		pthread_mutex_lock(&h->lock);
		if (m.arg[0] == TMK_PASS)
			res->passed++;
		else if (m.arg[0] == TMK_SKIP)
			res->skipped++;
		else
			res->failed++;
		pthread_mutex_unlock(&h->lock);
		if (!quiet)
			printf("[ %8s ] %s\n",
			       m.arg[0] == TMK_PASS ? "OK" :
			       m.arg[0] == TMK_SKIP ? "SKIPPED" :
						      "FAILED",
			       m.text);
		break;
	case TMK_MSG_FAIL_DETAIL:
		printf("             vCPU %u: %s\n", me, m.text);
		pthread_mutex_lock(&h->lock);
		if (strncmp(m.text, "skipped:", 8) != 0)
			record_failure(h, m.text);
		pthread_mutex_unlock(&h->lock);
		break;
	case TMK_MSG_DONE:
		pthread_mutex_lock(&h->lock);
		res->done = true;
		res->verdict = m.arg[0];
		pthread_mutex_unlock(&h->lock);
		pv_vcpu_stop(vcpu);
		break;
	case TMK_MSG_START_VCPU:
		return start_vcpu(h, m.arg[0]);
	case TMK_MSG_VCPU_EXIT:
		pv_vcpu_stop(vcpu);
		break;
	case TMK_MSG_REQUEST_IRQ:
		return request_irq(h, m.arg[0], m.arg[1], m.arg[2]);
	default:
		if (m.type >= TMK_MSG_USER && h->setup && h->setup->message)
			return h->setup->message(h, h->setup_ctx, vcpu, &m);
		tmk_host_fail(h, "unknown report type %u", m.type);
		return PV_EINVAL;
	}
	fflush(stdout);
	return PV_OK;
}

/* ---- watchdog ---- */

static void *watchdog(void *arg)
{
	struct tmk_host *h = arg;
	uint32_t ms = h->cfg->timeout_ms ? h->cfg->timeout_ms : 30000;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->wd_lock);
	int r = 0;
	while (!h->wd_quit && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&h->wd_cond, &h->wd_lock, &ts);
	bool fire = !h->wd_quit;
	pthread_mutex_unlock(&h->wd_lock);
	if (fire) {
		pthread_mutex_lock(&h->lock);
		h->res->timed_out = true;
		record_failure(h, "timeout: the guest did not finish");
		pthread_mutex_unlock(&h->lock);
		for (uint32_t i = 0; i < h->vcpus; i++)
			pv_vcpu_stop(pv_partition_vcpu(h->part, i));
	}
	return NULL;
}

static pv_err_t load_image(struct tmk_host *h)
{
	FILE *f = fopen(h->cfg->image_path, "rb");
	if (!f) {
		tmk_host_fail(h, "cannot open image %s: %s", h->cfg->image_path, strerror(errno));
		return PV_EIO;
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (64u << 20)) {
				free(buf);
				fclose(f);
				tmk_host_fail(h, "image too large");
				return PV_ERANGE;
			}
			uint8_t *n = realloc(buf, cap);
			if (!n) {
				free(buf);
				fclose(f);
				return PV_ENOMEM;
			}
			buf = n;
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	pv_err_t err;
	if (len >= 4 && memcmp(buf, "\177ELF", 4) == 0) {
		err = pv_kvm_load_elf(h->part, buf, len, &h->entry);
	} else {
		h->entry = TMK_IMAGE_BASE;
		err = pv_kvm_load_flat(h->part, pv_gpa(TMK_IMAGE_BASE), buf, len);
	}
	free(buf);
	if (err)
		tmk_host_fail(h, "loading %s failed: %s", h->cfg->image_path, pv_strerror(err));
	return err;
}

pv_err_t tmk_host_run(struct pv_partition *part, const struct tmk_host_config *cfg,
		      struct tmk_result *res)
{
	if (!part || !cfg || !res || !cfg->image_path)
		return PV_EINVAL;
	memset(res, 0, sizeof(*res));
	struct tmk_host *h = calloc(1, sizeof(*h));
	if (!h)
		return PV_ENOMEM;
	h->part = part;
	h->cfg = cfg;
	h->setup = cfg->setup;
	h->res = res;
	h->console = cfg->console ? cfg->console : stdout;
	h->vcpus = pv_partition_vcpu_count(part);
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->wd_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wd_cond, &ca);
	pthread_condattr_destroy(&ca);

	bool con = false, rep = false, setup_done = false;
	pv_err_t err = pv_io_register(part, TMK_PORT_CONSOLE, 1, console_io, h);
	con = !err;
	if (!err)
		err = pv_io_register(part, TMK_PORT_REPORT, 4, report_io, h);
	rep = !err;
	for (uint32_t i = 0; !err && i < h->vcpus && i < TMK_MAX_VCPUS; i++) {
		h->irq[i].h = h;
		h->irq[i].vcpu = pv_partition_vcpu(part, i);
		pv_err_t terr = pv_timer_create(part, irq_fire, &h->irq[i], &h->irq[i].timer);
		if (terr)
			h->irq[i].timer = NULL;
	}
	bool router = false;
	if (!err && !(pv_partition_port(part)->caps & PV_PORT_CAP_IRQCHIP)) {
		pv_irq_set_router(part, default_router, h);
		router = true;
	}
	if (!err && h->setup && h->setup->setup) {
		err = h->setup->setup(h, part, &h->setup_ctx);
		if (err)
			tmk_host_fail(h, "setup hook failed: %s", pv_strerror(err));
		setup_done = !err;
	}
	if (!err)
		err = load_image(h);
	if (!err)
		err = pv_kvm_build_long_mode_tables(part, pv_gpa(TMK_BOOT_TABLES));
	struct pv_vcpu *bsp = pv_partition_vcpu(part, 0);
	if (!err)
		err = pv_kvm_setup_long_mode(bsp, pv_gpa(TMK_BOOT_TABLES), h->entry, 0, 0,
					     h->vcpus);
	if (err && !res->first_failure[0])
		tmk_host_fail(h, "preparing the guest failed: %s", pv_strerror(err));

	if (!err) {
		pthread_t wd;
		bool wd_ok = pthread_create(&wd, NULL, watchdog, h) == 0;
		uint64_t t0 = pv_clock_ns(part);
		struct pv_exit last;
		memset(&last, 0, sizeof(last));
		err = pv_vcpu_run(bsp, &last);
		res->run_ns = pv_clock_ns(part) - t0;
		res->end_kind = last.kind;
		if (err)
			tmk_host_fail(h, "vCPU 0 run failed: %s", pv_strerror(err));
		else if (last.kind == PV_EXIT_SHUTDOWN)
			tmk_host_fail(h, "guest shut down (triple fault?)");
		else if (last.kind == PV_EXIT_INTERNAL_ERROR)
			tmk_host_fail(h, "port internal error, code 0x%x",
				      (unsigned)last.u.error.code);
		else if (last.kind != PV_EXIT_STOPPED)
			tmk_host_fail(h, "vCPU 0 ended with a %s exit",
				      pv_exit_kind_name(last.kind));
		/* Application processors: stop and join. */
		for (uint32_t i = 1; i < h->vcpus && i < TMK_MAX_VCPUS; i++) {
			pthread_mutex_lock(&h->lock);
			bool started = h->ap_started[i];
			pthread_mutex_unlock(&h->lock);
			if (started) {
				pv_vcpu_stop(pv_partition_vcpu(part, i));
				pthread_join(h->ap_thread[i], NULL);
			}
		}
		if (wd_ok) {
			pthread_mutex_lock(&h->wd_lock);
			h->wd_quit = true;
			pthread_cond_broadcast(&h->wd_cond);
			pthread_mutex_unlock(&h->wd_lock);
			pthread_join(wd, NULL);
		}
		pthread_mutex_lock(&h->lock);
		console_flush(h);
		pthread_mutex_unlock(&h->lock);
		if (setup_done && h->setup->check && !h->setup->check(h, h->setup_ctx) &&
		    !res->host_failed)
			tmk_host_fail(h, "host-side check failed");
		err = PV_OK;
	}
	for (uint32_t i = 0; i < h->vcpus && i < TMK_MAX_VCPUS; i++)
		pv_timer_destroy(h->irq[i].timer);
	if (setup_done && h->setup->teardown)
		h->setup->teardown(h, h->setup_ctx);
	if (router)
		pv_irq_set_router(part, NULL, NULL);
	if (rep)
		pv_io_unregister(part, TMK_PORT_REPORT);
	if (con)
		pv_io_unregister(part, TMK_PORT_CONSOLE);
	pthread_cond_destroy(&h->wd_cond);
	pthread_mutex_destroy(&h->wd_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
	return err;
}

pv_err_t tmk_host_kvm_partition(bool irqchip, uint32_t vcpus, uint32_t mem_mib, struct pv_kvm **kvm,
				struct pv_partition **part)
{
	struct pv_kvm_options o;
	pv_kvm_options_init(&o);
	o.irqchip = irqchip;
	return kvmfx_create(&o, (uint64_t)(mem_mib ? mem_mib : TMK_DEFAULT_MEM_MIB) << 20,
			    vcpus ? vcpus : 1, kvm, part);
}
