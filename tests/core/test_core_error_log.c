/* SPDX-License-Identifier: MIT */
/* Status codes, exit-kind names, version and the pv_log formatter. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core_test.h"

static void test_strerror_all_codes(void **state)
{
	(void)state;
	const char *seen[18];
	for (int c = 0; c >= PV_EVERSION; c--) {
		const char *s = pv_strerror(c);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, "unknown error");
		for (int k = 0; k < -c; k++)
			assert_string_not_equal(s, seen[k]); /* every code has its own text */
		seen[-c] = s;
	}
	assert_string_equal(pv_strerror(PV_OK), "success");
	assert_string_equal(pv_strerror(1), "unknown error");
	assert_string_equal(pv_strerror(PV_EVERSION - 1), "unknown error");
	assert_string_equal(pv_strerror(INT_MIN), "unknown error");
	assert_string_equal(pv_strerror(INT_MAX), "unknown error");
}

static void test_exit_kind_names(void **state)
{
	(void)state;
	for (int k = 0; k < PV_EXIT_KIND_COUNT; k++) {
		const char *s = pv_exit_kind_name((enum pv_exit_kind)k);
		assert_non_null(s);
		assert_string_not_equal(s, "unknown");
		for (int j = 0; j < k; j++)
			assert_string_not_equal(s, pv_exit_kind_name((enum pv_exit_kind)j));
	}
	assert_string_equal(pv_exit_kind_name(PV_EXIT_IO), "io");
	assert_string_equal(pv_exit_kind_name(PV_EXIT_KIND_COUNT), "unknown");
	assert_string_equal(pv_exit_kind_name((enum pv_exit_kind)1000), "unknown");
	assert_string_equal(pv_exit_kind_name((enum pv_exit_kind) - 1), "unknown");
}

static void test_version(void **state)
{
	(void)state;
	char want[32];
	snprintf(want, sizeof(want), "%d.%d.%d", PV_VERSION_MAJOR, PV_VERSION_MINOR,
		 PV_VERSION_PATCH);
	assert_string_equal(pv_version(), PV_VERSION_STRING);
	assert_string_equal(pv_version(), want);
}

/* Log through the partition and compare with the C library's snprintf. */
#define CHECK_FMT(e, ...)                                            \
	do {                                                         \
		char want_[512];                                     \
		snprintf(want_, sizeof(want_), __VA_ARGS__);         \
		pv_log((e)->part, PV_LOG_ERROR, "fmt", __VA_ARGS__); \
		assert_string_equal((e)->plat.last_msg, want_);      \
	} while (0)

static void test_log_formats_like_printf(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	CHECK_FMT(&e, "plain text");
	CHECK_FMT(&e, "%s|%5s|%-5s|", "abc", "ab", "ab");
	CHECK_FMT(&e, "%d %d %d %i", 0, -1, 123456, INT_MIN);
	CHECK_FMT(&e, "%d", INT_MAX);
	CHECK_FMT(&e, "%u %u", 0u, UINT_MAX);
	CHECK_FMT(&e, "%x %X %x", 0xabcdefu, 0xabcdefu, 0u);
	CHECK_FMT(&e, "%08x|%8x|%-8x|", 0x1234u, 0x1234u, 0x1234u);
	CHECK_FMT(&e, "%05d|%5d|%-5d|%05d", 42, 42, 42, -42);
	CHECK_FMT(&e, "%llx %llu %lld", 0xFFFFFFFFFFFFFFFFull, 18446744073709551615ull, LLONG_MIN);
	CHECK_FMT(&e, "%016llx", 0x1234ull);
	CHECK_FMT(&e, "%lx %lu %ld", 0xFFFFFFFFFFul, 123ul, -5l);
	CHECK_FMT(&e, "%zu %zx", (size_t)0, (size_t)SIZE_MAX);
	CHECK_FMT(&e, "%c%c%c", 'p', 'v', '!');
	CHECK_FMT(&e, "100%% done");
	CHECK_FMT(&e, "%s=%u, %s=%x", "a", 1u, "b", 0xffu);
	assert_string_equal(e.plat.last_sub, "fmt");
	assert_int_equal(e.plat.last_level, PV_LOG_ERROR);
	ct_close(&e);
}

