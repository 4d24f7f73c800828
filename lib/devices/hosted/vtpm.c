/* SPDX-License-Identifier: MIT */
/*
 * vTPM: TCG PC Client CRB interface in front of libtpms (TPM 2.0).
 * Register layout and semantics from the TCG PC Client Platform TPM Profile
 * (PTP) specification, CRB interface section. libtpms is process-global, so
 * there is at most one instance (g_vtpm), which its callbacks use.
 */
#include "paravisor/vtpm.h"

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_memory.h>
#include <libtpms/tpm_nvfilename.h>

#include "devices/dev_common.h"
#include "paravisor/device.h"
#include "paravisor/dispatch.h"
#include "paravisor/partition.h"

#define PAGE 0x1000u
#define NLOC 5u
#define NO_LOC 0xFFu
#define BUF_OFF PV_VTPM_CRB_BUFFER_OFFSET
#define BUF_SIZE PV_VTPM_CRB_BUFFER_SIZE

#define R_LOC_STATE 0x00u
#define R_LOC_CTRL 0x08u
#define R_LOC_STS 0x0Cu
#define R_INTF_ID_LO 0x30u
#define R_INTF_ID_HI 0x34u
#define R_CTRL_REQ 0x40u
#define R_CTRL_STS 0x44u
#define R_CTRL_CANCEL 0x48u
#define R_CTRL_START 0x4Cu
#define R_INT_ENABLE 0x50u
#define R_INT_STS 0x54u
#define R_CMD_SIZE 0x58u
#define R_CMD_LADDR 0x5Cu
#define R_CMD_HADDR 0x60u
#define R_RSP_SIZE 0x64u
#define R_RSP_ADDR_LO 0x68u
#define R_RSP_ADDR_HI 0x6Cu

#define LOC_STATE_ESTABLISHED 0x01u
#define LOC_STATE_ASSIGNED 0x02u
#define LOC_STATE_VALID 0x80u
#define LOC_CTRL_REQUEST 0x01u
#define LOC_CTRL_RELINQUISH 0x02u
#define LOC_CTRL_SEIZE 0x04u
#define LOC_CTRL_RESET_EST 0x08u
#define LOC_STS_GRANTED 0x01u
#define LOC_STS_SEIZED 0x02u
#define REQ_CMD_READY 0x01u
#define REQ_GO_IDLE 0x02u
#define STS_FATAL 0x01u
#define STS_IDLE 0x02u
#define INT_ENABLE_MASK 0x8000000Fu
#define INT_GLOBAL 0x80000000u

/* INTF_ID: type CRB active (1), version CRB (1), CapLocality (all five),
 * 64-byte transfers (3), CapCRB, selector CRB (1), selector locked; VID/DID. */
#define INTF_ID_LO \
	((1u << 0) | (1u << 4) | (1u << 8) | (3u << 11) | (1u << 14) | (1u << 17) | (1u << 19))
#define INTF_ID_HI (0x1414u | (0x0001u << 16))

#define TPM_ST_NO_SESSIONS 0x8001u
#define TPM_CC_STARTUP 0x144u
#define RC_FAILURE 0x101u
#define RC_CANCELED 0x909u

#define VTPM_REC_MAGIC PVD_MAGIC('V', 'T', 'P', 'M')
#define VTPM_REC_VERSION 1u
#define VTPM_REC_BODY (4u + 4u + 4u + 4u + 4u + 4u + 4u + 4u + 1u + 1u + 4u + BUF_SIZE)

struct pv_vtpm {
	struct pv_partition *part;
	void *lock;
	struct pv_vtpm_config cfg;
	bool registered;
	bool powered;
	bool resumed; /* the last power-on loaded a volatile state */

	uint8_t active;  /* active locality or NO_LOC */
	uint8_t pending; /* localities waiting for access (bit mask) */
	uint8_t seized;  /* localities that lost access by seizure */
	bool established;
	bool idle;
	bool fatal;
	uint32_t cancel;
	uint32_t int_enable;
	uint32_t int_sts;
	bool irq_level;
	bool platform_cancel;
	uint8_t exec_locality;
	uint64_t commands;

	uint8_t buf[BUF_SIZE];
	uint8_t cmd[BUF_SIZE];
	unsigned char *rsp; /* libtpms-owned response buffer */
	uint32_t rsp_bufsize;
};

