/* SPDX-License-Identifier: MIT */
/* Host side of the devices TMK: UART (memory backend), RTC, vTPM (when built)
 * and, without an in-kernel irqchip, an interrupt router that turns rising
 * line edges into injected vectors. */
#include <stdlib.h>
#include <string.h>

#include "devices_cases.h"
#include "paravisor/rtc_cmos.h"
#include "paravisor/uart16550.h"
#include "tmk_host.h"
#ifdef PV_TMK_HAVE_VTPM
#include "devices/vtpm_memstore.h"
#include "paravisor/vtpm.h"
#endif

struct devfx {
	struct pv_partition *part;
	struct pv_uart *uart;
	struct pv_rtc *rtc;
	struct pv_uart_membuf mem;
	uint8_t tx[1024];
	bool level[16];
#ifdef PV_TMK_HAVE_VTPM
	struct pv_vtpm *vtpm;
	struct vtpm_memstore store; /* the TMK only needs a TPM for one run */
#endif
};

static pv_err_t router(void *ctx, bool is_msi, uint32_t gsi, bool level, uint64_t address,
		       uint32_t data)
{
	struct devfx *f = ctx;
	(void)address;
	(void)data;
	if (is_msi || gsi >= 16)
		return PV_OK;
	bool rising = level && !f->level[gsi];
	f->level[gsi] = level;
	if (!rising)
		return PV_OK;
	uint8_t vector = gsi == DEV_UART_IRQ ? DEV_UART_VECTOR :
			 gsi == DEV_RTC_IRQ  ? DEV_RTC_VECTOR :
					       0;
	if (!vector)
		return PV_OK;
	struct pv_event ev = {.kind = PV_EVENT_INTERRUPT, .vector = vector};
	return pv_vcpu_inject(pv_partition_vcpu(f->part, 0), &ev);
}

static void teardown(struct tmk_host *h, void *ctx)
{
	struct devfx *f = ctx;
	(void)h;
	if (!f)
		return;
	pv_irq_set_router(f->part, NULL, NULL);
	pv_uart_destroy(f->uart);
	pv_rtc_destroy(f->rtc);
#ifdef PV_TMK_HAVE_VTPM
	pv_vtpm_destroy(f->vtpm);
	vtpm_memstore_free(&f->store);
#endif
	free(f);
}

static pv_err_t setup(struct tmk_host *h, struct pv_partition *part, void **ctx)
{
	struct devfx *f = calloc(1, sizeof(*f));
	if (!f)
		return PV_ENOMEM;
	f->part = part;
	*ctx = f;
	if (!(pv_partition_port(part)->caps & PV_PORT_CAP_IRQCHIP))
		pv_irq_set_router(part, router, f);
	f->mem.tx = f->tx;
	f->mem.tx_cap = sizeof(f->tx);
	struct pv_uart_config uc = {.io_base = DEV_UART_BASE, .irq = DEV_UART_IRQ};
	uc.backend = pv_uart_backend_mem(&f->mem);
	pv_err_t err = pv_uart_create(part, &uc, &f->uart);
	if (err)
		goto fail;
	struct pv_rtc_config rc = {
		.io_base = PV_RTC_IO_BASE, .irq = DEV_RTC_IRQ, .epoch_sec = DEV_RTC_EPOCH};
	err = pv_rtc_create(part, &rc, &f->rtc);
	if (err)
		goto fail;
#ifdef PV_TMK_HAVE_VTPM
	struct pv_vtpm_config vc = {.startup = PV_VTPM_STARTUP_CLEAR};
	vtpm_memstore_attach(&f->store, &vc.storage);
	err = pv_vtpm_create(part, &vc, &f->vtpm);
	if (err)
		goto fail;
#endif
	return PV_OK;
fail:
	teardown(h, f);
	*ctx = NULL;
	return err;
}

static pv_err_t message(struct tmk_host *h, void *ctx, struct pv_vcpu *vcpu,
			const struct tmk_msg *msg)
{
	struct devfx *f = ctx;
	(void)vcpu;
	if (msg->type != DEV_MSG_UART_INPUT)
		return PV_EINVAL;
	size_t n = strlen(msg->text);
	if (pv_uart_receive(f->uart, (const uint8_t *)msg->text, n) != n) {
		tmk_host_fail(h, "UART FIFO refused host input");
		return PV_EBUSY;
	}
	return PV_OK;
}

static bool check(struct tmk_host *h, void *ctx)
{
	struct devfx *f = ctx;
	const char *want = DEV_TX_MESSAGE;
	size_t n = strlen(want);
	if (f->mem.tx_len != n || memcmp(f->tx, want, n) != 0) {
		tmk_host_fail(h, "UART backend got %zu bytes, wanted the %zu-byte message",
			      f->mem.tx_len, n);
		return false;
	}
	return true;
}

const struct tmk_setup tmk_setup = {
	.name = "tmk_devices",
	.vcpus = 1,
	.setup = setup,
	.message = message,
	.check = check,
	.teardown = teardown,
};
