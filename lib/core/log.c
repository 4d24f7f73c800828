/* SPDX-License-Identifier: MIT */
/*
 * pv_log(): a small printf subset so the core needs no libc. Messages longer
 * than the buffer are cut and end in "...".
 */
#include "internal.h"
#include "util.h"

#define PV_LOG_BUF 256

struct fmt_out {
	char *buf;
	size_t cap; /* usable bytes, excluding the terminator */
	size_t len;
	bool truncated;
};

static void out_char(struct fmt_out *o, char c)
{
	if (o->len < o->cap)
		o->buf[o->len++] = c;
	else
		o->truncated = true;
}

static void out_str(struct fmt_out *o, const char *s, unsigned width, bool left)
{
	size_t n = pv_strlen(s);
	for (size_t i = n; !left && i < width; i++)
		out_char(o, ' ');
	for (size_t i = 0; i < n; i++)
		out_char(o, s[i]);
	for (size_t i = n; left && i < width; i++)
		out_char(o, ' ');
}

static void out_num(struct fmt_out *o, unsigned long long v, bool neg, unsigned base, bool upper,
		    unsigned width, bool zero, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	unsigned n = 0;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	unsigned total = n + (neg ? 1u : 0u);
	if (neg && zero)
		out_char(o, '-');
	for (unsigned i = total; !left && i < width; i++)
		out_char(o, zero ? '0' : ' ');
	if (neg && !zero)
		out_char(o, '-');
	while (n)
		out_char(o, tmp[--n]);
	for (unsigned i = total; left && i < width; i++)
		out_char(o, ' ');
}

static void format(struct fmt_out *o, const char *fmt, __builtin_va_list ap)
{
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			out_char(o, *p);
			continue;
		}
		p++;
		bool left = false, zero = false;
		for (;; p++) {
			if (*p == '-')
				left = true;
			else if (*p == '0')
				zero = true;
			else
				break;
		}
		unsigned width = 0;
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (unsigned)(*p++ - '0');
		int lng = 0; /* 0 int, 1 long, 2 long long, 3 size_t */
		if (*p == 'l') {
			lng = 1;
			if (*++p == 'l') {
				lng = 2;
				p++;
			}
		} else if (*p == 'z') {
			lng = 3;
			p++;
		}
		switch (*p) {
		case 'd':
		case 'i': {
			long long v = lng == 0 ? __builtin_va_arg(ap, int) :
				      lng == 1 ? __builtin_va_arg(ap, long) :
				      lng == 2 ? __builtin_va_arg(ap, long long) :
						 (long long)__builtin_va_arg(ap, size_t);
			unsigned long long mag =
				v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
			out_num(o, mag, v < 0, 10, false, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			unsigned long long v = lng == 0 ? __builtin_va_arg(ap, unsigned) :
					       lng == 1 ? __builtin_va_arg(ap, unsigned long) :
					       lng == 2 ? __builtin_va_arg(ap, unsigned long long) :
							  __builtin_va_arg(ap, size_t);
			out_num(o, v, false, *p == 'u' ? 10 : 16, *p == 'X', width, zero, left);
			break;
		}
		case 'p':
			out_str(o, "0x", 0, false);
			out_num(o, (unsigned long long)(uintptr_t) __builtin_va_arg(ap, void *),
				false, 16, false, width, zero, left);
			break;
		case 's': {
			const char *s = __builtin_va_arg(ap, const char *);
			out_str(o, s ? s : "(null)", width, left);
			break;
		}
		case 'c':
			out_char(o, (char)__builtin_va_arg(ap, int));
			break;
		case '%':
			out_char(o, '%');
			break;
		case '\0':
			return;
		default: /* unknown conversion: print it literally */
			out_char(o, '%');
			out_char(o, *p);
			break;
		}
	}
}

void pv_log(struct pv_partition *part, enum pv_log_level level, const char *subsystem,
	    const char *fmt, ...)
{
	if (!part || !fmt)
		return;
	const struct pv_platform *pf = part->platform;
	if (!pf->log || level > pf->log_level)
		return;
	char buf[PV_LOG_BUF];
	struct fmt_out o = {buf, sizeof(buf) - 1, 0, false};
	__builtin_va_list ap;
	__builtin_va_start(ap, fmt);
	format(&o, fmt, ap);
	__builtin_va_end(ap);
	if (o.truncated)
		pv_memcpy(buf + sizeof(buf) - 4, "...", 3);
	buf[o.len < sizeof(buf) - 1 ? o.len : sizeof(buf) - 1] = '\0';
	pf->log(pf->log_ctx, level, subsystem ? subsystem : "", buf);
}
