/* SPDX-License-Identifier: MIT */
/*
 * MC146818 CMOS RTC. Time is kept as "RTC nanoseconds since the Unix epoch at
 * clock reference ref_ns"; registers are computed from it on read while the
 * clock runs, and are plain bytes while it is frozen (SET bit or divider
 * reset). Flags are evaluated lazily on every access and from one port timer
 * when an enabled interrupt needs a wake-up.
 */
#include "paravisor/rtc_cmos.h"

#include "dev_common.h"
#include "paravisor/device.h"
#include "paravisor/dispatch.h"
#include "paravisor/partition.h"

#define REG_SEC 0x00u
#define REG_SEC_ALARM 0x01u
#define REG_MIN 0x02u
#define REG_MIN_ALARM 0x03u
#define REG_HOUR 0x04u
#define REG_HOUR_ALARM 0x05u
#define REG_DOW 0x06u
#define REG_DAY 0x07u
#define REG_MONTH 0x08u
#define REG_YEAR 0x09u
#define REG_A 0x0Au
#define REG_B 0x0Bu
#define REG_C 0x0Cu
#define REG_D 0x0Du

#define A_UIP 0x80u
#define A_DV 0x70u
#define A_RS 0x0Fu
#define B_SET 0x80u
#define B_PIE 0x40u
#define B_AIE 0x20u
#define B_UIE 0x10u
#define B_DM 0x04u
#define B_24H 0x02u
#define C_IRQF 0x80u
#define C_PF 0x40u
#define C_AF 0x20u
#define C_UF 0x10u
#define D_VRT 0x80u

#define NS_PER_SEC 1000000000ull
#define UIP_WINDOW_NS 244140ull /* 8 cycles of 32.768 kHz */
#define YEAR_MIN 1970u
#define YEAR_MAX 2499u
#define SEC_MAX 16725225599ull /* 2499-12-31 23:59:59 */
#define RTC_REC_MAGIC PVD_MAGIC('R', 'T', 'C', '0')
#define RTC_REC_VERSION 1u
#define RTC_REC_BODY (PV_RTC_CMOS_SIZE + 1u + 1u + 8u + 1u)

struct pv_rtc {
	struct pv_partition *part;
	void *lock;
	struct pv_rtc_config cfg;
	struct pv_timer *timer;
	bool registered;

	uint8_t cmos[PV_RTC_CMOS_SIZE];
	uint8_t index;
	bool nmi_masked;
	uint8_t flags; /* PF/AF/UF */
	bool irq_level;
	bool running;
	uint64_t rtc_ns_at_ref; /* RTC time (epoch ns) at clock ref_ns, while running */
	uint64_t ref_ns;
	uint64_t last_sec; /* RTC second seen by the last flag evaluation */
	uint64_t pf_next;  /* clock time of the next periodic tick */
};

/* ---- calendar ---------------------------------------------------------- */

static bool is_leap(uint32_t y)
{
	return (y % 4u == 0 && y % 100u != 0) || y % 400u == 0;
}

static uint32_t days_in_month(uint32_t y, uint32_t m)
{
	static const uint8_t d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29u : d[m - 1];
}

struct rtc_tm {
	uint32_t year, month, day, hour, min, sec, dow; /* dow: 1 = Sunday */
};

static void sec_to_tm(uint64_t t, struct rtc_tm *tm)
{
	uint64_t days = t / 86400u;
	uint32_t tod = (uint32_t)(t % 86400u);
	tm->hour = tod / 3600u;
	tm->min = (tod / 60u) % 60u;
	tm->sec = tod % 60u;
	tm->dow = (uint32_t)((days + 4u) % 7u) + 1u; /* 1970-01-01 was a Thursday */
	uint32_t y = YEAR_MIN;
	for (;;) {
		uint32_t yd = is_leap(y) ? 366u : 365u;
		if (days < yd)
			break;
		days -= yd;
		y++;
	}
	uint32_t m = 1;
	while (days >= days_in_month(y, m)) {
		days -= days_in_month(y, m);
		m++;
	}
	tm->year = y;
	tm->month = m;
	tm->day = (uint32_t)days + 1u;
}