static struct pv_vtpm *g_vtpm;

/* ---- libtpms callbacks ------------------------------------------------- */

static bool name_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static TPM_RESULT cb_nvram_init(void)
{
	return TPM_SUCCESS;
}

static TPM_RESULT cb_nvram_load(unsigned char **data, uint32_t *length, uint32_t tpm_number,
				const char *name)
{
	(void)tpm_number;
	struct pv_vtpm *v = g_vtpm;
	*data = NULL;
	*length = 0;
	if (!v)
		return TPM_FAIL;
	if (name_eq(name, TPM_VOLATILESTATE_NAME) && !v->cfg.resume_volatile)
		return TPM_RETRY; /* "does not exist" */
	size_t len = 0;
	pv_err_t err = v->cfg.storage.load(v->cfg.storage.ctx, name, NULL, 0, &len);
	if (err == PV_ENOENT || (err == PV_OK && len == 0))
		return TPM_RETRY;
	if (err != PV_ERANGE && err != PV_OK)
		return TPM_FAIL;
	if (len > 0x10000000u)
		return TPM_FAIL;
	if (TPM_Malloc(data, (uint32_t)len) != TPM_SUCCESS)
		return TPM_FAIL;
	size_t got = 0;
	err = v->cfg.storage.load(v->cfg.storage.ctx, name, *data, len, &got);
	if (err != PV_OK || got != len) {
		TPM_Free(*data);
		*data = NULL;
		return TPM_FAIL;
	}
	*length = (uint32_t)len;
	if (name_eq(name, TPM_VOLATILESTATE_NAME))
		v->resumed = true;
	return TPM_SUCCESS;
}

static TPM_RESULT cb_nvram_store(const unsigned char *data, uint32_t length, uint32_t tpm_number,
				 const char *name)
{
	(void)tpm_number;
	struct pv_vtpm *v = g_vtpm;
	if (!v)
		return TPM_FAIL;
	pv_err_t err = v->cfg.storage.store(v->cfg.storage.ctx, name, data, length);
	if (err) {
		pv_log(v->part, PV_LOG_ERROR, "vtpm", "storing %s failed: %s", name,
		       pv_strerror(err));
		return TPM_FAIL;
	}
	return TPM_SUCCESS;
}

static TPM_RESULT cb_nvram_delete(uint32_t tpm_number, const char *name, TPM_BOOL must_exist)
{
	(void)tpm_number;
	struct pv_vtpm *v = g_vtpm;
	if (!v)
		return TPM_FAIL;
	pv_err_t err = v->cfg.storage.remove(v->cfg.storage.ctx, name);
	if (err == PV_OK || (err == PV_ENOENT && !must_exist))
		return TPM_SUCCESS;
	return TPM_FAIL;
}

static TPM_RESULT cb_io_init(void)
{
	return TPM_SUCCESS;
}

static TPM_RESULT cb_io_locality(TPM_MODIFIER_INDICATOR *loc, uint32_t tpm_number)
{
	(void)tpm_number;
	*loc = g_vtpm ? g_vtpm->exec_locality : 0;
	return TPM_SUCCESS;
}

static TPM_RESULT cb_io_pp(TPM_BOOL *pp, uint32_t tpm_number)
{
	(void)tpm_number;
	*pp = FALSE;
	return TPM_SUCCESS;
}

/* ---- TPM execution ----------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void error_response(uint8_t *out, uint32_t rc)
{
	put_be16(out, TPM_ST_NO_SESSIONS);
	put_be32(out + 2, 10);
	put_be32(out + 6, rc);
}

/* Run the command in v->cmd[0..len) and leave the response in v->buf. */
static void tpm_execute(struct pv_vtpm *v, uint32_t len)
{
	v->commands++;
	uint32_t rsp_len = 0;
	TPM_RESULT rc = TPMLIB_Process(&v->rsp, &rsp_len, &v->rsp_bufsize, v->cmd, len);
	if (rc != TPM_SUCCESS || !v->rsp || rsp_len < 10 || rsp_len > BUF_SIZE) {
		pv_log(v->part, PV_LOG_ERROR, "vtpm", "libtpms failed (rc 0x%x, %u response bytes)",
		       (unsigned)rc, (unsigned)rsp_len);
		if (rc != TPM_SUCCESS)
			v->fatal = true;
		error_response(v->buf, RC_FAILURE);
		return;
	}
	pvd_memcpy(v->buf, v->rsp, rsp_len);
}

