/* SPDX-License-Identifier: MIT */
/* vTPM: CRB registers, locality arbitration, idle/ready/start/cancel, TPM
 * commands through the dispatcher into libtpms, malformed input, state
 * storage (memory and file backends), reset, interrupts and save/restore. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "devices/devtest.h"
#include "paravisor/vtpm.h"

#define BASE PV_VTPM_CRB_BASE
#define PG(l) (BASE + 0x1000u * (l))
#define BUF(l) (PG(l) + 0x80u)

/* ---- in-memory storage ---------------------------------------------------- */

struct blob {
	char name[32];
	uint8_t *data;
	size_t len;
};

struct memstore {
	struct blob b[4];
	unsigned stores;
};

static struct blob *ms_find(struct memstore *m, const char *name, bool create)
{
	for (int i = 0; i < 4; i++)
		if (m->b[i].data && strcmp(m->b[i].name, name) == 0)
			return &m->b[i];
	if (!create)
		return NULL;
	for (int i = 0; i < 4; i++) {
		if (!m->b[i].data) {
			snprintf(m->b[i].name, sizeof(m->b[i].name), "%s", name);
			return &m->b[i];
		}
	}
	return NULL;
}

static pv_err_t ms_load(void *ctx, const char *name, uint8_t *buf, size_t cap, size_t *len)
{
	struct blob *b = ms_find(ctx, name, false);
	if (!b)
		return PV_ENOENT;
	*len = b->len;
	if (!buf || cap < b->len)
		return PV_ERANGE;
	memcpy(buf, b->data, b->len);
	return PV_OK;
}

static pv_err_t ms_store(void *ctx, const char *name, const uint8_t *data, size_t len)
{
	struct memstore *m = ctx;
	struct blob *b = ms_find(m, name, true);
	if (!b)
		return PV_ENOMEM;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return PV_ENOMEM;
	memcpy(copy, data, len);
	free(b->data);
	b->data = copy;
	b->len = len;
	m->stores++;
	return PV_OK;
}

static pv_err_t ms_remove(void *ctx, const char *name)
{
	struct blob *b = ms_find(ctx, name, false);
	if (!b)
		return PV_ENOENT;
	free(b->data);
	memset(b, 0, sizeof(*b));
	return PV_OK;
}

static void ms_free(struct memstore *m)
{
	for (int i = 0; i < 4; i++)
		free(m->b[i].data);
	memset(m, 0, sizeof(*m));
}

/* ---- fixture -------------------------------------------------------------- */

struct fx {
	struct devtest t;
	struct memstore store;
	struct pv_vtpm *v;
	struct pv_vtpm_config cfg;
};

static struct pv_vtpm_config mem_config(struct memstore *m)
{
	struct pv_vtpm_config c = {0};
	c.storage.ctx = m;
	c.storage.load = ms_load;
	c.storage.store = ms_store;
	c.storage.remove = ms_remove;
	c.startup = PV_VTPM_STARTUP_CLEAR;
	c.irq = 10;
	c.use_irq = true;
	return c;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(devtest_init(&f->t, PV_PORT_CAP_TIMERS), 0);
	f->cfg = mem_config(&f->store);
	assert_int_equal(pv_vtpm_create(f->t.part, &f->cfg, &f->v), PV_OK);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	pv_vtpm_destroy(f->v);
	devtest_fini(&f->t);
	ms_free(&f->store);
	free(f);
	return 0;
}

static uint32_t rd32(struct fx *f, uint64_t gpa)
{
	return (uint32_t)devtest_mmio_read(&f->t, gpa, 4);
}

static void wr32(struct fx *f, uint64_t gpa, uint32_t v)
{
	devtest_mmio_write(&f->t, gpa, 4, v);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t **p, uint16_t v)
{
	(*p)[0] = (uint8_t)(v >> 8);
	(*p)[1] = (uint8_t)v;
	*p += 2;
}

static void put32(uint8_t **p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p, (uint16_t)v);
}