/* Clamp every field into range, then convert to seconds. */
static uint64_t tm_to_sec(struct rtc_tm *tm)
{
	if (tm->year < YEAR_MIN)
		tm->year = YEAR_MIN;
	if (tm->year > YEAR_MAX)
		tm->year = YEAR_MAX;
	if (tm->month < 1)
		tm->month = 1;
	if (tm->month > 12)
		tm->month = 12;
	if (tm->day < 1)
		tm->day = 1;
	if (tm->day > days_in_month(tm->year, tm->month))
		tm->day = days_in_month(tm->year, tm->month);
	if (tm->hour > 23)
		tm->hour = 23;
	if (tm->min > 59)
		tm->min = 59;
	if (tm->sec > 59)
		tm->sec = 59;
	uint64_t days = 0;
	for (uint32_t y = YEAR_MIN; y < tm->year; y++)
		days += is_leap(y) ? 366u : 365u;
	for (uint32_t m = 1; m < tm->month; m++)
		days += days_in_month(tm->year, m);
	days += tm->day - 1u;
	return days * 86400u + tm->hour * 3600u + tm->min * 60u + tm->sec;
}

/* ---- register encoding ------------------------------------------------- */

static uint8_t enc(const struct pv_rtc *r, uint32_t v)
{
	if (r->cmos[REG_B] & B_DM)
		return (uint8_t)v;
	return (uint8_t)(((v / 10u) % 10u) << 4 | (v % 10u));
}

static uint32_t dec(const struct pv_rtc *r, uint8_t b)
{
	if (r->cmos[REG_B] & B_DM)
		return b;
	return (uint32_t)(b >> 4) * 10u + (b & 0x0Fu);
}

static uint8_t enc_hour(const struct pv_rtc *r, uint32_t h)
{
	if (r->cmos[REG_B] & B_24H)
		return enc(r, h);
	uint32_t h12 = h % 12u ? h % 12u : 12u;
	return (uint8_t)(enc(r, h12) | (h >= 12u ? 0x80u : 0u));
}

static uint32_t dec_hour(const struct pv_rtc *r, uint8_t b)
{
	if (r->cmos[REG_B] & B_24H)
		return dec(r, b);
	uint32_t h = dec(r, (uint8_t)(b & 0x7Fu));
	if (h > 12u)
		h = 12u;
	return h % 12u + ((b & 0x80u) ? 12u : 0u);
}

/* ---- time base --------------------------------------------------------- */

static uint64_t rtc_now_ns(const struct pv_rtc *r, uint64_t now)
{
	uint64_t t = r->rtc_ns_at_ref + (now - r->ref_ns);
	return t;
}

static bool should_run(const struct pv_rtc *r)
{
	return !(r->cmos[REG_B] & B_SET) && (r->cmos[REG_A] & 0x60u) != 0x60u;
}

/* Write the time fields for second @p t into the CMOS bytes. */
static void store_time(struct pv_rtc *r, uint64_t t)
{
	struct rtc_tm tm;
	sec_to_tm(t, &tm);
	r->cmos[REG_SEC] = enc(r, tm.sec);
	r->cmos[REG_MIN] = enc(r, tm.min);
	r->cmos[REG_HOUR] = enc_hour(r, tm.hour);
	r->cmos[REG_DOW] = enc(r, tm.dow);
	r->cmos[REG_DAY] = enc(r, tm.day);
	r->cmos[REG_MONTH] = enc(r, tm.month);
	r->cmos[REG_YEAR] = enc(r, tm.year % 100u);
	r->cmos[PV_RTC_CENTURY_INDEX] = enc(r, tm.year / 100u);
}

