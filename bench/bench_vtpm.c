/* SPDX-License-Identifier: MIT */
/*
 * vTPM command latency: TPM2_GetRandom(32) and TPM2_PCR_Extend(16, sha256)
 * sent (a) straight to libtpms's TPMLIB_Process — the limit, same TPM, same
 * run — (b) through the vTPM's CRB registers (pv_vtpm_crb_transact: MMIO
 * exits through the dispatcher on the mock port, the path a guest driver
 * uses) and (c) to swtpm over its TCP socket when the swtpm binary exists.
 * Prints microseconds per command and the ratios against (a). Never asserts
 * timings.
 *
 * usage: bench_vtpm [iterations] [rounds]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_memory.h>

#include "devices/vtpm_memstore.h"
#include "paravisor/port_mock.h"
#include "paravisor/pv.h"
#include "paravisor/vtpm.h"

extern char **environ;

static struct vtpm_memstore g_store;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static const uint8_t cmd_getrandom[12] = {0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7B, 0, 32};

/* TPM2_PCR_Extend(PCR 16, sha256 digest) with an empty password session. */
static uint8_t cmd_extend[10 + 4 + 4 + 9 + 4 + 2 + 32];
static void build_extend(void)
{
	uint8_t *p = cmd_extend;
	static const uint8_t head[] = {0x80, 0x02, 0, 0, 0,  sizeof(cmd_extend), 0, 0, 0x01,
				       0x82, 0,    0, 0, 16, /* PCR 16 */
				       0,    0,    0, 9,     /* auth area size */
				       0x40, 0,    0, 9,     /* TPM_RS_PW */
				       0,    0,    0, 0, 0,  /* nonce, attributes, hmac */
				       0,    0,    0, 1,     /* one digest */
				       0,    0x0B};          /* sha256 */
	memcpy(p, head, sizeof(head));
	for (size_t i = sizeof(head); i < sizeof(cmd_extend); i++)
		p[i] = (uint8_t)i;
}

static uint32_t rc_of(const uint8_t *rsp)
{
	return (uint32_t)rsp[6] << 24 | (uint32_t)rsp[7] << 16 | (uint32_t)rsp[8] << 8 | rsp[9];
}

/* (a) the limit: libtpms directly. */
static double run_direct(const uint8_t *cmd, size_t len, unsigned n)
{
	static uint8_t buf[4096];
	unsigned char *rsp = NULL;
	uint32_t rsp_len = 0, rsp_size = 0;
	double t0 = now_us();
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf, cmd, len);
		if (TPMLIB_Process(&rsp, &rsp_len, &rsp_size, buf, (uint32_t)len) != TPM_SUCCESS ||
		    rc_of(rsp) != 0) {
			fprintf(stderr, "bench_vtpm: direct command failed\n");
			exit(1);
		}
	}
	double t = (now_us() - t0) / n;
	TPM_Free(rsp);
	return t;
}

/* (b) through the CRB registers and the dispatcher. */
static double run_crb(struct pv_vcpu *vcpu, const uint8_t *cmd, size_t len, unsigned n)
{
	static uint8_t rsp[4096];
	size_t rlen;
	double t0 = now_us();
	for (unsigned i = 0; i < n; i++) {
		if (pv_vtpm_crb_transact(vcpu, pv_gpa(PV_VTPM_CRB_BASE), 0, cmd, len, rsp,
					 sizeof(rsp), &rlen) != PV_OK ||
		    rc_of(rsp) != 0) {
			fprintf(stderr, "bench_vtpm: CRB command failed\n");
			exit(1);
		}
	}
	return (now_us() - t0) / n;
}

/* (c) swtpm over TCP: raw TPM commands on its server socket. */
static int io_full(int fd, void *buf, size_t n, bool wr)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = wr ? write(fd, p, n) : read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int swtpm_cmd(int fd, const uint8_t *cmd, size_t len, uint8_t *rsp)
{
	if (io_full(fd, (void *)cmd, len, true) || io_full(fd, rsp, 10, false))
		return -1;
	uint32_t size =
		(uint32_t)rsp[2] << 24 | (uint32_t)rsp[3] << 16 | (uint32_t)rsp[4] << 8 | rsp[5];
	if (size < 10 || size > 4096 || io_full(fd, rsp + 10, size - 10, false))
		return -1;
	return (int)rc_of(rsp);
}

static double run_swtpm(int fd, const uint8_t *cmd, size_t len, unsigned n)
{
	static uint8_t rsp[4096];
	double t0 = now_us();
	for (unsigned i = 0; i < n; i++) {
		if (swtpm_cmd(fd, cmd, len, rsp) != 0) {
			fprintf(stderr, "bench_vtpm: swtpm command failed\n");
			return -1;
		}
	}
	return (now_us() - t0) / n;
}

struct swtpm {
	pid_t pid;
	int fd;
	char dir[64];
};

