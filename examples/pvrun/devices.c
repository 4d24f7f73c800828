/* SPDX-License-Identifier: MIT */
/*
 * Devices pvrun can attach with --device NAME. To add one, write an
 * attach/detach pair and append a row to pvrun_devices[] below.
 */
#include "devices.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "paravisor/uart16550.h"
#include "tmk_proto.h"

/* ---- testdev: the TMK scratch device (ports 0x600-0x607, MMIO 0xD0000000) ---- */

struct testdev {
	pthread_mutex_t lock;
	uint32_t regs[8];
	uint8_t mmio[4096];
};

static pv_err_t testdev_io(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			   bool is_write, uint32_t *data)
{
	struct testdev *d = ctx;
	(void)vcpu;
	(void)size;
	if (offset >= 8)
		return PV_ERANGE;
	pthread_mutex_lock(&d->lock);
	if (is_write)
		d->regs[offset] = *data;
	else
		*data = d->regs[offset];
	pthread_mutex_unlock(&d->lock);
	return PV_OK;
}

static pv_err_t testdev_mmio(void *ctx, struct pv_vcpu *vcpu, uint64_t offset, uint8_t size,
			     bool is_write, uint64_t *data)
{
	struct testdev *d = ctx;
	(void)vcpu;
	if (offset >= sizeof(d->mmio) || size > 8 || size > sizeof(d->mmio) - offset)
		return PV_ERANGE;
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		memcpy(&d->mmio[offset], data, size);
	} else {
		uint64_t v = 0;
		memcpy(&v, &d->mmio[offset], size);
		*data = v;
	}
	pthread_mutex_unlock(&d->lock);
	return PV_OK;
}

static pv_err_t testdev_attach(struct pv_partition *part, void **state)
{
	struct testdev *d = calloc(1, sizeof(*d));
	if (!d)
		return PV_ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	pv_err_t err = pv_io_register(part, TMK_TESTDEV_PORT, 8, testdev_io, d);
	if (!err) {
		err = pv_mmio_register(part, pv_gpa(TMK_TESTDEV_MMIO), sizeof(d->mmio),
				       testdev_mmio, d);
		if (err)
			pv_io_unregister(part, TMK_TESTDEV_PORT);
	}
	if (err) {
		pthread_mutex_destroy(&d->lock);
		free(d);
		return err;
	}
	*state = d;
	return PV_OK;
}

static void testdev_detach(struct pv_partition *part, void *state)
{
	struct testdev *d = state;
	pv_mmio_unregister(part, pv_gpa(TMK_TESTDEV_MMIO));
	pv_io_unregister(part, TMK_TESTDEV_PORT);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* ---- com1: a 16550A UART at 0x3F8 whose output goes to stdout ---- */

struct com1 {
	struct pv_uart_fdbuf fds;
	struct pv_uart *uart;
};

static pv_err_t com1_attach(struct pv_partition *part, void **state)
{
	struct com1 *c = calloc(1, sizeof(*c));
	if (!c)
		return PV_ENOMEM;
	c->fds.in_fd = -1;
	c->fds.out_fd = 1;
	struct pv_uart_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.io_base = PV_UART_COM1_BASE;
	cfg.irq = PV_UART_COM1_IRQ;
	cfg.backend = pv_uart_backend_fd(&c->fds);
	pv_err_t err = pv_uart_create(part, &cfg, &c->uart);
	if (err) {
		free(c);
		return err;
	}
	*state = c;
	return PV_OK;
}

static void com1_detach(struct pv_partition *part, void *state)
{
	struct com1 *c = state;
	(void)part;
	pv_uart_destroy(c->uart);
	free(c);
}

const struct pvrun_device pvrun_devices[] = {
	{"testdev", "TMK scratch device: I/O ports 0x600-0x607, 4 KiB MMIO at 0xD0000000",
	 testdev_attach, testdev_detach},
	{"com1", "16550A UART at 0x3F8 (IRQ 4), output to stdout", com1_attach, com1_detach},
	{NULL, NULL, NULL, NULL},
};

const struct pvrun_device *pvrun_device_find(const char *name)
{
	for (const struct pvrun_device *d = pvrun_devices; d->name; d++)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}