/* Parse the time fields from the CMOS bytes (invalid values are clamped). */
static uint64_t load_time(const struct pv_rtc *r)
{
	struct rtc_tm tm;
	uint32_t cent = dec(r, r->cmos[PV_RTC_CENTURY_INDEX]);
	uint32_t yy = dec(r, r->cmos[REG_YEAR]);
	if (cent > 99u)
		cent = 99u;
	if (yy > 99u)
		yy = 99u;
	tm.year = cent * 100u + yy;
	tm.month = dec(r, r->cmos[REG_MONTH]);
	tm.day = dec(r, r->cmos[REG_DAY]);
	tm.hour = dec_hour(r, r->cmos[REG_HOUR]);
	tm.min = dec(r, r->cmos[REG_MIN]);
	tm.sec = dec(r, r->cmos[REG_SEC]);
	tm.dow = 0;
	return tm_to_sec(&tm);
}

static uint64_t clamp_sec(uint64_t s)
{
	return s > SEC_MAX ? SEC_MAX : s;
}

/* ---- flags and interrupts --------------------------------------------- */

static uint64_t periodic_ns(const struct pv_rtc *r)
{
	uint32_t rs = r->cmos[REG_A] & A_RS;
	if (rs == 0)
		return 0;
	if (rs < 3)
		rs += 7u; /* rates 1 and 2 alias 256 Hz and 128 Hz */
	return ((uint64_t)1u << (rs - 1u)) * NS_PER_SEC / 32768u;
}

static bool alarm_match(const struct pv_rtc *r, uint64_t t)
{
	uint32_t tod = (uint32_t)(t % 86400u);
	uint8_t sa = r->cmos[REG_SEC_ALARM], ma = r->cmos[REG_MIN_ALARM];
	uint8_t ha = r->cmos[REG_HOUR_ALARM];
	if ((sa & 0xC0u) != 0xC0u && sa != enc(r, tod % 60u))
		return false;
	if ((ma & 0xC0u) != 0xC0u && ma != enc(r, (tod / 60u) % 60u))
		return false;
	if ((ha & 0xC0u) != 0xC0u && ha != enc_hour(r, tod / 3600u))
		return false;
	return true;
}

/* Bring PF/UF/AF up to date with the clock. */
static void eval_flags(struct pv_rtc *r, uint64_t now)
{
	uint64_t p = periodic_ns(r);
	if (p) {
		if (now >= r->pf_next) {
			r->flags |= C_PF;
			r->pf_next = (now / p + 1u) * p;
		}
	}
	if (!r->running)
		return;
	uint64_t sec = rtc_now_ns(r, now) / NS_PER_SEC;
	if (sec > r->last_sec) {
		r->flags |= C_UF;
		uint64_t gap = sec - r->last_sec;
		if (gap > 86400u)
			gap = 86400u;
		for (uint64_t s = sec - gap + 1u; s <= sec; s++) {
			if (alarm_match(r, s)) {
				r->flags |= C_AF;
				break;
			}
		}
		r->last_sec = sec;
	}
}

static bool irqf(const struct pv_rtc *r)
{
	uint8_t b = r->cmos[REG_B];
	return ((r->flags & C_PF) && (b & B_PIE)) || ((r->flags & C_AF) && (b & B_AIE)) ||
	       ((r->flags & C_UF) && (b & B_UIE));
}

/* Update flags and the line; arm the timer for the next event worth waking for. */
static void rtc_update(struct pv_rtc *r)
{
	uint64_t now = pv_clock_ns(r->part);
	eval_flags(r, now);
	bool level = irqf(r);
	if (level != r->irq_level) {
		r->irq_level = level;
		(void)pv_irq_set(r->part, r->cfg.irq, level);
	}
	if (!r->timer || level)
		return; /* the line is up until register C is read */
	uint64_t next = UINT64_MAX;
	uint8_t b = r->cmos[REG_B];
	if ((b & B_PIE) && periodic_ns(r))
		next = r->pf_next;
	if (r->running && (b & (B_AIE | B_UIE))) {
		uint64_t into = rtc_now_ns(r, now) % NS_PER_SEC;
		uint64_t edge = now + (NS_PER_SEC - into);
		if (edge < next)
			next = edge;
	}
	if (next != UINT64_MAX)
		(void)pv_timer_arm(r->timer, next);
}

