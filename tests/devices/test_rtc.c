/* SPDX-License-Identifier: MIT */
/* MC146818 CMOS RTC: time keeping from the mock clock, formats, SET and
 * divider control, UIP timing, the three interrupt sources, CMOS RAM, the
 * NMI mask, every-width access and save/restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "devices/devtest.h"
#include "paravisor/rtc_cmos.h"

#define IRQ 8u
#define T0 1709251198ull /* 2024-02-29 23:59:58 UTC, a Thursday */
#define SEC 1000000000ull

struct fx {
	struct devtest t;
	struct pv_rtc *r;
};

static int fx_setup_caps(void **state, uint32_t caps)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(devtest_init(&f->t, caps), 0);
	struct pv_rtc_config cfg = {.io_base = PV_RTC_IO_BASE, .irq = IRQ, .epoch_sec = T0};
	assert_int_equal(pv_rtc_create(f->t.part, &cfg, &f->r), PV_OK);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_caps(state, PV_PORT_CAP_TIMERS);
}

static int fx_setup_notimers(void **state)
{
	return fx_setup_caps(state, 0);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	pv_rtc_destroy(f->r);
	devtest_fini(&f->t);
	free(f);
	return 0;
}

static uint8_t rd(struct fx *f, uint8_t idx)
{
	devtest_out(&f->t, 0x70, 1, idx);
	return (uint8_t)devtest_in(&f->t, 0x71, 1);
}

static void wr(struct fx *f, uint8_t idx, uint8_t v)
{
	devtest_out(&f->t, 0x70, 1, idx);
	devtest_out(&f->t, 0x71, 1, v);
}

static void adv(struct fx *f, uint64_t ns)
{
	pv_mock_advance_clock(f->t.mock, ns);
}

static void test_reset_and_time_bcd(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rd(f, 0x0A), 0x26);
	assert_int_equal(rd(f, 0x0B), 0x02);
	assert_int_equal(rd(f, 0x0C), 0x00);
	assert_int_equal(rd(f, 0x0D), 0x80);
	assert_int_equal(rd(f, 0x00), 0x58);
	assert_int_equal(rd(f, 0x02), 0x59);
	assert_int_equal(rd(f, 0x04), 0x23);
	assert_int_equal(rd(f, 0x06), 0x05);
	assert_int_equal(rd(f, 0x07), 0x29);
	assert_int_equal(rd(f, 0x08), 0x02);
	assert_int_equal(rd(f, 0x09), 0x24);
	assert_int_equal(rd(f, 0x32), 0x20);
	assert_int_equal(pv_rtc_get_time(f->r), T0);
	/* Two seconds later: leap day rolls over to Friday 1 March. */
	adv(f, 2 * SEC);
	assert_int_equal(rd(f, 0x00), 0x00);
	assert_int_equal(rd(f, 0x02), 0x00);
	assert_int_equal(rd(f, 0x04), 0x00);
	assert_int_equal(rd(f, 0x06), 0x06);
	assert_int_equal(rd(f, 0x07), 0x01);
	assert_int_equal(rd(f, 0x08), 0x03);
	assert_int_equal(pv_rtc_get_time(f->r), T0 + 2);
}

static void test_binary_and_12h(void **state)
{
	struct fx *f = *state;
	wr(f, 0x0B, 0x06); /* binary, 24 h */
	assert_int_equal(rd(f, 0x00), 58);
	assert_int_equal(rd(f, 0x04), 23);
	assert_int_equal(rd(f, 0x09), 24);
	assert_int_equal(rd(f, 0x32), 20);
	wr(f, 0x0B, 0x04); /* binary, 12 h: 11 PM */
	assert_int_equal(rd(f, 0x04), 0x80 | 11);
	wr(f, 0x0B, 0x00); /* BCD, 12 h */
	assert_int_equal(rd(f, 0x04), 0x91);
	adv(f, 2 * SEC); /* midnight is 12 AM */
	assert_int_equal(rd(f, 0x04), 0x12);
	pv_rtc_set_time(f->r, T0 + 2 + 12 * 3600); /* noon is 12 PM */
	assert_int_equal(rd(f, 0x04), 0x92);
}

