/* SPDX-License-Identifier: MIT */
/* Minimal AML and resource-descriptor encoder; see aml.h. */
#include "acpi/aml.h"
#include "core/util.h"

#define AML_ZERO_OP 0x00u
#define AML_ONE_OP 0x01u
#define AML_NAME_OP 0x08u
#define AML_BYTE_PREFIX 0x0au
#define AML_WORD_PREFIX 0x0bu
#define AML_DWORD_PREFIX 0x0cu
#define AML_STRING_PREFIX 0x0du
#define AML_QWORD_PREFIX 0x0eu
#define AML_SCOPE_OP 0x10u
#define AML_BUFFER_OP 0x11u
#define AML_PACKAGE_OP 0x12u
#define AML_EXT_PREFIX 0x5bu
#define AML_DEVICE_OP 0x82u
#define AML_ROOT_CHAR 0x5cu
#define AML_PARENT_CHAR 0x5eu
#define AML_DUAL_NAME_PREFIX 0x2eu
#define AML_MULTI_NAME_PREFIX 0x2fu
#define AML_NULL_NAME 0x00u
/* Room reserved for a PkgLength while its package is open. */
#define AML_PKGLEN_MAX 4u

void pv_aml_init(struct pv_aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->len = 0;
	a->err = buf ? PV_OK : PV_EINVAL;
	a->depth = 0;
}

pv_err_t pv_aml_finish(struct pv_aml *a)
{
	if (a->err)
		return a->err;
	return a->depth ? PV_EINVAL : PV_OK;
}

static bool pv_aml_room(struct pv_aml *a, size_t n)
{
	if (a->err)
		return false;
	if (n > a->cap - a->len) {
		a->err = PV_ERANGE;
		return false;
	}
	return true;
}

void pv_aml_byte(struct pv_aml *a, uint8_t v)
{
	if (pv_aml_room(a, 1))
		a->buf[a->len++] = v;
}

void pv_aml_bytes(struct pv_aml *a, const void *p, size_t n)
{
	if (pv_aml_room(a, n)) {
		pv_memcpy(a->buf + a->len, p, n);
		a->len += n;
	}
}

static bool name_char_ok(char c, bool first)
{
	if (c == '_' || (c >= 'A' && c <= 'Z'))
		return true;
	return !first && c >= '0' && c <= '9';
}

void pv_aml_namestring(struct pv_aml *a, const char *path)
{
	uint8_t segs[8][4];
	unsigned nseg = 0;
	const char *p = path;

	if (!path) {
		a->err = a->err ? a->err : PV_EINVAL;
		return;
	}
	if (*p == '\\') {
		pv_aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			pv_aml_byte(a, AML_PARENT_CHAR);
			p++;
		}
	}
	while (*p) {
		unsigned n = 0;

		if (nseg == PV_ARRAY_SIZE(segs)) {
			a->err = a->err ? a->err : PV_EINVAL;
			return;
		}
		while (*p && *p != '.') {
			if (n == 4 || !name_char_ok(*p, n == 0)) {
				a->err = a->err ? a->err : PV_EINVAL;
				return;
			}
			segs[nseg][n++] = (uint8_t)*p++;
		}
		if (n == 0) {
			a->err = a->err ? a->err : PV_EINVAL;
			return;
		}
		while (n < 4)
			segs[nseg][n++] = '_';
		nseg++;
		if (*p == '.') {
			p++;
			if (!*p) {
				a->err = a->err ? a->err : PV_EINVAL;
				return;
			}
		}
	}
	if (nseg == 0) {
		pv_aml_byte(a, AML_NULL_NAME);
	} else if (nseg == 2) {
		pv_aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		pv_aml_byte(a, AML_MULTI_NAME_PREFIX);
		pv_aml_byte(a, (uint8_t)nseg);
	}
	for (unsigned i = 0; i < nseg; i++)
		pv_aml_bytes(a, segs[i], 4);
}