/* Finish a command: patch the size field, return the length. */
static size_t finish(uint8_t *cmd, uint8_t *end)
{
	size_t len = (size_t)(end - cmd);
	uint8_t *p = cmd + 2;
	put32(&p, (uint32_t)len);
	return len;
}

static size_t cmd_getrandom(uint8_t *cmd, uint16_t n)
{
	uint8_t *p = cmd;
	put16(&p, 0x8001);
	put32(&p, 0);
	put32(&p, 0x17B);
	put16(&p, n);
	return finish(cmd, p);
}

static void put_pw_session(uint8_t **p)
{
	put32(p, 9);          /* authorizationSize */
	put32(p, 0x40000009); /* TPM_RS_PW */
	put16(p, 0);          /* nonce */
	**p = 0;              /* attributes */
	(*p)++;
	put16(p, 0); /* hmac */
}

static size_t cmd_pcr_extend(uint8_t *cmd, uint32_t pcr, const uint8_t digest[32])
{
	uint8_t *p = cmd;
	put16(&p, 0x8002);
	put32(&p, 0);
	put32(&p, 0x182);
	put32(&p, pcr);
	put_pw_session(&p);
	put32(&p, 1);
	put16(&p, 0x000B);
	memcpy(p, digest, 32);
	p += 32;
	return finish(cmd, p);
}

static size_t cmd_pcr_read(uint8_t *cmd, uint32_t pcr)
{
	uint8_t *p = cmd;
	put16(&p, 0x8001);
	put32(&p, 0);
	put32(&p, 0x17E);
	put32(&p, 1);
	put16(&p, 0x000B);
	*p++ = 3;
	for (int i = 0; i < 3; i++)
		*p++ = (uint8_t)((pcr / 8 == (uint32_t)i) ? 1u << (pcr % 8) : 0);
	return finish(cmd, p);
}

static size_t cmd_nv_define(uint8_t *cmd, uint32_t index)
{
	uint8_t *p = cmd;
	put16(&p, 0x8002);
	put32(&p, 0);
	put32(&p, 0x12A);
	put32(&p, 0x40000001); /* TPM_RH_OWNER */
	put_pw_session(&p);
	put16(&p, 0);  /* auth */
	put16(&p, 14); /* TPM2B_NV_PUBLIC size */
	put32(&p, index);
	put16(&p, 0x000B);
	put32(&p, 0x00060006); /* OWNERWRITE|AUTHWRITE|OWNERREAD|AUTHREAD */
	put16(&p, 0);          /* authPolicy */
	put16(&p, 8);          /* dataSize */
	return finish(cmd, p);
}

static size_t cmd_nv_readpublic(uint8_t *cmd, uint32_t index)
{
	uint8_t *p = cmd;
	put16(&p, 0x8001);
	put32(&p, 0);
	put32(&p, 0x169);
	put32(&p, index);
	return finish(cmd, p);
}

/* Run a command through the CRB registers; return the response code. */
static uint32_t transact(struct fx *f, const uint8_t *cmd, size_t len, uint8_t *rsp,
			 size_t *rsp_len)
{
	size_t n = 0;
	assert_int_equal(pv_vtpm_crb_transact(f->t.vcpu, pv_gpa(BASE), 0, cmd, len, rsp, 4096, &n),
			 PV_OK);
	assert_true(n >= 10);
	assert_int_equal(be32(rsp + 2), n);
	if (rsp_len)
		*rsp_len = n;
	return be32(rsp + 6);
}