static void test_set_bit_and_guest_write(void **state)
{
	struct fx *f = *state;
	wr(f, 0x0B, 0x82); /* SET: time frozen */
	adv(f, 5 * SEC);
	assert_int_equal(rd(f, 0x00), 0x58);
	/* The guest writes 2031-07-15 13:45:30 in BCD. */
	wr(f, 0x00, 0x30);
	wr(f, 0x02, 0x45);
	wr(f, 0x04, 0x13);
	wr(f, 0x07, 0x15);
	wr(f, 0x08, 0x07);
	wr(f, 0x09, 0x31);
	wr(f, 0x32, 0x20);
	assert_int_equal(rd(f, 0x00), 0x30);
	wr(f, 0x0B, 0x02);
	assert_int_equal(pv_rtc_get_time(f->r), 1941889530ull);
	adv(f, 31 * SEC);
	assert_int_equal(rd(f, 0x00), 0x01);
	assert_int_equal(rd(f, 0x02), 0x46);
	assert_int_equal(rd(f, 0x06), 0x03); /* a Tuesday */
	/* Out-of-range values are clamped, never trusted. */
	wr(f, 0x0B, 0x82);
	wr(f, 0x08, 0x13);
	wr(f, 0x07, 0x45);
	wr(f, 0x04, 0x99);
	wr(f, 0x0B, 0x02);
	assert_int_equal(rd(f, 0x08), 0x12);
	assert_int_equal(rd(f, 0x07), 0x31);
	assert_int_equal(rd(f, 0x04), 0x23);
}

static void test_write_while_running_keeps_phase(void **state)
{
	struct fx *f = *state;
	adv(f, SEC / 2);
	wr(f, 0x02, 0x10); /* minute 10 */
	assert_int_equal(rd(f, 0x02), 0x10);
	assert_int_equal(rd(f, 0x00), 0x58);
	adv(f, SEC / 2);
	assert_int_equal(rd(f, 0x00), 0x59);
}

static void test_uip_window(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rd(f, 0x0A) & 0x80, 0);
	adv(f, SEC - 200000); /* 200 us before the update */
	assert_int_equal(rd(f, 0x0A) & 0x80, 0x80);
	assert_int_equal(rd(f, 0x00), 0x58);
	adv(f, 201000);
	assert_int_equal(rd(f, 0x0A) & 0x80, 0);
	assert_int_equal(rd(f, 0x00), 0x59);
	adv(f, SEC - 250000); /* 249 us before: not yet */
	assert_int_equal(rd(f, 0x0A) & 0x80, 0);
	/* UIP is read-only, and never set while SET freezes the clock. */
	wr(f, 0x0A, 0xA6);
	assert_int_equal(rd(f, 0x0A), 0x26);
	wr(f, 0x0B, 0x82);
	adv(f, 100000);
	assert_int_equal(rd(f, 0x0A), 0x26);
}

static void test_update_interrupt(void **state)
{
	struct fx *f = *state;
	wr(f, 0x0A, 0x20); /* no periodic flag */
	wr(f, 0x0B, 0x12); /* UIE */
	assert_false(f->t.level[IRQ]);
	adv(f, SEC);
	assert_true(f->t.level[IRQ]); /* raised by the port timer */
	assert_int_equal(rd(f, 0x0C), 0x90);
	assert_false(f->t.level[IRQ]);
	assert_int_equal(rd(f, 0x0C), 0x00);
	adv(f, SEC);
	assert_true(f->t.level[IRQ]);
	/* SET clears UIE. */
	wr(f, 0x0B, 0x92);
	assert_int_equal(rd(f, 0x0B), 0x82);
	(void)rd(f, 0x0C);
	assert_false(f->t.level[IRQ]);
	adv(f, 3 * SEC);
	assert_false(f->t.level[IRQ]);
	/* UF is set without UIE, but does not raise the line. */
	wr(f, 0x0B, 0x02);
	adv(f, SEC);
	assert_false(f->t.level[IRQ]);
	assert_int_equal(rd(f, 0x0C), 0x10);
}

