/* SPDX-License-Identifier: MIT */
/*
 * A minimal AML encoder (ACPI 6.x, chapter 20 "ACPI Machine Language
 * Specification") and resource-descriptor writer (chapter 6.4). Enough for
 * a DSDT made of Scope, Device, Name, Package, Buffer, String and Integer
 * objects. Errors are sticky: once a write overflows or a name is bad, the
 * builder stays failed and pv_aml_finish() reports it.
 */
#ifndef PV_ACPI_AML_H
#define PV_ACPI_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/error.h"

#define AML_MAX_DEPTH 8

struct pv_aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	pv_err_t err;
	size_t open[AML_MAX_DEPTH]; /* offsets of reserved PkgLength fields */
	unsigned depth;
};

void pv_aml_init(struct pv_aml *a, uint8_t *buf, size_t cap);
/* Returns the sticky error, or PV_EINVAL if a package is still open. */
pv_err_t pv_aml_finish(struct pv_aml *a);

void pv_aml_byte(struct pv_aml *a, uint8_t v);
void pv_aml_bytes(struct pv_aml *a, const void *p, size_t n);
/* "\\_SB.VMOD", "_HID", "^FOO": segments of 1-4 chars [A-Z0-9_], first not a digit. */
void pv_aml_namestring(struct pv_aml *a, const char *path);
/* Smallest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix. */
void pv_aml_integer(struct pv_aml *a, uint64_t v);
void pv_aml_string(struct pv_aml *a, const char *s);
/* A 7-character EISA ID such as "PNP0501", compressed into a DWord. */
void pv_aml_eisaid(struct pv_aml *a, const char *id);

/* NameOp + name; the caller emits the value next. */
void pv_aml_name(struct pv_aml *a, const char *name);
/* Open ScopeOp / DeviceOp / PackageOp; close with pv_aml_close(). */
void pv_aml_scope(struct pv_aml *a, const char *name);
void pv_aml_device(struct pv_aml *a, const char *name);
void pv_aml_package(struct pv_aml *a, uint8_t elements);
void pv_aml_close(struct pv_aml *a);
/* BufferOp with the given bytes. */
void pv_aml_buffer(struct pv_aml *a, const uint8_t *data, size_t n);

/* Encode a PkgLength for a package whose body (after the PkgLength) is body
 * bytes; returns the encoding's length (1..4) or 0 if too large. */
size_t pv_aml_pkglen_encode(size_t body, uint8_t out[4]);

/* Resource template writer: appends descriptors to a plain byte array. */
struct pv_aml_res {
	uint8_t buf[160];
	size_t len;
	bool overflow;
};

void pv_aml_res_init(struct pv_aml_res *r);
/* IO(Decode16, min, max, align, len). */
void pv_aml_res_io(struct pv_aml_res *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags(){irq} (edge, active high, exclusive), irq < 16. */
void pv_aml_res_irq(struct pv_aml_res *r, uint8_t irq);
/* Interrupt(ResourceConsumer, edge or level, high or low, exclusive){gsi}. */
void pv_aml_res_interrupt(struct pv_aml_res *r, uint32_t gsi, bool edge, bool active_low);
/* Memory32Fixed(ReadWrite, base, len). */
void pv_aml_res_mem32_fixed(struct pv_aml_res *r, uint32_t base, uint32_t len);
/* QWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite). */
void pv_aml_res_qword_mem(struct pv_aml_res *r, uint64_t base, uint64_t len);
/* EndTag with a zero checksum byte ("treat as correct"). */
void pv_aml_res_end(struct pv_aml_res *r);

#endif /* PV_ACPI_AML_H */