static void pcr16(struct fx *f, uint8_t out[32])
{
	uint8_t cmd[64], rsp[4096];
	size_t n;
	assert_int_equal(transact(f, cmd, cmd_pcr_read(cmd, 16), rsp, &n), 0);
	/* header 10, update counter 4, selection 10, count 4, size 2, digest 32 */
	assert_int_equal(n, 62);
	assert_int_equal(be32(rsp + 24), 1);
	memcpy(out, rsp + 30, 32);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_manufacture_and_single_instance(void **state)
{
	struct fx *f = *state;
	/* First use manufactured the TPM and stored its permanent state. */
	assert_non_null(ms_find(&f->store, PV_VTPM_STATE_PERMANENT, false));
	struct pv_vtpm *other = NULL;
	assert_int_equal(pv_vtpm_create(f->t.part, &f->cfg, &other), PV_EBUSY);
	assert_null(other);
	struct pv_vtpm_config bad = f->cfg;
	bad.storage.load = NULL;
	assert_int_equal(pv_vtpm_create(f->t.part, &bad, &other), PV_EINVAL);
}

static void test_registers_at_reset(void **state)
{
	struct fx *f = *state;
	for (unsigned l = 0; l < 5; l++) {
		assert_int_equal(rd32(f, PG(l) + 0x00), 0x81); /* valid, established */
		assert_int_equal(rd32(f, PG(l) + 0x0C), 0);
		assert_int_equal(devtest_mmio_read(&f->t, PG(l) + 0x30, 8), 0x00011414000A5911ull);
		assert_int_equal(rd32(f, PG(l) + 0x44), 0x2); /* idle */
		assert_int_equal(rd32(f, PG(l) + 0x58), 0xF80);
		assert_int_equal(rd32(f, PG(l) + 0x5C), (uint32_t)(BUF(l)));
		assert_int_equal(rd32(f, PG(l) + 0x60), 0);
		assert_int_equal(rd32(f, PG(l) + 0x64), 0xF80);
		assert_int_equal(devtest_mmio_read(&f->t, PG(l) + 0x68, 8), BUF(l));
		assert_int_equal(rd32(f, PG(l) + 0x40), 0);
		assert_int_equal(rd32(f, PG(l) + 0x4C), 0);
	}
	/* Interface id through narrower reads. */
	assert_int_equal(devtest_mmio_read(&f->t, BASE + 0x30, 1), 0x11);
	assert_int_equal(devtest_mmio_read(&f->t, BASE + 0x31, 2), 0x0A59);
	assert_int_equal(devtest_mmio_read(&f->t, BASE + 0x34, 2), 0x1414);
	assert_int_equal(devtest_handler_errors(&f->t), 0);
}

static void test_locality_arbitration(void **state)
{
	struct fx *f = *state;
	wr32(f, PG(0) + 0x08, 1); /* request 0 */
	assert_int_equal(rd32(f, PG(0) + 0x0C), 1);
	assert_int_equal(rd32(f, PG(3) + 0x00), 0x83); /* assigned, active 0 */
	wr32(f, PG(2) + 0x08, 1);                      /* request 2: waits */
	assert_int_equal(rd32(f, PG(2) + 0x0C), 0);
	wr32(f, PG(1) + 0x08, 1); /* request 1: waits */
	wr32(f, PG(0) + 0x08, 2); /* relinquish 0: highest waiter (2) wins */
	assert_int_equal(rd32(f, PG(2) + 0x0C), 1);
	assert_int_equal(rd32(f, PG(0) + 0x00), 0x8B);
	/* Seize by a higher locality. */
	wr32(f, PG(4) + 0x08, 4);
	assert_int_equal(rd32(f, PG(4) + 0x0C), 1);
	assert_int_equal(rd32(f, PG(2) + 0x0C), 2); /* beenSeized */
	assert_int_equal(rd32(f, PG(0) + 0x00), 0x93);
	/* A lower locality cannot seize. */
	wr32(f, PG(3) + 0x08, 4);
	assert_int_equal(rd32(f, PG(4) + 0x0C), 1);
	/* Relinquish 4: waiting locality 1 gets it. */
	wr32(f, PG(4) + 0x08, 2);
	assert_int_equal(rd32(f, PG(1) + 0x0C), 1);
	wr32(f, PG(1) + 0x08, 2);
	assert_int_equal(rd32(f, PG(0) + 0x00), 0x81); /* nobody */
	/* The seized flag clears when that locality relinquishes. */
	wr32(f, PG(2) + 0x08, 2);
	assert_int_equal(rd32(f, PG(2) + 0x0C), 0);
	/* resetEstablishment only from localities 3 and 4. */
	wr32(f, PG(0) + 0x08, 8);
	assert_int_equal(rd32(f, PG(0) + 0x00) & 1, 1);
	wr32(f, PG(3) + 0x08, 8);
	assert_int_equal(rd32(f, PG(0) + 0x00) & 1, 0);
}

static void test_idle_ready_and_buffer_gating(void **state)
{
	struct fx *f = *state;
	/* No locality: buffer closed. */
	devtest_mmio_write(&f->t, BUF(0), 8, 0x1122334455667788ull);
	assert_int_equal(devtest_mmio_read(&f->t, BUF(0), 8), UINT64_MAX);
	wr32(f, PG(0) + 0x08, 1);
	/* Idle: still closed; START ignored. */
	devtest_mmio_write(&f->t, BUF(0), 8, 0x1122334455667788ull);
	assert_int_equal(devtest_mmio_read(&f->t, BUF(0), 8), UINT64_MAX);
	wr32(f, PG(0) + 0x4C, 1);
	assert_int_equal(pv_vtpm_command_count(f->v), 0);
	/* cmdReady opens it. */
	wr32(f, PG(0) + 0x40, 1);
	assert_int_equal(rd32(f, PG(0) + 0x40), 0);
	assert_int_equal(rd32(f, PG(0) + 0x44), 0);
	devtest_mmio_write(&f->t, BUF(0), 8, 0x1122334455667788ull);
	assert_int_equal(devtest_mmio_read(&f->t, BUF(0), 8), 0x1122334455667788ull);
	assert_int_equal(devtest_mmio_read(&f->t, BUF(0) + 2, 2), 0x5566);
	/* The buffer is shared: other pages see it closed (not their locality). */
	assert_int_equal(devtest_mmio_read(&f->t, BUF(1), 4), 0xFFFFFFFFu);
	assert_int_equal(rd32(f, PG(1) + 0x48), 0);
	/* Control writes from a page that is not active are ignored. */
	wr32(f, PG(1) + 0x40, 2);
	assert_int_equal(rd32(f, PG(0) + 0x44), 0);
	/* goIdle closes it again. */
	wr32(f, PG(0) + 0x40, 2);
	assert_int_equal(rd32(f, PG(0) + 0x44), 2);
	assert_int_equal(devtest_mmio_read(&f->t, BUF(0), 8), UINT64_MAX);
	/* Both bits: goIdle wins. */
	wr32(f, PG(0) + 0x40, 1);
	wr32(f, PG(0) + 0x40, 3);
	assert_int_equal(rd32(f, PG(0) + 0x44), 2);
}

static void test_getrandom(void **state)
{
	struct fx *f = *state;
	uint8_t cmd[16], r1[4096], r2[4096];
	size_t n;
	assert_int_equal(transact(f, cmd, cmd_getrandom(cmd, 32), r1, &n), 0);
	assert_int_equal(n, 10 + 2 + 32);
	assert_int_equal((r1[10] << 8) | r1[11], 32);
	assert_int_equal(transact(f, cmd, cmd_getrandom(cmd, 32), r2, &n), 0);
	assert_memory_not_equal(r1 + 12, r2 + 12, 32);
	assert_int_equal(pv_vtpm_command_count(f->v), 2);
	/* The client relinquished: nobody holds a locality, TPM idle. */
	assert_int_equal(rd32(f, PG(0) + 0x00), 0x81);
	assert_int_equal(rd32(f, PG(0) + 0x44), 0x2);
}

static void test_pcr_extend_and_read(void **state)
{
	struct fx *f = *state;
	uint8_t before[32], after[32], cmd[128], rsp[4096];
	pcr16(f, before);
	uint8_t zero[32] = {0};
	assert_memory_equal(before, zero, 32);
	uint8_t digest[32];
	for (int i = 0; i < 32; i++)
		digest[i] = (uint8_t)(i * 3 + 1);
	assert_int_equal(transact(f, cmd, cmd_pcr_extend(cmd, 16, digest), rsp, NULL), 0);
	pcr16(f, after);
	uint8_t cat[64], expect[32];
	memcpy(cat, before, 32);
	memcpy(cat + 32, digest, 32);
	assert_int_equal(mbedtls_sha256_ret(cat, 64, expect, 0), 0);
	assert_memory_equal(after, expect, 32);
	/* A platform reset brings PCR 16 back to zero (Startup(CLEAR) sent again). */
	assert_int_equal(pv_vtpm_reset(f->v), PV_OK);
	pcr16(f, after);
	assert_memory_equal(after, zero, 32);
}

static void test_malformed_commands(void **state)
{
	struct fx *f = *state;
	uint8_t cmd[4096], rsp[4096];
	/* Bad tag. */
	size_t len = cmd_getrandom(cmd, 8);
	cmd[0] = 0x12;
	assert_int_not_equal(transact(f, cmd, len, rsp, NULL), 0);
	/* Size field larger than what follows: libtpms rejects it. */
	len = cmd_getrandom(cmd, 8);
	uint8_t *p = cmd + 2;
	put32(&p, 40);
	uint32_t rc = transact(f, cmd, len, rsp, NULL);
	assert_int_not_equal(rc, 0);
	/* Unknown command code. */
	len = cmd_getrandom(cmd, 8);
	p = cmd + 6;
	put32(&p, 0x7777);
	assert_int_equal(transact(f, cmd, len, rsp, NULL), 0x143); /* TPM_RC_COMMAND_CODE */
	/* Size fields below a header or beyond the buffer, written raw. */
	static const uint32_t sizes[] = {0, 5, 9, 0xF81, 0xFFFFFFFFu};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		wr32(f, PG(0) + 0x08, 1);
		wr32(f, PG(0) + 0x40, 1);
		devtest_mmio_write(&f->t, BUF(0), 2, 0x0180);
		devtest_mmio_write(&f->t, BUF(0) + 2, 4, __builtin_bswap32(sizes[i]));
		wr32(f, PG(0) + 0x4C, 1);
		assert_int_equal(rd32(f, PG(0) + 0x4C), 0);
		uint32_t hdr_size =
			__builtin_bswap32((uint32_t)devtest_mmio_read(&f->t, BUF(0) + 2, 4));
		uint32_t trc = __builtin_bswap32((uint32_t)devtest_mmio_read(&f->t, BUF(0) + 6, 4));
		assert_int_equal(hdr_size, 10);
		assert_int_not_equal(trc, 0);
		wr32(f, PG(0) + 0x40, 2);
		wr32(f, PG(0) + 0x08, 2);
	}
	/* The TPM still works and no error reached the dispatcher. */
	assert_int_equal(transact(f, cmd, cmd_getrandom(cmd, 16), rsp, NULL), 0);
	assert_int_equal(rd32(f, PG(0) + 0x44) & 1, 0);
	assert_int_equal(devtest_handler_errors(&f->t), 0);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	uint8_t cmd[16];
	size_t len = cmd_getrandom(cmd, 16);
	wr32(f, PG(0) + 0x08, 1);
	wr32(f, PG(0) + 0x40, 1);
	for (size_t i = 0; i < len; i++)
		devtest_mmio_write(&f->t, BUF(0) + i, 1, cmd[i]);
	wr32(f, PG(0) + 0x48, 1);
	assert_int_equal(rd32(f, PG(0) + 0x48), 1);
	wr32(f, PG(0) + 0x4C, 1);
	assert_int_equal(__builtin_bswap32((uint32_t)devtest_mmio_read(&f->t, BUF(0) + 6, 4)),
			 0x909);
	assert_int_equal(pv_vtpm_command_count(f->v), 0);
	wr32(f, PG(0) + 0x48, 0);
	wr32(f, PG(0) + 0x40, 2);
	wr32(f, PG(0) + 0x08, 2);
	/* The platform cancel signal (mssim CANCEL_ON) has the same effect. */
	uint8_t rsp[4096];
	pv_vtpm_set_cancel(f->v, true);
	size_t n;
	assert_int_equal(
		pv_vtpm_crb_transact(f->t.vcpu, pv_gpa(BASE), 0, cmd, len, rsp, sizeof(rsp), &n),
		PV_OK);
	assert_int_equal(be32(rsp + 6), 0x909);
	pv_vtpm_set_cancel(f->v, false);
	assert_int_equal(transact(f, cmd, len, rsp, NULL), 0);
}

