/* SPDX-License-Identifier: MIT */
/* Fake guest physical memory for the x86emu unit tests. */
#ifndef TESTS_X86EMU_FAKEMEM_H
#define TESTS_X86EMU_FAKEMEM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <paravisor/x86emu.h>

#define FM_SIZE (4u << 20) /* 4 MiB of guest RAM at GPA 0 */

struct fakemem {
	uint8_t *ram;
	unsigned reads, writes, cmpxchgs;
	uint64_t last_write_gpa;
	unsigned last_write_len;
	unsigned fail_cmpxchg; /* make the next N cmpxchg calls fail (simulated race) */
	uint64_t mmio_base;    /* GPAs at/above this are "MMIO": logged, reads return 0xab.. */
	uint8_t mmio_log[64];
	unsigned mmio_log_len;
};

static inline pv_err_t fm_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	struct fakemem *m = ctx;
	m->reads++;
	if (m->mmio_base && gpa >= m->mmio_base) {
		memset(buf, 0xab, len);
		return PV_OK;
	}
	if (gpa >= FM_SIZE || len > FM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(buf, m->ram + gpa, len);
	return PV_OK;
}

static inline pv_err_t fm_write(void *ctx, uint64_t gpa, const void *buf, unsigned len)
{
	struct fakemem *m = ctx;
	m->writes++;
	m->last_write_gpa = gpa;
	m->last_write_len = len;
	if (m->mmio_base && gpa >= m->mmio_base) {
		if (m->mmio_log_len + len <= sizeof(m->mmio_log)) {
			memcpy(m->mmio_log + m->mmio_log_len, buf, len);
			m->mmio_log_len += len;
		}
		return PV_OK;
	}
	if (gpa >= FM_SIZE || len > FM_SIZE - gpa)
		return PV_EFAULT;
	memcpy(m->ram + gpa, buf, len);
	return PV_OK;
}

static inline pv_err_t fm_cmpxchg(void *ctx, uint64_t gpa, unsigned len, void *expected,
				  const void *desired, bool *swapped)
{
	struct fakemem *m = ctx;
	m->cmpxchgs++;
	if (gpa >= FM_SIZE || len > FM_SIZE - gpa)
		return PV_EFAULT;
	if (m->fail_cmpxchg) {
		m->fail_cmpxchg--;
		memcpy(expected, m->ram + gpa, len);
		*swapped = false;
		return PV_OK;
	}
	if (memcmp(m->ram + gpa, expected, len) == 0) {
		memcpy(m->ram + gpa, desired, len);
		*swapped = true;
	} else {
		memcpy(expected, m->ram + gpa, len);
		*swapped = false;
	}
	return PV_OK;
}

static const struct pv_x86emu_ops fm_ops = {fm_read, fm_write, fm_cmpxchg};

static inline void fm_put64(struct fakemem *m, uint64_t gpa, uint64_t v)
{
	memcpy(m->ram + gpa, &v, 8);
}

static inline uint64_t fm_get64(struct fakemem *m, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, m->ram + gpa, 8);
	return v;
}

static inline void fm_put32(struct fakemem *m, uint64_t gpa, uint32_t v)
{
	memcpy(m->ram + gpa, &v, 4);
}

static inline uint32_t fm_get32(struct fakemem *m, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, m->ram + gpa, 4);
	return v;
}

#endif