/* The registers that hold the clock (store_time/load_time). */
static bool is_time_reg(uint8_t idx)
{
	switch (idx) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_DOW:
	case REG_DAY:
	case REG_MONTH:
	case REG_YEAR:
	case PV_RTC_CENTURY_INDEX:
		return true;
	default:
		return false;
	}
}

/* Restart the running clock at @now from second @sec plus @sub_ns. */
static void rebase(struct pv_rtc *r, uint64_t now, uint64_t sec, uint64_t sub_ns)
{
	r->ref_ns = now;
	r->rtc_ns_at_ref = sec * NS_PER_SEC + sub_ns;
	r->last_sec = sec;
}

/* Switch between running and frozen after a register A/B write. */
static void apply_run_state(struct pv_rtc *r, bool from_divider_reset)
{
	uint64_t now = pv_clock_ns(r->part);
	bool run = should_run(r);
	if (run == r->running)
		return;
	if (!run) {
		eval_flags(r, now);
		store_time(r, clamp_sec(rtc_now_ns(r, now) / NS_PER_SEC));
		r->running = false;
		return;
	}
	/* Leaving divider reset: the first update comes half a second later. */
	rebase(r, now, load_time(r), from_divider_reset ? NS_PER_SEC / 2u : 0u);
	r->running = true;
}

static uint8_t rtc_read_reg(struct pv_rtc *r, uint8_t idx)
{
	uint64_t now = pv_clock_ns(r->part);
	if (is_time_reg(idx)) {
		if (r->running)
			store_time(r, clamp_sec(rtc_now_ns(r, now) / NS_PER_SEC));
		return r->cmos[idx];
	}
	switch (idx) {
	case REG_A: {
		uint8_t v = (uint8_t)(r->cmos[REG_A] & ~A_UIP);
		if (r->running && rtc_now_ns(r, now) % NS_PER_SEC >= NS_PER_SEC - UIP_WINDOW_NS)
			v |= A_UIP;
		return v;
	}
	case REG_C: {
		eval_flags(r, now);
		uint8_t v = r->flags;
		if (irqf(r))
			v |= C_IRQF;
		r->flags = 0;
		return v;
	}
	case REG_D:
		return D_VRT;
	default:
		return r->cmos[idx];
	}
}

static void rtc_write_reg(struct pv_rtc *r, uint8_t idx, uint8_t v)
{
	uint64_t now = pv_clock_ns(r->part);
	if (is_time_reg(idx)) {
		if (!r->running) {
			r->cmos[idx] = v;
			return;
		}
		/* A running clock takes the new field at once, keeping the
		 * sub-second phase. */
		eval_flags(r, now);
		uint64_t cur = rtc_now_ns(r, now);
		store_time(r, clamp_sec(cur / NS_PER_SEC));
		r->cmos[idx] = v;
		rebase(r, now, load_time(r), cur % NS_PER_SEC);
		return;
	}
	switch (idx) {
	case REG_A: {
		bool was_reset = (r->cmos[REG_A] & 0x60u) == 0x60u;
		eval_flags(r, now);
		r->cmos[REG_A] = (uint8_t)(v & ~A_UIP);
		if ((r->cmos[REG_A] & A_RS) != 0)
			r->pf_next = (now / periodic_ns(r) + 1u) * periodic_ns(r);
		apply_run_state(r, was_reset);
		break;
	}
	case REG_B:
		if (v & B_SET)
			v &= (uint8_t)~B_UIE;
		eval_flags(r, now);
		r->cmos[REG_B] = v;
		apply_run_state(r, false);
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		r->cmos[idx] = v;
		break;
	}
}