/* CTRL_START: copy the command out of the buffer once, then execute. */
static void crb_start(struct pv_vtpm *v)
{
	uint32_t len = be32(v->buf + 2);
	/* The size field is guest-controlled: never read past the buffer, and
	 * always hand libtpms at least a header so it can answer with an error. */
	if (len > BUF_SIZE)
		len = BUF_SIZE;
	if (len < 10)
		len = 10;
	pvd_memcpy(v->cmd, v->buf, len);
	v->exec_locality = v->active;
	if ((v->cancel & 1u) || v->platform_cancel)
		error_response(v->buf, RC_CANCELED);
	else
		tpm_execute(v, len);
	v->int_sts |= 1u; /* start (command complete) interrupt */
}

static pv_err_t send_startup(struct pv_vtpm *v, uint16_t su)
{
	uint8_t cmd[12];
	put_be16(cmd, TPM_ST_NO_SESSIONS);
	put_be32(cmd + 2, sizeof(cmd));
	put_be32(cmd + 6, TPM_CC_STARTUP);
	put_be16(cmd + 10, su);
	pvd_memcpy(v->cmd, cmd, sizeof(cmd));
	v->exec_locality = 0;
	uint32_t rsp_len = 0;
	TPM_RESULT rc = TPMLIB_Process(&v->rsp, &rsp_len, &v->rsp_bufsize, v->cmd, sizeof(cmd));
	if (rc != TPM_SUCCESS || rsp_len < 10) {
		pv_log(v->part, PV_LOG_ERROR, "vtpm", "TPM2_Startup failed in libtpms");
		return PV_EIO;
	}
	uint32_t trc = be32(v->rsp + 6);
	if (trc != 0) {
		pv_log(v->part, PV_LOG_WARN, "vtpm", "TPM2_Startup answered 0x%x", (unsigned)trc);
		return trc == 0x100u ? PV_OK : PV_EIO; /* TPM_RC_INITIALIZE: already started */
	}
	return PV_OK;
}

static pv_err_t power_on(struct pv_vtpm *v)
{
	static struct libtpms_callbacks cbs = {
		.sizeOfStruct = sizeof(struct libtpms_callbacks),
		.tpm_nvram_init = cb_nvram_init,
		.tpm_nvram_loaddata = cb_nvram_load,
		.tpm_nvram_storedata = cb_nvram_store,
		.tpm_nvram_deletename = cb_nvram_delete,
		.tpm_io_init = cb_io_init,
		.tpm_io_getlocality = cb_io_locality,
		.tpm_io_getphysicalpresence = cb_io_pp,
	};
	v->resumed = false;
	if (TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2) != TPM_SUCCESS ||
	    TPMLIB_RegisterCallbacks(&cbs) != TPM_SUCCESS)
		return PV_EIO;
	uint32_t min = 0, max = 0;
	(void)TPMLIB_SetBufferSize(BUF_SIZE, &min, &max);
	/* Manufactures the TPM (and stores permall) when storage has none. */
	if (TPMLIB_MainInit() != TPM_SUCCESS) {
		pv_log(v->part, PV_LOG_ERROR, "vtpm", "libtpms could not initialize the TPM");
		TPMLIB_Terminate(); /* leave libtpms clean for the next attempt */
		return PV_EIO;
	}
	v->powered = true;
	if (!v->resumed && v->cfg.startup != PV_VTPM_STARTUP_NONE) {
		pv_err_t err = send_startup(v, v->cfg.startup == PV_VTPM_STARTUP_CLEAR ? 0 : 1);
		if (err) {
			TPMLIB_Terminate();
			v->powered = false;
			return err;
		}
	}
	return PV_OK;
}

static void power_off(struct pv_vtpm *v)
{
	if (v->powered)
		TPMLIB_Terminate();
	v->powered = false;
}

static void crb_reset(struct pv_vtpm *v)
{
	v->active = NO_LOC;
	v->pending = 0;
	v->seized = 0;
	v->established = true;
	v->idle = true;
	v->fatal = false;
	v->cancel = 0;
	v->int_enable = 0;
	v->int_sts = 0;
	pvd_memset(v->buf, 0, sizeof(v->buf));
}