static void test_log_pointer_null_and_unknown(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	pv_log(e.part, PV_LOG_WARN, "t", "%p", (void *)(uintptr_t)0x1234abcdu);
	assert_string_equal(e.plat.last_msg, "0x1234abcd");
	const char *volatile nul = NULL;
	pv_log(e.part, PV_LOG_WARN, "t", "[%s]", nul);
	assert_string_equal(e.plat.last_msg, "[(null)]");
	pv_log(e.part, PV_LOG_WARN, NULL, "no subsystem");
	assert_string_equal(e.plat.last_sub, "");
	/* hostile format strings: a trailing lone %, an unsupported conversion */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-security"
	const char *volatile fmt = "ab%";
	pv_log(e.part, PV_LOG_WARN, "t", fmt, 0);
	assert_string_equal(e.plat.last_msg, "ab");
	fmt = "a%qb";
	pv_log(e.part, PV_LOG_WARN, "t", fmt, 0);
	assert_string_equal(e.plat.last_msg, "a%qb");
	long before = e.plat.log_count;
	fmt = NULL;
	pv_log(e.part, PV_LOG_WARN, "t", fmt);
#pragma GCC diagnostic pop
	pv_log(NULL, PV_LOG_ERROR, "t", "dropped");
	assert_int_equal(e.plat.log_count, before);
	ct_close(&e);
}

static void test_log_truncation(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pv_log(e.part, PV_LOG_ERROR, "t", "%s", big);
	size_t n = strlen(e.plat.last_msg);
	assert_true(n >= 200 && n < 400);
	assert_string_equal(e.plat.last_msg + n - 3, "...");
	assert_int_equal(e.plat.last_msg[0], 'x');
	/* a message that fits exactly is not marked */
	big[n] = '\0';
	pv_log(e.part, PV_LOG_ERROR, "t", "%s", big);
	assert_int_equal(strlen(e.plat.last_msg), n);
	assert_int_equal(e.plat.last_msg[n - 1], 'x');
	/* one more byte is cut */
	big[n] = 'x';
	big[n + 1] = '\0';
	pv_log(e.part, PV_LOG_ERROR, "t", "%s", big);
	assert_int_equal(strlen(e.plat.last_msg), n);
	assert_string_equal(e.plat.last_msg + n - 3, "...");
	/* a long number at the end is cut too, never overflowing */
	memset(big, 'y', n - 2);
	big[n - 2] = '\0';
	pv_log(e.part, PV_LOG_ERROR, "t", "%s%llu", big, 18446744073709551615ull);
	assert_int_equal(strlen(e.plat.last_msg), n);
	assert_string_equal(e.plat.last_msg + n - 3, "...");
	ct_close(&e);
}

static void test_log_level_filter(void **state)
{
	(void)state;
	struct ct_env e;
	ct_open(&e, 0, 1);
	e.plat.pf.log_level = PV_LOG_WARN;
	long before = e.plat.log_count;
	pv_log(e.part, PV_LOG_INFO, "t", "info");
	pv_log(e.part, PV_LOG_DEBUG, "t", "debug");
	assert_int_equal(e.plat.log_count, before);
	pv_log(e.part, PV_LOG_WARN, "t", "warn");
	pv_log(e.part, PV_LOG_ERROR, "t", "error");
	assert_int_equal(e.plat.log_count, before + 2);
	assert_string_equal(e.plat.last_msg, "error");
	/* no sink: dropped, no crash */
	e.plat.pf.log = NULL;
	pv_log(e.part, PV_LOG_ERROR, "t", "x");
	assert_int_equal(e.plat.log_count, before + 2);
	ct_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_all_codes),
		cmocka_unit_test(test_exit_kind_names),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_log_formats_like_printf),
		cmocka_unit_test(test_log_pointer_null_and_unknown),
		cmocka_unit_test(test_log_truncation),
		cmocka_unit_test(test_log_level_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