static void test_alarm_interrupt(void **state)
{
	struct fx *f = *state;
	wr(f, 0x0A, 0x20); /* no periodic flag */
	/* Alarm at 00:00:03 on the next day. */
	wr(f, 0x01, 0x03);
	wr(f, 0x03, 0x00);
	wr(f, 0x05, 0x00);
	wr(f, 0x0B, 0x22); /* AIE */
	adv(f, 4 * SEC + SEC / 2);
	assert_false(f->t.level[IRQ]);
	assert_int_equal(rd(f, 0x0C) & 0x20, 0);
	adv(f, SEC);
	assert_true(f->t.level[IRQ]);
	assert_int_equal(rd(f, 0x0C), 0xB0); /* IRQF AF UF */
	assert_false(f->t.level[IRQ]);
	/* Don't-care bytes (0xC0-0xFF): every second matches. */
	wr(f, 0x01, 0xC0);
	wr(f, 0x03, 0xFF);
	wr(f, 0x05, 0xC5);
	adv(f, SEC);
	assert_true(f->t.level[IRQ]);
	assert_int_equal(rd(f, 0x0C), 0xB0);
	/* A match missed while nobody looked is still reported (lazy check). */
	wr(f, 0x0B, 0x02);
	wr(f, 0x01, 0x30);
	wr(f, 0x03, 0x00);
	wr(f, 0x05, 0x00);
	(void)rd(f, 0x0C);
	adv(f, 60 * SEC);
	assert_int_equal(rd(f, 0x0C), 0x30);
}

static void test_periodic_interrupt(void **state)
{
	struct fx *f = *state;
	wr(f, 0x0A, 0x2F); /* 2 Hz */
	(void)rd(f, 0x0C);
	wr(f, 0x0B, 0x42); /* PIE */
	adv(f, SEC / 2 + 1000);
	assert_true(f->t.level[IRQ]);
	assert_int_equal(rd(f, 0x0C) & 0xC0, 0xC0);
	assert_false(f->t.level[IRQ]);
	adv(f, SEC / 4);
	assert_false(f->t.level[IRQ]);
	adv(f, SEC / 4);
	assert_true(f->t.level[IRQ]);
	(void)rd(f, 0x0C);
	/* 1024 Hz: period 976.5625 us. */
	wr(f, 0x0A, 0x26);
	(void)rd(f, 0x0C);
	assert_false(f->t.level[IRQ]);
	adv(f, 977000);
	assert_true(f->t.level[IRQ]);
	(void)rd(f, 0x0C);
	/* Rate 0 stops it. */
	wr(f, 0x0A, 0x20);
	(void)rd(f, 0x0C);
	adv(f, SEC / 10);
	assert_false(f->t.level[IRQ]);
	assert_int_equal(rd(f, 0x0C) & 0x40, 0);
}

static void test_flags_without_timers(void **state)
{
	struct fx *f = *state;
	/* Without port timers flags are still computed on access. */
	wr(f, 0x0A, 0x20);
	wr(f, 0x0B, 0x12);
	adv(f, SEC);
	assert_false(f->t.level[IRQ]);
	assert_int_equal(rd(f, 0x0A) & 0x80, 0);
	assert_true(f->t.level[IRQ]); /* any access updates the line */
	assert_int_equal(rd(f, 0x0C), 0x90);
}

static void test_divider_reset(void **state)
{
	struct fx *f = *state;
	wr(f, 0x0A, 0x76); /* divider reset: clock halts */
	adv(f, 10 * SEC);
	assert_int_equal(rd(f, 0x00), 0x58);
	wr(f, 0x0A, 0x26);
	/* The first update comes half a second after release. */
	adv(f, SEC / 2 - 1000);
	assert_int_equal(rd(f, 0x00), 0x58);
	adv(f, 2000);
	assert_int_equal(rd(f, 0x00), 0x59);
}

static void test_nmi_mask_and_index(void **state)
{
	struct fx *f = *state;
	assert_false(pv_rtc_nmi_masked(f->r));
	devtest_out(&f->t, 0x70, 1, 0x8D);
	assert_true(pv_rtc_nmi_masked(f->r));
	assert_int_equal(devtest_in(&f->t, 0x71, 1), 0x80); /* index 0x0D = register D */
	assert_int_equal(devtest_in(&f->t, 0x70, 1), 0xFF);
	devtest_out(&f->t, 0x70, 1, 0x0D);
	assert_false(pv_rtc_nmi_masked(f->r));
}