/* ---- registers ---------------------------------------------------------- */

static void update_irq(struct pv_vtpm *v)
{
	bool level = v->cfg.use_irq && (v->int_enable & INT_GLOBAL) &&
		     (v->int_enable & v->int_sts & 0xFu);
	if (level != v->irq_level) {
		v->irq_level = level;
		(void)pv_irq_set(v->part, v->cfg.irq, level);
	}
}

static uint64_t buf_gpa(const struct pv_vtpm *v, uint8_t loc)
{
	return v->cfg.mmio_base + (uint64_t)loc * PAGE + BUF_OFF;
}

/* Value of the 32-bit register at @p reg (dword aligned, < 0x80) in page @p loc.
 * Reads have no side effects. */
static uint32_t reg_read32(const struct pv_vtpm *v, uint8_t loc, uint32_t reg)
{
	bool act = v->active == loc;
	switch (reg) {
	case R_LOC_STATE: {
		uint32_t s = LOC_STATE_VALID;
		if (v->established)
			s |= LOC_STATE_ESTABLISHED;
		if (v->active != NO_LOC)
			s |= LOC_STATE_ASSIGNED | ((uint32_t)v->active << 2);
		return s;
	}
	case R_LOC_STS:
		return (act ? LOC_STS_GRANTED : 0u) |
		       ((v->seized >> loc) & 1u ? LOC_STS_SEIZED : 0u);
	case R_INTF_ID_LO:
		return INTF_ID_LO;
	case R_INTF_ID_HI:
		return INTF_ID_HI;
	case R_CTRL_STS:
		return (v->fatal ? STS_FATAL : 0u) | (v->idle ? STS_IDLE : 0u);
	case R_CTRL_CANCEL:
		return act ? v->cancel : 0u;
	case R_INT_ENABLE:
		return act ? v->int_enable : 0u;
	case R_INT_STS:
		return act ? v->int_sts : 0u;
	case R_CMD_SIZE:
	case R_RSP_SIZE:
		return BUF_SIZE;
	case R_CMD_LADDR:
	case R_RSP_ADDR_LO:
		return (uint32_t)buf_gpa(v, loc);
	case R_CMD_HADDR:
	case R_RSP_ADDR_HI:
		return (uint32_t)(buf_gpa(v, loc) >> 32);
	default:
		/* LOC_CTRL, CTRL_REQ and CTRL_START read 0 (requests complete at
		 * once, commands inside the START write); reserved space reads 0. */
		return 0;
	}
}

static void grant_next(struct pv_vtpm *v)
{
	v->active = NO_LOC;
	for (int l = NLOC - 1; l >= 0; l--) {
		if (v->pending & (1u << l)) {
			v->pending &= (uint8_t) ~(1u << l);
			v->active = (uint8_t)l;
			return;
		}
	}
}

static void loc_ctrl(struct pv_vtpm *v, uint8_t loc, uint32_t val)
{
	uint8_t bit = (uint8_t)(1u << loc);
	if (val & LOC_CTRL_RELINQUISH) {
		v->pending &= (uint8_t)~bit;
		v->seized &= (uint8_t)~bit;
		if (v->active == loc)
			grant_next(v);
	}
	if (val & LOC_CTRL_REQUEST) {
		v->seized &= (uint8_t)~bit;
		if (v->active == NO_LOC)
			v->active = loc;
		else if (v->active != loc)
			v->pending |= bit;
	}
	if ((val & LOC_CTRL_SEIZE) && v->active != NO_LOC && loc > v->active) {
		v->seized |= (uint8_t)(1u << v->active);
		v->pending &= (uint8_t)~bit;
		v->active = loc;
	}
	if ((val & LOC_CTRL_RESET_EST) && (loc == 3 || loc == 4))
		v->established = false;
}

/* A write of @p val with byte-enable @p mask to the register at @p reg. */
static void reg_write32(struct pv_vtpm *v, uint8_t loc, uint32_t reg, uint32_t val, uint32_t mask)
{
	val &= mask;
	if (reg == R_LOC_CTRL) {
		loc_ctrl(v, loc, val);
		return;
	}
	if (v->active != loc)
		return;
	switch (reg) {
	case R_CTRL_REQ:
		if (val & REQ_GO_IDLE)
			v->idle = true;
		else if (val & REQ_CMD_READY)
			v->idle = false;
		break;
	case R_CTRL_CANCEL:
		v->cancel = ((v->cancel & ~mask) | val) & 1u;
		break;
	case R_CTRL_START:
		if ((val & 1u) && !v->idle)
			crb_start(v);
		break;
	case R_INT_ENABLE:
		v->int_enable = ((v->int_enable & ~mask) | val) & INT_ENABLE_MASK;
		break;
	case R_INT_STS:
		v->int_sts &= ~val;
		break;
	default:
		break; /* read-only or reserved */
	}
}