static void test_start_interrupt(void **state)
{
	struct fx *f = *state;
	uint8_t cmd[16];
	size_t len = cmd_getrandom(cmd, 4);
	wr32(f, PG(0) + 0x08, 1);
	wr32(f, PG(0) + 0x50, 0x80000001u);
	assert_int_equal(rd32(f, PG(0) + 0x50), 0x80000001u);
	wr32(f, PG(0) + 0x40, 1);
	for (size_t i = 0; i < len; i++)
		devtest_mmio_write(&f->t, BUF(0) + i, 1, cmd[i]);
	assert_false(f->t.level[10]);
	/* A byte write of 1 to START is enough. */
	devtest_mmio_write(&f->t, PG(0) + 0x4C, 1, 1);
	assert_true(f->t.level[10]);
	assert_int_equal(rd32(f, PG(0) + 0x54), 1);
	wr32(f, PG(0) + 0x54, 1); /* write 1 to clear */
	assert_false(f->t.level[10]);
	assert_int_equal(rd32(f, PG(0) + 0x54), 0);
	/* Reserved enable bits do not stick. */
	wr32(f, PG(0) + 0x50, 0xFFFFFFFFu);
	assert_int_equal(rd32(f, PG(0) + 0x50), 0x8000000Fu);
}

static void test_every_width_every_offset(void **state)
{
	struct fx *f = *state;
	static const uint8_t sizes[4] = {1, 2, 4, 8};
	for (int s = 0; s < 4; s++) {
		for (uint64_t off = 0; off < PV_VTPM_CRB_SIZE;
		     off += (off % 0x1000 < 0x90 ? 1 : 61))
			(void)devtest_mmio_read(&f->t, BASE + off, sizes[s]);
	}
	/* Writes of all-ones and zero to every register byte of every page. */
	for (int s = 0; s < 4; s++) {
		for (unsigned l = 0; l < 5; l++) {
			for (uint32_t off = 0; off < 0x88; off++) {
				devtest_mmio_write(&f->t, PG(l) + off, sizes[s], UINT64_MAX);
				devtest_mmio_write(&f->t, PG(l) + off, sizes[s], 0);
			}
		}
	}
	assert_int_equal(devtest_handler_errors(&f->t), 0);
	/* Direct calls: bad arguments and the end of the range. */
	uint64_t v = 0;
	assert_int_equal(pv_vtpm_mmio(f->v, PV_VTPM_CRB_SIZE, 4, false, &v), PV_EINVAL);
	assert_int_equal(pv_vtpm_mmio(f->v, 0, 3, false, &v), PV_EINVAL);
	assert_int_equal(pv_vtpm_mmio(f->v, 0, 4, false, NULL), PV_EINVAL);
	/* Idle and no locality: the last 4 buffer bytes read 0xFF, beyond the range too. */
	for (unsigned l = 0; l < 5; l++) {
		wr32(f, PG(l) + 0x40, 2);
		wr32(f, PG(l) + 0x08, 2);
	}
	assert_int_equal(pv_vtpm_mmio(f->v, PV_VTPM_CRB_SIZE - 4, 8, false, &v), PV_OK);
	assert_int_equal(v, UINT64_MAX);
	/* An access straddling the register block and the buffer is split. */
	assert_int_equal(pv_vtpm_mmio(f->v, 0x7C, 8, false, &v), PV_OK);
	assert_int_equal(v, 0xFFFFFFFF00000000ull);
	/* The device still works after the storm. */
	uint8_t cmd[16], rsp[4096];
	assert_int_equal(transact(f, cmd, cmd_getrandom(cmd, 8), rsp, NULL), 0);
}