static void test_cmos_ram(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 0x0E; i < PV_RTC_CMOS_SIZE; i++) {
		if (i != PV_RTC_CENTURY_INDEX)
			wr(f, (uint8_t)i, (uint8_t)(i * 7 + 1));
	}
	for (unsigned i = 0x0E; i < PV_RTC_CMOS_SIZE; i++) {
		if (i != PV_RTC_CENTURY_INDEX)
			assert_int_equal(rd(f, (uint8_t)i), (uint8_t)(i * 7 + 1));
	}
	/* C and D ignore writes. */
	wr(f, 0x0C, 0xFF);
	assert_int_equal(rd(f, 0x0C), 0);
	wr(f, 0x0D, 0x00);
	assert_int_equal(rd(f, 0x0D), 0x80);
	/* Index bit 7 is the NMI mask: 0xFF addresses byte 0x7F. */
	assert_int_equal(rd(f, 0xFF), (uint8_t)(0x7F * 7 + 1));
	/* Initial image from the config. */
	uint8_t img[PV_RTC_CMOS_SIZE];
	for (unsigned i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(0xFF - i);
	struct pv_rtc_config c2 = {.io_base = 0x170, .irq = 9, .epoch_sec = 0, .nvram = img};
	struct pv_rtc *r2;
	assert_int_equal(pv_rtc_create(f->t.part, &c2, &r2), PV_OK);
	devtest_out(&f->t, 0x170, 1, 0x40);
	assert_int_equal(devtest_in(&f->t, 0x171, 1), 0xFF - 0x40);
	devtest_out(&f->t, 0x170, 1, 0x0B);
	assert_int_equal(devtest_in(&f->t, 0x171, 1), 0x02); /* clock registers not from image */
	devtest_out(&f->t, 0x170, 1, 0x09);
	assert_int_equal(devtest_in(&f->t, 0x171, 1), 0x70); /* 1970 */
	pv_rtc_destroy(r2);
}

static void test_every_width_every_offset(void **state)
{
	struct fx *f = *state;
	static const uint8_t sizes[3] = {1, 2, 4};
	for (int s = 0; s < 3; s++) {
		for (uint16_t off = 0; off < 6; off++) {
			uint32_t v = 0x12345678;
			assert_int_equal(pv_rtc_io(f->r, off, sizes[s], false, &v), PV_OK);
			for (uint32_t i = 0; i < sizes[s]; i++) {
				if (off + i != 1)
					assert_int_equal((v >> (8 * i)) & 0xFF, 0xFF);
			}
			v = 0x0E0E0E0E;
			assert_int_equal(pv_rtc_io(f->r, off, sizes[s], true, &v), PV_OK);
		}
	}
	uint32_t v = 0;
	assert_int_equal(pv_rtc_io(f->r, 0, 0, false, &v), PV_EINVAL);
	assert_int_equal(pv_rtc_io(f->r, 0, 1, false, NULL), PV_EINVAL);
	for (int s = 0; s < 3; s++) {
		for (uint16_t port = 0x6C; port < 0x76; port++) {
			(void)devtest_in(&f->t, port, sizes[s]);
			devtest_out(&f->t, port, sizes[s], 0x0F0F0F0F);
		}
	}
	assert_int_equal(devtest_handler_errors(&f->t), 0);
	/* outw 0x70 writes the index then the data byte. */
	devtest_out(&f->t, 0x70, 2, 0x5A20);
	assert_int_equal(rd(f, 0x20), 0x5A);
	/* Clock still right after the storm (registers A/B restored). */
	wr(f, 0x0A, 0x26);
	wr(f, 0x0B, 0x02);
	pv_rtc_set_time(f->r, T0);
	assert_int_equal(rd(f, 0x00), 0x58);
}