/* One access that stays inside one page and inside either the register
 * block or the buffer. */
static uint64_t access_in_page(struct pv_vtpm *v, uint8_t loc, uint32_t off, uint32_t size,
			       bool is_write, uint64_t data)
{
	if (off >= BUF_OFF) {
		uint32_t b = off - BUF_OFF;
		bool open = v->active == loc && !v->idle;
		uint64_t out = 0;
		for (uint32_t i = 0; i < size; i++) {
			if (is_write) {
				if (open)
					v->buf[b + i] = (uint8_t)(data >> (8 * i));
			} else {
				out |= (uint64_t)(open ? v->buf[b + i] : 0xFFu) << (8 * i);
			}
		}
		return out;
	}
	uint64_t out = 0;
	uint32_t first = off & ~3u, last = (off + size - 1) & ~3u;
	for (uint32_t reg = first; reg <= last; reg += 4) {
		/* Bytes of this register covered by the access, as a shift into
		 * the access data (may be negative) and a byte mask. */
		uint32_t mask = 0, val = 0;
		for (uint32_t byte = 0; byte < 4; byte++) {
			uint32_t a = reg + byte;
			if (a < off || a >= off + size)
				continue;
			mask |= 0xFFu << (8 * byte);
			val |= (uint32_t)((data >> (8 * (a - off))) & 0xFFu) << (8 * byte);
		}
		if (is_write) {
			reg_write32(v, loc, reg, val, mask);
		} else {
			uint32_t r = reg_read32(v, loc, reg);
			for (uint32_t byte = 0; byte < 4; byte++) {
				uint32_t a = reg + byte;
				if (a >= off && a < off + size)
					out |= (uint64_t)((r >> (8 * byte)) & 0xFFu)
					       << (8 * (a - off));
			}
		}
	}
	return out;
}

static uint64_t vtpm_access(struct pv_vtpm *v, uint64_t offset, uint8_t size, bool is_write,
			    uint64_t data)
{
	uint64_t end = offset + size;
	uint32_t in_page = (uint32_t)(offset % PAGE);
	bool straddles = (offset / PAGE) != ((end - 1) / PAGE) ||
			 (in_page < BUF_OFF && in_page + size > BUF_OFF);
	if (end > PV_VTPM_CRB_SIZE || straddles) {
		/* Split into bytes; bytes outside the range read 0xFF. */
		uint64_t out = 0;
		for (uint8_t i = 0; i < size; i++) {
			uint64_t o = offset + i;
			uint64_t b = 0xFF;
			if (o < PV_VTPM_CRB_SIZE)
				b = access_in_page(v, (uint8_t)(o / PAGE), (uint32_t)(o % PAGE), 1,
						   is_write, (data >> (8 * i)) & 0xFFu);
			out |= (b & 0xFFu) << (8 * i);
		}
		return out;
	}
	return access_in_page(v, (uint8_t)(offset / PAGE), in_page, size, is_write, data);
}

pv_err_t pv_vtpm_mmio(struct pv_vtpm *vtpm, uint64_t offset, uint8_t size, bool is_write,
		      uint64_t *data)
{
	if (!vtpm || !data || (size != 1 && size != 2 && size != 4 && size != 8) ||
	    offset >= PV_VTPM_CRB_SIZE)
		return PV_EINVAL;
	pvd_lock(vtpm->part, vtpm->lock);
	uint64_t out = vtpm_access(vtpm, offset, size, is_write, *data);
	update_irq(vtpm);
	pvd_unlock(vtpm->part, vtpm->lock);
	if (!is_write)
		*data = size == 8 ? out : out & ((1ull << (8 * size)) - 1u);
	return PV_OK;
}

