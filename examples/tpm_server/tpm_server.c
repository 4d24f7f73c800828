/* SPDX-License-Identifier: MIT */
/*
 * tpm_server: serve libparavisor's vTPM over the Microsoft TPM simulator
 * socket protocol (the one tpm2-tss's "mssim:" TCTI speaks), on 127.0.0.1.
 *
 * Every TPM command is driven through the same CRB MMIO register path a
 * guest uses: a one-vCPU partition on the mock port has the vTPM registered
 * at 0xFED40000, and pv_vtpm_crb_transact() feeds MMIO exits to the
 * dispatcher. State lives in a directory (file storage, atomic writes), so
 * NV contents survive a restart of the server.
 *
 * Usage: tpm_server --state DIR [--port N] [--port-file FILE] [--startup]
 *   --port N       command port N, platform port N+1 (default 2321; 0 picks
 *                  a free pair and writes the command port to --port-file)
 *   --startup      send TPM2_Startup(CLEAR) at power-on
 *
 * Protocol (all integers big-endian u32 unless noted):
 *   command port:  8 SEND_COMMAND: u8 locality, size, bytes -> size, bytes, 0
 *                 15 REMOTE_HANDSHAKE: version -> version, flags, 0
 *                 20 SESSION_END (close), 21 STOP (exit)
 *   platform port: 1 POWER_ON, 2 POWER_OFF, 3/4 physical presence, 9/10 cancel,
 *                 11/12 NV on/off, 17 RESET -> 0; 20 SESSION_END; 21 STOP
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "paravisor/port_mock.h"
#include "paravisor/pv.h"
#include "paravisor/vtpm.h"

#define CMD_SEND 8u
#define CMD_HANDSHAKE 15u
#define CMD_SESSION_END 20u
#define CMD_STOP 21u
#define PLAT_POWER_ON 1u
#define PLAT_POWER_OFF 2u
#define PLAT_PP_ON 3u
#define PLAT_PP_OFF 4u
#define PLAT_CANCEL_ON 9u
#define PLAT_CANCEL_OFF 10u
#define PLAT_NV_ON 11u
#define PLAT_NV_OFF 12u
#define PLAT_RESET 17u
#define MAX_CMD 4096u

static volatile sig_atomic_t g_stop;

struct server {
	struct pv_mock *mock;
	struct pv_partition *part;
	struct pv_vcpu *vcpu;
	struct pv_vtpm *vtpm;
	bool powered;
	uint8_t cmd[MAX_CMD];
	uint8_t rsp[MAX_CMD];
};

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR && !g_stop)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_u32(int fd, uint32_t *v)
{
	uint32_t be;
	if (read_full(fd, &be, 4))
		return -1;
	*v = ntohl(be);
	return 0;
}

static int write_u32(int fd, uint32_t v)
{
	uint32_t be = htonl(v);
	return write_full(fd, &be, 4);
}

static size_t error_response(uint8_t *rsp, uint32_t rc)
{
	const uint8_t hdr[10] = {0x80,
				 0x01,
				 0,
				 0,
				 0,
				 10,
				 (uint8_t)(rc >> 24),
				 (uint8_t)(rc >> 16),
				 (uint8_t)(rc >> 8),
				 (uint8_t)rc};
	memcpy(rsp, hdr, sizeof(hdr));
	return sizeof(hdr);
}

/* One message on the command port; returns 0 to keep the connection,
 * 1 to close it, -1 on error. */
static int handle_command(struct server *s, int fd)
{
	uint32_t code;
	if (read_u32(fd, &code))
		return -1;
	switch (code) {
	case CMD_SEND: {
		uint8_t loc;
		uint32_t size;
		if (read_full(fd, &loc, 1) || read_u32(fd, &size))
			return -1;
		size_t rsp_len = 0;
		if (size > MAX_CMD) {
			/* Drain and refuse. */
			uint8_t sink[256];
			for (uint32_t left = size; left;) {
				uint32_t n = left < sizeof(sink) ? left : (uint32_t)sizeof(sink);
				if (read_full(fd, sink, n))
					return -1;
				left -= n;
			}
			rsp_len = error_response(s->rsp, 0x142); /* TPM_RC_COMMAND_SIZE */
		} else {
			if (read_full(fd, s->cmd, size))
				return -1;
			pv_err_t err = PV_ESTATE;
			if (s->powered)
				err = pv_vtpm_crb_transact(s->vcpu, pv_gpa(PV_VTPM_CRB_BASE), loc,
							   s->cmd, size, s->rsp, sizeof(s->rsp),
							   &rsp_len);
			if (err) {
				fprintf(stderr, "tpm_server: CRB transaction failed: %s\n",
					pv_strerror(err));
				rsp_len = error_response(s->rsp, err == PV_EINVAL ? 0x142 : 0x101);
			}
		}
		if (write_u32(fd, (uint32_t)rsp_len) || write_full(fd, s->rsp, rsp_len) ||
		    write_u32(fd, 0))
			return -1;
		return 0;
	}
	case CMD_HANDSHAKE: {
		uint32_t client;
		if (read_u32(fd, &client))
			return -1;
		/* server version 1; flags: plays nice (1) | supports PP (8) */
		if (write_u32(fd, 1) || write_u32(fd, 1u | 8u) || write_u32(fd, 0))
			return -1;
		return 0;
	}
	case CMD_SESSION_END:
		return 1;
	case CMD_STOP:
		g_stop = 1;
		return 1;
	default:
		fprintf(stderr, "tpm_server: unknown command-port code %u\n", code);
		return -1;
	}
}

