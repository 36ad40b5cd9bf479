/* Unit tests for buf.c: growth, the NUL after len, reuse, printf, and sizes that would wrap. */
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

START_TEST(test_append_keeps_a_c_string)
{
	struct buf b;

	buf_init(&b);
	ck_assert_ptr_null(b.data);
	buf_append(&b, "", 0);
	ck_assert_str_eq(b.data, "");
	buf_puts(&b, "ab");
	buf_putc(&b, 'c');
	buf_append(&b, "d\0e", 3);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_mem_eq(b.data, "abcd\0e", 7); /* with the NUL after len */
	buf_release(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_reset_keeps_storage)
{
	struct buf b = BUF_INIT;
	char *data;

	buf_reset(&b); /* nothing allocated yet: no write */
	buf_puts(&b, "hello");
	data = b.data;
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	buf_puts(&b, "again");
	ck_assert_ptr_eq(b.data, data);
	ck_assert_str_eq(b.data, "again");
	buf_release(&b);
}
END_TEST

START_TEST(test_reserve_grows_once)
{
	struct buf b = BUF_INIT;
	char big[5000];
	char *data;

	buf_reserve(&b, sizeof big);
	ck_assert_uint_ge(b.cap, sizeof big + 1);
	data = b.data;
	memset(big, 'x', sizeof big);
	buf_append(&b, big, sizeof big);
	ck_assert_ptr_eq(b.data, data); /* the reservation was enough */
	ck_assert_uint_eq(b.len, sizeof big);
	ck_assert_int_eq(b.data[b.len], '\0');
	buf_release(&b);
}
END_TEST

START_TEST(test_printf_short_and_long)
{
	struct buf b = BUF_INIT;
	char want[1001];

	buf_printf(&b, "%d-%s", 42, "x");
	ck_assert_str_eq(b.data, "42-x");
	memset(want, 'y', 1000);
	want[1000] = '\0';
	buf_printf(&b, "%s", want); /* longer than the first guess: formatted twice */
	ck_assert_uint_eq(b.len, 4 + 1000);
	ck_assert_str_eq(b.data + 4, want);
	buf_release(&b);
}
END_TEST

/* A size past SIZE_MAX would wrap to a small reservation: it takes the OOM exit. */
START_TEST(test_reserve_that_would_wrap_aborts)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "x");
	buf_reserve(&b, SIZE_MAX);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = unit_tcase(s, "core");

	unit_add_tests(tc, test_append_keeps_a_c_string, test_reset_keeps_storage,
		       test_reserve_grows_once, test_printf_short_and_long);
	tcase_add_test_raise_signal(tc, test_reserve_that_would_wrap_aborts, SIGABRT);
	return s;
}