pv_err_t pv_rtc_io(struct pv_rtc *rtc, uint16_t offset, uint8_t size, bool is_write, uint32_t *data)
{
	if (!rtc || !data || (size != 1 && size != 2 && size != 4))
		return PV_EINVAL;
	uint32_t in = *data, out = 0;
	pvd_lock(rtc->part, rtc->lock);
	for (uint32_t i = 0; i < size; i++) {
		uint32_t off = (uint32_t)offset + i;
		uint8_t b = 0xFF;
		if (off == 0 && is_write) {
			uint8_t v = (uint8_t)(in >> (8 * i));
			rtc->nmi_masked = (v & 0x80u) != 0;
			rtc->index = (uint8_t)(v & 0x7Fu);
		} else if (off == 1 && is_write) {
			rtc_write_reg(rtc, rtc->index, (uint8_t)(in >> (8 * i)));
		} else if (off == 1) {
			b = rtc_read_reg(rtc, rtc->index);
		}
		if (!is_write)
			out |= (uint32_t)b << (8 * i);
	}
	rtc_update(rtc);
	pvd_unlock(rtc->part, rtc->lock);
	if (!is_write)
		*data = out;
	return PV_OK;
}

static pv_err_t rtc_io_handler(void *ctx, struct pv_vcpu *vcpu, uint16_t offset, uint8_t size,
			       bool is_write, uint32_t *data)
{
	(void)vcpu;
	return pv_rtc_io(ctx, offset, size, is_write, data);
}

static void rtc_timer_cb(void *ctx)
{
	struct pv_rtc *r = ctx;
	pvd_lock(r->part, r->lock);
	rtc_update(r);
	pvd_unlock(r->part, r->lock);
}

static void set_time_locked(struct pv_rtc *r, uint64_t unix_sec)
{
	uint64_t now = pv_clock_ns(r->part);
	uint64_t sec = clamp_sec(unix_sec);
	rebase(r, now, sec, 0);
	if (!r->running)
		store_time(r, sec);
}

pv_err_t pv_rtc_create(struct pv_partition *part, const struct pv_rtc_config *config,
		       struct pv_rtc **out)
{
	if (!part || !config || !out)
		return PV_EINVAL;
	*out = NULL;
	if ((uint32_t)config->io_base + PV_RTC_PORT_COUNT > 0x10000u)
		return PV_EINVAL;
	struct pv_rtc *r = pvd_alloc(part, sizeof(*r));
	if (!r)
		return PV_ENOMEM;
	pvd_memset(r, 0, sizeof(*r));
	r->part = part;
	r->cfg = *config;
	r->cfg.nvram = NULL;
	if (config->nvram)
		pvd_memcpy(r->cmos, config->nvram, PV_RTC_CMOS_SIZE);
	for (uint8_t i = 0; i <= REG_D; i++)
		r->cmos[i] = 0;
	r->cmos[REG_A] = 0x26;
	r->cmos[REG_B] = B_24H;
	r->running = true;
	set_time_locked(r, config->epoch_sec);
	r->pf_next = (pv_clock_ns(part) / periodic_ns(r) + 1u) * periodic_ns(r);
	pv_err_t err = PV_ENOMEM;
	r->lock = pvd_lock_create(part);
	if (!r->lock)
		goto fail;
	if (pv_timer_create(part, rtc_timer_cb, r, &r->timer) != PV_OK)
		r->timer = NULL;
	err = pv_io_register(part, config->io_base, PV_RTC_PORT_COUNT, rtc_io_handler, r);
	if (err)
		goto fail;
	r->registered = true;
	*out = r;
	return PV_OK;
fail:
	pv_rtc_destroy(r);
	return err;
}

void pv_rtc_destroy(struct pv_rtc *rtc)
{
	if (!rtc)
		return;
	struct pv_partition *part = rtc->part;
	if (rtc->registered)
		(void)pv_io_unregister(part, rtc->cfg.io_base);
	pv_timer_destroy(rtc->timer);
	pvd_lock_destroy(part, rtc->lock);
	pvd_free(part, rtc);
}

void pv_rtc_set_time(struct pv_rtc *rtc, uint64_t unix_sec)
{
	if (!rtc)
		return;
	pvd_lock(rtc->part, rtc->lock);
	set_time_locked(rtc, unix_sec);
	rtc_update(rtc);
	pvd_unlock(rtc->part, rtc->lock);
}