static void test_state_survives_power_cycle(void **state)
{
	struct fx *f = *state;
	uint8_t cmd[128], rsp[4096];
	assert_int_equal(transact(f, cmd, cmd_nv_readpublic(cmd, 0x01500010), rsp, NULL) & 0xFF,
			 0x8B); /* TPM_RC_HANDLE */
	assert_int_equal(transact(f, cmd, cmd_nv_define(cmd, 0x01500010), rsp, NULL), 0);
	assert_int_equal(transact(f, cmd, cmd_nv_readpublic(cmd, 0x01500010), rsp, NULL), 0);
	/* Extend PCR 16 and keep the volatile state too. */
	uint8_t digest[32] = {1, 2, 3}, pcr_before[32], pcr_after[32];
	assert_int_equal(transact(f, cmd, cmd_pcr_extend(cmd, 16, digest), rsp, NULL), 0);
	pcr16(f, pcr_before);
	assert_int_equal(pv_vtpm_store_volatile(f->v), PV_OK);
	assert_non_null(ms_find(&f->store, PV_VTPM_STATE_VOLATILE, false));
	pv_vtpm_destroy(f->v);
	f->v = NULL;

	/* Power on again from the same storage, ignoring the volatile state:
	 * the NV index is still defined, PCR 16 starts from zero. */
	assert_int_equal(pv_vtpm_create(f->t.part, &f->cfg, &f->v), PV_OK);
	assert_int_equal(transact(f, cmd, cmd_nv_readpublic(cmd, 0x01500010), rsp, NULL), 0);
	uint8_t zero[32] = {0};
	pcr16(f, pcr_after);
	assert_memory_equal(pcr_after, zero, 32);
	pv_vtpm_destroy(f->v);
	f->v = NULL;

	/* Resuming the volatile state brings PCR 16 back (no Startup needed). */
	struct pv_vtpm_config c = f->cfg;
	c.resume_volatile = true;
	assert_int_equal(pv_vtpm_create(f->t.part, &c, &f->v), PV_OK);
	pcr16(f, pcr_after);
	assert_memory_equal(pcr_after, pcr_before, 32);
}