static bool swtpm_start(struct swtpm *s)
{
	s->pid = -1;
	s->fd = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/pv-bench-swtpm-XXXXXX");
	if (!mkdtemp(s->dir))
		return false;
	for (int attempt = 0; attempt < 20; attempt++) {
		unsigned port =
			30000u + ((unsigned)getpid() * 13u + (unsigned)attempt * 977u) % 20000u;
		char server[96], ctrl[96], state[96];
		snprintf(server, sizeof(server), "type=tcp,port=%u,bindaddr=127.0.0.1", port);
		snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%u,bindaddr=127.0.0.1", port + 1);
		snprintf(state, sizeof(state), "dir=%s", s->dir);
		static char a0[] = "swtpm", a1[] = "socket", a2[] = "--tpm2", a3[] = "--server",
			    a5[] = "--ctrl", a7[] = "--tpmstate", a9[] = "--flags",
			    a10[] = "not-need-init,startup-clear";
		char *argv[] = {a0, a1, a2, a3, server, a5, ctrl, a7, state, a9, a10, NULL};
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		int err = posix_spawnp(&s->pid, "swtpm", &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (err) {
			s->pid = -1;
			return false; /* not installed */
		}
		for (int tries = 0; tries < 100; tries++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			struct sockaddr_in a = {.sin_family = AF_INET,
						.sin_port = htons((uint16_t)port)};
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				s->fd = fd;
				return true;
			}
			close(fd);
			int st;
			if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
				s->pid = -1;
				break; /* port taken: try another */
			}
			usleep(20000);
		}
		if (s->pid > 0) {
			kill(s->pid, SIGTERM);
			waitpid(s->pid, NULL, 0);
			s->pid = -1;
		}
	}
	return false;
}

static void swtpm_stop(struct swtpm *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	DIR *d = opendir(s->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				(void)unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	(void)rmdir(s->dir);
}

int main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000u;
	unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 5u;
	if (!iters || !rounds)
		return 2;
	build_extend();

	struct pv_mock *mock;
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS, .no_recording = true};
	struct pv_mem_range ram = {pv_gpa(0), 1u << 16, PV_MEM_RAM};
	struct pv_partition *part;
	struct pv_vtpm *vtpm;
	if (pv_mock_create(&mc, &mock))
		return 1;
	struct pv_partition_config pc = {.vcpu_count = 1,
					 .vtl_count = 1,
					 .ranges = &ram,
					 .range_count = 1,
					 .port = pv_mock_port_ops(mock),
					 .port_ctx = mock};
	if (pv_partition_create(&pc, &part))
		return 1;
	struct pv_vtpm_config vc = {.startup = PV_VTPM_STARTUP_CLEAR};
	vtpm_memstore_attach(&g_store, &vc.storage);
	if (pv_vtpm_create(part, &vc, &vtpm)) {
		fprintf(stderr, "bench_vtpm: cannot create the vTPM\n");
		return 1;
	}
	struct pv_vcpu *vcpu = pv_partition_vcpu(part, 0);

	struct swtpm sw;
	bool have_sw = swtpm_start(&sw);

	const struct {
		const char *name;
		const uint8_t *cmd;
		size_t len;
	} cmds[2] = {{"TPM2_GetRandom(32)", cmd_getrandom, sizeof(cmd_getrandom)},
		     {"TPM2_PCR_Extend(sha256)", cmd_extend, sizeof(cmd_extend)}};

	printf("bench_vtpm: %u commands x %u rounds, best round shown (us/command)\n", iters,
	       rounds);
	for (int c = 0; c < 2; c++) {
		double best_d = 1e30, best_c = 1e30, best_s = 1e30;
		/* Warm up every path once. */
		(void)run_direct(cmds[c].cmd, cmds[c].len, 50);
		(void)run_crb(vcpu, cmds[c].cmd, cmds[c].len, 50);
		if (have_sw && run_swtpm(sw.fd, cmds[c].cmd, cmds[c].len, 50) < 0)
			have_sw = false;
		for (unsigned r = 0; r < rounds; r++) {
			double d = run_direct(cmds[c].cmd, cmds[c].len, iters);
			double x = run_crb(vcpu, cmds[c].cmd, cmds[c].len, iters);
			best_d = d < best_d ? d : best_d;
			best_c = x < best_c ? x : best_c;
			if (have_sw) {
				double s = run_swtpm(sw.fd, cmds[c].cmd, cmds[c].len, iters);
				if (s < 0)
					have_sw = false;
				else if (s < best_s)
					best_s = s;
			}
		}
		printf("%-26s libtpms direct (limit) %8.2f | CRB device %8.2f  ratio %.2f",
		       cmds[c].name, best_d, best_c, best_c / best_d);
		if (have_sw)
			printf(" | swtpm socket %8.2f  ratio %.2f", best_s, best_s / best_d);
		else
			printf(" | swtpm: not available");
		printf("\n");
	}
	swtpm_stop(&sw);
	pv_vtpm_destroy(vtpm);
	pv_partition_destroy(part);
	pv_mock_destroy(mock);
	vtpm_memstore_free(&g_store);
	return 0;
}