void pv_aml_integer(struct pv_aml *a, uint64_t v)
{
	uint8_t b[9];
	size_t n;

	if (v == 0) {
		pv_aml_byte(a, AML_ZERO_OP);
		return;
	}
	if (v == 1) {
		pv_aml_byte(a, AML_ONE_OP);
		return;
	}
	if (v <= 0xffu) {
		b[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffffu) {
		b[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffffu) {
		b[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		b[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (size_t i = 0; i < n; i++)
		b[1 + i] = (uint8_t)(v >> (8 * i));
	pv_aml_bytes(a, b, n + 1);
}

void pv_aml_string(struct pv_aml *a, const char *s)
{
	if (!s) {
		a->err = a->err ? a->err : PV_EINVAL;
		return;
	}
	for (const char *c = s; *c; c++) {
		/* AsciiCharList: 0x01-0x7F. */
		if ((unsigned char)*c > 0x7f) {
			a->err = a->err ? a->err : PV_EINVAL;
			return;
		}
	}
	pv_aml_byte(a, AML_STRING_PREFIX);
	pv_aml_bytes(a, s, pv_strlen(s) + 1u);
}

void pv_aml_eisaid(struct pv_aml *a, const char *id)
{
	uint32_t v = 0;
	uint8_t b[5];

	/* Three letters of 5 bits each ('A' = 1), then four hex digits. */
	for (unsigned i = 0; i < 7; i++) {
		char c = id ? id[i] : 0;
		unsigned d;

		if (i < 3) {
			if (c < 'A' || c > 'Z')
				goto bad;
			v = (v << 5) | (uint32_t)(c - 'A' + 1);
		} else {
			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				goto bad;
			v = (v << 4) | d;
		}
	}
	if (id[7] != 0)
		goto bad;
	/* Vendor (15 bits) and product (16 bits) are stored big-endian. */
	b[0] = AML_DWORD_PREFIX;
	b[1] = (uint8_t)(v >> 24);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 8);
	b[4] = (uint8_t)v;
	pv_aml_bytes(a, b, sizeof(b));
	return;
bad:
	a->err = a->err ? a->err : PV_EINVAL;
}

void pv_aml_name(struct pv_aml *a, const char *name)
{
	pv_aml_byte(a, AML_NAME_OP);
	pv_aml_namestring(a, name);
}

size_t pv_aml_pkglen_encode(size_t body, uint8_t out[4])
{
	/* The PkgLength counts itself: try 1..4 encoding bytes. */
	for (size_t n = 1; n <= 4; n++) {
		size_t total = body + n;

		if (n == 1 && total < 0x40u) {
			out[0] = (uint8_t)total;
			return 1;
		}
		if (n > 1 && total < ((size_t)1 << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xfu));
			for (size_t i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return n;
		}
	}
	return 0;
}

static void pv_aml_open_pkg(struct pv_aml *a)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		a->err = PV_EINVAL;
		return;
	}
	if (!pv_aml_room(a, AML_PKGLEN_MAX))
		return;
	a->open[a->depth++] = a->len;
	a->len += AML_PKGLEN_MAX;
}

void pv_aml_close(struct pv_aml *a)
{
	uint8_t enc[4];
	size_t start, body, n;

	if (a->err)
		return;
	if (a->depth == 0) {
		a->err = PV_EINVAL;
		return;
	}
	start = a->open[--a->depth];
	body = a->len - start - AML_PKGLEN_MAX;
	n = pv_aml_pkglen_encode(body, enc);
	if (n == 0) {
		a->err = PV_ERANGE;
		return;
	}
	/* Shift the body down over the unused reserved bytes. */
	pv_memmove(a->buf + start + n, a->buf + start + AML_PKGLEN_MAX, body);
	pv_memcpy(a->buf + start, enc, n);
	a->len -= AML_PKGLEN_MAX - n;
}

void pv_aml_scope(struct pv_aml *a, const char *name)
{
	pv_aml_byte(a, AML_SCOPE_OP);
	pv_aml_open_pkg(a);
	pv_aml_namestring(a, name);
}

void pv_aml_device(struct pv_aml *a, const char *name)
{
	pv_aml_byte(a, AML_EXT_PREFIX);
	pv_aml_byte(a, AML_DEVICE_OP);
	pv_aml_open_pkg(a);
	pv_aml_namestring(a, name);
}

void pv_aml_package(struct pv_aml *a, uint8_t elements)
{
	pv_aml_byte(a, AML_PACKAGE_OP);
	pv_aml_open_pkg(a);
	pv_aml_byte(a, elements);
}

void pv_aml_buffer(struct pv_aml *a, const uint8_t *data, size_t n)
{
	pv_aml_byte(a, AML_BUFFER_OP);
	pv_aml_open_pkg(a);
	pv_aml_integer(a, n);
	pv_aml_bytes(a, data, n);
	pv_aml_close(a);
}

/* --- resource descriptors ------------------------------------------------ */

void pv_aml_res_init(struct pv_aml_res *r)
{
	r->len = 0;
	r->overflow = false;
}

static void res_put(struct pv_aml_res *r, const uint8_t *p, size_t n)
{
	if (r->overflow || n > sizeof(r->buf) - r->len) {
		r->overflow = true;
		return;
	}
	pv_memcpy(r->buf + r->len, p, n);
	r->len += n;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void pv_aml_res_io(struct pv_aml_res *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	uint8_t d[8];

	d[0] = 0x47; /* small item: I/O port, 7 bytes */
	d[1] = 0x01; /* 16-bit decode */
	put_le(d + 2, min, 2);
	put_le(d + 4, max, 2);
	d[6] = align;
	d[7] = len;
	res_put(r, d, sizeof(d));
}

void pv_aml_res_irq(struct pv_aml_res *r, uint8_t irq)
{
	uint8_t d[3];

	if (irq > 15) {
		r->overflow = true;
		return;
	}
	d[0] = 0x22; /* small item: IRQ, 2 bytes (mask only: edge, active high) */
	put_le(d + 1, (uint64_t)1u << irq, 2);
	res_put(r, d, sizeof(d));
}

void pv_aml_res_interrupt(struct pv_aml_res *r, uint32_t gsi, bool edge, bool active_low)
{
	uint8_t d[9];

	d[0] = 0x89; /* large item: extended interrupt */
	put_le(d + 1, 6, 2);
	d[3] = (uint8_t)(0x01u | (edge ? 0x02u : 0) | (active_low ? 0x04u : 0)); /* consumer */
	d[4] = 1;                                                                /* one interrupt */
	put_le(d + 5, gsi, 4);
	res_put(r, d, sizeof(d));
}

void pv_aml_res_mem32_fixed(struct pv_aml_res *r, uint32_t base, uint32_t len)
{
	uint8_t d[12];

	d[0] = 0x86; /* large item: 32-bit fixed memory range */
	put_le(d + 1, 9, 2);
	d[3] = 0x01; /* read/write */
	put_le(d + 4, base, 4);
	put_le(d + 8, len, 4);
	res_put(r, d, sizeof(d));
}

void pv_aml_res_qword_mem(struct pv_aml_res *r, uint64_t base, uint64_t len)
{
	uint8_t d[46];

	pv_memset(d, 0, sizeof(d));
	d[0] = 0x8a; /* large item: QWord address space */
	put_le(d + 1, 43, 2);
	d[3] = 0x00; /* memory range */
	d[4] = 0x0c; /* producer, positive decode, min and max fixed */
	d[5] = 0x01; /* read/write, non-cacheable */
	/* granularity 0 (d+6), minimum, maximum, translation 0, length */
	put_le(d + 14, base, 8);
	put_le(d + 22, base + len - 1u, 8);
	put_le(d + 38, len, 8);
	res_put(r, d, sizeof(d));
}

void pv_aml_res_end(struct pv_aml_res *r)
{
	const uint8_t d[2] = {0x79, 0x00};

	res_put(r, d, sizeof(d));
}