static void test_unusable_state_is_refused(void **state)
{
	struct fx *f = *state;
	pv_vtpm_destroy(f->v);
	f->v = NULL;
	struct blob *b = ms_find(&f->store, PV_VTPM_STATE_PERMANENT, false);
	assert_non_null(b);
	memset(b->data, 0xA5, b->len);
	assert_int_equal(pv_vtpm_create(f->t.part, &f->cfg, &f->v), PV_EIO);
	assert_null(f->v);
	/* The failed attempt released the process-wide slot. */
	ms_remove(&f->store, PV_VTPM_STATE_PERMANENT);
	assert_int_equal(pv_vtpm_create(f->t.part, &f->cfg, &f->v), PV_OK);
}

static void test_save_restore(void **state)
{
	struct fx *f = *state;
	wr32(f, PG(2) + 0x08, 1);
	wr32(f, PG(2) + 0x40, 1);
	wr32(f, PG(2) + 0x50, 0x80000001u);
	devtest_mmio_write(&f->t, BUF(2), 8, 0x0102030405060708ull);
	uint8_t *rec = malloc(8192);
	assert_non_null(rec);
	size_t len = 0;
	assert_int_equal(pv_vtpm_save(f->v, NULL, 0, &len), PV_ERANGE);
	assert_int_equal(pv_vtpm_save(f->v, rec, 8192, &len), PV_OK);
	/* Change everything, then restore. */
	devtest_mmio_write(&f->t, BUF(2), 8, 0);
	wr32(f, PG(2) + 0x40, 2);
	wr32(f, PG(2) + 0x08, 2);
	assert_int_equal(pv_vtpm_restore(f->v, rec, len), PV_OK);
	assert_int_equal(rd32(f, PG(2) + 0x0C), 1);
	assert_int_equal(rd32(f, PG(2) + 0x44), 0);
	assert_int_equal(rd32(f, PG(2) + 0x50), 0x80000001u);
	assert_int_equal(devtest_mmio_read(&f->t, BUF(2), 8), 0x0102030405060708ull);
	/* Malformed records. */
	for (size_t cut = 0; cut < 64; cut++)
		assert_int_not_equal(pv_vtpm_restore(f->v, rec, cut), PV_OK);
	assert_int_not_equal(pv_vtpm_restore(f->v, rec, len - 1), PV_OK);
	uint8_t *bad = malloc(len);
	memcpy(bad, rec, len);
	bad[10] = 7; /* active locality 7 */
	assert_int_equal(pv_vtpm_restore(f->v, bad, len), PV_EBADMSG);
	memcpy(bad, rec, len);
	bad[14] = 0x04; /* locality 2 both active and pending */
	assert_int_equal(pv_vtpm_restore(f->v, bad, len), PV_EBADMSG);
	memcpy(bad, rec, len);
	bad[4] = 2;
	assert_int_equal(pv_vtpm_restore(f->v, bad, len), PV_EVERSION);
	assert_int_equal(rd32(f, PG(2) + 0x0C), 1);
	free(bad);
	free(rec);
}