static int handle_platform(struct server *s, int fd)
{
	uint32_t code;
	if (read_u32(fd, &code))
		return -1;
	uint32_t result = 0;
	switch (code) {
	case PLAT_POWER_ON:
		/* Harmless when already on (the mssim TCTI sends it on every connect). */
		if (!s->powered)
			result = pv_vtpm_reset(s->vtpm) == PV_OK ? 0 : 1;
		s->powered = result == 0;
		break;
	case PLAT_POWER_OFF:
		s->powered = false;
		break;
	case PLAT_RESET:
		result = pv_vtpm_reset(s->vtpm) == PV_OK ? 0 : 1;
		break;
	case PLAT_CANCEL_ON:
	case PLAT_CANCEL_OFF:
		pv_vtpm_set_cancel(s->vtpm, code == PLAT_CANCEL_ON);
		break;
	case PLAT_PP_ON:
	case PLAT_PP_OFF:
	case PLAT_NV_ON:
	case PLAT_NV_OFF:
		break;
	case CMD_SESSION_END:
		return 1;
	case CMD_STOP:
		g_stop = 1;
		return 1;
	default:
		result = 1;
		break;
	}
	return write_u32(fd, result) ? -1 : 0;
}

static int listen_on(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Bind the command port and the platform port right above it. */
static int listen_pair(uint16_t port, int fds[2], uint16_t *bound)
{
	for (int attempt = 0; attempt < (port ? 1 : 200); attempt++) {
		uint16_t p = port;
		if (!p) {
			unsigned seed = (unsigned)getpid() * 7919u + (unsigned)time(NULL);
			p = (uint16_t)(20000u + (seed + (unsigned)attempt * 104729u) % 20000u);
		}
		fds[0] = listen_on(p);
		if (fds[0] < 0)
			continue;
		fds[1] = listen_on((uint16_t)(p + 1));
		if (fds[1] < 0) {
			close(fds[0]);
			continue;
		}
		*bound = p;
		return 0;
	}
	return -1;
}

static int setup(struct server *s, const char *state_dir, bool startup,
		 struct pv_vtpm_file_storage *fs)
{
	struct pv_mock_config mc = {.caps = PV_PORT_CAP_TIMERS, .no_recording = true};
	if (pv_mock_create(&mc, &s->mock) != PV_OK)
		return -1;
	struct pv_mem_range ram = {pv_gpa(0), 1u << 20, PV_MEM_RAM};
	struct pv_partition_config pc = {
		.vcpu_count = 1,
		.vtl_count = 1,
		.isolation = PV_ISOLATION_NONE,
		.ranges = &ram,
		.range_count = 1,
		.port = pv_mock_port_ops(s->mock),
		.port_ctx = s->mock,
	};
	if (pv_partition_create(&pc, &s->part) != PV_OK)
		return -1;
	s->vcpu = pv_partition_vcpu(s->part, 0);
	struct pv_vtpm_config vc = {0};
	if (pv_vtpm_file_storage_init(fs, state_dir, &vc.storage) != PV_OK)
		return -1;
	vc.startup = startup ? PV_VTPM_STARTUP_CLEAR : PV_VTPM_STARTUP_NONE;
	pv_err_t err = pv_vtpm_create(s->part, &vc, &s->vtpm);
	if (err) {
		fprintf(stderr, "tpm_server: vTPM: %s\n", pv_strerror(err));
		return -1;
	}
	s->powered = true;
	return 0;
}

int main(int argc, char **argv)
{
	const char *state_dir = NULL, *port_file = NULL;
	long port = 2321;
	bool startup = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--state") && i + 1 < argc)
			state_dir = argv[++i];
		else if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--port-file") && i + 1 < argc)
			port_file = argv[++i];
		else if (!strcmp(argv[i], "--startup"))
			startup = true;
		else {
			fprintf(stderr,
				"usage: %s --state DIR [--port N] [--port-file FILE] [--startup]\n",
				argv[0]);
			return 2;
		}
	}
	if (!state_dir || port < 0 || port > 65534) {
		fprintf(stderr, "tpm_server: --state DIR is required; port 0..65534\n");
		return 2;
	}
	static struct server s;
	static struct pv_vtpm_file_storage fs;
	int rc = 1;
	int lfd[2] = {-1, -1};
	int conn[2] = {-1, -1}; /* command, platform */
	if (setup(&s, state_dir, startup, &fs) != 0)
		goto out;
	uint16_t bound = 0;
	if (listen_pair((uint16_t)port, lfd, &bound) != 0) {
		fprintf(stderr, "tpm_server: cannot listen on 127.0.0.1:%ld/+1\n", port);
		goto out;
	}
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (!f)
			goto out;
		fprintf(f, "%u\n", bound);
		fclose(f);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "tpm_server: serving vTPM on 127.0.0.1:%u (platform %u)\n", bound,
		bound + 1u);

	while (!g_stop) {
		struct pollfd p[4] = {
			{.fd = lfd[0], .events = POLLIN},
			{.fd = lfd[1], .events = POLLIN},
			{.fd = conn[0], .events = POLLIN},
			{.fd = conn[1], .events = POLLIN},
		};
		int n = poll(p, 4, 500);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (p[i].revents & POLLIN) {
				int c = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0) {
					if (conn[i] >= 0)
						close(conn[i]); /* one client at a time per port */
					conn[i] = c;
				}
			}
		}
		for (int i = 0; i < 2; i++) {
			if (conn[i] < 0 || !(p[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int r = i == 0 ? handle_command(&s, conn[i]) : handle_platform(&s, conn[i]);
			if (r != 0) {
				close(conn[i]);
				conn[i] = -1;
			}
		}
	}
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (conn[i] >= 0)
			close(conn[i]);
		if (lfd[i] >= 0)
			close(lfd[i]);
	}
	pv_vtpm_destroy(s.vtpm);
	pv_partition_destroy(s.part);
	pv_mock_destroy(s.mock);
	return rc;
}