uint64_t pv_rtc_get_time(struct pv_rtc *rtc)
{
	if (!rtc)
		return 0;
	pvd_lock(rtc->part, rtc->lock);
	uint64_t t = rtc->running ? rtc_now_ns(rtc, pv_clock_ns(rtc->part)) / NS_PER_SEC :
				    load_time(rtc);
	pvd_unlock(rtc->part, rtc->lock);
	return t;
}

bool pv_rtc_nmi_masked(struct pv_rtc *rtc)
{
	if (!rtc)
		return false;
	pvd_lock(rtc->part, rtc->lock);
	bool m = rtc->nmi_masked;
	pvd_unlock(rtc->part, rtc->lock);
	return m;
}

pv_err_t pv_rtc_save(struct pv_rtc *rtc, uint8_t *buf, size_t cap, size_t *len)
{
	if (!rtc)
		return PV_EINVAL;
	struct pvd_wr w = {buf, cap, 0};
	pvd_lock(rtc->part, rtc->lock);
	uint64_t now = pv_clock_ns(rtc->part);
	eval_flags(rtc, now);
	uint8_t image[PV_RTC_CMOS_SIZE];
	pvd_memcpy(image, rtc->cmos, sizeof(image));
	uint64_t t = rtc->running ? rtc_now_ns(rtc, now) : load_time(rtc) * NS_PER_SEC;
	pvd_rec_begin(&w, RTC_REC_MAGIC, RTC_REC_VERSION, RTC_REC_BODY);
	pvd_put_bytes(&w, image, sizeof(image));
	pvd_put_u8(&w, (uint8_t)(rtc->index | (rtc->nmi_masked ? 0x80u : 0u)));
	pvd_put_u8(&w, rtc->flags);
	pvd_put_u64(&w, t);
	pvd_put_u8(&w, rtc->running ? 1u : 0u);
	pvd_unlock(rtc->part, rtc->lock);
	return pvd_rec_end(&w, len);
}

pv_err_t pv_rtc_restore(struct pv_rtc *rtc, const uint8_t *buf, size_t len)
{
	if (!rtc || !buf)
		return PV_EINVAL;
	struct pvd_rd r = {buf, len, 0, false};
	pv_err_t err = pvd_rec_check(&r, RTC_REC_MAGIC, RTC_REC_VERSION);
	if (err)
		return err;
	uint8_t image[PV_RTC_CMOS_SIZE];
	pvd_get_bytes(&r, image, sizeof(image));
	uint8_t idx = pvd_get_u8(&r);
	uint8_t flags = pvd_get_u8(&r);
	uint64_t t = pvd_get_u64(&r);
	uint8_t running = pvd_get_u8(&r);
	if (r.bad || r.pos != len || (flags & ~(C_PF | C_AF | C_UF)) || running > 1 ||
	    t / NS_PER_SEC > SEC_MAX || (image[REG_A] & A_UIP) || image[REG_C] || image[REG_D])
		return PV_EBADMSG;
	/* Whether the clock runs is implied by registers A and B; they must agree. */
	bool run_implied = !(image[REG_B] & B_SET) && (image[REG_A] & 0x60u) != 0x60u;
	if (run_implied != (running != 0))
		return PV_EBADMSG;
	pvd_lock(rtc->part, rtc->lock);
	uint64_t now = pv_clock_ns(rtc->part);
	pvd_memcpy(rtc->cmos, image, sizeof(image));
	rtc->index = (uint8_t)(idx & 0x7Fu);
	rtc->nmi_masked = (idx & 0x80u) != 0;
	rtc->flags = flags;
	rtc->running = running != 0;
	rtc->ref_ns = now;
	rtc->rtc_ns_at_ref = t;
	rtc->last_sec = t / NS_PER_SEC;
	uint64_t p = periodic_ns(rtc);
	rtc->pf_next = p ? (now / p + 1u) * p : 0;
	rtc->irq_level = irqf(rtc);
	(void)pv_irq_set(rtc->part, rtc->cfg.irq, rtc->irq_level);
	rtc_update(rtc);
	pvd_unlock(rtc->part, rtc->lock);
	return PV_OK;
}
