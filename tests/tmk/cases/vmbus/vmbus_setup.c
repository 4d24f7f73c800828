/* SPDX-License-Identifier: MIT */
/* Host side of the VMBus TMK: hv1 + the VMBus server + heartbeat, shutdown and
 * timesync ICs on the kvm partition; afterwards checks the heartbeat exchange
 * and that the guest's unload left nothing behind. */
#include <stdint.h>
#include <stdlib.h>

#include "paravisor/hv1.h"
#include "paravisor/vmbus.h"
#include "paravisor/vmbus_ic.h"
#include "tmk_host.h"
#include "vmbus_cases.h"

struct vmbus_fixture {
	struct pv_hv1 *hv1;
	struct pv_vmbus *vmbus;
	struct pv_vmbus_ic *hb, *sd, *ts;
};

static uint64_t fixed_utc(void *ctx)
{
	(void)ctx;
	return 133000000000000000ull;
}

static uint64_t fixed_ref(void *ctx)
{
	(void)ctx;
	return 1;
}

static pv_err_t vmbus_setup(struct tmk_host *h, struct pv_partition *part, void **ctx)
{
	struct vmbus_fixture *f = calloc(1, sizeof(*f));
	struct pv_hv1_config hcfg;
	struct pv_vmbus_config cfg = {0};
	struct pv_vmbus_ic_config ic = {0};
	pv_err_t err;

	(void)h;
	if (!f)
		return PV_ENOMEM;
	*ctx = f;
	pv_hv1_config_default(part, &hcfg);
	err = pv_hv1_create(part, &hcfg, &f->hv1);
	if (err)
		return err;
	cfg.part = part;
	cfg.hv1 = f->hv1;
	cfg.accessor = PV_ACCESS_VTL0;
	err = pv_vmbus_create(&cfg, &f->vmbus);
	if (err)
		return err;
	ic.kind = PV_VMBUS_IC_HEARTBEAT;
	err = pv_vmbus_ic_create(f->vmbus, &ic, &f->hb);
	ic.kind = PV_VMBUS_IC_SHUTDOWN;
	if (!err)
		err = pv_vmbus_ic_create(f->vmbus, &ic, &f->sd);
	ic.kind = PV_VMBUS_IC_TIMESYNC;
	ic.utc_now = fixed_utc;
	ic.reference_time = fixed_ref;
	if (!err)
		err = pv_vmbus_ic_create(f->vmbus, &ic, &f->ts);
	return err;
}

static bool vmbus_check(struct tmk_host *h, void *ctx)
{
	struct vmbus_fixture *f = ctx;
	struct pv_vmbus_stats st;
	uint64_t seq = 0, answers = 0;
	bool ok = true;

	pv_vmbus_ic_heartbeat_get(f->hb, &seq, &answers);
	pv_vmbus_get_stats(f->vmbus, &st);
	if (seq != 1 || answers != 1) {
		tmk_host_fail(h, "heartbeat: sequence %llu, %llu answers (want 1, 1)",
			      (unsigned long long)seq, (unsigned long long)answers);
		ok = false;
	}
	if (st.malformed || st.unexpected || st.post_failures || st.bad_packets || st.ring_errors) {
		tmk_host_fail(h,
			      "protocol errors: malformed %llu unexpected %llu post %llu "
			      "bad packets %llu ring %llu",
			      (unsigned long long)st.malformed, (unsigned long long)st.unexpected,
			      (unsigned long long)st.post_failures,
			      (unsigned long long)st.bad_packets,
			      (unsigned long long)st.ring_errors);
		ok = false;
	}
	if (st.gpadls != 0 || pv_vmbus_get_state(f->vmbus) != PV_VMBUS_DISCONNECTED) {
		tmk_host_fail(h, "after unload: %llu GPADLs, state %d",
			      (unsigned long long)st.gpadls, pv_vmbus_get_state(f->vmbus));
		ok = false;
	}
	if (st.packets_in != 2 || st.signals_in < 2) {
		tmk_host_fail(h, "packets in %llu, signals in %llu",
			      (unsigned long long)st.packets_in, (unsigned long long)st.signals_in);
		ok = false;
	}
	return ok;
}

static void vmbus_teardown(struct tmk_host *h, void *ctx)
{
	struct vmbus_fixture *f = ctx;

	(void)h;
	pv_vmbus_ic_destroy(f->hb);
	pv_vmbus_ic_destroy(f->sd);
	pv_vmbus_ic_destroy(f->ts);
	pv_vmbus_destroy(f->vmbus);
	pv_hv1_destroy(f->hv1);
	free(f);
}

const struct tmk_setup tmk_setup = {
	.name = "tmk_vmbus",
	.vcpus = 1,
	.setup = vmbus_setup,
	.check = vmbus_check,
	.teardown = vmbus_teardown,
};