static void test_save_restore(void **state)
{
	struct fx *f = *state;
	wr(f, 0x0B, 0x06);
	wr(f, 0x40, 0x99);
	devtest_out(&f->t, 0x70, 1, 0x8C);
	adv(f, SEC + SEC / 4);
	uint8_t rec[256];
	size_t len = 0;
	assert_int_equal(pv_rtc_save(f->r, NULL, 0, &len), PV_ERANGE);
	assert_int_equal(pv_rtc_save(f->r, rec, sizeof(rec), &len), PV_OK);

	struct pv_rtc_config c2 = {.io_base = 0x170, .irq = 9, .epoch_sec = 0};
	struct pv_rtc *r2;
	assert_int_equal(pv_rtc_create(f->t.part, &c2, &r2), PV_OK);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(pv_rtc_restore(r2, rec, cut), PV_OK);
	uint8_t bad[256];
	memcpy(bad, rec, len);
	bad[4] = 7;
	assert_int_equal(pv_rtc_restore(r2, bad, len), PV_EVERSION);
	memcpy(bad, rec, len);
	bad[10 + 0x0A] |= 0x80; /* UIP in the image */
	assert_int_equal(pv_rtc_restore(r2, bad, len), PV_EBADMSG);
	memcpy(bad, rec, len);
	bad[10 + 0x0B] |= 0x80; /* SET but record says running */
	assert_int_equal(pv_rtc_restore(r2, bad, len), PV_EBADMSG);
	memcpy(bad, rec, len);
	bad[10 + 128 + 1] = 0x0F; /* bad flags */
	assert_int_equal(pv_rtc_restore(r2, bad, len), PV_EBADMSG);
	memcpy(bad, rec, len);
	memset(bad + 10 + 130, 0xFF, 8); /* time past 2499 */
	assert_int_equal(pv_rtc_restore(r2, bad, len), PV_EBADMSG);
	assert_int_equal(pv_rtc_get_time(r2), 0);

	assert_int_equal(pv_rtc_restore(r2, rec, len), PV_OK);
	assert_int_equal(pv_rtc_get_time(r2), T0 + 1);
	assert_true(pv_rtc_nmi_masked(r2));
	devtest_out(&f->t, 0x170, 1, 0x40);
	assert_int_equal(devtest_in(&f->t, 0x171, 1), 0x99);
	devtest_out(&f->t, 0x170, 1, 0x00);
	assert_int_equal(devtest_in(&f->t, 0x171, 1), 59); /* binary mode */
	/* The sub-second phase carried over: 0.75 s to the next second. */
	adv(f, SEC * 3 / 4 - 1000);
	assert_int_equal(devtest_in(&f->t, 0x171, 1), 59);
	adv(f, 2000);
	assert_int_equal(devtest_in(&f->t, 0x171, 1), 0);
	pv_rtc_destroy(r2);
}

static void test_set_time_clamps(void **state)
{
	struct fx *f = *state;
	pv_rtc_set_time(f->r, UINT64_MAX);
	assert_int_equal(rd(f, 0x32), 0x24);
	assert_int_equal(rd(f, 0x09), 0x99);
	assert_int_equal(rd(f, 0x08), 0x12);
	assert_int_equal(rd(f, 0x07), 0x31);
	pv_rtc_set_time(f->r, 4102444799ull); /* 2099-12-31 23:59:59 */
	adv(f, SEC);
	assert_int_equal(rd(f, 0x32), 0x21);
	assert_int_equal(rd(f, 0x09), 0x00);
	struct pv_rtc *dup;
	struct pv_rtc_config c = {.io_base = 0x70, .irq = 8};
	assert_int_equal(pv_rtc_create(f->t.part, &c, &dup), PV_EEXIST);
	c.io_base = 0xFFFF;
	assert_int_equal(pv_rtc_create(f->t.part, &c, &dup), PV_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_and_time_bcd, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_binary_and_12h, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_set_bit_and_guest_write, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_write_while_running_keeps_phase, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_uip_window, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_update_interrupt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_alarm_interrupt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_periodic_interrupt, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_flags_without_timers, fx_setup_notimers,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_divider_reset, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_nmi_mask_and_index, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cmos_ram, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_every_width_every_offset, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_save_restore, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_set_time_clamps, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