static pv_err_t vtpm_mmio_handler(void *ctx, struct pv_vcpu *vcpu, uint64_t offset, uint8_t size,
				  bool is_write, uint64_t *data)
{
	(void)vcpu;
	return pv_vtpm_mmio(ctx, offset, size, is_write, data);
}

/* ---- lifecycle ---------------------------------------------------------- */

pv_err_t pv_vtpm_create(struct pv_partition *part, const struct pv_vtpm_config *config,
			struct pv_vtpm **out)
{
	if (!part || !config || !out || !config->storage.load || !config->storage.store ||
	    !config->storage.remove || config->startup > PV_VTPM_STARTUP_STATE)
		return PV_EINVAL;
	*out = NULL;
	uint64_t base = config->mmio_base ? config->mmio_base : PV_VTPM_CRB_BASE;
	if (base % PAGE || base > UINT64_MAX - PV_VTPM_CRB_SIZE)
		return PV_EINVAL;
	struct pv_vtpm *v = pvd_alloc(part, sizeof(*v));
	if (!v)
		return PV_ENOMEM;
	pvd_memset(v, 0, sizeof(*v));
	struct pv_vtpm *expected = NULL;
	if (!__atomic_compare_exchange_n(&g_vtpm, &expected, v, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		pvd_free(part, v);
		return PV_EBUSY;
	}
	v->part = part;
	v->cfg = *config;
	v->cfg.mmio_base = base;
	crb_reset(v);
	pv_err_t err = PV_ENOMEM;
	v->lock = pvd_lock_create(part);
	if (!v->lock)
		goto fail;
	err = power_on(v);
	if (err)
		goto fail;
	err = pv_mmio_register(part, pv_gpa(base), PV_VTPM_CRB_SIZE, vtpm_mmio_handler, v);
	if (err)
		goto fail;
	v->registered = true;
	pv_log(part, PV_LOG_INFO, "vtpm", "TPM 2.0 CRB at 0x%llx (%s)", (unsigned long long)base,
	       v->resumed ? "resumed volatile state" : "powered on");
	*out = v;
	return PV_OK;
fail:
	pv_vtpm_destroy(v);
	return err;
}

void pv_vtpm_destroy(struct pv_vtpm *vtpm)
{
	if (!vtpm)
		return;
	struct pv_partition *part = vtpm->part;
	if (vtpm->registered)
		(void)pv_mmio_unregister(part, pv_gpa(vtpm->cfg.mmio_base));
	power_off(vtpm);
	if (vtpm->rsp)
		TPM_Free(vtpm->rsp);
	pvd_lock_destroy(part, vtpm->lock);
	__atomic_store_n(&g_vtpm, NULL, __ATOMIC_RELEASE);
	pvd_free(part, vtpm);
}

pv_err_t pv_vtpm_reset(struct pv_vtpm *vtpm)
{
	if (!vtpm)
		return PV_EINVAL;
	pvd_lock(vtpm->part, vtpm->lock);
	power_off(vtpm);
	crb_reset(vtpm);
	bool resume = vtpm->cfg.resume_volatile;
	vtpm->cfg.resume_volatile = false; /* a reset never resumes */
	pv_err_t err = power_on(vtpm);
	vtpm->cfg.resume_volatile = resume;
	update_irq(vtpm);
	pvd_unlock(vtpm->part, vtpm->lock);
	return err;
}

pv_err_t pv_vtpm_store_volatile(struct pv_vtpm *vtpm)
{
	if (!vtpm)
		return PV_EINVAL;
	pvd_lock(vtpm->part, vtpm->lock);
	pv_err_t err = PV_ESTATE;
	if (vtpm->powered) {
		unsigned char *blob = NULL;
		uint32_t len = 0;
		err = PV_EIO;
		if (TPMLIB_GetState(TPMLIB_STATE_VOLATILE, &blob, &len) == TPM_SUCCESS && blob) {
			err = vtpm->cfg.storage.store(vtpm->cfg.storage.ctx, PV_VTPM_STATE_VOLATILE,
						      blob, len);
		}
		if (blob)
			TPM_Free(blob);
	}
	pvd_unlock(vtpm->part, vtpm->lock);
	return err;
}

void pv_vtpm_set_cancel(struct pv_vtpm *vtpm, bool on)
{
	if (!vtpm)
		return;
	pvd_lock(vtpm->part, vtpm->lock);
	vtpm->platform_cancel = on;
	pvd_unlock(vtpm->part, vtpm->lock);
}

uint64_t pv_vtpm_command_count(struct pv_vtpm *vtpm)
{
	if (!vtpm)
		return 0;
	pvd_lock(vtpm->part, vtpm->lock);
	uint64_t n = vtpm->commands;
	pvd_unlock(vtpm->part, vtpm->lock);
	return n;
}

/* ---- save / restore ----------------------------------------------------- */

pv_err_t pv_vtpm_save(struct pv_vtpm *vtpm, uint8_t *buf, size_t cap, size_t *len)
{
	if (!vtpm)
		return PV_EINVAL;
	struct pvd_wr w = {buf, cap, 0};
	pvd_lock(vtpm->part, vtpm->lock);
	pvd_rec_begin(&w, VTPM_REC_MAGIC, VTPM_REC_VERSION, VTPM_REC_BODY);
	pvd_put_u32(&w, vtpm->active);
	pvd_put_u32(&w, vtpm->pending);
	pvd_put_u32(&w, vtpm->seized);
	pvd_put_u32(&w, vtpm->established ? 1u : 0u);
	pvd_put_u32(&w, vtpm->idle ? 1u : 0u);
	pvd_put_u32(&w, vtpm->fatal ? 1u : 0u);
	pvd_put_u32(&w, vtpm->cancel);
	pvd_put_u32(&w, vtpm->int_enable);
	pvd_put_u8(&w, vtpm->platform_cancel ? 1u : 0u);
	pvd_put_u8(&w, 0); /* reserved */
	pvd_put_u32(&w, vtpm->int_sts);
	pvd_put_bytes(&w, vtpm->buf, BUF_SIZE);
	pvd_unlock(vtpm->part, vtpm->lock);
	return pvd_rec_end(&w, len);
}

pv_err_t pv_vtpm_restore(struct pv_vtpm *vtpm, const uint8_t *buf, size_t len)
{
	if (!vtpm || !buf)
		return PV_EINVAL;
	struct pvd_rd r = {buf, len, 0, false};
	pv_err_t err = pvd_rec_check(&r, VTPM_REC_MAGIC, VTPM_REC_VERSION);
	if (err)
		return err;
	uint32_t active = pvd_get_u32(&r), pending = pvd_get_u32(&r), seized = pvd_get_u32(&r);
	uint32_t est = pvd_get_u32(&r), idle = pvd_get_u32(&r), fatal = pvd_get_u32(&r);
	uint32_t cancel = pvd_get_u32(&r), int_en = pvd_get_u32(&r);
	uint8_t pcancel = pvd_get_u8(&r), rsvd = pvd_get_u8(&r);
	uint32_t int_sts = pvd_get_u32(&r);
	if (r.bad || r.len - r.pos != BUF_SIZE)
		return PV_EBADMSG;
	if ((active >= NLOC && active != NO_LOC) || pending >= (1u << NLOC) ||
	    seized >= (1u << NLOC) || est > 1 || idle > 1 || fatal > 1 || cancel > 1 ||
	    (int_en & ~INT_ENABLE_MASK) || pcancel > 1 || rsvd || (int_sts & ~0xFu) ||
	    (active != NO_LOC && (pending & (1u << active))))
		return PV_EBADMSG;
	pvd_lock(vtpm->part, vtpm->lock);
	vtpm->active = (uint8_t)active;
	vtpm->pending = (uint8_t)pending;
	vtpm->seized = (uint8_t)seized;
	vtpm->established = est != 0;
	vtpm->idle = idle != 0;
	vtpm->fatal = fatal != 0;
	vtpm->cancel = cancel;
	vtpm->int_enable = int_en;
	vtpm->platform_cancel = pcancel != 0;
	vtpm->int_sts = int_sts;
	pvd_get_bytes(&r, vtpm->buf, BUF_SIZE);
	/* Re-assert the line from scratch so the interrupt controller agrees. */
	vtpm->irq_level = vtpm->cfg.use_irq && (vtpm->int_enable & INT_GLOBAL) &&
			  (vtpm->int_enable & vtpm->int_sts & 0xFu);
	if (vtpm->cfg.use_irq)
		(void)pv_irq_set(vtpm->part, vtpm->cfg.irq, vtpm->irq_level);
	pvd_unlock(vtpm->part, vtpm->lock);
	return PV_OK;
}