/* ---- file storage ----------------------------------------------------------- */

static void test_file_storage(void **state)
{
	(void)state;
	char dir[] = "/tmp/pv-vtpm-fs-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct pv_vtpm_file_storage fs;
	struct pv_vtpm_storage st;
	assert_int_equal(pv_vtpm_file_storage_init(&fs, dir, &st), PV_OK);
	size_t len = 0;
	uint8_t buf[64];
	assert_int_equal(st.load(st.ctx, "permall", buf, sizeof(buf), &len), PV_ENOENT);
	assert_int_equal(st.store(st.ctx, "permall", (const uint8_t *)"first", 5), PV_OK);
	assert_int_equal(st.store(st.ctx, "permall", (const uint8_t *)"second!", 7), PV_OK);
	assert_int_equal(st.load(st.ctx, "permall", NULL, 0, &len), PV_ERANGE);
	assert_int_equal(len, 7);
	assert_int_equal(st.load(st.ctx, "permall", buf, sizeof(buf), &len), PV_OK);
	assert_memory_equal(buf, "second!", 7);
	/* No temporary file is left behind. */
	char path[700];
	snprintf(path, sizeof(path), "%s/.tmp-tpm2-permall.bin", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	/* A torn temporary file from a crash does not affect the stored blob. */
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("torn", fp);
	fclose(fp);
	assert_int_equal(st.load(st.ctx, "permall", buf, sizeof(buf), &len), PV_OK);
	assert_memory_equal(buf, "second!", 7);
	assert_int_equal(st.store(st.ctx, "permall", (const uint8_t *)"third", 5), PV_OK);
	assert_int_not_equal(access(path, F_OK), 0);
	/* Names are restricted (no path tricks). */
	assert_int_equal(st.store(st.ctx, "../x", (const uint8_t *)"x", 1), PV_EINVAL);
	assert_int_equal(st.load(st.ctx, "", buf, sizeof(buf), &len), PV_EINVAL);
	assert_int_equal(st.remove(st.ctx, "permall"), PV_OK);
	assert_int_equal(st.remove(st.ctx, "permall"), PV_ENOENT);
	char longdir[600];
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = 0;
	assert_int_equal(pv_vtpm_file_storage_init(&fs, longdir, &st), PV_EINVAL);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_manufacture_and_single_instance, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_registers_at_reset, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_locality_arbitration, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_idle_ready_and_buffer_gating, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_getrandom, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_pcr_extend_and_read, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_commands, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_start_interrupt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_every_width_every_offset, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_state_survives_power_cycle, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_unusable_state_is_refused, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_save_restore, fx_setup, fx_teardown),
		cmocka_unit_test(test_file_storage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
