/* SPDX-License-Identifier: MIT */
/*
 * A CRB client that drives a TPM device through the dispatcher with MMIO
 * exits, in the order a guest driver (Linux tpm_crb) uses. Freestanding; it
 * works with any CRB device registered in the partition.
 */
#include "paravisor/vcpu.h"
#include "paravisor/vtpm.h"

#include "dev_common.h"

#define POLL_LIMIT 100000u

static uint64_t crb_rd(struct pv_vcpu *vcpu, uint64_t gpa, uint8_t size)
{
	struct pv_exit e;
	pvd_memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_MMIO;
	e.u.mmio.gpa = pv_gpa(gpa);
	e.u.mmio.size = size;
	(void)pv_vcpu_dispatch(vcpu, &e);
	return e.u.mmio.data;
}

static void crb_wr(struct pv_vcpu *vcpu, uint64_t gpa, uint8_t size, uint64_t v)
{
	struct pv_exit e;
	pvd_memset(&e, 0, sizeof(e));
	e.kind = PV_EXIT_MMIO;
	e.u.mmio.gpa = pv_gpa(gpa);
	e.u.mmio.size = size;
	e.u.mmio.is_write = true;
	e.u.mmio.data = v;
	(void)pv_vcpu_dispatch(vcpu, &e);
}

static void buf_write(struct pv_vcpu *vcpu, uint64_t gpa, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t sz = n - i >= 8 ? 8 : n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
		uint64_t v = 0;
		for (uint8_t b = 0; b < sz; b++)
			v |= (uint64_t)p[i + b] << (8 * b);
		crb_wr(vcpu, gpa + i, sz, v);
		i += sz;
	}
}

static void buf_read(struct pv_vcpu *vcpu, uint64_t gpa, uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t sz = n - i >= 8 ? 8 : n - i >= 4 ? 4 : n - i >= 2 ? 2 : 1;
		uint64_t v = crb_rd(vcpu, gpa + i, sz);
		for (uint8_t b = 0; b < sz; b++)
			p[i + b] = (uint8_t)(v >> (8 * b));
		i += sz;
	}
}

pv_err_t pv_vtpm_crb_transact(struct pv_vcpu *vcpu, pv_gpa_t base, uint8_t locality,
			      const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
			      size_t *rsp_len)
{
	if (!vcpu || !cmd || !rsp || !rsp_len || locality > 4 || cmd_len < 10 ||
	    cmd_len > PV_VTPM_CRB_BUFFER_SIZE || rsp_cap < 10)
		return PV_EINVAL;
	*rsp_len = 0;
	uint64_t page = pv_gpa_val(base) + (uint64_t)locality * 0x1000u;
	uint64_t buf = page + PV_VTPM_CRB_BUFFER_OFFSET;
	pv_err_t err = PV_OK;

	crb_wr(vcpu, page + 0x08, 4, 0x1);        /* LOC_CTRL.requestAccess */
	if (!(crb_rd(vcpu, page + 0x0C, 4) & 1u)) /* LOC_STS.granted */
		return PV_EBUSY;
	crb_wr(vcpu, page + 0x40, 4, 0x1); /* CTRL_REQ.cmdReady */
	unsigned n = 0;
	while ((crb_rd(vcpu, page + 0x40, 4) & 1u) || (crb_rd(vcpu, page + 0x44, 4) & 2u)) {
		if (++n > POLL_LIMIT) {
			err = PV_ETIMEDOUT;
			goto out;
		}
	}
	buf_write(vcpu, buf, cmd, cmd_len);
	crb_wr(vcpu, page + 0x48, 4, 0); /* clear CANCEL */
	crb_wr(vcpu, page + 0x4C, 4, 1); /* START */
	n = 0;
	while (crb_rd(vcpu, page + 0x4C, 4) & 1u) {
		if (++n > POLL_LIMIT) {
			err = PV_ETIMEDOUT;
			goto out;
		}
	}
	uint8_t hdr[10];
	buf_read(vcpu, buf, hdr, sizeof(hdr));
	uint32_t size =
		(uint32_t)hdr[2] << 24 | (uint32_t)hdr[3] << 16 | (uint32_t)hdr[4] << 8 | hdr[5];
	if (size < 10 || size > PV_VTPM_CRB_BUFFER_SIZE) {
		err = PV_EBADMSG;
		goto out;
	}
	if (size > rsp_cap) {
		*rsp_len = size;
		err = PV_ERANGE;
		goto out;
	}
	pvd_memcpy(rsp, hdr, sizeof(hdr));
	buf_read(vcpu, buf + sizeof(hdr), rsp + sizeof(hdr), size - sizeof(hdr));
	*rsp_len = size;
out:
	crb_wr(vcpu, page + 0x40, 4, 0x2); /* CTRL_REQ.goIdle */
	crb_wr(vcpu, page + 0x08, 4, 0x2); /* LOC_CTRL.relinquish */
	return err;
}
