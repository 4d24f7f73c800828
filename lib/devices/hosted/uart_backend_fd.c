/* SPDX-License-Identifier: MIT */
/*
 * Hosted-only UART backend over a pair of file descriptors. Compiled only
 * when the build has an OS (unistd.h); the UART model itself stays
 * freestanding.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "paravisor/uart16550.h"

static size_t fd_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct pv_uart_fdbuf *f = ctx;
	if (f->out_fd < 0)
		return len; /* discard */
	struct pollfd p = {.fd = f->out_fd, .events = POLLOUT};
	if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLOUT))
		return 0;
	for (;;) {
		/* Sockets: no SIGPIPE when the peer went away. Other descriptors
		 * (pipes, ttys) use write(); embedders ignore SIGPIPE for pipes. */
		ssize_t n = send(f->out_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK)
			n = write(f->out_fd, buf, len);
		if (n >= 0)
			return (size_t)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return len; /* a broken output drops the bytes instead of stalling the guest */
	}
}

static size_t fd_read(void *ctx, uint8_t *buf, size_t cap)
{
	struct pv_uart_fdbuf *f = ctx;
	if (f->in_fd < 0 || cap == 0)
		return 0;
	struct pollfd p = {.fd = f->in_fd, .events = POLLIN};
	if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
		return 0;
	for (;;) {
		ssize_t n = read(f->in_fd, buf, cap);
		if (n > 0)
			return (size_t)n;
		if (n < 0 && errno == EINTR)
			continue;
		return 0;
	}
}

struct pv_uart_backend pv_uart_backend_fd(struct pv_uart_fdbuf *fds)
{
	struct pv_uart_backend b = {fds, fd_write, fd_read};
	return b;
}
